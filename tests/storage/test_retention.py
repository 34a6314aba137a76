"""Retention deletes exactly what is past each user's retention, on a clock the test controls."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from mindsync.storage.engine import create_session_factory
from mindsync.storage.retention import run_retention_once
from tests.api.fakes import fake_registry
from tests.api.test_analyze import AUDIO, count
from tests.conftest import give_consent, make_client


def _post(client, user: str | None, ts: str) -> str:
    """Store a session received (and captured) at ``ts``: retention counts from receipt."""
    clock = client.app.state.clock
    today = clock.now
    clock.now = datetime.fromisoformat(ts)
    body = {"audio_data": AUDIO, "timestamp": ts}
    if user:
        body["user_id"] = user
        give_consent(client, user)
    try:
        response = client.post("/analyze", json=body)
    finally:
        clock.now = max(today, clock.now)
    assert response.status_code == 200, response.text
    return response.json()["session_id"]


def test_each_user_keeps_sessions_for_their_own_retention(settings, clock, db_engine) -> None:
    with make_client(settings, fake_registry(), clock) as client:
        client.post("/preferences", json={"user_id": "short", "retention_days": 7})
        old_short = _post(client, "short", "2026-01-05T12:00:00Z")  # 10 days old
        new_short = _post(client, "short", "2026-01-12T12:00:00Z")  # 3 days old
        old_default = _post(client, "long", "2025-10-01T12:00:00Z")  # 106 days old
        kept_default = _post(client, "long", "2026-01-05T12:00:00Z")
        other_old = _post(client, "other", "2025-09-01T12:00:00Z")
        assert count(db_engine, "analysis_metrics") == 5

        report = run_retention_once(create_session_factory(db_engine), settings, clock())
        assert report.sessions == 3
        assert report.analysis_metrics == 3
        for gone in (old_short, old_default, other_old):
            assert client.get(f"/session/{gone}").status_code == 404
        for kept in (new_short, kept_default):
            assert client.get(f"/session/{kept}").status_code == 200
        assert count(db_engine, "analysis_metrics") == 2

        clock.advance(days=settings.metrics_retention_days + 365)
        report = run_retention_once(create_session_factory(db_engine), settings, clock())
        assert report.sessions == 2
        assert count(db_engine, "sessions") == 0
        assert count(db_engine, "request_metrics") == 0


def test_retention_runs_on_its_own_inside_the_server(settings, clock, db_engine) -> None:
    fast = settings.model_copy(update={"retention_interval_seconds": 1.0})
    with make_client(fast, fake_registry(), clock) as client:
        _post(client, "zoe", "2026-01-10T12:00:00Z")
        assert count(db_engine, "sessions") == 1
        clock.advance(days=fast.default_retention_days)
        deadline = time.monotonic() + 10
        while count(db_engine, "sessions") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert count(db_engine, "sessions") == 0


@pytest.mark.parametrize("days", [1, 30])
def test_nothing_is_deleted_inside_the_retention(settings, clock, db_engine, days) -> None:
    with make_client(settings, fake_registry(), clock) as client:
        client.post("/preferences", json={"user_id": "una", "retention_days": days})
        _post(client, "una", "2026-01-15T11:00:00Z")
        clock.advance(hours=days * 24 - 2)
        run_retention_once(create_session_factory(db_engine), settings, clock())
        assert count(db_engine, "sessions") == 1
        clock.advance(hours=2)
        run_retention_once(create_session_factory(db_engine), settings, clock())
        assert count(db_engine, "sessions") == 0


def test_retention_runs_once_per_interval_however_many_workers(settings, db_engine, clock):
    from concurrent.futures import ThreadPoolExecutor

    from mindsync.storage.retention import run_retention_if_due

    factory = create_session_factory(db_engine)
    with ThreadPoolExecutor(4) as pool:
        reports = list(
            pool.map(lambda _: run_retention_if_due(factory, settings, clock()), range(8))
        )
    assert sum(r is not None for r in reports) == 1
    clock.advance(seconds=settings.retention_interval_seconds / 2)
    assert run_retention_if_due(factory, settings, clock()) is None
    clock.advance(seconds=settings.retention_interval_seconds)
    assert run_retention_if_due(factory, settings, clock()) is not None


def test_retention_counts_from_receipt_not_from_the_clients_timestamp(
    settings, clock, db_engine
) -> None:
    with make_client(settings, fake_registry(), clock) as client:
        epoch = client.post("/analyze", json={"audio_data": AUDIO, "timestamp": 0})
        assert epoch.status_code == 422
        assert epoch.json()["error"]["field"] == "timestamp"
        give_consent(client, "ula")
        old = client.post(
            "/analyze", json={"user_id": "ula", "audio_data": AUDIO, "timestamp": "2001-05-01"}
        )
        assert old.status_code == 200, old.text
        run_retention_once(create_session_factory(db_engine), settings, clock())
        assert client.get(f"/session/{old.json()['session_id']}").status_code == 200
        clock.advance(days=settings.default_retention_days, seconds=1)
        run_retention_once(create_session_factory(db_engine), settings, clock())
        assert client.get(f"/session/{old.json()['session_id']}").status_code == 404
