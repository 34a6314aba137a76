"""Sampling measurement, gap handling and the canonical 10 Hz signal every feature is computed on.

Why 10 Hz: the activity model is trained on 10 Hz recordings, and human activity lives below
5 Hz. Every input, whatever its rate, is band-limited to 4 Hz and brought to the same 10 Hz
grid, so that the model sees the same kind of signal from a 10 Hz watch and a 200 Hz phone.
All filtering uses scipy's zero-phase Butterworth filters (``sosfiltfilt``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import signal

CANONICAL_HZ = 10.0
#: Low-pass applied on the canonical grid (and, slightly higher, before resampling to it).
ANALYSIS_CUTOFF_HZ = 4.0
ANTI_ALIAS_CUTOFF_HZ = 4.5
#: Gravity is the part of the acceleration below this frequency.
GRAVITY_CUTOFF_HZ = 0.3
#: A spacing longer than this many median spacings (and at least ``MIN_GAP_SECONDS``) is a gap.
GAP_FACTOR = 3.0
MIN_GAP_SECONDS = 0.25
#: Stretches between gaps shorter than this are not analysed.
MIN_SEGMENT_SECONDS = 3.0
#: Accelerometers clip at ±2, 4, 8 or 16 g; below 1.5 g nothing counts as clipping.
MIN_SATURATION_MS2 = 15.0
STANDARD_GRAVITY = 9.80665


@dataclass(frozen=True, slots=True)
class Sampling:
    """What the timestamps say: rate, gaps and the stretches between gaps.

    ``segments`` holds ``(start, stop)`` index pairs (stop exclusive) of the stretches
    between gaps, in the decoded sample order.
    """

    rate_hz: float
    duration_s: float
    gap_count: int
    gap_seconds: float
    segments: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class CanonicalSegment:
    """One gap-free stretch on the 10 Hz grid, low-passed at 4 Hz.

    ``gravity``, ``dynamic``: shape (n, 3), m/s²; ``gyro``: shape (n, 3), rad/s, bias removed,
    or ``None``. ``dynamic`` is the acceleration minus its part below 0.3 Hz.
    """

    gravity: np.ndarray
    dynamic: np.ndarray
    gyro: np.ndarray | None


def measure_sampling(t: np.ndarray) -> Sampling:
    """Measure the rate (median spacing), the gaps and the gap-free stretches of ``t``.

    ``t`` must be strictly increasing seconds with at least two samples.
    """
    steps = np.diff(t)
    median_step = float(np.median(steps))
    threshold = max(GAP_FACTOR * median_step, MIN_GAP_SECONDS)
    gap_at = np.flatnonzero(steps > threshold)
    bounds = np.concatenate(([0], gap_at + 1, [t.size]))
    segments = tuple(
        (int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a
    )
    return Sampling(
        rate_hz=1.0 / median_step,
        duration_s=float(t[-1] - t[0]),
        gap_count=int(gap_at.size),
        gap_seconds=float(np.sum(steps[gap_at] - median_step)),
        segments=segments,
    )


def saturated_fraction(acc: np.ndarray) -> float:
    """Share of samples where an axis sits at its clipping value (a flat top at ≥ 1.5 g).

    An axis counts as clipped when at least three samples reach 99.9 % of its largest
    absolute value and that value is at least ``MIN_SATURATION_MS2``.
    """
    if acc.shape[0] == 0:
        return 0.0
    absolute = np.abs(acc)
    peak = absolute.max(axis=0)
    if peak.max() < MIN_SATURATION_MS2:
        return 0.0  # the usual case: no axis reaches a clipping range
    at_peak = absolute >= 0.999 * peak
    clipped_axes = (peak >= MIN_SATURATION_MS2) & (at_peak.sum(axis=0) >= 3)
    if not clipped_axes.any():
        return 0.0
    return float(np.mean(at_peak[:, clipped_axes].any(axis=1)))


@lru_cache(maxsize=64)
def _lowpass(order: int, cutoff_hz: float, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """A Butterworth low-pass as second-order sections, and their steady-state initial
    conditions (``sosfilt_zi``, which costs more than filtering a 30 s recording)."""
    sos: np.ndarray = signal.butter(order, cutoff_hz, btype="lowpass", fs=fs_hz, output="sos")
    zi: np.ndarray = signal.sosfilt_zi(sos)
    return np.ascontiguousarray(sos, dtype=np.float64), zi  # zi: (sections, 2)


def _sosfilt_rows_public(sos: np.ndarray, rows: np.ndarray, zi: np.ndarray) -> None:
    """What scipy's kernel does, through the public function: filter each row of ``rows``
    (channels, n) in place from the initial conditions ``zi`` (channels, sections, 2)."""
    rows[...] = signal.sosfilt(sos, rows, axis=1, zi=np.moveaxis(zi, 0, 1))[0]


try:  # scipy's compiled kernel behind ``sosfilt``, without its checks and axis moves
    from scipy.signal._sosfilt import _sosfilt as _sosfilt_rows
except ImportError:  # pragma: no cover - another scipy layout: the public function
    _sosfilt_rows = _sosfilt_rows_public


def _filtfilt_rows(filt: tuple[np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Zero-phase filtering of each row of ``x`` (channels, n): the arithmetic of
    ``scipy.signal.sosfiltfilt(sos, x, axis=1, padlen=...)`` with odd padding (equal to it
    bit for bit, tested), with padding that also fits short stretches.

    Rows, not columns, because scipy's kernel filters C-contiguous rows in place: called on
    them directly it skips ``sosfilt``'s validation, axis moves and copies (six filters per
    stretch; about a third of the motion analyser's filtering time). The initial conditions
    are computed once per filter (:func:`_lowpass`).
    """
    sos, zi = filt
    n = x.shape[1]
    edge = min(3 * (2 * sos.shape[0] + 1), n - 2)
    if n <= edge:
        raise ValueError(f"The length of the input vector x must be greater than padlen, {edge}")
    ext = np.empty((x.shape[0], n + 2 * max(edge, 0)))  # C-contiguous, filtered in place
    if edge > 0:  # odd extension, as scipy.signal's odd_ext
        ext[:, :edge] = 2 * x[:, :1] - x[:, edge:0:-1]
        ext[:, edge:-edge] = x
        ext[:, -edge:] = 2 * x[:, -1:] - x[:, -2 : -(edge + 2) : -1]
    else:
        ext[:] = x
    _sosfilt_rows(sos, ext, zi[None] * ext[:, :1, None])
    backward = ext[:, ::-1].copy()
    _sosfilt_rows(sos, backward, zi[None] * backward[:, :1, None])
    filtered: np.ndarray = backward[:, ::-1]
    return filtered[:, edge:-edge] if edge > 0 else filtered


def _filtfilt(filt: tuple[np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    """:func:`_filtfilt_rows` along axis 0 of ``x`` (n, channels): ``sosfiltfilt(sos, x,
    axis=0, padlen=...)``, bit for bit."""
    return _filtfilt_rows(filt, x.T).T


def _interp_rows(at: np.ndarray, t: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Each row of ``rows`` (channels, n), sampled at ``t``, linearly interpolated at ``at``."""
    out = np.empty((rows.shape[0], at.shape[0]))
    for k, row in enumerate(rows):
        out[k] = np.interp(at, t, row)
    return out


def to_canonical(
    t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None, rate_hz: float
) -> CanonicalSegment:
    """Bring one gap-free stretch to the 10 Hz grid and separate gravity.

    ``t``: (n,) seconds, increasing; ``acc``: (n, 3) m/s²; ``gyro``: (n, 3) rad/s or ``None``.
    The stretch must span at least ``MIN_SEGMENT_SECONDS``. Above 12.5 Hz the samples are
    first interpolated to a uniform grid at their own rate and low-passed at 4.5 Hz so that
    nothing aliases into the 10 Hz grid. The work runs on (channel, time) rows; the
    segment's arrays are (n, 3) views of them.
    """
    rows = acc.T if gyro is None else np.vstack((acc.T, gyro.T))
    times = t
    if rate_hz > 1.25 * CANONICAL_HZ:
        fs = float(round(rate_hz, 1))
        native = t[0] + np.arange(int((t[-1] - t[0]) * fs) + 1) / fs
        rows = _filtfilt_rows(_lowpass(4, ANTI_ALIAS_CUTOFF_HZ, fs), _interp_rows(native, t, rows))
        times = native
    grid = t[0] + np.arange(int(round((t[-1] - t[0]) * CANONICAL_HZ, 6)) + 1) / CANONICAL_HZ
    y = _filtfilt_rows(
        _lowpass(4, ANALYSIS_CUTOFF_HZ, CANONICAL_HZ), _interp_rows(grid, times, rows)
    )
    accel = y[:3]
    gravity = _filtfilt_rows(_lowpass(2, GRAVITY_CUTOFF_HZ, CANONICAL_HZ), accel)
    rotation = None
    if gyro is not None:
        rotation = (y[3:] - np.median(y[3:], axis=1, keepdims=True)).T
    return CanonicalSegment(gravity=gravity.T, dynamic=(accel - gravity).T, gyro=rotation)
