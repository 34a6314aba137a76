"""``WS /ws/analyze``: rolling results, backpressure, disconnects, authentication."""

from __future__ import annotations

import asyncio
import struct
import threading
import time

import numpy as np
import pytest

from tests.api.fakes import fake_registry
from tests.api.test_analyze import count
from tests.conftest import ADMIN_TOKEN, give_consent, make_client

HEADER = struct.Struct(">Bd")


def frame(kind: int, payload: bytes, ts: float | None = None) -> bytes:
    return HEADER.pack(kind, ts if ts is not None else time.time() * 1000) + payload


def motion_message(start: float, n: int = 50) -> dict:
    t = start + np.arange(n) / 50
    return {
        "type": "motion",
        "timestamps": t.tolist(),
        "acceleration": {"x": [0.1] * n, "y": [0.2] * n, "z": (9.8 + 0.3 * np.sin(t)).tolist()},
    }


@pytest.fixture
def client(settings, clock):
    with make_client(settings, fake_registry(), clock) as c:
        give_consent(c, "sky", "ray", "zed")
        yield c


def _start(ws, **extra) -> dict:
    ws.send_json({"type": "start", "token": ADMIN_TOKEN, "interval_ms": 100, **extra})
    ready = ws.receive_json()
    assert ready["type"] == "ready", ready
    return ready


def _next_result(ws) -> dict:
    while True:
        message = ws.receive_json()
        if message["type"] == "result":
            return message
        assert message["type"] != "error", message


def test_stream_gives_rolling_results_and_stores_one_session(client, db_engine) -> None:
    with client.websocket_connect("/ws/analyze") as ws:
        ready = _start(ws, user_id="sky")
        assert ready["stored"] is True
        ws.send_bytes(frame(1, b"\xff\xd8 jpeg bytes", ts=1000.0))
        ws.send_bytes(frame(2, np.zeros(8000, np.int16).tobytes(), ts=1000.0))
        ws.send_json(motion_message(1.0))
        result = _next_result(ws)
        for field in ("stress_level", "attention_score", "overall_score", "quality_score"):
            assert field in result
        assert result["emotion_analysis"]["dominant_emotion"] == "happy"
        assert set(result["included"]) <= {"face", "voice", "motion"}
        ws.send_json({"type": "stop"})
        while (message := ws.receive_json())["type"] != "stored":
            assert message["type"] in ("result", "error")
    assert message["session_id"] == ready["session_id"]
    stored = client.get(f"/session/{ready['session_id']}").json()
    assert stored["user_id"] == "sky"
    assert stored["emotion_analysis"]["dominant_emotion"] == "happy"
    assert count(db_engine, "sessions") == 1


def test_a_flooding_client_keeps_getting_results_and_others_are_unaffected(client) -> None:
    other_results: list[float] = []

    def calm_client() -> None:
        with client.websocket_connect("/ws/analyze") as ws:
            _start(ws)
            for i in range(5):
                ws.send_bytes(frame(1, b"\xff\xd8 calm"))
                started = time.perf_counter()
                _next_result(ws)
                other_results.append(time.perf_counter() - started)
                time.sleep(0.05 * i)
            ws.send_json({"type": "stop"})

    with client.websocket_connect("/ws/analyze") as ws:
        _start(ws)
        thread = threading.Thread(target=calm_client)
        thread.start()
        results = []
        for _ in range(3):
            for _ in range(100):
                ws.send_bytes(frame(1, b"\xff\xd8 flood" + bytes(2000)))
            results.append(_next_result(ws))  # each burst still gets an answer
        thread.join(timeout=30)
        # A tick may answer while the last frames of a burst are still arriving; the
        # ticks that follow count them (none is lost), within a bounded number of ticks.
        last = results[-1]
        for _ in range(100):
            if last["received"]["face"] == 300:
                break
            last = _next_result(ws)
        ws.send_json({"type": "stop"})
    assert last["received"]["face"] == 300
    assert results[-1]["dropped"]["face"] > 0
    assert len(other_results) == 5
    assert max(other_results) < 5.0


def test_an_abrupt_disconnect_keeps_what_was_answered(client, db_engine) -> None:
    with client.websocket_connect("/ws/analyze") as ws:
        ready = _start(ws, user_id="ray")
        ws.send_bytes(frame(1, b"\xff\xd8 frame"))
        _next_result(ws)
        # leave without "stop"
    deadline = time.monotonic() + 10
    url = f"/session/{ready['session_id']}"
    while client.get(url).status_code == 404 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get(url).json()["user_id"] == "ray"


def test_bad_messages_get_errors_without_closing(client) -> None:
    with client.websocket_connect("/ws/analyze") as ws:
        _start(ws)
        ws.send_bytes(b"\x01")
        assert ws.receive_json()["field"] == "binary"
        ws.send_bytes(frame(9, b"x"))
        assert ws.receive_json()["field"] == "binary"
        ws.send_json({"type": "motion", "timestamps": [1, 2], "acceleration": {"x": [1]}})
        assert ws.receive_json()["field"] == "motion"
        ws.send_text("not json")
        assert ws.receive_json()["field"] == "text"
        ws.send_bytes(frame(1, b"\xff\xd8 still works"))
        assert _next_result(ws)["emotion_analysis"] is not None
        ws.send_json({"type": "stop"})


def test_streams_need_a_token(client) -> None:
    anonymous = {"Authorization": ""}
    with client.websocket_connect("/ws/analyze", headers=anonymous) as ws:
        ws.send_json({"type": "start"})
        error = ws.receive_json()
    assert error["type"] == "error" and error["code"] == "unauthorized"
    with client.websocket_connect("/ws/analyze", headers=anonymous) as ws:
        ws.send_json({"type": "start", "token": "ms_forged"})
        assert ws.receive_json()["code"] == "unauthorized"


def test_consent_off_means_the_stream_ignores_that_modality(client) -> None:
    client.post("/preferences", json={"user_id": "zed", "face_enabled": False})
    with client.websocket_connect("/ws/analyze") as ws:
        ready = _start(ws, user_id="zed")
        assert ready["modalities_allowed"] == ["voice", "motion"]
        assert ready["modalities_skipped"] == [{"modality": "face", "reason": "no consent given"}]
        ws.send_bytes(frame(1, b"\xff\xd8 face"))
        ws.send_json(motion_message(1.0))
        result = _next_result(ws)
        assert "face" not in result["modalities"]
        assert result["emotion_analysis"] is None
        ws.send_json({"type": "stop"})


def test_a_stream_for_a_user_without_consent_is_refused_naming_the_modalities(client) -> None:
    with client.websocket_connect("/ws/analyze") as ws:
        ws.send_json({"type": "start", "token": ADMIN_TOKEN, "user_id": "never-asked"})
        error = ws.receive_json()
    assert error["type"] == "error" and error["code"] == "consent_required"
    assert error["modalities"] == ["face", "voice", "motion"]
    assert "POST /preferences" in error["message"]


def test_mediarecorder_webm_chunks_are_decoded_as_a_sliding_window(
    settings, clock, real_registry
) -> None:
    """Real speech as streamed WebM/Opus, cut into chunks at cluster boundaries the way
    MediaRecorder emits them; only the first chunk carries the header."""
    from tests.analysis.voice.voice_audio import encode, load

    speech = load("librivox_0890.wav")
    webm = encode(np.tile(speech, 2)[: 16_000 * 8], "webm_opus_live")
    cluster = bytes.fromhex("1F43B675")
    starts = [i for i in range(len(webm)) if webm.startswith(cluster, i)]
    bounds = [0, *starts[1:], len(webm)]
    chunks = [webm[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    assert len(chunks) >= 4
    with make_client(settings, real_registry, clock) as c, c.websocket_connect("/ws/analyze") as ws:
        _start(ws)
        voices = []
        for chunk in chunks:
            ws.send_bytes(frame(3, chunk))
            voices.append(_next_result(ws)["modalities"]["voice"])
        ws.send_json({"type": "stop"})
    assert voices[-1]["status"] == "ok", voices[-1]["reason"]
    assert voices[-1]["stress_level"] is not None
    assert voices[-1]["codec"] is not None


def test_a_face_whose_lips_move_while_speech_is_heard_is_speaking(
    settings, clock, real_registry
) -> None:
    """Real frames of a man talking (0.5 s apart) streamed with real speech."""
    from pathlib import Path

    from tests.analysis.voice.voice_audio import load

    faces = Path(__file__).resolve().parents[1] / "data" / "face"
    speech = (load("librivox_0890.wav") * 32767).astype(np.int16)
    with make_client(settings, real_registry, clock) as c, c.websocket_connect("/ws/analyze") as ws:
        _start(ws)
        ws.send_bytes(frame(2, speech[:16_000].tobytes(), ts=500.0))
        _next_result(ws)
        seen = []
        for k in range(8):
            ts = 1000.0 + 500.0 * k
            audio = speech[16_000 + 8_000 * k : 16_000 + 8_000 * (k + 1)]
            ws.send_bytes(frame(2, audio.tobytes(), ts=ts))
            ws.send_bytes(frame(1, (faces / f"carphone_{15 * k:03d}.png").read_bytes(), ts=ts))
            result = _next_result(ws)
            while "face" not in result["modalities"]:
                result = _next_result(ws)
            seen.append(result["modalities"]["face"]["speaking"])
        ws.send_json({"type": "stop"})
    assert False not in seen
    assert seen.count(True) >= 3, seen


@pytest.mark.parametrize("how", ["rotate", "erase"])
def test_a_revoked_token_ends_an_open_stream_and_stores_nothing(
    settings, clock, db_engine, how
) -> None:
    """Revocation in another worker reaches the stream within a tick and a poll."""
    from fastapi.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    from mindsync.api.app import create_app

    other = create_app(settings, registry=fake_registry(), clock=clock)
    admin_headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with (
        make_client(settings, fake_registry(), clock) as client,
        TestClient(other, headers=admin_headers) as second_worker,
    ):
        user = client.post(
            "/users", json={"name": "Rev", "user_id": "rev", "consent": ["face"]}
        ).json()
        with client.websocket_connect("/ws/analyze") as ws:
            ws.send_json({"type": "start", "token": user["token"], "interval_ms": 100})
            assert ws.receive_json()["type"] == "ready"
            ws.send_bytes(frame(1, b"\xff\xd8 frame"))
            _next_result(ws)
            if how == "rotate":
                assert second_worker.post("/users/rev/tokens").status_code == 201
            else:
                assert second_worker.delete("/users/rev").status_code == 200
            started = time.monotonic()
            code = reason = None
            try:
                while time.monotonic() - started < 5:
                    ws.send_bytes(frame(1, b"\xff\xd8 frame"))
                    message = ws.receive_json()
                    if message["type"] == "error":
                        assert message["code"] == "token_revoked"
            except WebSocketDisconnect as exc:
                code, reason = exc.code, exc.reason
            took = time.monotonic() - started
        assert (code, reason) == (1008, "token_revoked")
        assert took < 2.0  # a poll (0.25 s) and a tick (0.1 s), with room for a slow machine
    time.sleep(0.3)
    assert count(db_engine, "sessions") == 0


def test_a_tick_waits_for_the_analysis_with_no_data_in_hand(client) -> None:
    """While every analysis slot of the server process is taken, a stream's tick waits at
    the gate without taking its data: the result that follows reports on the newest frame,
    the one that arrived last while it waited."""
    with client.websocket_connect("/ws/analyze") as ws:
        _start(ws, user_id="sky")
        ws.send_bytes(frame(1, b"\xff\xd8 first", ts=1000.0))
        assert _next_result(ws)["included"]["face"] == 1000.0

        async def gate() -> asyncio.Semaphore:
            return client.app.state.stream_gate()  # the connection's own event loop

        semaphore = ws.portal.call(gate)
        capacity = client.app.state.stream_gate.capacity
        for _ in range(capacity):  # the analysis is busy: every slot taken
            ws.portal.call(semaphore.acquire)
        for ts in (2000.0, 3000.0, 4000.0):
            ws.send_bytes(frame(1, b"\xff\xd8 newer", ts=ts))
            time.sleep(0.15)  # longer than the stream's interval (100 ms)
        for _ in range(capacity):
            ws.portal.call(semaphore.release)
        assert _next_result(ws)["included"]["face"] == 4000.0
        ws.send_json({"type": "stop"})
