"""Face analysis: expressed emotion, head pose, eye openness and face quality.

``create_analyzer(settings)`` is what the registry calls; nothing loads at import time.
The names load on first use (PEP 562): a process that only receives results (the API
server, from its analysis processes) never imports onnxruntime and Pillow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mindsync.analysis.lazy import lazy_attributes

if TYPE_CHECKING:
    from mindsync.analysis.face.analyzer import FaceAnalyzer
    from mindsync.analysis.face.result import FaceQuality, FaceResult, HeadPose
    from mindsync.core.config import Settings

_WHERE = {
    "FaceAnalyzer": "analyzer",
    "FaceQuality": "result",
    "FaceResult": "result",
    "HeadPose": "result",
}

__all__ = ["FaceAnalyzer", "FaceQuality", "FaceResult", "HeadPose", "create_analyzer"]


__getattr__ = lazy_attributes(__name__, _WHERE)


def create_analyzer(settings: Settings) -> FaceAnalyzer:
    """A face analyser for ``settings`` (cheap: call ``load()`` before use)."""
    from mindsync.analysis.face.analyzer import FaceAnalyzer

    return FaceAnalyzer(settings)
