"""Migrations: upgrade and downgrade on a fresh database, and the schema matches the models."""

from __future__ import annotations

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


@pytest.mark.postgres
def test_postgres_round_trip() -> None:
    reason = postgres_reason()
    if reason:
        pytest.skip(reason)
    admin = create_db_engine(PG_DEFAULT_URL)
    schema = "mindsync_migration_test"
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = create_db_engine(PG_DEFAULT_URL + f"?options=-csearch_path%3D{schema}")
    try:
        _round_trip(engine)
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
