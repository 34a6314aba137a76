"""Preferences: defaults, partial updates, consent and history honoured by ``/analyze``."""

from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa

from tests.api.fakes import fake_registry
from tests.api.test_analyze import AUDIO, FACE, MOTION, count
from tests.conftest import give_consent, make_client


@pytest.fixture
def registry():
    return fake_registry()


@pytest.fixture
def client(settings, clock, registry):
    with make_client(settings, registry, clock) as c:
        yield c


def test_unknown_user_is_404(client) -> None:
    response = client.get("/preferences/nobody")
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "user_id"


def test_a_user_who_never_chose_consents_to_nothing_and_is_not_analysed(
    client, settings, registry, db_engine
) -> None:
    user = client.post("/users", json={"name": "Carol", "user_id": "carol"}).json()
    body = client.get("/preferences/carol").json()
    assert body["is_default"] is True
    assert not (body["face_enabled"] or body["audio_enabled"] or body["motion_enabled"])
    assert body["face_consent_at"] is None
    assert body["store_history"] is True
    assert body["retention_days"] == settings.default_retention_days

    response = client.post(
        "/analyze",
        json={"face_image": FACE, "audio_data": AUDIO},
        headers={"Authorization": f"Bearer {user['token']}"},
    )
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "consent_required"
    assert error["modalities"] == ["face", "voice"]
    assert "face, voice" in error["message"] and "POST /preferences" in error["message"]
    assert registry.get("face").decoded == registry.get("voice").decoded == 0
    assert count(db_engine, "sessions") == 0


def test_consent_given_for_some_modalities_analyses_only_those(client, registry) -> None:
    client.post("/preferences", json={"user_id": "cleo", "face_enabled": True})
    response = client.post(
        "/analyze", json={"user_id": "cleo", "face_image": FACE, "audio_data": AUDIO}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["modalities_used"] == ["face"]
    assert body["modalities_skipped"] == [{"modality": "voice", "reason": "no consent given"}]
    assert registry.get("voice").decoded == 0


def test_consent_given_when_the_user_is_created_is_recorded(client, clock) -> None:
    created = client.post(
        "/users", json={"name": "Cy", "user_id": "cy", "consent": ["voice", "face"]}
    )
    assert created.status_code == 201, created.text
    assert created.json()["consent"] == ["voice", "face"]
    prefs = client.get("/preferences/cy").json()
    assert prefs["is_default"] is False
    assert prefs["face_enabled"] and prefs["audio_enabled"] and not prefs["motion_enabled"]
    assert prefs["audio_consent_at"].startswith("2026-01-15T12:00:00")
    assert prefs["motion_consent_at"] is None
    refused = client.post("/users", json={"name": "Cz", "consent": ["camera"]})
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "consent[0]"


def test_a_deployment_that_records_consent_elsewhere_may_switch_the_check_off(
    settings, clock, registry
) -> None:
    elsewhere = settings.model_copy(update={"consent_required": False})
    with make_client(elsewhere, registry, clock) as client:
        response = client.post("/analyze", json={"user_id": "carol", "audio_data": AUDIO})
        assert response.status_code == 200, response.text
        body = client.get("/preferences/carol").json()
        assert body["is_default"] is True
        assert body["face_enabled"] and body["audio_enabled"] and body["motion_enabled"]
        # An explicit refusal is still honoured.
        client.post("/preferences", json={"user_id": "carol", "audio_enabled": False})
        refused = client.post("/analyze", json={"user_id": "carol", "audio_data": AUDIO})
        assert refused.status_code == 403


def test_partial_update_keeps_other_fields_and_records_consent_time(client, clock) -> None:
    first = client.post("/preferences", json={"user_id": "dave", "retention_days": 7})
    assert first.status_code == 200
    assert first.json()["retention_days"] == 7
    assert first.json()["face_consent_at"] is None
    clock.advance(hours=1)
    second = client.post("/preferences", json={"user_id": "dave", "face_enabled": False}).json()
    assert second["retention_days"] == 7
    assert second["face_enabled"] is False
    assert second["face_consent_at"].startswith("2026-01-15T13:00:00")
    assert second["audio_consent_at"] is None
    stored = client.get("/preferences/dave").json()
    assert stored == {**second, "is_default": False}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"user_id": "erin", "retention_days": 0}, "retention_days"),
        ({"user_id": "erin", "retention_days": 100000}, "retention_days"),
        ({"user_id": "erin", "face_enabled": "maybe"}, "face_enabled"),
        ({"user_id": "erin", "colour": "blue"}, "colour"),
        ({"face_enabled": True}, "user_id"),
    ],
)
def test_invalid_preferences_are_422_and_change_nothing(client, payload, field) -> None:
    client.post("/preferences", json={"user_id": "erin", "retention_days": 5})
    response = client.post("/preferences", json=payload)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field
    assert client.get("/preferences/erin").json()["retention_days"] == 5


@pytest.mark.parametrize(
    ("flag", "modality", "field", "value"),
    [
        ("face_enabled", "face", "face_image", FACE),
        ("audio_enabled", "voice", "audio_data", AUDIO),
        ("motion_enabled", "motion", "motion_data", MOTION),
    ],
)
def test_a_modality_turned_off_is_neither_decoded_nor_analysed(
    client, registry, flag, modality, field, value
) -> None:
    give_consent(client, "frank")
    client.post("/preferences", json={"user_id": "frank", flag: False})
    others = {"face_image": FACE, "audio_data": AUDIO, "motion_data": MOTION}
    response = client.post("/analyze", json={"user_id": "frank", **others})
    assert response.status_code == 200
    body = response.json()
    assert modality not in body["modalities"]
    assert modality not in body["modalities_used"]
    assert {"modality": modality, "reason": "no consent given"} in body["modalities_skipped"]
    assert registry.get(modality).decoded == 0
    assert len(body["modalities_used"]) == 2
    # Even broken data of a refused modality is not looked at.
    broken = client.post("/analyze", json={"user_id": "frank", **others, field: value})
    assert broken.status_code == 200


def test_all_modalities_refused_is_403_and_stores_nothing(client, db_engine) -> None:
    give_consent(client, "gina")
    client.post(
        "/preferences",
        json={"user_id": "gina", "face_enabled": False, "audio_enabled": False},
    )
    response = client.post("/analyze", json={"user_id": "gina", "face_image": FACE})
    assert response.status_code == 403
    assert response.json()["error"]["modalities"] == ["face"]
    assert count(db_engine, "sessions") == 0


def test_history_off_stores_nothing_about_the_analysis(client, db_engine) -> None:
    give_consent(client, "hana")
    client.post("/preferences", json={"user_id": "hana", "store_history": False})
    response = client.post(
        "/analyze", json={"user_id": "hana", "face_image": FACE, "motion_data": MOTION}
    )
    body = response.json()
    assert response.status_code == 200
    assert body["stored"] is False
    assert body["emotion_analysis"]["dominant_emotion"] == "happy"
    assert count(db_engine, "sessions") == 0
    assert count(db_engine, "analysis_metrics") == 0
    assert client.get(f"/session/{body['session_id']}").status_code == 404
    with db_engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT * FROM request_metrics")).all()
    assert all("hana" not in str(row) for row in rows)


def test_blank_face_with_history_on_is_stored_with_its_reason(client) -> None:
    blank = base64.b64encode(b"blank").decode()
    give_consent(client, "ivan")
    body = client.post("/analyze", json={"user_id": "ivan", "face_image": blank}).json()
    assert body["stored"] is True
    stored = client.get(f"/session/{body['session_id']}").json()
    assert stored["modalities_skipped"] == [{"modality": "face", "reason": "no face found"}]
