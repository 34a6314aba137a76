"""Motion analysis: activity class, activity level and restlessness from IMU samples.

The registry imports this package and calls :func:`create_analyzer`; nothing is loaded
at import time.
"""

from __future__ import annotations

from mindsync.analysis.motion.analyzer import MotionAnalyzer
from mindsync.analysis.motion.recording import MotionRecording
from mindsync.analysis.motion.result import ACTIVITY_CLASSES, MotionQuality, MotionResult
from mindsync.core.config import Settings

__all__ = [
    "ACTIVITY_CLASSES",
    "MotionAnalyzer",
    "MotionQuality",
    "MotionRecording",
    "MotionResult",
    "create_analyzer",
]


def create_analyzer(settings: Settings) -> MotionAnalyzer:
    """A motion analyser with the limits of ``settings``; call ``load()`` before use."""
    return MotionAnalyzer(settings)
