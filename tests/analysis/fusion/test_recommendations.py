"""The recommendation rules: data-driven, explained, deterministic, gated by data quality."""

from __future__ import annotations

from mindsync.analysis.fusion import BaselineStats, compare_to_baseline, fuse, load_rules
from mindsync.analysis.fusion.recommendations import recommend
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
    assert breathing.triggered_by[0].value == 0.9
    assert breathing.triggered_by[0].condition == ">= 0.65"


def test_no_recommendation_from_a_low_quality_modality() -> None:
    assert "stress-breathing" in ids({"voice": voice(stress=0.9, quality=0.9)})
    poor = ids({"voice": voice(stress=0.9, quality=0.2)})
    assert "stress-breathing" not in poor
    assert "improve-audio-capture" in poor  # rules about the data itself still speak


def test_restless_but_still_and_sedentary() -> None:
    assert "restless-settle" in ids({"motion": motion(restlessness=0.8)})
    assert "restless-settle" not in ids({"motion": motion(restlessness=0.1)})


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
