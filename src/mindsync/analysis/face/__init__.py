"""Face analysis: expressed emotion, head pose, eye openness and face quality.

``create_analyzer(settings)`` is what the registry calls; nothing loads at import time.
The names load on first use (PEP 562): a process that only receives results (the API
server, from its analysis processes) never imports onnxruntime and Pillow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def create_analyzer(settings: Settings) -> FaceAnalyzer:
    """A face analyser for ``settings`` (cheap: call ``load()`` before use)."""
    from mindsync.analysis.face.analyzer import FaceAnalyzer

    return FaceAnalyzer(settings)
