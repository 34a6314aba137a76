"""Engine and session factory for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, cast

import orjson
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import CursorResult, Result, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 5000


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """How many rows the INSERT, UPDATE or DELETE that gave ``result`` matched."""
    # Session.execute returns a CursorResult for these statements, but SQLAlchemy types its
    # return value as the general Result, which has no rowcount.
    return cast(CursorResult[*tuple[Any, ...]], result).rowcount


def _prepare_sqlite_path(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _use_wal(cursor: Any) -> None:
    """Put the database in WAL mode (it stays so). Switching needs the database to itself
    and SQLite answers "locked" without waiting while another connection is in a
    transaction, which happens when several processes open a new database at once."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode=WAL").fetchone()
            return  # now WAL, or a database that cannot be (in memory): SQLite says which
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _begin(connection: Any, statement: str) -> None:
    """Run ``statement`` on the SQLite connection itself (a quarter of ``exec_driver_sql``'s
    CPU; it runs twice per analysis); its errors raised as SQLAlchemy raises them."""
    try:
        connection.connection.driver_connection.execute(statement)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(
            statement, (), exc, sqlite3.Error, dialect=connection.dialect
        ) from exc


def _configure_sqlite(engine: Engine, *, immediate: bool) -> None:
    """WAL, a busy timeout, foreign keys, and (for writers) BEGIN IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see SQLAlchemy's pysqlite "serializable" recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    if not immediate:

        @event.listens_for(engine, "begin")
        def _on_begin_deferred(connection: Any) -> None:
            # Read-only engines keep the deferred BEGIN: WAL readers never wait for the writer.
            _begin(connection, "BEGIN")

        return

    # SQLite has one writer at a time. Writers of this process queue on a lock, and the
    # next one starts as the last one commits, instead of all calling BEGIN IMMEDIATE and
    # polling SQLite's busy handler, which sleeps up to 100 ms between tries and lets late
    # comers overtake (measured: p99 1.1 s -> 0.25 s at 120 writes/s). Other processes
    # still meet the busy timeout.
    writer = threading.Lock()
    held = "mindsync_sqlite_writer"

    def _release(connection: Any) -> None:
        if connection.invalidated:
            return  # released by the pool's invalidate event; info is unreachable now
        if connection.info.pop(held, False):
            writer.release()

    def _release_record(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        if record is not None and record.info.pop(held, False):
            writer.release()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A deferred BEGIN upgrades to a write lock mid-transaction and fails with
        # "database is locked" under concurrency; IMMEDIATE takes it up front.
        if not writer.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            raise OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
            )
        connection.info[held] = True
        try:
            _begin(connection, "BEGIN IMMEDIATE")
        except BaseException:
            _release(connection)
            raise

    event.listen(engine, "commit", _release)
    event.listen(engine, "rollback", _release)

    # A connection invalidated, or returned to the pool, mid-transaction gives it back too.
    event.listen(engine.pool, "invalidate", _release_record)
    event.listen(engine.pool, "checkin", _release_record)


def create_db_engine(
    url: str, *, pool_size: int = 5, echo: bool = False, read_only: bool = False
) -> Engine:
    """An engine for ``url`` with the pragmas or pool settings that its backend needs.

    ``read_only`` engines (SQLite) begin deferred transactions, for work that never writes.
    """
    if url.startswith("sqlite"):
        _prepare_sqlite_path(url)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 5},
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
        )
        _configure_sqlite(engine, immediate=not read_only)
        return engine
    return create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_pre_ping=True,
        pool_recycle=1800,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )


def _json_dumps(value: Any) -> str:
    """JSON columns as orjson writes them (the standard library's encoder took ten times as
    long on the stored results of one analysis: 25 us against 2 us for a motion result).
    Rows written before read back the same: both are plain JSON."""
    return orjson.dumps(value).decode("utf-8")


def engine_of(factory: sessionmaker[Session]) -> Engine:
    """The engine the sessions of ``factory`` are bound to (for Core work on the hot path)."""
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine):
        raise TypeError("the session factory is not bound to an engine")
    return bind


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def checkpoint_sqlite(engine: Engine) -> None:
    """Move the WAL into the database file and truncate it, so deleted rows leave no copy.

    A no-op on other databases. Runs outside any transaction, as SQLite requires.
    """
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    finally:
        raw.close()


class DatabaseUnavailable(RuntimeError):
    """The database did not answer within the start-up timeout."""


def _where(engine: Engine) -> str:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"sqlite {url.database}"
    return f"{url.get_backend_name()} at {url.host or 'localhost'}:{url.port or 5432}"


def wait_for_database(
    engine: Engine,
    *,
    timeout: float,
    log: logging.Logger | None = None,
    sleep: Any = time.sleep,
) -> None:
    """Return once ``engine``'s database answers ``SELECT 1``.

    While it does not, retry with exponential backoff (0.5 s doubling to 5 s) and log one line
    (not a traceback) when waiting starts; raise :class:`DatabaseUnavailable`, with a one-line
    message, once ``timeout`` seconds have passed.
    """
    log = log or logging.getLogger(__name__)
    deadline = time.monotonic() + timeout
    delay = 0.5
    waited = False
    while True:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            if waited:
                log.info("the database answers (%s)", _where(engine))
            return
        except OperationalError as exc:
            reason = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
            if time.monotonic() + delay > deadline:
                raise DatabaseUnavailable(
                    f"the database ({_where(engine)}) did not answer within {timeout:g} s "
                    f"({reason})"
                ) from None
            if not waited:
                log.warning(
                    "the database (%s) does not answer (%s); retrying for up to %g s",
                    _where(engine),
                    reason,
                    timeout,
                )
                waited = True
            sleep(delay)
            delay = min(delay * 2, 5.0)
