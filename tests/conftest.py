"""Shared fixtures: a real database per test (SQLite by default, PostgreSQL in CI's second run),
a controllable clock, and the app wired to them."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from mindsync.analysis.registry import AnalyzerRegistry
from mindsync.api.app import create_app
from mindsync.core.config import Settings
from mindsync.storage import migrate
from mindsync.storage.engine import create_db_engine

DATA_DIR = Path(__file__).parent / "data"
TEST_DATABASE_ENV = "MINDSYNC_TEST_DATABASE_URL"
PG_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ADMIN_TOKEN = "test-admin-token-0123456789abcdef-0123456789"


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 15, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def postgres_reason(url: str = PG_DEFAULT_URL) -> str | None:
    """``None`` when PostgreSQL answers at ``url``, else why not."""
    try:
        import psycopg

        psycopg.connect(url.replace("+psycopg", ""), connect_timeout=2).close()
    except Exception as exc:
        return f"no PostgreSQL server answers at {url} ({type(exc).__name__})"
    return None


def _schema_url(base_url: str, schema: str) -> str:
    url = make_url(base_url)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database for the run: SQLite in a temp dir, or a fresh PostgreSQL schema
    when ``MINDSYNC_TEST_DATABASE_URL`` names a PostgreSQL server."""
    base = os.environ.get(TEST_DATABASE_ENV)
    if not base or base.startswith("sqlite"):
        path = tmp_path_factory.mktemp("db") / "mindsync-test.db"
        url = base or f"sqlite:///{path}"
        engine = create_db_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url
        return
    schema = f"mindsync_test_{uuid.uuid4().hex[:10]}"
    admin = create_db_engine(base)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = _schema_url(base, schema)
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def db_engine(database_url: str) -> Iterator[sa.Engine]:
    """The test database, emptied before each test."""
    from mindsync.storage.models import Base

    engine = create_db_engine(database_url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    """A clock standing at 2026-01-15 12:00 UTC."""
    return FakeClock()


@pytest.fixture
def settings(database_url: str, db_engine: sa.Engine) -> Settings:
    """Settings pointing at the emptied test database."""
    return Settings(
        database_url=database_url,
        auto_migrate=True,
        analysis_threads=2,
        admin_token=ADMIN_TOKEN,
        rate_limit_per_minute=0,
    )


def make_client(
    settings: Settings, registry: AnalyzerRegistry, clock: Any, *, token: str | None = ADMIN_TOKEN
) -> TestClient:
    """A test client for an app built with these parts (use it as a context manager).

    It sends ``token`` as its bearer token: the administrator's unless told otherwise.
    """
    app = create_app(settings, registry=registry, clock=clock)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return TestClient(app, raise_server_exceptions=False, headers=headers)


CONSENT_ALL = ["face", "voice", "motion"]


def within_one_budget_minute(needed_seconds: float = 20.0) -> None:
    """Return when at least ``needed_seconds`` are left in this wall-clock minute.

    The failed-authentication budget (``mindsync.api.guard.FailureBudget``) counts in fixed
    one-minute windows of real time: a test that spends it and checks what follows must not
    straddle a window's end, where the count starts again (CI once saw 401s after the 429s).
    """
    left = 60.0 - time.time() % 60.0
    if left < needed_seconds:
        time.sleep(left + 0.05)


def give_consent(client: TestClient, *user_ids: str, headers: dict[str, str] | None = None) -> None:
    """Record each user's consent to every modality, as a user must before any analysis
    (consent is off by default)."""
    for user_id in user_ids:
        response = client.post(
            "/preferences",
            json={
                "user_id": user_id,
                "face_enabled": True,
                "audio_enabled": True,
                "motion_enabled": True,
            },
            headers=headers,
        )
        assert response.status_code == 200, response.text


@pytest.fixture(scope="session")
def real_registry() -> AnalyzerRegistry:
    """The shipped analysers, loaded once for the run (as the server loads them)."""
    from mindsync.analysis.registry import load_analyzers

    registry = load_analyzers(Settings(_env_file=None))
    assert not registry.unavailable, registry.unavailable
    return registry
