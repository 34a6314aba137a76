"""``POST /analyze`` with analysis in worker processes (``MINDSYNC_ANALYSIS_PROCESSES``), as
``mindsync serve`` and gunicorn.conf.py run it: real analysers in real spawned processes."""

from __future__ import annotations

import base64
import io
import os
import signal
import subprocess
import sys
import time
import types
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mindsync.analysis import pool as pool_module
from mindsync.analysis.pool import MAX_RESTART_DELAY_S, RESTART_DELAY_S, restart_delay
from mindsync.core.config import Settings
from tests.api.test_analyze import count
from tests.api.test_metrics import labels, samples
from tests.conftest import CONSENT_ALL, DATA_DIR, FakeClock, give_consent, make_client

FACE = base64.b64encode((DATA_DIR / "face" / "grace_hopper.jpg").read_bytes()).decode()
SPEECH = base64.b64encode((DATA_DIR / "voice" / "arctic_a0007.wav").read_bytes()).decode()
MOTION = [
    {
        "timestamp": 1768478000.0 + i / 50,
        "acceleration": {"x": 0.1 * (i % 7), "y": 0.2, "z": 9.8},
        "gyroscope": {"x": 0.01, "y": 0.02 * (i % 5), "z": 0.03},
    }
    for i in range(200)
]


@pytest.fixture
def pool_client(settings: Settings, clock: FakeClock):
    pooled = settings.model_copy(update={"analysis_processes": 1})
    # No registry is injected: the app starts its own pool, and loads no model itself.
    with make_client(pooled, None, clock) as client:  # type: ignore[arg-type]
        give_consent(client, "alice")
        yield client


def test_a_pooled_server_analyses_every_modality_and_reports_its_analysers(
    pool_client, db_engine
) -> None:
    health = pool_client.get("/health").json()
    assert all(a["loaded"] for a in health["analyzers"].values()), health["analyzers"]
    user = pool_client.post("/users", json={"name": "pool", "consent": CONSENT_ALL}).json()
    response = pool_client.post(
        "/analyze",
        json={"face_image": FACE, "audio_data": SPEECH, "motion_data": MOTION},
        headers={"Authorization": f"Bearer {user['token']}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["modalities_used"] == ["face", "voice", "motion"]
    assert body["modalities"]["face"]["status"] == "ok"
    assert body["modalities"]["voice"]["status"] == "ok"
    assert body["emotion_analysis"]["dominant_emotion"] == "neutral"  # as in process
    assert count(db_engine, "sessions") == 1
    processes = pool_client.get("/stats").json()["processes"]
    assert [p["role"] for p in processes] == ["server", "analysis"]
    analysis = processes[1]
    assert analysis["pid"] == pool_client.app.state.orchestrator.pool.pids()[0]
    assert analysis["cpu_seconds"] > 0 and analysis["rss_bytes"] > 50_000_000  # models loaded
    scraped = pool_client.get("/metrics").text
    for role, pid in (("server", os.getpid()), ("analysis", analysis["pid"])):
        assert (
            samples(scraped, "mindsync_process_cpu_seconds_total")[labels(role=role, pid=pid)] > 0
        )
        assert samples(scraped, "mindsync_process_resident_memory_bytes")[
            labels(role=role, pid=pid)
        ]


def test_an_analyser_error_in_a_pool_process_keeps_its_status_and_field(
    pool_client, db_engine
) -> None:
    gif = base64.b64encode(b"GIF89a" + b"\x00" * 64).decode()
    response = pool_client.post("/analyze", json={"user_id": "alice", "audio_data": gif})
    assert response.status_code == 415, response.text
    assert response.json()["error"]["field"] == "audio_data"
    assert count(db_engine, "sessions") == 0


def test_motion_the_pool_process_hands_back_is_validated_by_the_server(
    pool_client, db_engine
) -> None:
    """The analysis process parses motion JSON; what it cannot take as it is (a sample
    without a gyroscope, a string for a number) comes back and the server validates it:
    analysed when valid, a 422 naming the sample when not."""
    unusual = [dict(s) for s in MOTION]
    del unusual[7]["gyroscope"]
    ok = pool_client.post("/analyze", json={"user_id": "alice", "motion_data": unusual})
    assert ok.status_code == 200, ok.text
    assert ok.json()["modalities"]["motion"]["has_gyroscope"] is False
    broken = [dict(s, acceleration=dict(s["acceleration"])) for s in MOTION]
    broken[9]["acceleration"]["y"] = "0.2"
    refused = pool_client.post("/analyze", json={"user_id": "alice", "motion_data": broken})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "motion_data[9].acceleration.y"
    assert count(db_engine, "sessions") == 1


def test_modalities_handed_over_together_keep_their_own_answers(pool_client, db_engine) -> None:
    """One process: a request's modalities go to it in one hand-over. A failing one still
    gets its own status and field, and motion handed back for validation is analysed."""
    gif = base64.b64encode(b"GIF89a" + b"\x00" * 64).decode()
    failed = pool_client.post(
        "/analyze", json={"user_id": "alice", "face_image": gif, "motion_data": MOTION}
    )
    assert failed.status_code == 415, failed.text
    assert failed.json()["error"]["field"] == "face_image"
    unusual = [dict(s) for s in MOTION]
    del unusual[3]["gyroscope"]
    ok = pool_client.post(
        "/analyze", json={"user_id": "alice", "audio_data": SPEECH, "motion_data": unusual}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["modalities_used"] == ["voice", "motion"]
    assert count(db_engine, "sessions") == 1


def test_a_dead_analysis_process_costs_one_503_and_the_next_request_gets_a_new_pool(
    pool_client, db_engine
) -> None:
    pool = pool_client.app.state.orchestrator.pool
    (pid,) = pool.pids()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    failed = pool_client.post("/analyze", json={"user_id": "alice", "face_image": FACE})
    assert failed.status_code == 503, failed.text
    assert failed.json()["error"]["code"] == "analysis_interrupted"
    assert failed.headers["retry-after"] == "1"
    assert count(db_engine, "sessions") == 0

    again = pool_client.post("/analyze", json={"user_id": "alice", "face_image": FACE})
    assert again.status_code == 200, again.text
    assert pool.restarts == 1
    assert pool.pids() and pid not in pool.pids()
    assert count(db_engine, "sessions") == 1


def test_a_process_that_dies_while_analysing_fails_that_request_and_is_replaced(
    pool_client, db_engine
) -> None:
    pool = pool_client.app.state.orchestrator.pool
    (pid,) = pool.pids()
    speech = _minute_of_speech()  # 1.7 MB of base64: written to the process in many parts
    with ThreadPoolExecutor(1) as thread:
        pending = thread.submit(
            pool_client.post, "/analyze", json={"user_id": "alice", "audio_data": speech}
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not pool.busy():
            time.sleep(0.001)  # until the process holds the request (its analysis: ~0.1 s)
        os.kill(pid, signal.SIGKILL)
        failed = pending.result(timeout=60)
    assert failed.status_code == 503, failed.text
    assert "stopped unexpectedly" in failed.json()["error"]["message"]
    again = pool_client.post("/analyze", json={"user_id": "alice", "face_image": FACE})
    assert again.status_code == 200, again.text
    assert pool.restarts == 1 and pid not in pool.pids()
    assert count(db_engine, "sessions") == 1


def _kill_the_idle_process(client) -> None:
    """Analyse once (the pool then watches its process), kill the process while it is idle,
    and wait until the pool has noticed and started another."""
    answer = client.post("/analyze", json={"user_id": "alice", "face_image": FACE})
    assert answer.status_code == 200, answer.text
    pool = client.app.state.orchestrator.pool
    (pid,) = pool.pids()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and pool.pids() in ([], [pid]):
        time.sleep(0.01)  # the event loop sees the pipe close and starts another process
    assert pid not in pool.pids()


def test_an_idle_process_that_dies_is_replaced_without_failing_a_request(
    pool_client, db_engine
) -> None:
    pool = pool_client.app.state.orchestrator.pool
    _kill_the_idle_process(pool_client)
    assert pool.restarts == 1
    again = pool_client.post("/analyze", json={"user_id": "alice", "face_image": FACE})
    assert again.status_code == 200, again.text  # waited for the new process, no 503
    assert count(db_engine, "sessions") == 2


def test_a_replacement_that_dies_before_it_is_ready_is_followed_by_another(
    pool_client, db_engine
) -> None:
    # It used to be the end of the pool: no process left, every request a 503 until restart.
    pool = pool_client.app.state.orchestrator.pool
    _kill_the_idle_process(pool_client)
    deadline = time.monotonic() + 30
    (replacement,) = pool.pids()
    os.kill(replacement, signal.SIGKILL)  # long before its models load
    while time.monotonic() < deadline and pool.failed_starts == 0:
        time.sleep(0.01)
    assert pool.failed_starts == 1
    answer = pool_client.post("/analyze", json={"user_id": "alice", "face_image": FACE})
    assert answer.status_code == 200, answer.text  # on the process started a second later
    assert pool.restarts == 2 and pool.failed_starts == 0
    assert count(db_engine, "sessions") == 2


def test_a_job_that_reaches_its_process_after_the_time_limit_is_not_analysed(
    pool_client, db_engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A job waiting in a process's pipe cannot be taken back when its request gives up; the
    # process skips it instead of analysing for nobody (what overload would otherwise do).
    # Here the job's deadline is set in the past as it is handed over: it arrives expired.
    pool = pool_client.app.state.orchestrator.pool
    clock = types.SimpleNamespace(monotonic=lambda: time.monotonic() - 3600)
    monkeypatch.setattr(pool_module, "time", clock)
    late = pool_client.post("/analyze", json={"user_id": "alice", "face_image": FACE})
    monkeypatch.undo()
    assert late.status_code == 503, late.text
    assert "waited" in late.text
    assert pool.expired == 1 and pool.restarts == 0  # skipped, not stopped
    on_time = pool_client.post("/analyze", json={"user_id": "alice", "face_image": FACE})
    assert on_time.status_code == 200, on_time.text
    assert count(db_engine, "sessions") == 1


def test_restarts_after_failed_starts_back_off() -> None:
    delays = [restart_delay(n) for n in range(1, 10)]
    assert delays[:3] == [RESTART_DELAY_S, 2 * RESTART_DELAY_S, 4 * RESTART_DELAY_S]
    assert delays == sorted(delays) and max(delays) == MAX_RESTART_DELAY_S
    assert restart_delay(10_000) == MAX_RESTART_DELAY_S


def test_more_requests_than_processes_wait_their_turn(settings, clock, db_engine) -> None:
    two = settings.model_copy(update={"analysis_processes": 2})
    with make_client(two, None, clock) as client:  # type: ignore[arg-type]
        give_consent(client, "alice")
        bodies = [
            {"user_id": "alice", "face_image": FACE},
            {"user_id": "alice", "audio_data": SPEECH},
            {"user_id": "alice", "motion_data": MOTION},
        ] * 3
        with ThreadPoolExecutor(len(bodies)) as threads:
            answers = list(threads.map(lambda b: client.post("/analyze", json=b), bodies))
        assert [a.status_code for a in answers] == [200] * len(bodies)
        assert [a.json()["modalities_used"] for a in answers] == [
            ["face"],
            ["voice"],
            ["motion"],
        ] * 3
        assert client.app.state.orchestrator.pool.restarts == 0
    assert count(db_engine, "sessions") == len(bodies)


def test_the_server_process_needs_no_decoder_or_model_runtime() -> None:
    # What a pooled server imports: the app, and the result types it unpickles.
    code = (
        "import sys, mindsync.api.app, mindsync.analysis.face.result, "
        "mindsync.analysis.voice.result, mindsync.analysis.motion.result, "
        "mindsync.analysis.motion.recording, mindsync.analysis.fusion.baseline\n"
        "heavy = {'av', 'onnxruntime', 'PIL.Image', 'scipy.signal', 'scipy.ndimage', 'webrtcvad'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_an_analysis_past_the_time_limit_is_stopped_with_a_503(settings, clock, db_engine) -> None:
    # A limit no 55 s of real speech meets stands in for an input that hangs a decoder.
    # The limit must still leave the pool's manager thread time to hand the call to the
    # process: a call that never left the queue is "busy", not "stuck" (tested below).
    strict = settings.model_copy(update={"analysis_processes": 1, "analysis_timeout_seconds": 0.03})
    with make_client(strict, None, clock) as client:  # type: ignore[arg-type]
        give_consent(client, "alice")
        pool = client.app.state.orchestrator.pool
        (pid,) = pool.pids()
        speech = _minute_of_speech()
        for _ in range(5):
            response = client.post("/analyze", json={"user_id": "alice", "audio_data": speech})
            assert response.status_code == 503, response.text
            error = response.json()["error"]
            assert error["code"] == "analysis_interrupted" and error["field"] == "voice"
            if "longer than 0.03 s" in error["message"]:
                break
            # On a loaded machine the call can still be queued when the limit passes: that
            # is the "busy" answer (nothing stopped, no restart); try again.
            assert "waited 0.03 s for a free analysis process" in error["message"]
            assert pool.restarts == 0
        assert "longer than 0.03 s" in error["message"]
        assert pool.restarts == 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        assert not _alive(pid), "the stuck process was not stopped"
    assert count(db_engine, "sessions") == 0


def _minute_of_speech() -> str:
    """A real ARCTIC sentence repeated to 55 s: far more work than the 0.03 s limit."""
    with wave.open(str(DATA_DIR / "voice" / "arctic_a0007.wav")) as src:
        params, frames = src.getparams(), src.readframes(src.getnframes())
    repeats = int(55 * params.framerate * params.sampwidth // len(frames))
    out = io.BytesIO()
    with wave.open(out, "wb") as dst:
        dst.setparams(params)
        dst.writeframes(frames * repeats)
    return base64.b64encode(out.getvalue()).decode()


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting to be reaped)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()  # Linux
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_where_the_pool_cannot_run_the_server_analyses_in_its_threads(
    settings, clock, monkeypatch, capsys
) -> None:
    """Windows' proactor event loop cannot watch the pool's pipes: the server says so and
    analyses in its own threads instead of failing to start."""
    monkeypatch.setattr("mindsync.api.app.pool_supported", False)
    pooled = settings.model_copy(update={"analysis_processes": 2})
    with make_client(pooled, None, clock) as client:  # type: ignore[arg-type]
        assert client.app.state.orchestrator.pool is None
        give_consent(client, "alice")
        response = client.post("/analyze", json={"user_id": "alice", "motion_data": MOTION})
        assert response.status_code == 200, response.text
    assert "analysis processes need a POSIX system" in capsys.readouterr().err
