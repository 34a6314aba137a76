"""Two replicas on one PostgreSQL and one Redis: shared rate limits, consistent statistics,
retention exactly once per interval."""

from __future__ import annotations

import time
import uuid

import httpx2 as httpx
import pytest
import sqlalchemy as sa

from tests.conftest import (
    ADMIN_TOKEN,
    PG_DEFAULT_URL,
    postgres_reason,
    within_one_budget_minute,
)
from tests.e2e.server import ServerProcess
from tests.e2e.test_durability import _motion

pytestmark = pytest.mark.slow
REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_reason() -> str | None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        return f"no Redis server answers at {REDIS_URL} ({type(exc).__name__})"
    return None


@pytest.fixture
def replicas(tmp_path):
    reason = postgres_reason() or _redis_reason()
    if reason:
        pytest.skip(reason)
    schema = f"replicas_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_DEFAULT_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = PG_DEFAULT_URL + f"?options=-csearch_path%3D{schema}"
    env = {
        "MINDSYNC_ADMIN_TOKEN": ADMIN_TOKEN,
        "REDIS_URL": REDIS_URL,
        "MINDSYNC_RATE_LIMIT_PER_MINUTE": "12",
        "MINDSYNC_RETENTION_INTERVAL_SECONDS": "1",
    }
    servers = [
        ServerProcess(database_url=url, env=env, log=tmp_path / f"replica-{i}.log")
        for i in range(2)
    ]
    started = time.monotonic()
    try:
        for server in servers:
            server.start()
        yield servers, url, started
    finally:
        for server in servers:
            server.stop()
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_two_replicas_share_limits_statistics_and_retention(replicas) -> None:
    (one, two), url, started = replicas
    user = httpx.post(
        one.url + "/users",
        json={"name": "Replica user", "consent": ["motion"]},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ).json()
    headers = {"Authorization": f"Bearer {user['token']}"}

    # Rate limits: 12 a minute for this token, whichever replica it calls. The limiter counts
    # in fixed wall-clock minutes: the 14 requests must not straddle a minute's end.
    within_one_budget_minute()
    codes = []
    for i in range(14):
        server = one if i % 2 == 0 else two
        response = httpx.post(
            server.url + "/analyze", json={"motion_data": _motion(i)}, headers=headers, timeout=30
        )
        codes.append(response.status_code)
    assert codes.count(200) == 12, codes
    assert codes.count(429) == 2, codes

    # Statistics come from the shared database: both replicas agree.
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    stats = [httpx.get(s.url + "/stats", headers=admin).json() for s in (one, two)]
    assert stats[0]["sessions_stored"] == stats[1]["sessions_stored"] == 12
    assert stats[0]["modality_latency"]["motion"]["count"] == 12

    # Retention: each replica tries every second; together they run once per interval
    # (uncoordinated, they would run about twice as often as the bound below).
    time.sleep(4)
    elapsed = time.monotonic() - started
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        runs = connection.execute(
            sa.text("SELECT runs FROM maintenance_runs WHERE job = 'retention'")
        ).scalar_one()
    engine.dispose()
    assert 2 <= runs <= elapsed / 0.9 + 1, (runs, elapsed)
