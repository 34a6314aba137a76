"""Deterministic stand-in analysers for testing the web layer itself (not the models)."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from mindsync.analysis.base import Analyzer, ModalityResult
from mindsync.analysis.errors import InputError
from mindsync.analysis.motion.json_input import MotionJSON, motion_from_json
from mindsync.analysis.motion.recording import MotionRecording
from mindsync.analysis.payload import decode_base64
from mindsync.analysis.registry import AnalyzerRegistry
from mindsync.analysis.voice.window import VoiceWindow

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


class FakeFaceResult(ModalityResult):
    dominant_emotion: str | None = None
    emotions: dict[str, float] | None = None
    valence: float | None = None
    arousal: float | None = None
    facing_screen: bool | None = None
    eyes_open: float | None = None


class FakeVoiceResult(ModalityResult):
    stress_level: float | None = None


class FakeMotionResult(ModalityResult):
    activity: str | None = None
    restlessness: float | None = None


class _Counting:
    def __init__(self) -> None:
        self.decoded = 0
        self._lock = threading.Lock()

    def _count(self) -> None:
        with self._lock:
            self.decoded += 1


class FakeFace(_Counting, Analyzer[bytes, FakeFaceResult]):
    """'happy' for any bytes; no face when the bytes start with b'blank'."""

    modality = "face"

    def decode(self, raw: Any) -> bytes:
        self._count()
        return decode_base64(raw, field="face_image", max_bytes=1_000_000)[1]

    def analyze(self, data: bytes) -> FakeFaceResult:
        if data.startswith(b"blank"):
            return FakeFaceResult(status="no_signal", reason="no face found", quality=0.05)
        emotions = dict.fromkeys(EMOTIONS, 0.05)
        emotions["happy"] = 0.7
        return FakeFaceResult(
            status="ok",
            quality=0.9,
            confidence=0.7,
            dominant_emotion="happy",
            emotions=emotions,
            valence=0.6,
            arousal=0.5,
            facing_screen=True,
            eyes_open=0.9,
        )


class FakeVoice(_Counting, Analyzer[bytes, FakeVoiceResult]):
    """A stress level derived from a hash of the bytes (deterministic)."""

    modality = "voice"

    def decode(self, raw: Any) -> bytes:
        self._count()
        if isinstance(raw, VoiceWindow):  # a live stream's window (voice/window.py)
            return raw.samples.tobytes()
        return decode_base64(raw, field="audio_data", max_bytes=1_000_000)[1]

    def analyze(self, data: bytes) -> FakeVoiceResult:
        level = hashlib.sha256(data).digest()[0] / 255
        return FakeVoiceResult(status="ok", quality=0.8, confidence=0.6, stress_level=level)


class FakeMotion(_Counting, Analyzer[MotionRecording, FakeMotionResult]):
    """'still' with restlessness from the spread of the acceleration."""

    modality = "motion"

    def decode(self, raw: Any) -> MotionRecording:
        self._count()
        if isinstance(raw, MotionJSON):  # the real analyser's contract: parse, or hand back
            raw = motion_from_json(raw)
        assert isinstance(raw, MotionRecording)
        if not (raw.acceleration == raw.acceleration).all():
            raise InputError("motion_data contains NaN", field="motion_data")
        return raw

    def analyze(self, data: MotionRecording) -> FakeMotionResult:
        spread = float(data.acceleration.std()) if len(data.acceleration) else 0.0
        return FakeMotionResult(
            status="ok",
            quality=0.7,
            confidence=0.8,
            activity="still",
            restlessness=min(1.0, spread / 5),
        )


def fake_registry(*modalities: str) -> AnalyzerRegistry:
    """A registry with fake analysers for ``modalities`` (all three by default)."""
    wanted = modalities or ("face", "voice", "motion")
    classes = {"face": FakeFace, "voice": FakeVoice, "motion": FakeMotion}
    registry = AnalyzerRegistry()
    for name in ("face", "voice", "motion"):
        if name in wanted:
            registry.analyzers[name] = classes[name]()  # type: ignore[index]
        else:
            registry.unavailable[name] = f"the {name} analyser is not implemented yet"  # type: ignore[index]
    return registry
