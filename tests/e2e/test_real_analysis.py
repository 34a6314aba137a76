"""The whole API on real inputs and the shipped models: a photograph, recorded speech and a
real smart-watch recording, end to end, and a scan that finds no raw payload stored."""

from __future__ import annotations

import base64

import pytest

from tests.analysis.motion.conftest import LABELS, _parse_ts
from tests.api.test_analyze import count
from tests.conftest import DATA_DIR, give_consent, make_client
from tests.payload_scan import find_raw_payloads


def b64(path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def motion_json(label: str) -> dict:
    recording = next(
        r
        for r in _parse_ts(DATA_DIR / "motion" / "BasicMotions_TEST.ts")
        if r.label == LABELS[label]
    ).at(50)
    return {
        "timestamps": recording.timestamps.tolist(),
        "acceleration": {k: recording.acceleration[:, i].tolist() for i, k in enumerate("xyz")},
        "gyroscope": {k: recording.gyroscope[:, i].tolist() for i, k in enumerate("xyz")},
    }


@pytest.fixture
def client(settings, clock, real_registry):
    with make_client(settings, real_registry, clock) as c:
        give_consent(c, "real", "scan-0", "scan-1", "speaker")
        yield c


def test_a_real_bundle_end_to_end(client) -> None:
    response = client.post(
        "/analyze",
        json={
            "user_id": "real",
            "face_image": "data:image/png;base64," + b64(DATA_DIR / "face" / "astronaut.png"),
            "audio_data": b64(DATA_DIR / "voice" / "arctic_a0007.wav"),
            "motion_data": motion_json("Walking"),
            "duration_seconds": 10,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["emotion_analysis"]["dominant_emotion"] == "happy"
    assert set(body["emotion_analysis"]["emotions"]) == {
        "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"
    }  # fmt: skip
    assert body["modalities_used"] == ["face", "voice", "motion"]
    assert body["modalities"]["motion"]["activity"] == LABELS["Walking"]
    assert body["modalities"]["voice"]["stress_level"] is not None
    assert body["modalities"]["face"]["facing_screen"] is True
    for score in ("stress_level", "overall_score", "quality_score"):
        assert 0 <= body[score] <= 1
    # Walking: screen attention does not apply (null with a reason), it is not "low".
    assert body["attention_score"] is None
    assert body["assessment"]["attention"]["reason_code"] == "not_applicable_moving"
    assert body["assessment"]["situation"] == "walking"
    assert body["assessment"]["stress"]["modalities"] == ["face", "voice"]
    assert body["baseline"]["status"] == "calibrating"


def test_a_photo_without_a_face_and_silence_are_results_not_errors(client) -> None:
    # The recording's own header, with its sizes set to one second of zeros (a header that
    # declares more than the file holds is a corrupt file).
    header = bytearray((DATA_DIR / "voice" / "arctic_a0007.wav").read_bytes()[:44])
    header[4:8] = (36 + 32000).to_bytes(4, "little")
    header[40:44] = (32000).to_bytes(4, "little")
    silence = bytes(header) + bytes(32000)
    response = client.post(
        "/analyze",
        json={
            "user_id": "real",
            "face_image": b64(DATA_DIR / "face" / "coffee.png"),
            "audio_data": base64.b64encode(silence).decode(),
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["emotion_analysis"] is None
    assert body["stress_level"] is None
    assert {s["modality"] for s in body["modalities_skipped"]} == {"face", "voice"}
    assert body["quality_score"] < 0.2


def test_no_raw_payload_is_stored_after_a_batch_of_real_analyses(client, db_engine) -> None:
    faces = ["astronaut.png", "grace_hopper.jpg", "coffee.png"]
    voices = ["arctic_a0007.wav", "librivox_0890.wav", "amfm_sample.wav"]
    for i, (face, voice) in enumerate(zip(faces, voices, strict=True)):
        response = client.post(
            "/analyze",
            json={
                "user_id": f"scan-{i % 2}",
                "face_image": b64(DATA_DIR / "face" / face),
                "audio_data": b64(DATA_DIR / "voice" / voice),
                "motion_data": motion_json(["Standing", "Walking", "Running"][i]),
            },
        )
        assert response.status_code == 200, response.text
    assert count(db_engine, "sessions") == 3
    assert find_raw_payloads(db_engine) == []


def test_after_calibration_the_voice_is_scored_against_the_users_own_speech(client) -> None:
    clips = ["arctic_a0007.wav", "librivox_0890.wav", "praatio_bobby_48k.wav", "amfm_sample.wav"]
    bodies = []
    for i in range(6):
        clip = DATA_DIR / "voice" / clips[i % len(clips)]
        response = client.post("/analyze", json={"user_id": "speaker", "audio_data": b64(clip)})
        assert response.status_code == 200, response.text
        bodies.append(response.json())
    assert all(b["modalities"]["voice"]["reference"] == "population" for b in bodies[:5])
    last = bodies[5]
    voice = last["modalities"]["voice"]
    assert last["baseline"]["status"] == "personal"
    assert voice["reference"] == "personal"
    # The same clip as the second session: its population score is the one seen then.
    population = bodies[1]["modalities"]["voice"]["stress_level"]
    assert last["baseline"]["voice_population_stress"] == pytest.approx(population)
    assert voice["stress_level"] != last["baseline"]["voice_population_stress"]
    assert voice["drivers"] and all("z" in d for d in voice["drivers"])
