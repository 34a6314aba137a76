"""Trends are computed in SQL; the same checks run on SQLite and (in CI's second run) PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.api.fakes import fake_registry
from tests.api.test_analyze import AUDIO, FACE
from tests.conftest import give_consent, make_client


@pytest.fixture
def client(settings, clock):
    with make_client(settings, fake_registry(), clock) as c:
        give_consent(c, "tia", "uma")
        c.test_clock = clock
        yield c


def _post(client, ts: str, audio: str = AUDIO) -> dict:
    """Store a session received at ``ts`` (trends follow the server's clock)."""
    clock = client.test_clock
    today = clock.now
    clock.now = datetime.fromisoformat(ts)
    try:
        response = client.post(
            "/analyze",
            json={"user_id": "tia", "face_image": FACE, "audio_data": audio, "timestamp": ts},
        )
    finally:
        clock.now = today
    assert response.status_code == 200, response.text
    return response.json()


def test_daily_and_weekly_buckets_average_the_stored_scores(client) -> None:
    # clock: 2026-01-15 12:00 UTC (a Thursday)
    first = _post(client, "2026-01-14T08:00:00Z")
    second = _post(client, "2026-01-14T20:30:00Z", audio="UklGRiBvdGhlciBhdWRpbw==")
    third = _post(client, "2026-01-12T09:00:00Z")  # Monday
    _post(client, "2025-11-01T09:00:00Z")  # outside 30 days
    client.post("/analyze", json={"user_id": "uma", "audio_data": AUDIO})  # another user

    daily = client.get("/users/tia/trends", params={"days": 30, "bucket": "day"})
    assert daily.status_code == 200, daily.text
    body = daily.json()
    assert [b["start"][:10] for b in body["buckets"]] == ["2026-01-12", "2026-01-14"]
    jan14 = body["buckets"][1]
    assert jan14["sessions"] == 2
    assert jan14["stress_level"] == pytest.approx(
        (first["stress_level"] + second["stress_level"]) / 2, abs=1e-4
    )
    assert body["buckets"][0]["overall_score"] == pytest.approx(third["overall_score"], abs=1e-4)

    weekly = client.get("/users/tia/trends", params={"days": 30, "bucket": "week"}).json()
    assert len(weekly["buckets"]) == 1
    assert weekly["buckets"][0]["start"].startswith("2026-01-12T00:00:00")  # Monday
    assert weekly["buckets"][0]["sessions"] == 3

    hourly = client.get("/users/tia/trends", params={"days": 7, "bucket": "hour"}).json()
    assert [b["start"][:13] for b in hourly["buckets"]] == [
        "2026-01-12T09",
        "2026-01-14T08",
        "2026-01-14T20",
    ]


def test_trends_validate_and_protect(client) -> None:
    _post(client, "2026-01-14T08:00:00Z")
    assert client.get("/users/tia/trends", params={"bucket": "month"}).status_code == 422
    assert client.get("/users/tia/trends", params={"days": 0}).status_code == 422
    assert client.get("/users/nobody/trends").status_code == 404
    other = client.post("/users", json={"name": "Vic"}).json()
    response = client.get(
        "/users/tia/trends", headers={"Authorization": f"Bearer {other['token']}"}
    )
    assert response.status_code == 404


def test_a_client_timestamp_does_not_move_a_session_in_the_trends(client) -> None:
    response = client.post(
        "/analyze",
        json={"user_id": "tia", "audio_data": AUDIO, "timestamp": "2001-01-01T00:00:00Z"},
    )
    assert response.status_code == 200
    client.test_clock.advance(minutes=1)
    body = client.get("/users/tia/trends", params={"days": 1, "bucket": "day"}).json()
    assert [b["start"][:10] for b in body["buckets"]] == ["2026-01-15"]
