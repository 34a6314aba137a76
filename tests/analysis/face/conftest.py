"""What the face tests share: one loaded analyser and the real photos."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from mindsync.analysis.face import FaceAnalyzer, create_analyzer
from mindsync.core.config import Settings

DATA = Path(__file__).resolve().parents[2] / "data" / "face"


@pytest.fixture(scope="session")
def analyzer() -> FaceAnalyzer:
    """The shipped face analyser, loaded and warmed up once (``analyze`` is thread-safe)."""
    face = create_analyzer(Settings())
    face.load()
    face.warmup()
    return face


def photo(name: str) -> Image.Image:
    """A photo of tests/data/face as RGB."""
    with Image.open(DATA / name) as image:
        return image.convert("RGB")
