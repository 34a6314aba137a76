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
    assert voice_only.stress.raw_value == pytest.approx(0.7)  # not pulled towards 0
    # Bounded by its confidence: towards the midpoint 0.5, never past it.
    assert 0.5 < voice_only.stress.value < 0.7
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
    assert fused.stress.raw_value == pytest.approx(0.2, abs=0.05)
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

    values = []  # the unbounded mean: the face's own attention curve, through the fusion
    for pitch in range(15, 31):
        result = FaceResult(
            status="ok", quality=0.9, confidence=0.8, faces_detected=1, model="m",
            facing_screen=abs(pitch) <= 20, eyes_open=0.9,
            attention=q.attention(0.0, float(pitch), 0.9),
        )  # fmt: skip
        values.append(fuse({"face": result}).attention.raw_value)
    steps = [abs(b - a) for a, b in zip(values, values[1:], strict=False)]
    assert max(steps) < 0.06  # the old boolean dropped about 0.5 between 20 and 21 degrees
    assert values[0] > values[-1] + 0.3  # and yet a head tilted 30 degrees reads clearly lower


def test_attention_combines_gaze_and_restlessness() -> None:
    focused = fuse({"face": face(), "motion": motion(restlessness=0.0)}).attention.value
    fidgety = fuse({"face": face(), "motion": motion(restlessness=1.0)}).attention.value
    assert focused > fidgety


def test_fusion_is_deterministic() -> None:
    assert fuse(ALL) == fuse(dict(reversed(list(ALL.items()))))


# --- issue 15: situation, bounds and exclusions --------------------------------------------
from mindsync.analysis.fusion.scores import bounded  # noqa: E402
from tests.analysis.fusion.factories import (  # noqa: E402
    face_result,
    motion_result,
    voice_result,
)

TABLE = {"sway_ms2": 0.005, "restlessness": 0.0, "stillness": 1.0}


def _excluded(score) -> dict[str, str]:
    return {e.modality: e.reason_code for e in score.excluded}


def test_attention_while_walking_is_not_applicable_not_low() -> None:
    walking = motion_result(activity="walking", restlessness=0.95, stillness=0.0)
    fused = fuse({"motion": walking, "face": face_result(attention=0.2)})
    assert fused.situation == "walking"
    assert fused.attention.value is None
    assert fused.attention.reason_code == "not_applicable_moving"
    assert _excluded(fused.attention) == {
        "face": "not_applicable_moving",
        "motion": "not_applicable_moving",
    }
    assert fused.overall.value is not None  # the face still says how calm and positive
    alone = fuse({"motion": walking})
    assert alone.attention.value is None and alone.overall.value is None
    assert alone.overall.reason_code == "no_usable_signal"


def test_a_device_on_a_table_says_nothing_about_the_person() -> None:
    for table in (motion_result(**TABLE), motion_result(placement="not_on_person")):
        fused = fuse({"motion": table})
        assert fused.situation == "device_unattended"
        assert fused.attention.value is None and fused.overall.value is None
        assert _excluded(fused.attention) == {"motion": "not_on_person"}
        with_face = fuse({"motion": table, "face": face_result(attention=0.8)})
        assert with_face.situation == "at_desk_device_on_table"
        assert with_face.attention.modalities == ["face"]
        assert _excluded(with_face.attention) == {"motion": "not_on_person"}


def test_a_still_phone_alone_never_reads_as_a_perfect_day() -> None:
    still = motion_result(placement="on_person_stationary", restlessness=0.0, stillness=1.0)
    fused = fuse({"motion": still})
    assert fused.attention.raw_value == 1.0
    assert fused.attention.value <= 0.5 + 0.5 * fused.attention.confidence
    assert fused.attention.value < 0.8
    assert fused.overall.value < 0.6  # one weak modality: close to the midpoint


def test_motion_counts_for_attention_only_on_a_stationary_person() -> None:
    seated = motion_result(placement="on_person_stationary", posture="sitting", restlessness=0.8)
    fused = fuse({"motion": seated, "face": face_result()})
    assert fused.situation == "seated"
    assert fused.attention.modalities == ["face", "motion"]
    fallback = fuse({"motion": motion_result(restlessness=0.8, stillness=0.3)})
    assert fallback.situation == "stationary" and fallback.attention.modalities == ["motion"]


def test_scores_are_bounded_by_their_confidence() -> None:
    for results in (
        {"voice": voice_result(stress=1.0, quality=0.3, confidence=0.3)},
        {"face": face_result(attention=0.0, valence=-1.0, arousal=1.0, quality=0.4)},
        {"voice": voice_result(stress=0.0), "face": face_result(attention=1.0, valence=1.0)},
    ):
        fused = fuse(results)
        for score in (fused.stress, fused.attention, fused.overall):
            if score.value is not None:
                assert abs(score.value - 0.5) <= score.confidence * 0.5 + 1e-4
                assert score.value == pytest.approx(
                    bounded(score.raw_value, score.confidence), abs=1e-3
                )


def test_unusable_modalities_are_listed_with_their_reason_codes() -> None:
    fused = fuse(
        {
            "face": face_result(status="no_signal", reason_code="too_dark"),
            "voice": voice_result(status="no_signal", reason_code="silent"),
            "motion": motion_result(status="no_signal", reason_code="rate_too_low"),
        }
    )
    assert _excluded(fused.stress) == {"voice": "silent", "face": "too_dark"}
    assert _excluded(fused.attention) == {"face": "too_dark", "motion": "rate_too_low"}
    assert fused.stress.value is None and fused.stress.reason_code == "no_usable_signal"
    assert fuse({"voice": voice_result()}).attention.reason_code == "not_measured"


def test_a_turned_face_counts_for_attention_not_stress() -> None:
    turned = face_result(valence=None, attention=0.3, reason_code="face_turned")
    fused = fuse({"face": turned, "voice": voice_result()})
    assert fused.attention.modalities == ["face"]
    assert _excluded(fused.stress) == {"face": "face_turned"}
