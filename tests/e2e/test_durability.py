"""Durability against a real server process: every acknowledged session survives load and
SIGKILL, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import numpy as np
import pytest
import sqlalchemy as sa

from tests.conftest import ADMIN_TOKEN, PG_DEFAULT_URL, postgres_reason
from tests.e2e.server import ServerProcess

pytestmark = pytest.mark.slow


def _motion(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    t = np.arange(0, 10, 1 / 50)
    acc = np.column_stack(
        [
            0.8 * np.sin(2 * np.pi * 1.9 * t) + rng.normal(0, 0.1, t.size),
            0.4 * np.sin(2 * np.pi * 1.9 * t + 1) + rng.normal(0, 0.1, t.size),
            9.81 + 1.2 * np.sin(2 * np.pi * 3.8 * t) + rng.normal(0, 0.1, t.size),
        ]
    )
    return {
        "timestamps": t.round(4).tolist(),
        "acceleration": {k: acc[:, i].round(4).tolist() for i, k in enumerate("xyz")},
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'durable.db'}"
        return
    reason = postgres_reason()
    if reason:
        pytest.skip(reason)
    schema = f"durability_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_DEFAULT_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield PG_DEFAULT_URL + f"?options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _load(url: str, seconds: float, workers: int, acked: list[str], errors: list[str]) -> None:
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def worker(n: int) -> None:
        payload = _motion(n)
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        ) as client:
            consent = {"face_enabled": True, "audio_enabled": True, "motion_enabled": True}
            client.post("/preferences", json={"user_id": f"load-{n}", **consent})
            i = 0
            while time.monotonic() < stop:
                session_id = str(uuid.uuid4())
                body = {"session_id": session_id, "user_id": f"load-{n}", "motion_data": payload}
                try:
                    response = client.post("/analyze", json=body)
                except httpx.TransportError:
                    return  # the server went away (killed): unacknowledged, so not counted
                with lock:
                    if 200 <= response.status_code < 300 and response.json()["stored"]:
                        acked.append(session_id)
                    elif response.status_code >= 500:
                        errors.append(f"{response.status_code} {response.text[:200]}")
                i += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _stored_ids(database_url: str) -> set[str]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(sa.text("SELECT id FROM sessions")).scalars())
    finally:
        engine.dispose()


def _children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (Linux /proc)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def test_acknowledged_sessions_survive_load_and_sigkill(database, tmp_path) -> None:
    env = {"MINDSYNC_ADMIN_TOKEN": ADMIN_TOKEN, "MINDSYNC_RATE_LIMIT_PER_MINUTE": "0"}
    server = ServerProcess(database_url=database, env=env, log=tmp_path / "server.log")
    server.start()
    acked: list[str] = []
    errors: list[str] = []
    try:
        _load(server.url, seconds=4, workers=8, acked=acked, errors=errors)
        assert errors == []
        assert len(acked) > 20
        assert set(acked) <= _stored_ids(database)

        # Now kill it in the middle of the same load.
        assert server.process is not None
        analysis = _children(server.process.pid)
        assert analysis, "mindsync serve runs its analysis in child processes"
        killer = threading.Timer(2.0, server.kill)
        killer.start()
        _load(server.url, seconds=5, workers=8, acked=acked, errors=errors)
        killer.join()
        assert errors == []
        # The killed server's analysis processes do not outlive it.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_running(pid) for pid in analysis):
            time.sleep(0.1)
        assert not any(_running(pid) for pid in analysis), "orphaned analysis processes"
    finally:
        server.stop()

    server.start()
    try:
        assert httpx.get(server.url + "/health", timeout=5).json()["database"]["reachable"]
    finally:
        server.stop()
    if database.startswith("sqlite"):
        engine = sa.create_engine(database)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        engine.dispose()
    missing = set(acked) - _stored_ids(database)
    assert missing == set(), f"{len(missing)} acknowledged sessions lost"
