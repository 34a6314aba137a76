"""Motion analysis: activity class, activity level and restlessness from IMU samples.

The registry imports this package and calls :func:`create_analyzer`; nothing is loaded
at import time. The names load on first use (PEP 562), so that a process which only builds
:class:`MotionRecording` objects, like the API server whose analysis runs in worker
processes, never imports the analyser and scipy.signal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mindsync.analysis.lazy import lazy_attributes

if TYPE_CHECKING:
    from mindsync.analysis.motion.analyzer import MotionAnalyzer
    from mindsync.analysis.motion.recording import MotionRecording
    from mindsync.analysis.motion.result import ACTIVITY_CLASSES, MotionQuality, MotionResult
    from mindsync.core.config import Settings

_WHERE = {
    "MotionAnalyzer": "analyzer",
    "MotionRecording": "recording",
    "ACTIVITY_CLASSES": "result",
    "MotionQuality": "result",
    "MotionResult": "result",
}

__all__ = [
    "ACTIVITY_CLASSES",
    "MotionAnalyzer",
    "MotionQuality",
    "MotionRecording",
    "MotionResult",
    "create_analyzer",
]


__getattr__ = lazy_attributes(__name__, _WHERE)


def create_analyzer(settings: Settings) -> MotionAnalyzer:
    """A motion analyser with the limits of ``settings``; call ``load()`` before use."""
    from mindsync.analysis.motion.analyzer import MotionAnalyzer

    return MotionAnalyzer(settings)
