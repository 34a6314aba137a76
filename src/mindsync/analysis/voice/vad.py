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
# WebRTC's VAD has absolute energy floors tuned for telephone levels: a quiet talker at arm's
# length from a laptop (speech at -45 dBFS) lost most of its frames. The clip is raised so
# that its loud frames (this percentile of frame RMS) sit at VAD_TARGET_DBFS before the VAD
# sees it; never lowered (raising a clip raises its pauses' noise floor too, and the VAD then
# hears the pauses as speech: clips at ordinary levels keep the VAD's tuned behaviour), and
# raised by at most VAD_MAX_GAIN_DB so that a silent room is not made into a loud one. The
# features are measured on the clip as it came.
VAD_LOUD_PERCENTILE = 95.0
VAD_TARGET_DBFS = -30.0
VAD_MAX_GAIN_DB = 40.0


def vad_gain(samples: np.ndarray) -> float:
    """The linear gain :func:`speech_mask` applies before the VAD (1.0 to +40 dB)."""
    n_frames = samples.shape[0] // FRAME_LEN
    if n_frames == 0:
        return 1.0
    frames = samples[: n_frames * FRAME_LEN].astype(np.float64).reshape(n_frames, FRAME_LEN)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = float(np.percentile(rms, VAD_LOUD_PERCENTILE))
    if loud <= 0.0:
        return 1.0
    gain = 10 ** (VAD_TARGET_DBFS / 20) / loud
    return float(min(max(gain, 1.0), 10 ** (VAD_MAX_GAIN_DB / 20)))


def speech_mask(samples: np.ndarray) -> np.ndarray:
    """Return one bool per 30 ms frame of ``samples`` (shape (N,), 16 kHz): True where speech.

    Level-invariant from -60 to 0 dBFS: the clip is raised by :func:`vad_gain` first.
    Thread-safe: a new ``webrtcvad.Vad`` is made per call (the C object keeps state).
    The trailing partial frame is dropped.
    """
    n_frames = samples.shape[0] // FRAME_LEN
    if n_frames == 0:
        return np.zeros(0, dtype=bool)
    gain = vad_gain(samples)
    pcm = (np.clip(samples[: n_frames * FRAME_LEN] * gain, -1.0, 1.0) * 32767.0).astype("<i2")
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
