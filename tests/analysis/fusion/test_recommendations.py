"""The recommendation rules: data-driven, explained, deterministic, gated by data quality."""

from __future__ import annotations

import pytest

from mindsync.analysis.fusion import BaselineStats, compare_to_baseline, fuse, load_rules
from mindsync.analysis.fusion.recommendations import recommend
from tests.analysis.fusion.factories import face_result, motion_result, voice_result
from tests.analysis.fusion.test_scores import face, motion, voice

RULES = load_rules()


def ids(results, personal=None) -> list[str]:
    return [r.id for r in recommend(RULES, fuse(results), results, personal)]


def test_every_rule_has_a_unique_id_and_text() -> None:
    assert len({r.id for r in RULES.rules}) == len(RULES.rules)
    assert all(r.text.endswith(".") for r in RULES.rules)


def test_high_stress_recommends_breathing_with_its_trigger() -> None:
    results = {"voice": voice(stress=0.9)}
    [breathing] = [
        r for r in recommend(RULES, fuse(results), results) if r.id == "stress-breathing"
    ]
    assert breathing.priority == 1
    assert breathing.triggered_by[0].signal == "stress_level"
    # The published score, bounded by its confidence (0.5 + 0.4 · 0.56).
    assert breathing.triggered_by[0].value == fuse(results).stress.value == 0.724
    assert breathing.triggered_by[0].condition == ">= 0.65"


def test_no_recommendation_from_a_low_quality_modality() -> None:
    assert "stress-breathing" in ids({"voice": voice(stress=0.9, quality=0.9)})
    poor = ids({"voice": voice_result(stress=0.9, quality=0.2, snr_db=6.0)})
    assert "stress-breathing" not in poor
    assert "improve-audio-capture" in poor  # rules about the data itself still speak


def test_restless_while_staying_in_one_place() -> None:
    # The old rule asked for activity "still" with restlessness >= 0.6, which a still class
    # rarely has; now the situation says "in one place" (placement, or sway as fallback).
    assert "restless-settle" in ids({"motion": motion(restlessness=0.8)})
    assert "restless-settle" not in ids({"motion": motion(restlessness=0.1)})
    seated = motion_result(placement="on_person_stationary", posture="sitting", restlessness=0.7)
    assert "restless-settle" in ids({"motion": seated})
    walking = motion_result(activity="walking", restlessness=0.9, stillness=0.0)
    assert "restless-settle" not in ids({"motion": walking})


def test_personal_rules_need_a_calibrated_baseline() -> None:
    results = {"voice": voice(stress=0.6)}
    assessment = fuse(results)
    calm = {"stress_level": BaselineStats(n=10, mean=0.2, var=0.01)}
    personal = compare_to_baseline(assessment, calm, min_sessions=5)
    assert "stress-above-your-usual" in ids(results, personal)
    assert "stress-above-your-usual" not in ids(results)


def test_same_input_same_order() -> None:
    results = {"face": face(valence=-0.8, arousal=0.9), "voice": voice(stress=0.95)}
    first = recommend(RULES, fuse(results), results)
    assert [r.priority for r in first] == sorted(r.priority for r in first)
    assert first == recommend(RULES, fuse(results), results)
    assert {"stress-breathing", "low-mood-check-in"} <= {r.id for r in first}


# --- issue 15: texts name what triggered them, unless, in/not_in, reason codes -----------
import re  # noqa: E402

from mindsync.analysis.base import MODALITIES  # noqa: E402
from mindsync.analysis.fusion.recommendations import (  # noqa: E402
    Condition,
    Rule,
    trigger_key,
)

#: Words that name what a modality measured.
NAMES = {
    "face": r"\b(face|expression|camera|gaze|eyes)\b",
    "voice": r"\b(voice|speech|microphone|audio)\b",
    "motion": r"\b(movements?|motion|fidgeting|walking|kept very still)\b",
}
TABLE = {"sway_ms2": 0.005, "restlessness": 0.0, "stillness": 1.0}
WALK_ADVICE = re.compile(r"\b(a|short|go for a) walk\b", re.IGNORECASE)


def named(text: str) -> set[str]:
    return {m for m, words in NAMES.items() if re.search(words, text, re.IGNORECASE)}


def _static_modalities(rule: Rule) -> set[str]:
    """The modalities a rule's per-modality signals (``face.…``) can come from."""
    return {c.signal.split(".")[0] for c in rule.when} & set(MODALITIES)


def test_every_text_names_only_the_modalities_that_triggered_it() -> None:
    for rule in RULES.rules:
        for key, text in rule.texts.items():
            assert named(text) <= set(key.split("+")), (rule.id, key)
        own = _static_modalities(rule)
        reads_only_one = len(own) == 1 and all(
            c.signal.split(".")[0] in MODALITIES for c in rule.when
        )
        allowed = own if reads_only_one else set()
        assert named(rule.text) <= allowed, rule.id


def test_a_voice_alone_is_not_called_voice_and_expression() -> None:
    results = {"voice": voice_result(stress=0.95, confidence=0.9, quality=0.9)}
    [rec] = [r for r in recommend(RULES, fuse(results), results) if r.id == "stress-breathing"]
    assert rec.modalities == ["voice"]
    assert "voice" in rec.text and "expression" not in rec.text
    both = {**results, "face": face_result(valence=-0.8, arousal=0.9)}
    [rec] = [r for r in recommend(RULES, fuse(both), both) if r.id == "stress-breathing"]
    assert rec.modalities == ["face", "voice"] and "voice and expression" in rec.text


def test_no_speech_is_not_too_noisy() -> None:
    for code, expected in (
        ("silent", "audio-silent"),
        ("no_speech", "audio-no-speech"),
        ("not_speech_music", "audio-not-speech"),
        ("too_short", "audio-too-short"),
    ):
        fired = recommend(
            RULES, fuse(r := {"voice": voice_result(status="no_signal", reason_code=code)}), r
        )
        assert [x.id for x in fired] == [expected], code
        assert "noisy" not in fired[0].text


def test_face_and_motion_codes_get_their_own_advice() -> None:
    for code, expected in (
        ("no_face", "face-none-found"),
        ("too_dark", "face-too-dark"),
        ("overexposed", "face-overexposed"),
        ("too_blurred", "face-too-blurred"),
        ("face_too_small", "face-too-small"),
    ):
        results = {"face": face_result(status="no_signal", reason_code=code)}
        assert ids(results) == [expected], code
    for code, expected in (("rate_too_low", "motion-rate-too-low"), ("gaps", "motion-gaps")):
        results = {"motion": motion_result(status="no_signal", reason_code=code)}
        assert ids(results) == [expected], code


def test_nothing_recommends_walking_to_someone_walking() -> None:
    walking = motion_result(activity="walking", restlessness=0.95, stillness=0.0)
    results = {"motion": walking, "face": face_result(attention=0.1, eyes_open=0.2)}
    assessment = fuse(results)
    low_attention = {"attention_score": BaselineStats(n=10, mean=0.9, var=0.001)}
    personal = compare_to_baseline(assessment, low_attention, min_sessions=5)
    fired = recommend(RULES, assessment, results, personal)
    assert not any(WALK_ADVICE.search(r.text) for r in fired)
    assert "attention-screen-break" not in {r.id for r in fired}
    for rule in RULES.rules:  # every rule that suggests a walk is silenced while walking
        if WALK_ADVICE.search(rule.text) or any(WALK_ADVICE.search(t) for t in rule.texts.values()):
            assert any(
                c.signal == "situation" and c.op == "in" and "walking" in c.value
                for c in rule.unless
            ), rule.id


def test_looking_at_the_screen_while_walking() -> None:
    walking = motion_result(activity="walking", restlessness=0.95, stillness=0.0)
    fired = recommend(RULES, fuse(r := {"motion": walking, "face": face_result()}), r)
    [look] = [x for x in fired if x.id == "walking-look-up"]
    assert look.modalities == ["face", "motion"]


def test_a_long_still_stretch_seated_suggests_standing_up() -> None:
    seated = motion_result(
        placement="on_person_stationary", posture="sitting", restlessness=0.0,
        stillness=0.97, duration=120.0,
    )  # fmt: skip
    assert "sedentary-stand-stretch" in ids({"motion": seated})
    short = seated.model_copy(update={"duration_seconds": 20.0})
    assert "sedentary-stand-stretch" not in ids({"motion": short})
    # A phone lying still on the desk says nothing about how long its owner sat.
    table = motion_result(**TABLE, duration=600.0)
    assert "sedentary-stand-stretch" not in ids({"motion": table, "face": face_result()})
    walking = seated.model_copy(update={"placement": "moving_with_person", "posture": None})
    assert "sedentary-stand-stretch" not in ids({"motion": walking})


def test_eyes_rest_not_on_a_blink_like_frame() -> None:
    assert "eyes-rest" in ids({"face": face_result(eyes_open=0.25)})
    assert "eyes-rest" not in ids({"face": face_result(eyes_open=0.0)})  # shut: a blink
    assert "eyes-rest" not in ids({"face": face_result(eyes_open=0.8)})


def test_unless_and_in_conditions() -> None:
    cond = Condition(signal="situation", op="in", value=["walking", "exercising"])
    assert cond.holds("walking") and not cond.holds("seated")
    assert Condition(signal="situation", op="not_in", value=["walking"]).holds("seated")
    assert cond.describe() == "in walking, exercising"
    import pydantic

    with pytest.raises(pydantic.ValidationError):
        Condition(signal="situation", op="in", value="walking")
    with pytest.raises(pydantic.ValidationError):
        Rule(id="x", priority=1, text="x.", texts={"nose": "x."}, when=[cond])
    assert trigger_key({"voice", "face"}) == "face+voice"


def test_no_person_advice_for_a_device_alone() -> None:
    results = {"motion": motion_result(**TABLE, duration=300.0)}
    assert ids(results) == []


def test_no_breathing_exercise_for_the_effort_of_running() -> None:
    tense = voice_result(stress=0.95, confidence=0.9, quality=0.9)
    running = motion_result(activity="running", restlessness=1.0, stillness=0.0)
    assert "stress-breathing" in ids({"voice": tense})
    assert "stress-breathing" not in ids({"voice": tense, "motion": running})
