"""``GET /sessions`` and ``GET /session/{id}``."""

from __future__ import annotations

import uuid

import pytest

from tests.api.fakes import fake_registry
from tests.api.test_analyze import AUDIO
from tests.conftest import give_consent, make_client


@pytest.fixture
def client(settings, clock):
    with make_client(settings, fake_registry(), clock) as c:
        give_consent(c, "ann", "ben")
        yield c


def _post(client, user: str, ts: str) -> str:
    response = client.post("/analyze", json={"user_id": user, "audio_data": AUDIO, "timestamp": ts})
    assert response.status_code == 200, response.text
    return response.json()["session_id"]


def test_listing_is_newest_first_filtered_and_paginated(client) -> None:
    ids = [_post(client, "ann", f"2026-01-{day:02d}T10:00:00Z") for day in range(1, 8)]
    _post(client, "ben", "2026-01-05T10:00:00Z")

    page = client.get("/sessions", params={"user_id": "ann", "limit": 3}).json()
    assert page["total"] == 7
    assert [s["session_id"] for s in page["items"]] == ids[::-1][:3]
    assert all(s["user_id"] == "ann" for s in page["items"])

    second = client.get("/sessions", params={"user_id": "ann", "limit": 3, "offset": 3}).json()
    assert [s["session_id"] for s in second["items"]] == ids[::-1][3:6]

    window = client.get(
        "/sessions",
        params={"user_id": "ann", "since": "2026-01-03T00:00:00Z", "until": "2026-01-05T00:00:00"},
    ).json()
    assert window["total"] == 2
    assert {s["session_id"] for s in window["items"]} == set(ids[2:4])

    everyone = client.get("/sessions").json()
    assert everyone["total"] == 8


def test_unknown_user_and_session_are_404(client) -> None:
    assert client.get("/sessions", params={"user_id": "ghost"}).status_code == 404
    missing = client.get(f"/session/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
        ({"since": "not a date"}, "since"),
        ({"since": "2026-01-05T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
    ],
)
def test_bad_query_parameters_name_the_field(client, params, field) -> None:
    response = client.get("/sessions", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


def test_session_id_must_be_a_uuid(client) -> None:
    response = client.get("/session/not-a-uuid")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "session_id"
