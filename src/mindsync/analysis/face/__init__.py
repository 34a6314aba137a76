"""Face analysis: expressed emotion, head pose, eye openness and face quality.

``create_analyzer(settings)`` is what the registry calls; nothing loads at import time.
"""

from __future__ import annotations

from mindsync.analysis.face.analyzer import FaceAnalyzer
from mindsync.analysis.face.result import FaceQuality, FaceResult, HeadPose
from mindsync.core.config import Settings

__all__ = ["FaceAnalyzer", "FaceQuality", "FaceResult", "HeadPose", "create_analyzer"]


def create_analyzer(settings: Settings) -> FaceAnalyzer:
    """A face analyser for ``settings`` (cheap: call ``load()`` before use)."""
    return FaceAnalyzer(settings)
