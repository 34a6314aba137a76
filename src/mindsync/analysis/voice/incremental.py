"""Per-frame pitch measurements of a sliding window, reusing those of the previous tick.

YIN's per-frame result (:func:`~mindsync.analysis.voice.features.yin_frames`) depends only on
the samples around the frame, once the 8 kHz pitch signal's high-pass filter has settled.
So a frame measured on one tick is kept (in a :class:`FrameTrack`) and only the frames after
it are measured on the next: about 0.6 s of audio instead of the whole 4 s window.

How this differs from measuring the window from scratch: the new frames are measured on a
segment that starts :data:`CONTEXT_SAMPLES` before them, not at the window's first sample.
The filter's start-up transient (a 4th-order Butterworth high-pass at 50 Hz: its slowest pole
decays with a time constant of about 8 ms) and the mean removed before it are therefore those
of the segment; 100 ms of context is 12 time constants, so a frame's YIN input differs by
less than 1e-5 of the signal. The frames in the first 100 ms of the window, which the from-
scratch measurement reads through its own cold filter, are the only ones that can differ
more (tests/analysis/voice/test_voice_incremental.py states the tolerances on real speech).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from mindsync.analysis.voice.features import (
    HOP,
    P_WIN,
    TAU_MAX,
    YIN_BLOCK,
    _frame_starts,
    pitch_signal,
    yin_frames,
)
from mindsync.analysis.voice.nonspeech import HOP as CUE_HOP
from mindsync.analysis.voice.nonspeech import (
    TONE_HOP,
    CueFrames,
    _frame_power,
    _frame_var,
    _tone_peaks,
)
from mindsync.analysis.voice.window import CUE_ALIGN, FRAME_HOP, FrameTrack

# Audio before the first frame to measure, for the filters to settle (see the module doc).
CONTEXT_SAMPLES = 1600
# A frame reads 16 kHz samples up to its start + this (YIN's window and lags at 8 kHz, plus
# the 8 kHz resampler's filter half-length, rounded up): until they have all arrived, the
# frame is measured on zero padding, like the last frames of a clip, and is measured again.
SETTLE_SAMPLES = 2 * (P_WIN + TAU_MAX) + 32

assert FRAME_HOP == HOP


def window_frames(
    x: np.ndarray, origin: int, track: FrameTrack | None
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], FrameTrack]:
    """YIN's per-frame results for every 10 ms frame of ``x`` and the track to keep.

    ``x``: the window, float32 shape (N,), 16 kHz; ``origin``: absolute index of ``x[0]``,
    a multiple of :data:`FRAME_HOP`; ``track``: what earlier ticks measured (or None).
    Returns ``(aperiodicity, f0, corr)`` (float64, one value per frame of ``x``) and a new
    track holding this window's settled frames (its ``pulses`` are the old track's).
    """
    if origin % HOP:
        raise ValueError("a window's origin must be a multiple of the 10 ms frame hop")
    starts = _frame_starts(x.shape[0])
    n = starts.shape[0]
    first = origin // HOP
    aper = np.full(n, np.nan)
    f0 = np.full(n, np.nan)
    corr = np.full(n, np.nan)
    known = 0  # frames [0, known) of the window come from the track
    if track is not None and track.first <= first < track.end:
        known = min(n, track.end - first)
        lo = first - track.first
        aper[:known] = track.aperiodicity[lo : lo + known]
        f0[:known] = track.f0[lo : lo + known]
        corr[:known] = track.corr[lo : lo + known]
    if known < n:
        seg_start = max(0, int(starts[known]) - CONTEXT_SAMPLES)
        padded, cs_all = pitch_signal(x[seg_start:])
        offsets = (starts[known:] - seg_start) // 2
        for a in range(0, offsets.size, YIN_BLOCK):
            sl = slice(known + a, known + a + YIN_BLOCK)
            aper[sl], f0[sl], corr[sl] = yin_frames(padded, cs_all, offsets[a : a + YIN_BLOCK])
    settled = int(np.count_nonzero(starts + SETTLE_SAMPLES <= x.shape[0]))
    kept = FrameTrack(
        first=first,
        aperiodicity=aper[:settled].copy(),
        f0=f0[:settled].copy(),
        corr=corr[:settled].copy(),
        pulses=dict(track.pulses) if track is not None else {},
    )
    return (aper, f0, corr), kept


def _reused(previous: np.ndarray, shift: int, n: int) -> tuple[np.ndarray, int]:
    """The first frames of a window of ``n`` frames taken from ``previous``, whose frame 0 is
    ``shift`` frames earlier: (array of n, NaN past what was reused), how many were reused."""
    out = np.full(n, np.nan)
    known = max(0, min(n, previous.shape[0] - shift))
    out[:known] = previous[shift : shift + known]
    return out, known


def window_cues(x: np.ndarray, origin: int, track: FrameTrack | None) -> CueFrames:
    """The non-speech cues' per-frame measurements of the window ``x`` (starting at absolute
    sample ``origin``), reusing the track's where the frame grids line up (origins
    :data:`CUE_ALIGN` apart). Every frame lies wholly inside the window, so each is final:
    the result is what :func:`~mindsync.analysis.voice.nonspeech.cue_frames` gives on ``x``.
    """
    x = np.asarray(x, dtype=np.float32)
    n_power = max(0, (x.shape[0] - 512) // CUE_HOP + 1)
    n_tone = max(0, (x.shape[0] - 1024) // TONE_HOP + 1)
    cached = track.cues if track is not None else None
    if cached is None or origin < cached[0] or (origin - cached[0]) % CUE_ALIGN:
        prev = CueFrames(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
        shift_p = shift_t = 0
    else:
        prev = cached[1]
        shift_p = (origin - cached[0]) // CUE_HOP
        shift_t = (origin - cached[0]) // TONE_HOP
    power, known_p = _reused(prev.power, shift_p, n_power)
    if known_p < n_power:
        power[known_p:] = _frame_power(x[known_p * CUE_HOP :])
    tone_power, known_t = _reused(prev.tone_power, shift_t, n_tone)
    tone_share, _ = _reused(prev.tone_share, shift_t, n_tone)
    tone_st, _ = _reused(prev.tone_st, shift_t, n_tone)
    if known_t < n_tone:
        frames = sliding_window_view(x[known_t * TONE_HOP :], 1024)[::TONE_HOP][: n_tone - known_t]
        tone_power[known_t:] = _frame_var(x[known_t * TONE_HOP :], 1024, TONE_HOP, n_tone - known_t)
        tone_share[known_t:], tone_st[known_t:] = _tone_peaks(frames)
    return CueFrames(power, tone_power, tone_share, tone_st)
