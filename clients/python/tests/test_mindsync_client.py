"""mindsync-client against a real ``mindsync serve`` process (real analysers, SQLite)."""

from __future__ import annotations

import asyncio
import base64
import io
import math
import time
from collections.abc import Iterator
from dataclasses import fields

import httpx2 as httpx
import numpy as np
import pytest
from mindsync_client import (
    AnalysisResult,
    AsyncClient,
    AuthenticationError,
    Client,
    ConsentRequired,
    NotFound,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from mindsync_client.stream import HEADER, frame
from PIL import Image
from tests.conftest import ADMIN_TOKEN, CONSENT_ALL, DATA_DIR
from tests.e2e.server import ServerProcess

pytestmark = pytest.mark.slow

PHOTO = DATA_DIR / "face" / "astronaut.png"
SPEECH = DATA_DIR / "voice" / "arctic_a0007.wav"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("client")
    process = ServerProcess(
        database_url=f"sqlite:///{folder / 'client.db'}",
        env={"MINDSYNC_ADMIN_TOKEN": ADMIN_TOKEN, "MINDSYNC_ANALYSIS_PROCESSES": "1"},
        log=folder / "server.log",
    )
    process.start()
    yield process
    process.stop()


def _user(server: ServerProcess, consent: list[str] = CONSENT_ALL) -> dict[str, str]:
    with Client(server.url, ADMIN_TOKEN) as admin:
        return dict(admin.request("POST", "/users", json={"name": "Client", "consent": consent}))


def _walk(seconds: float = 6.0, rate: float = 50.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    step = 2 * math.pi * 1.9 * t
    return np.column_stack(
        [t, 0.9 * np.sin(step), 0.5 * np.cos(step), 9.81 + 2.0 * np.sin(2 * step)]
    )


def test_results_are_typed_from_the_servers_openapi_document(server) -> None:
    document = httpx.get(server.url + "/openapi.json").json()
    properties = set(document["components"]["schemas"]["AnalysisResponse"]["properties"])
    assert {f.name for f in fields(AnalysisResult)} - {"raw"} == properties


def test_analyze_takes_paths_bytes_images_arrays_and_both_motion_forms(server) -> None:
    user = _user(server)
    with Client(server.url, user["token"]) as client:
        first = client.analyze(face=Image.open(PHOTO), audio=SPEECH, motion=_walk())
        assert first.user_id == user["user_id"] and first.stored
        assert first.modalities_used == ["face", "voice", "motion"]
        assert first.emotion_analysis is not None
        assert first.stress_confidence == first.score("stress").confidence > 0
        assert first.score("stress").modalities

        rgb = np.asarray(Image.open(PHOTO).convert("RGB"))
        seed_form = [
            {"timestamp": float(r[0]), "acceleration": {"x": r[1], "y": r[2], "z": r[3]}}
            for r in _walk().tolist()
        ]
        second = client.analyze(face=rgb, audio=SPEECH.read_bytes(), motion=seed_form)
        assert second.modalities_used == ["face", "voice", "motion"]
        assert client.analyze(face=PHOTO.read_bytes()).modalities_used == ["face"]


def test_motion_from_a_pandas_frame(server) -> None:
    pandas = pytest.importorskip("pandas", reason="pandas is not installed here")
    user = _user(server, ["motion"])
    frame_ = pandas.DataFrame(_walk(), columns=["timestamp", "ax", "ay", "az"])
    with Client(server.url, user["token"]) as client:
        assert client.analyze(motion=frame_).modalities_used == ["motion"]


def test_errors_become_typed_exceptions(server) -> None:
    never_asked = _user(server, [])
    with Client(server.url, never_asked["token"]) as client:
        with pytest.raises(ConsentRequired) as refused:
            client.analyze(face=PHOTO)
        assert refused.value.status == 403 and refused.value.modalities == ["face"]
        assert refused.value.request_id
        client.give_consent("face")
        assert client.analyze(face=PHOTO).modalities_used == ["face"]
        with pytest.raises(UnsupportedMediaType) as corrupt:
            client.analyze(face=b"GIF89a" + bytes(64))
        assert corrupt.value.field == "face_image"
        with pytest.raises(NotFound):
            client.session("00000000-0000-0000-0000-000000000000")
    with Client(server.url, "ms_not-a-token") as stranger, pytest.raises(AuthenticationError):
        stranger.me()


class LoseFirstAnswer(httpx.HTTPTransport):
    """The server gets and answers the first request, but the answer never arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        response = super().handle_request(request)
        if self.calls == 1:
            response.read()
            response.close()
            raise httpx.ReadError("connection lost", request=request)
        return response


def test_a_retry_after_a_lost_answer_returns_the_stored_result_once(server) -> None:
    user = _user(server)
    transport = LoseFirstAnswer()
    with Client(server.url, user["token"], transport=transport) as client:
        result = client.analyze(audio=SPEECH)
        assert transport.calls == 2
        sessions = list(client.sessions())
    assert [s.session_id for s in sessions] == [result.session_id]  # analysed once


def test_429_and_503_are_retried_after_retry_after_with_the_same_body() -> None:
    bodies: list[bytes] = []
    answers = [
        httpx.Response(429, headers={"Retry-After": "0.2"}, json={"error": {"code": "rate"}}),
        httpx.Response(503, headers={"Retry-After": "0.1"}, json={"error": {"code": "busy"}}),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        if answers:
            return answers.pop(0)
        return httpx.Response(200, json={"session_id": "s", "stored": True})

    started = time.monotonic()
    with Client("http://mindsync.test", "t", transport=httpx.MockTransport(handler)) as client:
        result = client.analyze(audio=b"RIFF")
    assert time.monotonic() - started >= 0.3
    assert result.session_id == "s" and len(bodies) == 3 and len(set(bodies)) == 1

    always = httpx.MockTransport(
        lambda r: httpx.Response(503, headers={"Retry-After": "0"}, json={"error": {}})
    )
    with Client("http://mindsync.test", max_retries=2, transport=always) as client:
        with pytest.raises(ServiceUnavailable) as busy:
            client.health()
    assert busy.value.retry_after == 0


def test_pages_of_sessions_export_and_erase(server) -> None:
    user = _user(server)
    with Client(server.url, user["token"]) as client:
        made = {client.analyze(motion=_walk()).session_id for _ in range(3)}
        listed = list(client.sessions(page_size=2))
        assert {s.session_id for s in listed} == made
        assert len(client.export(user["user_id"])["sessions"]) == 3
        assert client.erase(user["user_id"])["deleted"]["sessions"] == 3
    with Client(server.url, user["token"]) as gone, pytest.raises(AuthenticationError):
        gone.me()


def test_the_async_client_streams_frames_and_motion(server) -> None:
    user = _user(server)
    jpeg = io.BytesIO()
    Image.open(DATA_DIR / "face" / "grace_hopper.jpg").convert("RGB").save(jpeg, "JPEG")
    assert HEADER.size == 9 and frame(1, b"x", 1.0)[:9] == b"\x01" + b"\x3f\xf0" + bytes(6)

    async def run() -> tuple[list[dict], dict | None, list[AnalysisResult]]:
        async with AsyncClient(server.url, user["token"]) as client:
            results = []
            async with client.stream(interval_ms=200) as stream:
                assert stream.ready["modalities_allowed"] == ["face", "voice", "motion"]
                await stream.send_frame(jpeg.getvalue())
                await stream.send_motion(_walk(seconds=4))
                async for result in stream:
                    results.append(result)
                    if len(results) == 1:
                        await stream.stop()
            stored = [s async for s in client.sessions()]
            return results, stream.stored, stored

    results, stored, sessions = asyncio.run(run())
    assert results[0]["emotion_analysis"] is not None
    assert "stress_confidence" in results[0]
    assert stored is not None and [s.session_id for s in sessions] == [stored["session_id"]]


def test_the_stream_refuses_a_user_without_consent(server) -> None:
    user = _user(server, [])

    async def run() -> None:
        async with AsyncClient(server.url, user["token"]) as client:
            async with client.stream():
                pass

    with pytest.raises(ConsentRequired) as refused:
        asyncio.run(run())
    assert refused.value.modalities == ["face", "voice", "motion"]


def test_a_data_url_is_not_needed_but_base64_is_what_is_sent(server) -> None:
    from mindsync_client import analysis_body

    body = analysis_body(face=PHOTO, session_id="fixed")
    assert base64.b64decode(body["face_image"]) == PHOTO.read_bytes()
    assert body["session_id"] == "fixed"
