"""Migrations: upgrade and downgrade on a fresh database, and the schema matches the models."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mindsync.storage import migrate
from mindsync.storage.engine import create_db_engine
from mindsync.storage.models import Base
from tests.conftest import PG_DEFAULT_URL, postgres_reason


def _round_trip(engine: sa.Engine) -> None:
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
    migrate.downgrade(engine, "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert {"sessions", "user_preferences", "analysis_metrics", "request_metrics"} <= set(
        sa.inspect(engine).get_table_names()
    )


def test_sqlite_round_trip(tmp_path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        _round_trip(engine)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


@contextlib.contextmanager
def fresh_postgres_schema(schema: str) -> Iterator[str]:
    """The URL of an empty PostgreSQL schema, dropped afterwards (skips without a server)."""
    reason = postgres_reason()
    if reason:
        pytest.skip(reason)
    admin = create_db_engine(PG_DEFAULT_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield PG_DEFAULT_URL + f"?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.postgres
def test_postgres_round_trip() -> None:
    with fresh_postgres_schema("mindsync_migration_test") as url:
        engine = create_db_engine(url)
        try:
            _round_trip(engine)
        finally:
            engine.dispose()


def _migrate_at_once(urls: list[str]) -> list[BaseException]:
    """Run ``mindsync migrate``'s upgrade for every URL at the same moment, as replicas do."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(urls))

    def run(url: str) -> None:
        engine = create_db_engine(url)
        try:
            barrier.wait()
            migrate.upgrade(engine)
        except BaseException as exc:  # collected for the caller's assertion
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run, args=(url,), daemon=True) for url in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    stuck = [t for t in threads if t.is_alive()]
    assert not stuck, f"{len(stuck)} migrations still waiting after 60 s (a deadlock)"
    return errors


@pytest.mark.postgres
def test_replicas_migrating_a_fresh_postgres_database_at_once_all_succeed() -> None:
    with fresh_postgres_schema("mindsync_migration_race") as url:
        assert _migrate_at_once([url] * 4) == []
        engine = create_db_engine(url)
        assert migrate.current_revision(engine) == migrate.head_revision()
        engine.dispose()


def test_replicas_migrating_a_fresh_sqlite_database_at_once_all_succeed(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    assert _migrate_at_once([url] * 4) == []
    engine = create_db_engine(url)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()
