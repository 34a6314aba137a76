"""Fusion: the situation, the combined assessment, personal baselines and explainable
recommendations.

Pure functions over per-modality results: no models, no HTTP, no database.
"""

from mindsync.analysis.fusion.baseline import (
    BaselineStats,
    PersonalComparison,
    baseline_signals,
    compare_to_baseline,
    personal_voice_reference,
    personalize_voice,
    update_baseline,
)
from mindsync.analysis.fusion.recommendations import Recommendation, RuleSet, load_rules
from mindsync.analysis.fusion.scores import Assessment, Exclusion, FusedScore, fuse
from mindsync.analysis.fusion.situation import SITUATIONS, Situation, read_situation

__all__ = [
    "Assessment",
    "BaselineStats",
    "Exclusion",
    "FusedScore",
    "PersonalComparison",
    "Recommendation",
    "RuleSet",
    "SITUATIONS",
    "Situation",
    "baseline_signals",
    "compare_to_baseline",
    "fuse",
    "load_rules",
    "personal_voice_reference",
    "personalize_voice",
    "read_situation",
    "update_baseline",
]
