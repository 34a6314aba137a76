"""The ``mindsync`` command line: serve, health, migrate, cleanup, analyze, users, tokens."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, TypeVar

from mindsync import __version__
from mindsync.core.clock import utcnow
from mindsync.core.config import Settings, SettingsError, load_settings
from mindsync.core.logging import configure_logging

logger = logging.getLogger("mindsync.cli")


#: What ``users create`` answers for an erased id (never a token: those start with ms_).
ERASED = "erased"


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _migrate(settings: Settings) -> str | None:
    from mindsync.storage import migrate
    from mindsync.storage.engine import create_db_engine, wait_for_database

    engine = create_db_engine(settings.database_url)
    try:
        wait_for_database(engine, timeout=settings.db_start_timeout_seconds, log=logger)
        migrate.upgrade(engine)
        return migrate.current_revision(engine)
    finally:
        engine.dispose()


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Apply migrations once, then serve the API with uvicorn."""
    import uvicorn

    revision = _migrate(settings)
    logger.info("database at revision %s", revision)
    # Migrations ran here, once: the workers must not race to run them again.
    os.environ["MINDSYNC_AUTO_MIGRATE"] = "false"
    # Analysis in one process per core, shared by every connection (see gunicorn.conf.py).
    os.environ.setdefault("MINDSYNC_ANALYSIS_PROCESSES", str(os.cpu_count() or 2))
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker writes its metrics here and /metrics adds them up.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="mindsync-metrics-")
    from mindsync.api.server import guarded_protocol

    protocol = guarded_protocol(args.http)
    logger.info("serving HTTP with %s", protocol.__name__)
    uvicorn.run(
        "mindsync.api.app:app",
        host=args.host or settings.host,
        port=args.port or settings.port,
        reload=args.reload,
        workers=None if args.reload else args.workers,
        log_config=None,
        # Header/body deadlines and a per-address cap (mindsync.api.server); the guard, not
        # uvicorn, decides whose X-Forwarded-For to believe (MINDSYNC_TRUSTED_PROXIES).
        http=protocol,
        proxy_headers=False,
        ws_per_message_deflate=False,  # see mindsync.api.gunicorn_worker
        timeout_keep_alive=int(settings.keepalive_timeout_seconds),
    )
    return 0


def local_health_url(bind: str | None, settings: Settings) -> str:
    """Where this machine reaches the server's ``/health``: from gunicorn's
    ``MINDSYNC_BIND`` (``host:port``) when set, else ``MINDSYNC_HOST``/``MINDSYNC_PORT``;
    an address that listens everywhere is reached on loopback."""
    host, port = settings.host, str(settings.port)
    if bind:
        host, _, port = bind.rpartition(":")
        host = host.strip("[]")
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/health"


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when the server answers ``/health`` with 200 (for container health checks)."""
    import urllib.error
    import urllib.request

    url = args.url or local_health_url(os.environ.get("MINDSYNC_BIND"), settings)
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        sys.stderr.write(f"mindsync: {url} did not answer: {exc}\n")
        return 1
    if status != 200:
        sys.stderr.write(f"mindsync: {url} answered {status}\n")
        return 1
    return 0


def cmd_migrate(_: argparse.Namespace, settings: Settings) -> int:
    """Bring the database schema to the newest revision."""
    revision = _migrate(settings)
    _out(f"database migrated to revision {revision}")
    return 0


def cmd_cleanup(_: argparse.Namespace, settings: Settings) -> int:
    """Run retention now and print what it deleted."""
    from mindsync.storage.engine import create_db_engine, create_session_factory
    from mindsync.storage.retention import run_retention_once

    _migrate(settings)
    engine = create_db_engine(settings.database_url)
    try:
        report = run_retention_once(create_session_factory(engine), settings, utcnow())
    finally:
        engine.dispose()
    _out(json.dumps({"deleted": asdict(report)}))
    return 0


T = TypeVar("T")


def _with_db(settings: Settings, work: Callable[[Any], T]) -> T:
    """Run ``work(db)`` in one committed transaction on a migrated database."""
    from mindsync.storage.engine import create_db_engine, create_session_factory

    _migrate(settings)
    engine = create_db_engine(settings.database_url)
    try:
        with create_session_factory(engine)() as db:
            result = work(db)
            db.commit()
            return result
    finally:
        engine.dispose()


def cmd_users_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create a user and print their id and first token (shown only this once) as JSON, or
    only the token with ``--token-only``."""
    import uuid

    from sqlalchemy.orm import Session

    from mindsync.api.services import consent_changes, default_preferences
    from mindsync.storage.repositories import preferences, tokens, users

    user_id = args.id or uuid.uuid4().hex
    consent = args.consent

    key = settings.pseudonym_key.get_secret_value() if settings.pseudonym_key else None

    def work(db: Session) -> str | None:
        if users.get_user(db=db, user_id=user_id) is not None:
            return None
        if users.is_erased(db=db, user_id=user_id, configured_key=key):
            return ERASED  # as the API's 410: an erased id does not come back
        now = utcnow()
        users.create_user(db=db, user_id=user_id, name=args.name, now=now)
        db.flush()
        if consent:
            preferences.upsert_preferences(
                db=db,
                user_id=user_id,
                changes=consent_changes(consent),
                defaults=default_preferences(settings),
                now=now,
            )
        return tokens.issue_token(db=db, user_id=user_id, now=now, ttl_days=settings.token_ttl_days)

    token = _with_db(settings, work)
    if token is None:
        sys.stderr.write(f"mindsync: user {user_id} already exists\n")
        return 1
    if token == ERASED:
        sys.stderr.write(f"mindsync: user {user_id} was erased; the id cannot be used again\n")
        return 1
    if args.token_only:  # for scripts: TOKEN=$(mindsync users create NAME --token-only)
        _out(token)
    else:
        _out(
            json.dumps({"user_id": user_id, "name": args.name, "token": token, "consent": consent})
        )
    return 0


CONSENT_CHOICES = ("face", "voice", "motion")


def consent_list(text: str) -> list[str]:
    """``face,voice`` as a list of modalities; ``argparse`` reports an unknown one."""
    items = [item.strip().lower() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item not in CONSENT_CHOICES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown modality {', '.join(unknown)}; choose from {', '.join(CONSENT_CHOICES)}"
        )
    return list(dict.fromkeys(items))


def cmd_tokens_rotate(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke every token of a user and print a new one."""
    from sqlalchemy.orm import Session

    from mindsync.storage.repositories import tokens, users

    def work(db: Session) -> str | None:
        if users.get_user(db=db, user_id=args.user) is None:
            return None
        return tokens.rotate_tokens(
            db=db, user_id=args.user, now=utcnow(), ttl_days=settings.token_ttl_days
        )

    token = _with_db(settings, work)
    if token is None:
        sys.stderr.write(f"mindsync: user {args.user} not found\n")
        return 1
    _out(json.dumps({"user_id": args.user, "token": token}))
    return 0


def cmd_tokens_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke one token."""
    from sqlalchemy.orm import Session

    from mindsync.storage.repositories import tokens

    def work(db: Session) -> bool:
        return tokens.revoke_token(db=db, token=args.token, now=utcnow())

    if not _with_db(settings, work):
        sys.stderr.write("mindsync: no active token matches\n")
        return 1
    _out(json.dumps({"revoked": True}))
    return 0


def cmd_analyze(args: argparse.Namespace, settings: Settings) -> int:
    """Analyse files in process (no server) and print a table, JSON or CSV.

    Exit status: 0 when every bundle was analysed, 1 when any bundle failed (an unreadable
    or corrupt file; its row or object says why), 2 for a usage error.
    """
    from pathlib import Path

    from mindsync import batch
    from mindsync.analysis.registry import load_analyzers

    if args.folder is not None:
        folder = Path(args.folder)
        if not folder.is_dir():
            sys.stderr.write(f"mindsync: {folder} is not a folder\n")
            return 2
        bundles = batch.bundles_in(folder)
    else:
        bundle = batch.Bundle(
            name="input",
            face=Path(args.face) if args.face else None,
            audio=Path(args.audio) if args.audio else None,
            motion=Path(args.motion) if args.motion else None,
        )
        if bundle.face is None and bundle.audio is None and bundle.motion is None:
            sys.stderr.write("mindsync: give a FOLDER, or --face, --audio and/or --motion\n")
            return 2
        bundles = [bundle]
    if not bundles:
        sys.stderr.write("mindsync: no image, audio or motion CSV files found\n")
        return 1
    registry = load_analyzers(settings)
    results = batch.run(registry, bundles)
    _out(batch.render(results, args.format))
    return 1 if any(r.error for r in results) else 0


# Kept in step with mindsync.batch.COLUMNS by a test (importing batch here would load numpy
# for every command).
ANALYZE_EPILOG = """\
motion CSV: the first row names the columns (any order, any case); also accepted:
  timestamp  seconds          time, t
  ax, ay, az m/s²             acc_x, acceleration_x, accel_x (and _y, _z)
  gx, gy, gz rad/s, optional  gyro_x, gyroscope_x (and _y, _z)

--json prints a JSON array: per bundle, "bundle" (its name) and exactly the fields of the
API's POST /analyze response, or the API's error body ("error": {code, message, field}).

exit status: 0 every bundle analysed; 1 any bundle failed (corrupt or unreadable file, bad
CSV: its row says why); 2 usage error
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mindsync`` command."""
    parser = argparse.ArgumentParser(prog="mindsync", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mindsync {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="apply migrations and serve the HTTP API")
    serve.add_argument("--host", default=None, help="interface (default MINDSYNC_HOST)")
    serve.add_argument("--port", type=int, default=None, help="port (default MINDSYNC_PORT)")
    serve.add_argument("--reload", action="store_true", help="restart on code changes (dev)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    serve.add_argument(
        "--http",
        choices=("auto", "httptools", "h11"),
        default="auto",
        help="HTTP parser (default auto: httptools when installed, else h11)",
    )
    serve.set_defaults(func=cmd_serve)

    health = commands.add_parser(
        "health", help="exit 0 when the local server's /health answers 200 (health checks)"
    )
    health.add_argument("--url", default=None, help="default: from MINDSYNC_BIND or host/port")
    health.add_argument("--timeout", type=float, default=2.0, help="seconds to wait")
    health.set_defaults(func=cmd_health)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(func=cmd_migrate)

    cleanup = commands.add_parser("cleanup", help="delete data past its retention now")
    cleanup.set_defaults(func=cmd_cleanup)

    analyze = commands.add_parser(
        "analyze",
        help="analyse files in process, without a server (one bundle or a folder)",
        description="Analyse files in this process, without a server. --json prints, per "
        "bundle, exactly what POST /analyze answers (plus the bundle's name), or the API's "
        "error body.",
        epilog=ANALYZE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    analyze.add_argument(
        "folder", nargs="?", help="folder of files grouped by name (s1.jpg + s1.webm + s1.csv)"
    )
    analyze.add_argument("--face", help="image file (JPEG, PNG, WebP)")
    analyze.add_argument("--audio", help="audio file (WAV, MP3, OGG, WebM, MP4/AAC, FLAC)")
    analyze.add_argument("--motion", help="CSV with timestamp, ax, ay, az[, gx, gy, gz]")
    output = analyze.add_mutually_exclusive_group()
    output.add_argument(
        "--json",
        dest="format",
        action="store_const",
        const="json",
        help="the API's response per bundle (see below)",
    )
    output.add_argument(
        "--csv", dest="format", action="store_const", const="csv", help="one row per bundle"
    )
    analyze.set_defaults(func=cmd_analyze, format="table")

    users = commands.add_parser("users", help="manage users").add_subparsers(
        dest="users_command", required=True
    )
    create = users.add_parser("create", help="create a user; prints their id and token")
    create.add_argument("name", help="display name")
    create.add_argument("--id", default=None, help="user id (random when omitted)")
    create.add_argument(
        "--consent",
        type=consent_list,
        default=[],
        metavar="face,voice,motion",
        help="modalities the user has explicitly consented to; nothing is analysed for a "
        "user without consent (unless MINDSYNC_CONSENT_REQUIRED=false)",
    )
    create.add_argument(
        "--token-only",
        action="store_true",
        help="print only the token, for scripts: TOKEN=$(mindsync users create NAME --token-only)",
    )
    create.set_defaults(func=cmd_users_create)

    tokens = commands.add_parser("tokens", help="manage API tokens").add_subparsers(
        dest="tokens_command", required=True
    )
    rotate = tokens.add_parser("rotate", help="revoke a user's tokens and print a new one")
    rotate.add_argument("user", help="user id")
    rotate.set_defaults(func=cmd_tokens_rotate)
    revoke = tokens.add_parser("revoke", help="revoke one token")
    revoke.add_argument("token", help="the token to revoke")
    revoke.set_defaults(func=cmd_tokens_revoke)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.stderr.write(f"mindsync: {exc}\n")
        return 2
    configure_logging(settings.log_level, json_lines=settings.log_json)
    from mindsync.storage.engine import DatabaseUnavailable

    try:
        code: int = args.func(args, settings)
    except DatabaseUnavailable as exc:
        sys.stderr.write(f"mindsync: {exc}\n")  # one line, no traceback
        return 3
    return code
