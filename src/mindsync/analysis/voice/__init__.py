"""Voice analysis: decode ``audio_data``, detect speech, measure it, score vocal stress.

Public API: :func:`create_analyzer`, :class:`VoiceAnalyzer`, :class:`VoiceResult`, and the
pure scoring pieces :func:`score_stress`, :class:`FeatureReference`, :class:`StressEstimate`
for re-scoring stored features against a personal baseline.
"""

from __future__ import annotations

from mindsync.analysis.voice.analyzer import (
    VoiceAnalyzer,
    VoiceQuality,
    VoiceResult,
    create_analyzer,
)
from mindsync.analysis.voice.features import FEATURE_NAMES
from mindsync.analysis.voice.scoring import (
    STRESS_WEIGHTS,
    Driver,
    FeatureReference,
    FeatureStats,
    StressEstimate,
    score_stress,
)

__all__ = [
    "FEATURE_NAMES",
    "STRESS_WEIGHTS",
    "Driver",
    "FeatureReference",
    "FeatureStats",
    "StressEstimate",
    "VoiceAnalyzer",
    "VoiceQuality",
    "VoiceResult",
    "create_analyzer",
    "score_stress",
]
