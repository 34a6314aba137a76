"""Personal baselines: exact statistics at first, forgetting later, calibration, comparison."""

from __future__ import annotations

import numpy as np
import pytest

from mindsync.analysis.fusion import BaselineStats, compare_to_baseline, fuse, update_baseline
from tests.analysis.fusion.test_scores import voice


def test_the_first_sessions_give_the_exact_mean_and_variance() -> None:
    values = [0.2, 0.4, 0.35, 0.6, 0.1]
    stats = None
    for value in values:
        stats = update_baseline(stats, value)
    assert stats.n == 5
    assert stats.mean == pytest.approx(np.mean(values))
    assert stats.var == pytest.approx(np.var(values))


def test_old_sessions_are_forgotten_after_the_window() -> None:
    stats = None
    for _ in range(100):
        stats = update_baseline(stats, 0.2)
    for _ in range(40):
        stats = update_baseline(stats, 0.8)
    assert stats.mean > 0.7  # an equal-weight mean would still be 0.37


def test_calibrating_until_enough_sessions_then_compared() -> None:
    assessment = fuse({"voice": voice(stress=0.8)})
    few = {"stress_level": BaselineStats(n=3, mean=0.3, var=0.01)}
    calibrating = compare_to_baseline(assessment, few, min_sessions=5)
    assert calibrating.status == "calibrating"
    assert calibrating.message == "calibrating: 3 of 5 sessions"
    assert calibrating.stress is None

    calm_user = {"stress_level": BaselineStats(n=8, mean=0.3, var=0.01)}
    # Baselines track the published, bounded score (0.5 + (0.8 − 0.5) · 0.56 = 0.668 here).
    tense_user = {"stress_level": BaselineStats(n=8, mean=0.68, var=0.01)}
    for_calm = compare_to_baseline(assessment, calm_user, min_sessions=5)
    for_tense = compare_to_baseline(assessment, tense_user, min_sessions=5)
    assert for_calm.status == "personal"
    assert for_calm.stress.description == "higher than usual" and for_calm.stress.value > 0.9
    assert for_tense.stress.description == "as usual"
    # The same voice is read against each user's own baseline.
    assert for_calm.stress.z > for_tense.stress.z


def test_a_flat_baseline_does_not_explode() -> None:
    assessment = fuse({"voice": voice(stress=0.31)})
    usual = assessment.stress.value
    flat = {"stress_level": BaselineStats(n=10, mean=usual - 0.01, var=0.0)}
    personal = compare_to_baseline(assessment, flat, min_sessions=5)
    assert personal.stress.description == "as usual"
    assert abs(personal.stress.z) < 1
