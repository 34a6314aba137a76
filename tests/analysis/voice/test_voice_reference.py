"""The voice pipeline gives the answers recorded in ``voice_reference.json`` (written by
``make_voice_reference.py`` with the code of bda2f24, before the speed-ups of issue 18).

Tolerances: measures and features within 1e-6 relative (or 1e-9 absolute near zero), room
for float rounding only: another order of float64 sums, and the tone check's spectra taken in
float64 instead of numpy's float32 FFT. Measured against the reference: tone_hz 1.5e-8
relative, every feature 3e-15 or less (YIN's values are bit for bit those of bda2f24). The VAD
mask, statuses, reason codes, drivers' names and which values are null exactly equal; the
result's rounded numbers within one unit of the coarsest rounding (2 decimals).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from mindsync.analysis.voice.analyzer import VoiceAnalyzer
from mindsync.core.config import Settings
from tests.analysis.voice.make_voice_reference import OUT, clips, measure_clip

REL = 1e-6
ABS = 1e-9
ROUNDED = 0.0101  # the result rounds to 2-4 decimals: a change of 1e-12 may move the last

REFERENCE: dict[str, Any] = json.loads(OUT.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def voice() -> VoiceAnalyzer:
    analyzer = VoiceAnalyzer(Settings())
    analyzer.load()
    return analyzer


@pytest.fixture(scope="module")
def audio() -> dict[str, np.ndarray]:
    return clips()


def _close(got: Any, want: Any, where: str, tol: float | None = None) -> None:
    """Recursive comparison: same keys, same nulls and strings, numbers within tolerance."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), where
        for key in want:
            _close(got[key], want[key], f"{where}.{key}", tol)
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _close(g, w, f"{where}[{i}]", tol)
    elif isinstance(want, bool) or want is None or isinstance(want, str):
        assert got == want, where
    else:
        assert isinstance(got, int | float) and not isinstance(got, bool), where
        bound = tol if tol is not None else max(ABS, REL * abs(want))
        assert math.isfinite(got) and abs(got - want) <= bound, (where, got, want)


def test_the_reference_covers_speech_and_every_refusal() -> None:
    codes = {v["result"]["reason_code"] for v in REFERENCE.values()}
    assert {None, "no_speech", "too_short", "not_speech_music", "not_speech_tone"} <= codes
    assert len(REFERENCE) >= 30


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_answers_match_the_reference(
    voice: VoiceAnalyzer, audio: dict[str, np.ndarray], name: str
) -> None:
    want = REFERENCE[name]
    got = measure_clip(voice, audio[name])
    assert got["vad"] == want["vad"]
    _close(got.get("measures"), want.get("measures"), "measures")
    _close(got.get("cues"), want.get("cues"), "cues")
    _close(got["result"], want["result"], "result", ROUNDED)
