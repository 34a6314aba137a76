"""Numbers must be JSON numbers: booleans and strings are refused with a 422 naming the field,
in both motion forms and wherever else a number is expected."""

from __future__ import annotations

import pytest

from tests.api.fakes import fake_registry
from tests.conftest import make_client


@pytest.fixture
def client(settings, clock):
    with make_client(settings, fake_registry(), clock) as c:
        yield c


def _samples(value: object) -> list[dict]:
    return [
        {
            "timestamp": i * 0.02,
            "acceleration": {"x": value if i == 3 else 0.1, "y": 0.2, "z": 9.8},
            "gyroscope": {"x": 0.0, "y": 0.0, "z": 0.0},
        }
        for i in range(50)
    ]


def _columns(value: object) -> dict:
    n = 50
    return {
        "timestamps": [i * 0.02 for i in range(n)],
        "acceleration": {"x": [0.1] * (n - 1) + [value], "y": [0.2] * n, "z": [9.8] * n},
    }


@pytest.mark.parametrize("value", [True, False, "1.5"])
@pytest.mark.parametrize("form", [_samples, _columns])
def test_booleans_and_strings_are_not_motion_numbers(client, db_engine, form, value) -> None:
    response = client.post("/analyze", json={"user_id": "nia", "motion_data": form(value)})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    fields = [error.get("field")] + [d["field"] for d in error.get("details") or []]
    assert any(f and "motion_data" in f and ".x" in f for f in fields), error
    from tests.api.test_analyze import count

    assert count(db_engine, "sessions") == 0


@pytest.mark.parametrize("form", [_samples, _columns])
def test_integers_are_numbers(client, form) -> None:
    response = client.post("/analyze", json={"motion_data": form(1)})
    assert response.status_code == 200, response.text


def test_other_numbers_are_strict_too(client) -> None:
    bad_duration = client.post(
        "/analyze", json={"motion_data": _columns(0.1), "duration_seconds": "30"}
    )
    assert bad_duration.status_code == 422
    assert bad_duration.json()["error"]["field"] == "duration_seconds"
    bad_days = client.post("/preferences", json={"user_id": "nia", "retention_days": True})
    assert bad_days.status_code == 422
    assert bad_days.json()["error"]["field"] == "retention_days"


def test_dates_are_iso_strings_and_consents_are_booleans(client) -> None:
    for ts in (0, 1700000000, "1700000000", True):
        response = client.post("/analyze", json={"motion_data": _columns(0.1), "timestamp": ts})
        assert response.status_code == 422, ts
        assert response.json()["error"]["field"] == "timestamp"
    assert client.get("/sessions", params={"until": "0"}).status_code == 422
    ok = client.get("/sessions", params={"until": "2026-01-15T00:00:00Z"})
    assert ok.status_code == 200
    for value in (0, 1, "true"):
        bad = client.post("/preferences", json={"user_id": "nia", "store_history": value})
        assert bad.status_code == 422, value
        assert bad.json()["error"]["field"] == "store_history"


def test_a_date_that_leaves_the_calendar_in_utc_is_a_422(client) -> None:
    # Found by schemathesis (seed 17): year 1 with a +20:51 offset is year 0 in UTC.
    response = client.post(
        "/analyze", json={"motion_data": _columns(0.1), "timestamp": "0001-01-01T00:10:01+20:51"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "timestamp"
