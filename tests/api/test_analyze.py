"""``POST /analyze`` through the web layer, with deterministic stand-in analysers."""

from __future__ import annotations

import base64
import uuid

import pytest
import sqlalchemy as sa

from mindsync.core.config import Settings
from tests.api.fakes import fake_registry
from tests.conftest import FakeClock, give_consent, make_client

FACE = base64.b64encode(b"\xff\xd8 a jpeg, as far as the fake knows").decode()
AUDIO = base64.b64encode(b"RIFF some audio").decode()
MOTION = [
    {
        "timestamp": 1640995200.0 + i / 50,
        "acceleration": {"x": 0.1, "y": 0.2, "z": 9.8},
        "gyroscope": {"x": 0.01, "y": 0.02, "z": 0.03},
    }
    for i in range(20)
]


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.fixture
def client(settings: Settings, clock: FakeClock):
    with make_client(settings, fake_registry(), clock) as c:
        give_consent(c, "alice", "bob", "kim")
        yield c


def test_full_bundle_returns_the_seed_fields_and_is_stored(client, db_engine) -> None:
    response = client.post(
        "/analyze",
        json={
            "user_id": "alice",
            "face_image": "data:image/jpeg;base64," + FACE,
            "audio_data": AUDIO,
            "motion_data": MOTION,
            "timestamp": "2026-01-15T11:59:00Z",
            "duration_seconds": 30.0,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    for field in (
        "session_id",
        "timestamp",
        "status",
        "emotion_analysis",
        "stress_level",
        "attention_score",
        "overall_score",
        "quality_score",
        "processing_time_ms",
        "recommendations",
    ):
        assert field in body
    assert body["status"] == "completed"
    assert body["emotion_analysis"]["dominant_emotion"] == "happy"
    assert set(body["modalities_used"]) == {"face", "voice", "motion"}
    assert body["modalities"]["face"]["processing_ms"] >= 0
    assert body["stored"] is True
    assert uuid.UUID(body["session_id"])
    assert count(db_engine, "sessions") == 1
    assert count(db_engine, "analysis_metrics") == 3

    stored = client.get(f"/session/{body['session_id']}").json()
    assert stored["stress_level"] == body["stress_level"]
    assert stored["emotion_analysis"] == body["emotion_analysis"]
    assert stored["duration_seconds"] == 30.0
    assert stored["timestamp"].startswith("2026-01-15T11:59:00")


def test_columnar_motion_is_accepted(client) -> None:
    columns = {
        "timestamps": [s["timestamp"] for s in MOTION],
        "acceleration": {
            axis: [s["acceleration"][axis] for s in MOTION] for axis in ("x", "y", "z")
        },
    }
    response = client.post("/analyze", json={"motion_data": columns})
    assert response.status_code == 200, response.text
    assert response.json()["modalities_used"] == ["motion"]


def test_a_modality_without_an_analyser_is_refused_with_501(settings, clock, db_engine) -> None:
    with make_client(settings, fake_registry("face"), clock) as c:
        response = c.post("/analyze", json={"face_image": FACE, "audio_data": AUDIO})
    assert response.status_code == 501
    error = response.json()["error"]
    assert error["code"] == "modality_unavailable"
    assert "voice" in error["message"]
    assert count(db_engine, "sessions") == 0


def test_no_face_is_a_result_not_an_error(client) -> None:
    blank = base64.b64encode(b"blank frame").decode()
    body = client.post("/analyze", json={"face_image": blank}).json()
    assert body["emotion_analysis"] is None
    assert body["modalities"]["face"]["status"] == "no_signal"
    assert body["modalities_skipped"] == [{"modality": "face", "reason": "no face found"}]
    assert body["quality_score"] == pytest.approx(0.05 * 0.5)  # no modality with a signal


def test_a_retried_session_id_returns_the_stored_result_once(client, db_engine) -> None:
    session_id = str(uuid.uuid4())
    body = {"session_id": session_id, "user_id": "kim", "audio_data": AUDIO}
    first = client.post("/analyze", json=body)
    assert first.status_code == 200
    assert first.json()["session_id"] == session_id
    retry = client.post("/analyze", json=body)
    assert retry.status_code == 200
    assert retry.json()["stress_level"] == first.json()["stress_level"]
    assert retry.json()["stored"] is True
    assert count(db_engine, "sessions") == 1
    other = client.post("/analyze", json={**body, "user_id": "lee"})
    assert other.status_code == 409
    assert other.json()["error"]["field"] == "session_id"
    assert count(db_engine, "sessions") == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "body"),
        ({"audio_data": AUDIO, "duration_seconds": -1}, "duration_seconds"),
        ({"audio_data": AUDIO, "duration_seconds": "long"}, "duration_seconds"),
        ({"audio_data": AUDIO, "user_id": "bad id with spaces"}, "user_id"),
        ({"audio_data": AUDIO, "session_id": "not-a-uuid"}, "session_id"),
        ({"audio_data": AUDIO, "timestamp": "yesterday"}, "timestamp"),
        ({"audio_data": 12345}, "audio_data"),
        ({"motion_data": [{"timestamp": 1.0}]}, "motion_data[0].acceleration"),
        (
            {"motion_data": {"timestamps": [1, 2], "acceleration": {"x": [1], "y": [1], "z": [1]}}},
            "motion_data",
        ),
    ],
)
def test_invalid_requests_get_422_naming_the_field(client, db_engine, payload, field) -> None:
    client.post("/analyze", json={"user_id": "bob", "audio_data": AUDIO})
    before = count(db_engine, "sessions")
    response = client.post("/analyze", json=payload)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["field"] == field
    assert error["request_id"]
    assert AUDIO not in response.text  # the rejected input is never echoed back
    assert count(db_engine, "sessions") == before


def test_broken_base64_is_422_naming_the_field(client) -> None:
    response = client.post("/analyze", json={"face_image": "%%%not base64%%%"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "face_image"


def test_malformed_json_is_422(client) -> None:
    response = client.post(
        "/analyze", content=b'{"audio_data": "abc",', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["field"] == "body"
    assert "not valid JSON" in error["message"]
    assert "at character 21" in error["message"]


def test_nan_in_motion_gives_a_clean_4xx_not_a_500(client) -> None:
    # NaN is not JSON, but Python's json.dumps writes it: the error names the sample.
    raw = b'{"motion_data": [{"timestamp": 1.0, "acceleration": {"x": NaN, "y": 0, "z": 9.8}}]}'
    response = client.post("/analyze", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["field"].startswith("motion_data")


def test_future_timestamp_is_refused(client) -> None:
    response = client.post(
        "/analyze", json={"audio_data": AUDIO, "timestamp": "2030-01-01T00:00:00Z"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "timestamp"


def test_body_over_the_limit_is_413(settings, clock) -> None:
    small = settings.model_copy(update={"max_request_bytes": 2048})
    with make_client(small, fake_registry(), clock) as c:
        response = c.post("/analyze", json={"audio_data": "A" * 4096})
    assert response.status_code == 413
    assert "2048" in response.json()["error"]["message"]


def test_every_response_carries_a_request_id(client) -> None:
    response = client.get("/", headers={"X-Request-ID": "trace-123"})
    assert response.headers["x-request-id"] == "trace-123"
    generated = client.get("/").headers["x-request-id"]
    assert len(generated) == 32
