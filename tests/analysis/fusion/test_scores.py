"""Fusion over every subset of modalities, and with poor data."""

from __future__ import annotations

import itertools

import pytest

from mindsync.analysis.base import ModalityResult
from mindsync.analysis.fusion import fuse
from mindsync.analysis.fusion.scores import face_attention, face_stress
from tests.api.fakes import FakeFaceResult, FakeMotionResult, FakeVoiceResult

EMOTIONS = dict.fromkeys(("angry", "disgust", "fear", "happy", "sad", "surprise"), 0.05)


def face(quality: float = 0.9, valence: float = 0.6, arousal: float = 0.4) -> FakeFaceResult:
    return FakeFaceResult(
        status="ok",
        quality=quality,
        confidence=0.8,
        dominant_emotion="happy",
        emotions={**EMOTIONS, "neutral": 0.7},
        valence=valence,
        arousal=arousal,
        facing_screen=True,
        eyes_open=0.9,
    )


def voice(quality: float = 0.8, stress: float = 0.7) -> FakeVoiceResult:
    return FakeVoiceResult(status="ok", quality=quality, confidence=0.7, stress_level=stress)


def motion(quality: float = 0.9, restlessness: float = 0.2) -> FakeMotionResult:
    return FakeMotionResult(
        status="ok", quality=quality, confidence=0.9, activity="still", restlessness=restlessness
    )


ALL = {"face": face(), "voice": voice(), "motion": motion()}


@pytest.mark.parametrize(
    "subset",
    [c for n in range(4) for c in itertools.combinations(("face", "voice", "motion"), n)],
)
def test_every_subset_of_modalities_fuses(subset) -> None:
    results = {m: ALL[m] for m in subset}
    assessment = fuse(results)
    assert assessment.modalities_ok == list(subset)
    can_stress = bool({"face", "voice"} & set(subset))
    can_attend = bool({"face", "motion"} & set(subset))
    assert (assessment.stress.value is not None) == can_stress
    assert (assessment.attention.value is not None) == can_attend
    assert (assessment.overall.value is not None) == bool(subset)
    assert set(assessment.stress.modalities) <= set(subset)
    assert (assessment.emotion_analysis is not None) == ("face" in subset)
    if not subset:
        assert assessment.quality_score is None
        assert assessment.overall.confidence == 0


def test_a_missing_modality_lowers_confidence_not_the_score() -> None:
    both = fuse({"face": face(), "voice": voice()})
    voice_only = fuse({"voice": voice()})
    assert voice_only.stress.value == pytest.approx(0.7)  # not pulled towards 0
    assert voice_only.stress.confidence < both.stress.confidence
    assert fuse(ALL).quality_score > fuse({"face": face()}).quality_score


def test_the_voice_outweighs_the_face_on_stress() -> None:
    calm_face = face(valence=0.8, arousal=0.1)
    tense_voice = voice(stress=0.9)
    fused = fuse({"face": calm_face, "voice": tense_voice}).stress.value
    face_value = face_stress(0.8, 0.1)
    assert face_value < fused < 0.9
    assert fused - face_value > 0.9 - fused  # closer to the voice


def test_low_quality_modalities_count_for_little() -> None:
    good_voice = voice(quality=0.9, stress=0.2)
    bad_face = face(quality=0.05, valence=-0.9, arousal=0.9)
    fused = fuse({"voice": good_voice, "face": bad_face})
    assert fused.stress.value == pytest.approx(0.2, abs=0.05)
    no_signal = ModalityResult(status="no_signal", reason="no face", quality=0.02)
    only_bad = fuse({"face": no_signal})
    assert only_bad.stress.value is None and only_bad.emotion_analysis is None
    assert only_bad.quality_score < 0.05


def _face_with(**fields: object) -> FakeFaceResult:
    return FakeFaceResult(status="ok", quality=0.9, confidence=0.8, **fields)


def test_face_attention_uses_the_continuous_attention() -> None:
    from mindsync.analysis.face.result import FaceResult

    real = FaceResult(
        status="ok", quality=0.9, confidence=0.8, faces_detected=1, model="m",
        facing_screen=False, eyes_open=0.9, attention=0.47,
    )  # fmt: skip
    assert face_attention(real) == pytest.approx(0.47)


def test_face_attention_falls_back_without_attention() -> None:
    assert face_attention(_face_with(facing_screen=True, eyes_open=1.0)) == 1.0
    assert face_attention(_face_with(facing_screen=False, eyes_open=0.0)) == 0.0
    assert face_attention(_face_with()) is None


def test_fused_attention_has_no_cliff_in_pitch() -> None:
    from mindsync.analysis.face import quality as q
    from mindsync.analysis.face.result import FaceResult

    values = []
    for pitch in range(15, 31):
        result = FaceResult(
            status="ok", quality=0.9, confidence=0.8, faces_detected=1, model="m",
            facing_screen=abs(pitch) <= 20, eyes_open=0.9,
            attention=q.attention(0.0, float(pitch), 0.9),
        )  # fmt: skip
        values.append(fuse({"face": result}).attention.value)
    steps = [abs(b - a) for a, b in zip(values, values[1:], strict=False)]
    assert max(steps) < 0.06  # the old boolean dropped about 0.5 between 20 and 21 degrees
    assert values[0] > values[-1] + 0.3  # and yet a head tilted 30 degrees reads clearly lower


def test_attention_combines_gaze_and_restlessness() -> None:
    focused = fuse({"face": face(), "motion": motion(restlessness=0.0)}).attention.value
    fidgety = fuse({"face": face(), "motion": motion(restlessness=1.0)}).attention.value
    assert focused > fidgety


def test_fusion_is_deterministic() -> None:
    assert fuse(ALL) == fuse(dict(reversed(list(ALL.items()))))
