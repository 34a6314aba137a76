"""Voice-activity detection with WebRTC's VAD (``webrtcvad-wheels``, MIT, no model file)."""

from __future__ import annotations

import numpy as np
import webrtcvad

from mindsync.analysis.voice.decode import SAMPLE_RATE

FRAME_MS = 30
FRAME_LEN = SAMPLE_RATE * FRAME_MS // 1000
# Aggressiveness 2 of 0..3: 3 drops quiet word endings, 0-1 call stationary noise speech.
VAD_MODE = 2
# Gaps of speech shorter than this are closed (stop consonants, not pauses), in frames.
MAX_GAP_FRAMES = 3
# Islands of "speech" shorter than this are removed (clicks, bumps), in frames.
MIN_ISLAND_FRAMES = 3


def speech_mask(samples: np.ndarray) -> np.ndarray:
    """Return one bool per 30 ms frame of ``samples`` (shape (N,), 16 kHz): True where speech.

    Thread-safe: a new ``webrtcvad.Vad`` is made per call (the C object keeps state).
    The trailing partial frame is dropped.
    """
    n_frames = samples.shape[0] // FRAME_LEN
    if n_frames == 0:
        return np.zeros(0, dtype=bool)
    pcm = (np.clip(samples[: n_frames * FRAME_LEN], -1.0, 1.0) * 32767.0).astype("<i2")
    raw = pcm.tobytes()
    vad = webrtcvad.Vad(VAD_MODE)
    step = FRAME_LEN * 2
    mask = np.fromiter(
        (vad.is_speech(raw[i * step : (i + 1) * step], SAMPLE_RATE) for i in range(n_frames)),
        dtype=bool,
        count=n_frames,
    )
    mask = _fill_runs(mask, value=False, max_len=MAX_GAP_FRAMES)
    return _fill_runs(mask, value=True, max_len=MIN_ISLAND_FRAMES - 1)


def runs(mask: np.ndarray) -> list[tuple[int, int, bool]]:
    """Split ``mask`` into ``(start, stop, value)`` runs of equal values (stop exclusive)."""
    if mask.size == 0:
        return []
    edges = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    starts = np.concatenate(([0], edges))
    stops = np.concatenate((edges, [mask.size]))
    return [(int(a), int(b), bool(mask[a])) for a, b in zip(starts, stops, strict=True)]


def _fill_runs(mask: np.ndarray, *, value: bool, max_len: int) -> np.ndarray:
    """Flip runs of ``value`` no longer than ``max_len`` frames.

    Gaps (``value`` False) are closed only between speech; islands of speech anywhere.
    """
    if max_len <= 0:
        return mask
    out = mask.copy()
    segments = runs(mask)
    for i, (a, b, v) in enumerate(segments):
        interior = 0 < i < len(segments) - 1
        if v == value and (interior or value) and b - a <= max_len:
            out[a:b] = not value
    return out
