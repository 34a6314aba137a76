"""The ``mindsync`` command line, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import sqlalchemy as sa


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mindsync", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def test_migrate_then_cleanup_on_a_fresh_sqlite_file(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'cli.db'}"
    migrated = _run("migrate", env={"DATABASE_URL": url})
    assert migrated.returncode == 0, migrated.stderr
    assert "migrated to revision" in migrated.stdout
    engine = sa.create_engine(url)
    assert "sessions" in sa.inspect(engine).get_table_names()
    engine.dispose()
    cleaned = _run("cleanup", env={"DATABASE_URL": url})
    assert cleaned.returncode == 0, cleaned.stderr
    assert json.loads(cleaned.stdout.strip().splitlines()[-1]) == {
        "deleted": {"sessions": 0, "analysis_metrics": 0, "request_metrics": 0}
    }


def test_invalid_settings_stop_the_command_naming_the_variable(tmp_path) -> None:
    result = _run("migrate", env={"MINDSYNC_PORT": "not-a-port"})
    assert result.returncode == 2
    assert "MINDSYNC_PORT" in result.stderr


def test_help_lists_the_commands() -> None:
    result = _run("--help", env={})
    assert result.returncode == 0
    for command in ("serve", "migrate", "cleanup"):
        assert command in result.stdout


def test_users_and_tokens_from_the_command_line(tmp_path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'users.db'}"}
    created = _run("users", "create", "Robin", "--id", "robin", env=env)
    assert created.returncode == 0, created.stderr
    first = json.loads(created.stdout.strip().splitlines()[-1])
    assert first["user_id"] == "robin" and first["token"].startswith("ms_")
    assert _run("users", "create", "Robin", "--id", "robin", env=env).returncode == 1

    rotated = _run("tokens", "rotate", "robin", env=env)
    assert rotated.returncode == 0, rotated.stderr
    second = json.loads(rotated.stdout.strip().splitlines()[-1])["token"]
    assert second != first["token"]
    assert _run("tokens", "revoke", first["token"], env=env).returncode == 1  # already revoked
    assert _run("tokens", "revoke", second, env=env).returncode == 0
    assert _run("tokens", "rotate", "nobody", env=env).returncode == 1

    engine = sa.create_engine(env["DATABASE_URL"])
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT token_hash, revoked_at FROM api_tokens")).all()
    engine.dispose()
    assert len(rows) == 2 and all(r.revoked_at is not None for r in rows)
    assert all(second not in r.token_hash for r in rows)
