"""The scenario table (docs/scoring.md): real recordings through the real analysers and the
fusion, each asserting which modalities count, which scores are null and why, and which
recommendations fire and which must not."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mindsync.analysis.base import Modality, ModalityResult
from mindsync.analysis.fusion import Assessment, FusedScore, Recommendation, fuse, load_rules
from mindsync.analysis.fusion.recommendations import recommend
from mindsync.analysis.registry import AnalyzerRegistry
from mindsync.api.schemas import MotionColumns
from mindsync.api.services import motion_recording
from tests.analysis.fusion.test_recommendations import named
from tests.scenarios.scenes import SCENES, Scene

RULES = load_rules()
WALK_ADVICE = re.compile(r"\b(a|short|go for a) walk\b", re.IGNORECASE)


def analyse(
    scene: Scene, registry: AnalyzerRegistry
) -> tuple[dict[Modality, ModalityResult], Assessment, list[Recommendation]]:
    """Run the scene's inputs through the shipped analysers, the fusion and the rules."""
    fields, _ = scene.inputs()
    raw: dict[Modality, Any] = {}
    if "face_image" in fields:
        raw["face"] = fields["face_image"]
    if "audio_data" in fields:
        raw["voice"] = fields["audio_data"]
    if "motion_data" in fields:
        raw["motion"] = motion_recording(MotionColumns.model_validate(fields["motion_data"]))
    results: dict[Modality, ModalityResult] = {}
    for modality, value in raw.items():
        analyzer = registry.get(modality)
        assert analyzer is not None, modality
        results[modality] = analyzer.analyze(analyzer.decode(value))
    assessment = fuse(results)
    return results, assessment, recommend(RULES, assessment, results)


def check(
    *,
    situation: str,
    scores: dict[str, FusedScore],
    fired: list[Recommendation],
    analysed: set[str],
    scene: Scene,
) -> None:
    """Assert the scene's expected outcome on fused scores and recommendations."""
    expect = scene.expect
    assert situation in expect.situations, situation
    for name, score in scores.items():
        if name in expect.null:
            assert score.value is None, (name, score)
            assert score.reason_code == expect.null[name], (name, score.reason_code)
        if name in expect.counts:
            assert score.value is not None, (name, score)
            assert set(score.modalities) == expect.counts[name], (name, score.modalities)
            # Bounded: never further from the midpoint than the confidence allows.
            assert abs(score.value - 0.5) <= 0.5 * score.confidence + 1e-4
        excluded = {e.modality: e.reason_code for e in score.excluded}
        for modality, code in expect.excluded.get(name, {}).items():
            assert excluded.get(modality) == code, (name, modality, excluded)
    ids = {r.id for r in fired}
    assert expect.fire <= ids, (expect.fire - ids, ids)
    assert not (expect.never & ids), expect.never & ids
    for rec in fired:  # a text names only the modalities that triggered it
        assert set(rec.modalities) <= analysed, (rec.id, rec.modalities)
        assert named(rec.text) <= set(rec.modalities), (rec.id, rec.text)
    if situation in ("walking", "exercising"):
        assert not any(WALK_ADVICE.search(r.text) for r in fired)


def check_assessment(
    assessment: Assessment, fired: list[Recommendation], analysed: set[str], scene: Scene
) -> None:
    """:func:`check` on a fused :class:`Assessment`."""
    check(
        situation=assessment.situation,
        scores={
            "stress": assessment.stress,
            "attention": assessment.attention,
            "overall": assessment.overall,
        },  # fmt: skip
        fired=fired,
        analysed=analysed,
        scene=scene,
    )


@pytest.mark.parametrize("scene", SCENES, ids=[s.id for s in SCENES])
def test_scenario(scene: Scene, real_registry: AnalyzerRegistry) -> None:
    results, assessment, fired = analyse(scene, real_registry)
    check_assessment(assessment, fired, set(results), scene)
