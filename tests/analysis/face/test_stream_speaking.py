"""The stream's speaking decision on real frames: lips that move while the voice hears speech."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from mindsync.analysis.base import ModalityResult
from mindsync.analysis.face import FaceAnalyzer, FaceResult
from mindsync.analysis.stream import SpeakingTracker

DATA = Path(__file__).resolve().parents[2] / "data" / "face"
SPEECH = ModalityResult(status="ok", quality=0.8, confidence=0.6)
NO_SPEECH = ModalityResult(
    status="no_signal", reason="no speech was heard", reason_code="no_speech", quality=0.1
)


def _analyse(analyzer: FaceAnalyzer, name: str) -> FaceResult:
    buf = io.BytesIO()
    Image.open(DATA / name).convert("RGB").save(buf, "JPEG", quality=85)
    return analyzer.analyze(analyzer.decode(base64.b64encode(buf.getvalue()).decode()))


def _stream(frames: list[FaceResult], voice: ModalityResult | None) -> list[FaceResult]:
    """Feed frames 0.5 s apart (client ms), with a voice verdict on every other tick."""
    tracker = SpeakingTracker()
    out = []
    for k, frame in enumerate(frames):
        results: dict = {"face": frame}
        stamps = {"face": 1000.0 + 500.0 * k}
        if voice is not None and k % 2 == 0:
            results["voice"] = voice
            stamps["voice"] = stamps["face"]
        out.append(tracker.apply(results, stamps)["face"])
    return out


@pytest.fixture(scope="module")
def talking(analyzer: FaceAnalyzer) -> list[FaceResult]:
    return [_analyse(analyzer, f"carphone_{k:03d}.png") for k in range(0, 120, 15)]


def test_moving_lips_with_speech_heard_is_speaking(talking: list[FaceResult]) -> None:
    out = _stream(talking, SPEECH)
    assert out[0].speaking is None  # one frame cannot show lip motion
    assert not any(r.speaking is False for r in out)
    assert sum(r.speaking is True for r in out) >= 4
    # An open-mouth class read while speaking keeps at most half its single-frame confidence.
    for before, after in zip(talking, out, strict=True):
        if after.speaking and before.dominant_emotion in {"angry", "fear", "surprise"}:
            assert after.confidence is not None and before.confidence is not None
            assert after.confidence <= 0.5 * before.confidence + 1e-4


def test_moving_lips_without_speech_is_not_speaking(talking: list[FaceResult]) -> None:
    out = _stream(talking, NO_SPEECH)
    assert all(r.speaking is False for r in out[2:])
    assert [r.confidence for r in out] == [r.confidence for r in talking]


def test_lips_without_any_audio_are_unknown(talking: list[FaceResult]) -> None:
    assert all(r.speaking is None for r in _stream(talking, None))


def test_still_face_with_speech_heard_is_not_speaking(analyzer: FaceAnalyzer) -> None:
    # Someone else talks while Grace Hopper's portrait (lips closed) faces the camera.
    still = [_analyse(analyzer, "grace_hopper.jpg") for _ in range(5)]
    out = _stream(still, SPEECH)
    assert all(r.speaking is False for r in out[2:])


def test_results_without_a_face_pass_through() -> None:
    tracker = SpeakingTracker()
    results = {"voice": SPEECH}
    assert tracker.apply(results, {"voice": 0.0}) == results
