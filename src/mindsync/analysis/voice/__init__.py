"""Voice analysis: decode ``audio_data``, detect speech, measure it, score vocal stress.

Public API: :func:`create_analyzer`, :class:`VoiceAnalyzer`, :class:`VoiceResult`, and the
pure scoring pieces :func:`score_stress`, :class:`FeatureReference`, :class:`StressEstimate`
for re-scoring stored features against a personal baseline.

The names load on first use (PEP 562): a process that only re-scores, like the API server
whose analysis runs in worker processes, never imports the decoders and scipy.signal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mindsync.analysis.lazy import lazy_attributes

if TYPE_CHECKING:
    from mindsync.analysis.voice.analyzer import VoiceAnalyzer, create_analyzer
    from mindsync.analysis.voice.features import FEATURE_NAMES
    from mindsync.analysis.voice.result import VoiceQuality, VoiceResult
    from mindsync.analysis.voice.scoring import (
        STRESS_WEIGHTS,
        Driver,
        FeatureReference,
        FeatureStats,
        StressEstimate,
        score_stress,
    )

_WHERE = {
    "VoiceAnalyzer": "analyzer",
    "VoiceQuality": "result",
    "VoiceResult": "result",
    "create_analyzer": "analyzer",
    "FEATURE_NAMES": "features",
    "STRESS_WEIGHTS": "scoring",
    "Driver": "scoring",
    "FeatureReference": "scoring",
    "FeatureStats": "scoring",
    "StressEstimate": "scoring",
    "score_stress": "scoring",
}

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


__getattr__ = lazy_attributes(__name__, _WHERE)
