"""Acoustic features of the speech in a 16 kHz mono clip, with numpy and scipy only.

What is computed, and after whom (references in ``docs/models/voice.md``):

* f0 with YIN (de Cheveigné & Kawahara 2002), vectorised over frames with FFTs; its mean,
  spread and range in semitones re 27.5 Hz, as eGeMAPS reports them (Eyben et al. 2016).
* harmonics-to-noise ratio from the normalised autocorrelation at the period (Boersma 1993).
* local jitter and shimmer from glottal-cycle peaks picked along the f0 track (the
  definitions of Praat's "local" measures, computed from waveform peaks, not Praat's
  cross-correlation point process: values run somewhat higher than Praat's).
* level (dBFS) of the speech frames and its spread; syllable nuclei as intensity peaks in
  voiced frames (de Jong & Wempe 2009) for articulation and speech rate; pauses from the VAD.
* spectral balance of voiced frames: alpha ratio and Hammarberg index (eGeMAPS).

No library with a permissive licence does these on numpy alone (librosa pulls numba, pyworld
and pysptk need compilers or lack wheels, Praat bindings are GPL), hence this module.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sfft
from scipy.signal import butter, find_peaks, sosfilt

from mindsync.analysis.voice.decode import SAMPLE_RATE, resample
from mindsync.analysis.voice.vad import FRAME_LEN, runs

HOP = 160  # 10 ms at 16 kHz
WIN = 400  # 25 ms at 16 kHz
F0_MIN = 60.0
F0_MAX = 500.0
# YIN runs at 8 kHz: a quarter of the work of 16 kHz, and f0 of speech is far below 4 kHz.
PITCH_RATE = 8_000
P_HOP = HOP // 2
P_WIN = WIN // 2
TAU_MIN = int(PITCH_RATE / F0_MAX)  # 16
TAU_MAX = int(math.ceil(PITCH_RATE / F0_MIN))  # 134
N_FFT = 512
YIN_THRESHOLD = 0.15  # first dip of the cumulative-mean-normalised difference below this
VOICING_MAX_APERIODICITY = 0.35  # frames whose best dip stays above this are unvoiced
# ... unless they continue a voiced frame and stay below this (pYIN's voicing prior puts
# half its mass on thresholds up to 0.5 for the same reason: breathy and quiet voice).
VOICING_WEAK_APERIODICITY = 0.5
HIGHPASS_HZ = 50.0  # below F0_MIN with a 4th-order slope: a 60 Hz voice keeps its harmonics
YIN_BLOCK = 512  # frames per block
YIN_ROWS = 128  # frames per block of yin_frames (see there): 128 x 257 spectrum bins >= 2**15
MIN_VOICED_RUN = 4  # frames (40 ms)
ST_REF_HZ = 27.5
MIN_PAUSE_S = 0.15
SPEC_N = 512

FEATURE_NAMES: tuple[str, ...] = (
    "f0_mean_st",
    "f0_sd_st",
    "f0_range_st",
    "jitter_local_pct",
    "shimmer_local_pct",
    "hnr_db",
    "loudness_dbfs",
    "loudness_sd_db",
    "articulation_rate_sps",
    "speech_rate_sps",
    "pause_fraction",
    "pauses_per_min",
    "mean_pause_s",
    "alpha_ratio_db",
    "hammarberg_db",
)


@dataclass(frozen=True, slots=True)
class SpeechMeasures:
    """Derived measures of one clip. ``features`` holds :data:`FEATURE_NAMES` that could be
    computed (a feature is absent when the clip has too little voiced speech for it)."""

    duration_seconds: float
    speech_seconds: float
    voiced_seconds: float
    speech_fraction: float
    snr_db: float | None
    clipping_fraction: float
    f0_mean_hz: float | None
    features: dict[str, float] = field(default_factory=dict)


def _semitones(f0: np.ndarray) -> np.ndarray:
    return 12.0 * np.log2(f0 / ST_REF_HZ)


def _frame_starts(n_samples: int) -> np.ndarray:
    n = max(0, (n_samples - WIN) // HOP + 1)
    return np.arange(n) * HOP


def track_f0(x: np.ndarray, candidate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """YIN f0 (Hz) and normalised autocorrelation at the period, per 10 ms frame.

    ``x``: shape (N,), 16 kHz. ``candidate``: bool per 10 ms frame, where to look (speech).
    Returns two arrays of shape (n_frames,): f0 (NaN where unvoiced) and nccf (NaN where
    unvoiced). Frame ``i`` starts at sample ``i*HOP`` and is centred near ``i*HOP + WIN/2``.
    """
    starts = _frame_starts(x.shape[0])
    n = starts.shape[0]
    f0 = np.full(n, np.nan)
    nccf = np.full(n, np.nan)
    idx = np.flatnonzero(candidate[:n])
    if idx.size == 0:
        return f0, nccf
    padded, cs_all = pitch_signal(x)
    # Blocks of frames keep the (frames x lags) arrays in cache: one block for the whole of a
    # 60 s clip made the cost grow faster than the clip.
    for a in range(0, idx.size, YIN_BLOCK):
        sel = idx[a : a + YIN_BLOCK]
        f0_b, nccf_b = _yin(padded, cs_all, starts[sel] // 2)
        f0[sel] = f0_b
        nccf[sel] = nccf_b
    return _clean_track(f0, nccf)


def pitch_signal(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What YIN reads: ``x`` (16 kHz) at 8 kHz, mean removed, high-passed, zero-padded at the
    end by one YIN window; and the running sum of its squares (length + 1, float64)."""
    x8 = resample(x.astype(np.float32, copy=False), 1, SAMPLE_RATE // PITCH_RATE)
    x8 -= x8.mean()
    # Rumble and mains hum below the voice's f0 do not cancel at the period, so a quiet voice
    # over a fan or a laptop's hum looked aperiodic; they are removed before YIN.
    x8 = sosfilt(_highpass(), x8).astype(np.float32)
    length = P_WIN + TAU_MAX
    padded = np.concatenate((x8, np.zeros(length, dtype=np.float32)))
    cs_all = np.concatenate(([0.0], np.cumsum(padded.astype(np.float64) ** 2)))
    return padded, cs_all


def track_f0_from_frames(
    frames: tuple[np.ndarray, np.ndarray, np.ndarray], candidate: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`track_f0` from per-frame YIN results already measured (see :func:`yin_frames`).

    ``frames``: aperiodicity, candidate f0 and correlation for every 10 ms frame of the clip.
    Gives what :func:`track_f0` gives on the clip those frames were measured on.
    """
    aperiodicity, f0_sel, corr = frames
    n = aperiodicity.shape[0]
    f0 = np.full(n, np.nan)
    nccf = np.full(n, np.nan)
    idx = np.flatnonzero(candidate[:n])
    if idx.size == 0:
        return f0, nccf
    offsets = idx * (HOP // 2)
    for a in range(0, idx.size, YIN_BLOCK):  # the same blocks as track_f0
        sel = idx[a : a + YIN_BLOCK]
        f0_b, nccf_b = yin_voicing(
            aperiodicity[sel], f0_sel[sel], corr[sel], offsets[a : a + YIN_BLOCK]
        )
        f0[sel] = f0_b
        nccf[sel] = nccf_b
    return _clean_track(f0, nccf)


def _yin(
    padded: np.ndarray, cs_all: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """YIN on the 8 kHz frames starting at ``offsets``: f0 (Hz) and nccf, NaN where unvoiced.

    A frame is voiced when its best dip of the cumulative-mean-normalised difference is
    below :data:`VOICING_MAX_APERIODICITY`, or below :data:`VOICING_WEAK_APERIODICITY` next
    to a clearly voiced frame (hysteresis, as in edge detection: a quiet or breathy syllable
    is kept when it continues a voiced one, while isolated noise frames stay unvoiced).
    """
    aperiodicity, f0_sel, corr = yin_frames(padded, cs_all, offsets)
    return yin_voicing(aperiodicity, f0_sel, corr, offsets)


def yin_frames(
    padded: np.ndarray, cs_all: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The per-frame part of YIN, independent of every other frame (so it can be cached).

    Returns three float64 arrays of shape (len(offsets),): the aperiodicity of the best dip,
    the candidate f0 (Hz) and the normalised autocorrelation at that period (NaN or out of
    range where the frame has no usable period). :func:`yin_voicing` turns them into f0/nccf.
    """
    n = offsets.size
    aperiodicity = np.empty(n)
    f0_sel = np.empty(n)
    corr = np.empty(n)
    # Window energies (cs_all[i + P_WIN] - cs_all[i]) of every start, to gather per frame.
    energy = sliding_window_view(cs_all[P_WIN:] - cs_all[:-P_WIN], TAU_MAX + 1)
    frames = sliding_window_view(padded, P_WIN + TAU_MAX)
    # Blocks of YIN_ROWS frames: their arrays stay in cache, which halves the cost of the
    # whole block at once. Each frame's answer depends on its samples only, except in the
    # last bit: numpy's complex product rounds differently for arrays under 2**15 elements
    # (another SIMD loop). A block of YIN_ROWS frames is just above that, so the last block
    # is taken as the last YIN_ROWS frames (overlapping the one before) and every frame is
    # measured as one call over all n frames measures it: n >= YIN_ROWS frames all above
    # the size, fewer all below.
    for a in [min(a, max(0, n - YIN_ROWS)) for a in range(0, n, YIN_ROWS)]:
        rows = slice(a, a + YIN_ROWS)
        block = frames[offsets[rows]]
        spec_full = sfft.rfft(block, N_FFT, axis=1)
        spec_head = sfft.rfft(block[:, :P_WIN], N_FFT, axis=1)
        r = sfft.irfft(spec_full * np.conj(spec_head), N_FFT, axis=1)[:, : TAU_MAX + 1]
        aperiodicity[rows], f0_sel[rows], corr[rows] = _yin_dips(
            r.astype(np.float64), energy[offsets[rows]]
        )
    return aperiodicity, f0_sel, corr


def _yin_dips(r: np.ndarray, e_tau: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`yin_frames`' answers from the frames' correlations ``r`` and window energies
    ``e_tau``, both (frames, TAU_MAX + 1) float64 by lag."""
    taus = np.arange(1, TAU_MAX + 1)
    e0 = e_tau[:, :1]
    d = e0 + e_tau
    d -= 2.0 * r
    np.maximum(d, 0.0, out=d)
    d[:, 0] = 0.0
    cum = np.cumsum(d[:, 1:], axis=1)
    # The cumulative-mean-normalised difference at lags 1..TAU_MAX: column j is lag j + 1
    # (lag 0, defined as 1, is never looked at: dips start at TAU_MIN).
    dn = d[:, 1:] * taus
    with np.errstate(divide="ignore", invalid="ignore"):
        dn /= cum
    np.copyto(dn, 1.0, where=~(cum > 0))
    # First local minimum below the threshold in [TAU_MIN, TAU_MAX); else the global minimum.
    seg = dn[:, TAU_MIN - 1 : TAU_MAX - 1]
    left = dn[:, TAU_MIN - 2 : TAU_MAX - 2]
    right = dn[:, TAU_MIN:TAU_MAX]
    dips = (seg < YIN_THRESHOLD) & (seg <= right) & (seg < left)
    has_dip = dips.any(axis=1)
    best = np.where(has_dip, dips.argmax(axis=1), seg.argmin(axis=1)) + TAU_MIN
    rows = np.arange(r.shape[0])
    col = best - 1  # dn's column of lag best
    aperiodicity = dn[rows, col]
    # Parabolic interpolation of the dip for sub-sample periods.
    a, b, c = dn[rows, col - 1], dn[rows, col], dn[rows, np.minimum(best + 1, TAU_MAX) - 1]
    denom = a - 2.0 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / denom, 0.0)
    period = best + np.clip(shift, -0.5, 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = r[rows, best] / np.sqrt(e0[:, 0] * e_tau[rows, best])
    f0_sel = PITCH_RATE / period
    return aperiodicity, f0_sel, corr


def yin_voicing(
    aperiodicity: np.ndarray, f0_sel: np.ndarray, corr: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """f0 (Hz) and nccf of the frames :func:`yin_frames` measured, NaN where unvoiced.

    ``offsets``: the frames' 8 kHz start samples (neighbours are :data:`P_HOP` apart).
    """
    voiced = _hysteresis(aperiodicity, offsets)
    ok = voiced & np.isfinite(corr) & (f0_sel >= F0_MIN) & (f0_sel <= F0_MAX)
    f0 = np.where(ok, f0_sel, np.nan)
    nccf = np.where(ok, np.clip(corr, 0.0, 1.0), np.nan)
    return f0, nccf


def _hysteresis(aperiodicity: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Voiced frames: strong ones, plus runs of weak ones that touch a strong one.

    Frames are neighbours when their offsets are one hop apart (the frames given need not
    be contiguous: only speech frames are analysed).
    """
    strong = aperiodicity < VOICING_MAX_APERIODICITY
    weak = aperiodicity < VOICING_WEAK_APERIODICITY
    if not weak.any():
        return strong
    # Label runs of consecutive weak frames; keep a run when it holds a strong frame.
    breaks = np.ones(weak.size, dtype=bool)
    breaks[1:] = ~weak[1:] | ~weak[:-1] | (np.diff(offsets) != P_HOP)
    run_id = np.cumsum(breaks)
    has_strong = np.zeros(run_id[-1] + 1, dtype=bool)
    has_strong[run_id[strong]] = True
    voiced: np.ndarray = weak & has_strong[run_id]
    return voiced


@functools.lru_cache(maxsize=1)
def _highpass() -> np.ndarray:
    """4th-order Butterworth high-pass at :data:`HIGHPASS_HZ` for the 8 kHz pitch signal."""
    # Not frozen: scipy's sosfilt wants a writable buffer (it does not write to it).
    sos: np.ndarray = butter(4, HIGHPASS_HZ, btype="highpass", fs=PITCH_RATE, output="sos")
    return sos


def _clean_track(f0: np.ndarray, nccf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fold octave jumps towards the clip's median, smooth, and drop too short voiced runs."""
    voiced = np.isfinite(f0)
    if voiced.sum() < MIN_VOICED_RUN:
        return np.full_like(f0, np.nan), np.full_like(nccf, np.nan)
    med = float(np.median(f0[voiced]))
    f0 = f0.copy()
    high = voiced & (f0 > 1.7 * med) & (f0 / 2.0 >= F0_MIN)
    f0[high] /= 2.0
    low = voiced & (f0 < med / 1.7) & (f0 * 2.0 <= F0_MAX)
    f0[low] *= 2.0
    # Runs of voiced frames long enough to keep, and each frame's neighbours inside its run
    # (a run's first and last frames stand in for the missing ones, as edge padding would).
    edges = np.flatnonzero(np.diff(voiced.astype(np.int8))) + 1
    bounds = np.concatenate(([0], edges, [f0.size]))
    lengths = np.diff(bounds)
    run_voiced = voiced[bounds[:-1]]
    keep = np.repeat(run_voiced & (lengths >= MIN_VOICED_RUN), lengths)
    first = np.repeat(bounds[:-1], lengths)
    last = np.repeat(bounds[1:] - 1, lengths)
    i = np.arange(f0.size)
    prev = f0[np.maximum(i - 1, first)]
    nxt = f0[np.minimum(i + 1, last)]
    # The median of three, without sorting: the same value np.median picks.
    med = np.maximum(np.minimum(prev, f0), np.minimum(np.maximum(prev, f0), nxt))
    out = np.where(keep, med, np.nan)
    out_nccf = np.where(keep, nccf, np.nan)
    return out, out_nccf


def _pulses(y: np.ndarray, period: np.ndarray) -> list[int]:
    """Glottal-cycle peaks of ``y``: the highest sample of the first period, then of each
    window 0.7 to 1.3 local periods after the last peak, while the window fits in ``y``.

    ``period``: shape (len(y),), the local period in samples at each sample. Each peak
    depends on the one before, so this stays a loop; the windows' bounds are computed for
    every sample at once and each step is one slice and one argmax.
    """
    stop = y.shape[0]
    first_t = int(period[0])
    if stop < 3 * first_t:
        return []
    # int() of a positive float truncates, as astype does.
    lo_off = (0.7 * period).astype(np.int64)
    hi_off = (1.3 * period).astype(np.int64) + 1
    p = int(y[:first_t].argmax())
    out = [p]
    last = stop - 1
    while True:
        q = min(p, last)
        lo, hi = p + int(lo_off[q]), p + int(hi_off[q])
        if hi > stop:
            return out
        p = lo + int(y[lo:hi].argmax())
        out.append(p)


#: One voiced run's share of jitter and shimmer: jitter numerator, denominator and pairs,
#: shimmer numerator, denominator and pairs.
RunPerturbation = tuple[float, float, int, float, float, int]
_NO_SHARE: RunPerturbation = (0.0, 0.0, 0, 0.0, 0.0, 0)


def _perturbation(
    x: np.ndarray,
    f0: np.ndarray,
    *,
    cache: dict[tuple[int, int, bytes], RunPerturbation] | None = None,
    origin: int = 0,
) -> tuple[float | None, float | None]:
    """Local jitter and shimmer (%) over all voiced runs, Praat's local definitions.

    ``cache`` (optional, updated in place to the runs of this clip): each run's share keyed
    by its absolute samples (``origin`` is the absolute index of ``x[0]``) and its f0 track.
    A run with the same samples and track gives the same share, so a stream's sliding window
    measures only the runs that changed.
    """
    keys: list[tuple[int, int, bytes]] = []
    shares: dict[tuple[int, int, bytes], RunPerturbation] = {}
    todo: list[tuple[tuple[int, int, bytes], int, int, int, int]] = []
    for a, b, v in runs(np.isfinite(f0)):
        if not v or b - a < MIN_VOICED_RUN + 1:
            continue
        start = a * HOP + WIN // 2
        stop = min((b - 1) * HOP + WIN // 2 + HOP, x.shape[0])
        if stop - start < 3 * TAU_MAX // 2:
            continue
        key = (origin + start, origin + stop, f0[a:b].tobytes())
        keys.append(key)
        share = cache.get(key) if cache is not None else None
        if share is None:
            todo.append((key, a, b, start, stop))
        else:
            shares[key] = share
    shares.update(_run_perturbations(x, f0, todo))
    jit_num = jit_den = shim_num = shim_den = 0.0
    n_jit = n_shim = 0
    for key in keys:  # summed in the order of the runs, whichever were cached
        share = shares[key]
        jit_num += share[0]
        jit_den += share[1]
        n_jit += share[2]
        shim_num += share[3]
        shim_den += share[4]
        n_shim += share[5]
    if cache is not None:
        cache.clear()
        cache.update((key, shares[key]) for key in keys)
    jitter = 100.0 * jit_num / jit_den if n_jit >= 20 and jit_den > 0 else None
    shimmer = 100.0 * shim_num / shim_den if n_shim >= 20 and shim_den > 0 else None
    return jitter, shimmer


def _run_perturbations(
    x: np.ndarray, f0: np.ndarray, todo: list[tuple[tuple[int, int, bytes], int, int, int, int]]
) -> dict[tuple[int, int, bytes], RunPerturbation]:
    """Each voiced run's share of jitter and shimmer (see :data:`RunPerturbation`).

    ``todo``: (key, first frame, end frame, first sample, end sample) per run. The peaks are
    picked run by run (:func:`_pulses`); what follows from them is computed for all runs at
    once, the periods and amplitudes of each run only from its own peaks.
    """
    out: dict[tuple[int, int, bytes], RunPerturbation] = {}
    ys: list[np.ndarray] = []
    pulse_lists: list[np.ndarray] = []
    done: list[tuple[int, int, bytes]] = []
    base = 0
    for key, a, b, start, stop in todo:
        centres = np.arange(a, b) * HOP + WIN // 2
        period = np.interp(np.arange(start, stop), centres, SAMPLE_RATE / f0[a:b])
        y = x[start:stop]
        if y.max() < -y.min():  # pick peaks on the side where the glottal pulses are sharper
            y = -y
        pulses = _pulses(y, period)
        if len(pulses) < 4:
            out[key] = _NO_SHARE
            continue
        ys.append(y)
        pulse_lists.append(np.asarray(pulses, dtype=np.int64) + base)
        done.append(key)
        base += y.shape[0]
    if not done:
        return out
    # All runs' samples end to end; peak i of the whole list and its run.
    yy = np.concatenate(ys)
    peaks = np.concatenate(pulse_lists)
    counts = np.array([p.size for p in pulse_lists])
    run = np.repeat(np.arange(len(done)), counts)
    run_start = np.repeat(np.cumsum([0] + [y.shape[0] for y in ys[:-1]]), counts)
    run_len = np.repeat([y.shape[0] for y in ys], counts)
    # Sub-sample peak positions (parabolic interpolation), within the run as _refine did.
    local = np.clip(peaks - run_start, 1, run_len - 2)
    inner = local + run_start
    pa, pb, pc = yy[inner - 1], yy[inner], yy[inner + 1]
    denom = pa - 2.0 * pb + pc
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(denom) > 1e-12, 0.5 * (pa - pc) / denom, 0.0)
    refined = local + np.clip(shift, -0.5, 0.5)
    # Period j lies between peaks j and j + 1 of one run; its peak-to-peak amplitude is that
    # of the samples [peak j, peak j + 1).
    same = run[1:] == run[:-1]
    periods = np.diff(refined)
    amp = (np.maximum.reduceat(yy, peaks) - np.minimum.reduceat(yy, peaks))[:-1]
    p_ok = same & (periods >= SAMPLE_RATE / F0_MAX) & (periods <= SAMPLE_RATE / F0_MIN)
    pair = p_ok[1:] & p_ok[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = periods[1:] / periods[:-1]
        a_ratio = amp[1:] / amp[:-1]
    pair &= (ratio < 1.3) & (ratio > 1 / 1.3)
    a_pair = pair & np.isfinite(a_ratio) & (a_ratio < 1.6) & (a_ratio > 1 / 1.6)
    pair_run = run[1:-1]
    n = len(done)

    def per_run(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        summed: np.ndarray = np.bincount(pair_run[mask], weights=values[mask], minlength=n)
        return summed

    jit_num = per_run(pair, np.abs(np.diff(periods)))
    jit_den = per_run(pair, periods[1:])
    n_jit = np.bincount(pair_run[pair], minlength=n)
    shim_num = per_run(a_pair, np.abs(np.diff(amp)))
    shim_den = per_run(a_pair, amp[1:])
    n_shim = np.bincount(pair_run[a_pair], minlength=n)
    for i, key in enumerate(done):
        out[key] = (
            float(jit_num[i]),
            float(jit_den[i]),
            int(n_jit[i]),
            float(shim_num[i]),
            float(shim_den[i]),
            int(n_shim[i]),
        )
    return out


def _spectral_balance(x: np.ndarray, voiced_idx: np.ndarray) -> tuple[float, float] | None:
    """Alpha ratio and Hammarberg index (dB) of the long-term spectrum of voiced frames."""
    if voiced_idx.size < 5:
        return None
    centres = voiced_idx * HOP + WIN // 2
    padded = np.concatenate((np.zeros(SPEC_N // 2), x, np.zeros(SPEC_N // 2)))
    view = sliding_window_view(padded, SPEC_N)
    window = _spec_window()
    ltas = np.zeros(SPEC_N // 2 + 1)
    # Blocks of YIN_ROWS frames keep the spectra in cache (see yin_frames); the power as
    # re^2 + im^2 (abs() would take a square root to be squared again).
    for a in range(0, centres.size, YIN_ROWS):
        frames = view[centres[a : a + YIN_ROWS]]
        frames *= window
        spec = sfft.rfft(frames, axis=1)
        ltas += (spec.real**2 + spec.imag**2).sum(axis=0)
    ltas /= centres.size
    freqs = np.fft.rfftfreq(SPEC_N, 1.0 / SAMPLE_RATE)
    low = ltas[(freqs >= 50) & (freqs < 1000)].sum()
    high = ltas[(freqs >= 1000) & (freqs < 5000)].sum()
    peak_low = ltas[freqs < 2000].max()
    peak_high = ltas[(freqs >= 2000) & (freqs < 5000)].max()
    if min(low, high, peak_low, peak_high) <= 0:
        return None
    alpha = 10.0 * math.log10(high / low)
    hammarberg = 10.0 * math.log10(peak_low / peak_high)
    return alpha, hammarberg


@functools.lru_cache(maxsize=1)
def _spec_window() -> np.ndarray:
    """The Hann window of :func:`_spectral_balance` (read-only)."""
    window = np.hanning(SPEC_N)
    window.setflags(write=False)
    return window


def measure(
    x: np.ndarray,
    vad: np.ndarray,
    *,
    frames: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    pulse_cache: dict[tuple[int, int, bytes], RunPerturbation] | None = None,
    origin: int = 0,
) -> SpeechMeasures:
    """Compute every measure of ``x`` (shape (N,), 16 kHz float) given its 30 ms VAD mask.

    A stream's sliding window passes what it already measured: ``frames``, the per-frame YIN
    results of every 10 ms frame of ``x`` (:func:`yin_frames`), and ``pulse_cache``, the
    jitter/shimmer share of voiced runs by absolute position (``origin`` is the absolute
    sample index of ``x[0]``; see :func:`_perturbation`). Without them every measure is
    computed from ``x``.
    """
    n = x.shape[0]
    duration = n / SAMPLE_RATE
    clipping = float(np.mean(np.abs(x) >= 0.99)) if n else 0.0
    n_vad = vad.shape[0]
    speech_frames = int(vad.sum())
    speech_seconds = speech_frames * FRAME_LEN / SAMPLE_RATE
    speech_fraction = speech_frames / n_vad if n_vad else 0.0

    # Frame powers on the VAD grid give the signal-to-noise estimate.
    snr_db: float | None = None
    if n_vad:
        pw = (x[: n_vad * FRAME_LEN].astype(np.float64) ** 2).reshape(n_vad, FRAME_LEN).mean(1)
        if speech_frames:
            noise = pw[~vad] if (~vad).sum() >= 3 else np.percentile(pw, [5.0])
            noise_p = float(np.mean(noise))
            sig = float(np.mean(pw[vad]))
            snr_db = float(np.clip(10 * math.log10((sig + 1e-12) / (noise_p + 1e-12)), -10, 60))
        level_db = 10.0 * np.log10(pw + 1e-12)
    else:
        level_db = np.zeros(0)

    # 10 ms analysis frames inside speech.
    starts = _frame_starts(n)
    centre_vad = np.minimum((starts + WIN // 2) // FRAME_LEN, max(n_vad - 1, 0))
    candidate = vad[centre_vad] if n_vad else np.zeros(starts.shape[0], dtype=bool)
    if frames is None:
        f0, nccf = track_f0(x, candidate)
    else:
        f0, nccf = track_f0_from_frames(frames, candidate)
    voiced = np.isfinite(f0)
    voiced_seconds = float(voiced.sum()) * HOP / SAMPLE_RATE
    feats: dict[str, float] = {}
    f0_mean_hz: float | None = None

    if voiced.sum() >= 2 * MIN_VOICED_RUN:
        st = _semitones(f0[voiced])
        f0_mean_hz = float(ST_REF_HZ * 2 ** (st.mean() / 12.0))
        feats["f0_mean_st"] = float(st.mean())
        feats["f0_sd_st"] = float(st.std())
        lo, hi = np.percentile(st, [5.0, 95.0])
        feats["f0_range_st"] = float(hi - lo)
        r = np.clip(nccf[voiced], 1e-3, 0.999)
        feats["hnr_db"] = float(np.mean(10.0 * np.log10(r / (1.0 - r))))
        jitter, shimmer = _perturbation(x.astype(np.float64), f0, cache=pulse_cache, origin=origin)
        if jitter is not None:
            feats["jitter_local_pct"] = jitter
        if shimmer is not None:
            feats["shimmer_local_pct"] = shimmer
        balance = _spectral_balance(x, np.flatnonzero(voiced))
        if balance is not None:
            feats["alpha_ratio_db"], feats["hammarberg_db"] = balance

    if speech_frames:
        feats["loudness_dbfs"] = float(level_db[vad].mean())
        feats["loudness_sd_db"] = float(level_db[vad].std())
        segs = runs(vad)
        first = next(a for a, _, v in segs if v)
        last = max(b for _, b, v in segs if v)
        span = (last - first) * FRAME_LEN / SAMPLE_RATE
        pauses = [
            (b - a) * FRAME_LEN / SAMPLE_RATE
            for a, b, v in segs
            if not v
            and a >= first
            and b <= last
            and (b - a) * FRAME_LEN / SAMPLE_RATE >= MIN_PAUSE_S
        ]
        feats["pause_fraction"] = float(sum(pauses) / span) if span > 0 else 0.0
        feats["pauses_per_min"] = 60.0 * len(pauses) / span if span > 0 else 0.0
        feats["mean_pause_s"] = float(np.mean(pauses)) if pauses else 0.0
        nuclei = _syllable_nuclei(x, voiced, candidate)
        if voiced.any() and speech_seconds > 0:
            feats["articulation_rate_sps"] = nuclei / speech_seconds
            feats["speech_rate_sps"] = nuclei / span if span > 0 else 0.0

    return SpeechMeasures(
        duration_seconds=duration,
        speech_seconds=speech_seconds,
        voiced_seconds=voiced_seconds,
        speech_fraction=speech_fraction,
        snr_db=snr_db,
        clipping_fraction=clipping,
        f0_mean_hz=f0_mean_hz,
        features={k: feats[k] for k in FEATURE_NAMES if k in feats and math.isfinite(feats[k])},
    )


def _syllable_nuclei(x: np.ndarray, voiced: np.ndarray, speech: np.ndarray) -> int:
    """Count intensity peaks that stand 2 dB above their dips inside voiced speech."""
    starts = _frame_starts(x.shape[0])
    if starts.size < 3:
        return 0
    cs = np.concatenate(([0.0], np.cumsum(x.astype(np.float64) ** 2)))
    power = (cs[starts + WIN] - cs[starts]) / WIN
    intensity = 10.0 * np.log10(power + 1e-12)
    # 30 ms moving average: one peak per syllable, not per glottal burst.
    kernel = np.ones(3) / 3.0
    smooth = np.convolve(intensity, kernel, mode="same")
    if not speech.any():
        return 0
    floor = float(smooth[speech].max()) - 25.0
    peaks, _ = find_peaks(smooth, prominence=2.0, distance=6)
    near_voiced = np.convolve(voiced.astype(float), np.ones(5), mode="same") > 0
    keep = (smooth[peaks] >= floor) & near_voiced[peaks] & speech[peaks]
    return int(keep.sum())
