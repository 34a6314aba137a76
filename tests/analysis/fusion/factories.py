"""Typed results of the real analysers' result classes, built by hand for fusion tests.

Only for controlled variations: the scenario tests (tests/scenarios/) run real recordings
through the real analysers.
"""

from __future__ import annotations

from typing import Any

from mindsync.analysis.face.result import FaceResult
from mindsync.analysis.motion.result import MotionResult
from mindsync.analysis.voice.result import VoiceQuality, VoiceResult

EMOTIONS = dict.fromkeys(("angry", "disgust", "fear", "happy", "sad", "surprise"), 0.05)


def face_result(
    *,
    status: str = "ok",
    quality: float = 0.9,
    attention: float | None = 0.9,
    eyes_open: float | None = 0.9,
    valence: float | None = 0.3,
    arousal: float | None = 0.3,
    reason_code: str | None = None,
) -> FaceResult:
    """A frontal face (or, with ``status="no_signal"``, none) as the face analyser reports it."""
    if status != "ok":
        return FaceResult(
            status="no_signal",
            quality=min(quality, 0.05),
            reason="no face was found",
            reason_code=reason_code or "no_face",
            faces_detected=0,
            model="test",
        )
    emotion: dict[str, Any] = {}
    if valence is not None:
        emotion = {
            "dominant_emotion": "neutral",
            "emotions": {**EMOTIONS, "neutral": 0.7},
            "valence": valence,
            "arousal": arousal,
            "confidence": 0.8,
        }
    return FaceResult(
        status="ok",
        quality=quality,
        faces_detected=1,
        model="test",
        attention=attention,
        eyes_open=eyes_open,
        facing_screen=attention is not None and attention > 0.5,
        reason_code=reason_code,
        **emotion,
    )


def voice_result(
    *,
    status: str = "ok",
    stress: float = 0.5,
    quality: float = 0.8,
    confidence: float = 0.7,
    reason_code: str | None = None,
    snr_db: float | None = 25.0,
    level_factor: float = 1.0,
) -> VoiceResult:
    """Speech (or, with ``status="no_signal"``, none) as the voice analyser reports it."""
    audio = VoiceQuality(
        snr_db=snr_db,
        clipping_fraction=0.0,
        speech_fraction=0.6 if status == "ok" else 0.0,
        speech_seconds=3.0 if status == "ok" else 0.0,
        duration_seconds=5.0,
        level_factor=level_factor,
    )
    common: dict[str, Any] = {
        "speech_seconds": audio.speech_seconds,
        "voiced_seconds": audio.speech_seconds / 2,
        "speech_fraction": audio.speech_fraction,
        "duration_seconds": 5.0,
        "audio_quality": audio,
    }
    if status != "ok":
        return VoiceResult(
            status="no_signal",
            quality=min(quality, 0.1),
            reason="no speech was heard in the recording",
            reason_code=reason_code or "no_speech",
            **common,
        )
    return VoiceResult(
        status="ok",
        quality=quality,
        confidence=confidence,
        stress_level=stress,
        reason_code=reason_code,
        **common,
    )


def motion_result(
    *,
    activity: str = "still",
    placement: str | None = None,
    placement_confidence: float | None = None,
    posture: str | None = None,
    posture_confidence: float | None = None,
    restlessness: float = 0.05,
    stillness: float = 0.95,
    sway_ms2: float = 0.08,
    duration: float = 30.0,
    quality: float = 0.9,
    confidence: float = 0.9,
    status: str = "ok",
    reason_code: str | None = None,
) -> MotionResult:
    """Motion as the motion analyser reports it; ``placement`` None is an analyser that does
    not fill it (the fallback reads ``activity`` and the sway in ``features``)."""
    if status != "ok":
        return MotionResult(
            status="no_signal",
            quality=0.0,
            reason="too few samples",
            reason_code=reason_code or "too_few_samples",
            samples=3,
        )
    if placement is not None and placement_confidence is None:
        placement_confidence = 0.9
    if posture is not None and posture_confidence is None:
        posture_confidence = 0.8
    return MotionResult(
        status="ok",
        quality=quality,
        confidence=confidence,
        activity=activity,  # type: ignore[arg-type]
        restlessness=restlessness,
        stillness_ratio=stillness,
        activity_level=0.05 if activity == "still" else 0.5,
        duration_seconds=duration,
        sampling_rate_hz=50.0,
        samples=int(duration * 50),
        placement=placement,  # type: ignore[arg-type]
        placement_confidence=placement_confidence,
        posture=posture,  # type: ignore[arg-type]
        posture_confidence=posture_confidence,
        features={"dynamic_acc_rms_ms2": sway_ms2, "rotation_rms_rads": sway_ms2 / 4},
        reason_code=reason_code,
    )
