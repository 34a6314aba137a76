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
    return sos, zi[:, :, None]  # (sections, 2, 1): broadcast over the columns of x


def _filtfilt(filt: tuple[np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Zero-phase filtering along axis 0 with padding that also fits short stretches.

    The same arithmetic as ``scipy.signal.sosfiltfilt(sos, x, axis=0, padlen=...)`` with
    odd padding (equal to it bit for bit, tested), with the initial conditions computed
    once per filter instead of on every call.
    """
    sos, zi = filt
    edge = min(3 * (2 * sos.shape[0] + 1), x.shape[0] - 2)
    if x.shape[0] <= edge:
        raise ValueError(f"The length of the input vector x must be greater than padlen, {edge}")
    ext = x
    if edge > 0:  # odd extension, as scipy.signal's odd_ext
        ext = np.concatenate(
            (2 * x[:1] - x[edge:0:-1], x, 2 * x[-1:] - x[-2 : -(edge + 2) : -1]), axis=0
        )
    y, _ = signal.sosfilt(sos, ext, axis=0, zi=zi * ext[:1])
    y, _ = signal.sosfilt(sos, y[::-1], axis=0, zi=zi * y[-1:])
    filtered: np.ndarray = y[::-1]
    return filtered[edge:-edge] if edge > 0 else filtered


def to_canonical(
    t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None, rate_hz: float
) -> CanonicalSegment:
    """Bring one gap-free stretch to the 10 Hz grid and separate gravity.

    ``t``: (n,) seconds, increasing; ``acc``: (n, 3) m/s²; ``gyro``: (n, 3) rad/s or ``None``.
    The stretch must span at least ``MIN_SEGMENT_SECONDS``. Above 12.5 Hz the samples are
    first interpolated to a uniform grid at their own rate and low-passed at 4.5 Hz so that
    nothing aliases into the 10 Hz grid.
    """
    x = acc if gyro is None else np.hstack((acc, gyro))
    times = t
    if rate_hz > 1.25 * CANONICAL_HZ:
        fs = float(round(rate_hz, 1))
        native = t[0] + np.arange(int((t[-1] - t[0]) * fs) + 1) / fs
        x = np.column_stack([np.interp(native, t, x[:, k]) for k in range(x.shape[1])])
        x = _filtfilt(_lowpass(4, ANTI_ALIAS_CUTOFF_HZ, fs), x)
        times = native
    grid = t[0] + np.arange(int(round((t[-1] - t[0]) * CANONICAL_HZ, 6)) + 1) / CANONICAL_HZ
    y = np.column_stack([np.interp(grid, times, x[:, k]) for k in range(x.shape[1])])
    y = _filtfilt(_lowpass(4, ANALYSIS_CUTOFF_HZ, CANONICAL_HZ), y)
    accel = y[:, :3]
    gravity = _filtfilt(_lowpass(2, GRAVITY_CUTOFF_HZ, CANONICAL_HZ), accel)
    rotation = None
    if gyro is not None:
        rotation = y[:, 3:] - np.median(y[:, 3:], axis=0)
    return CanonicalSegment(gravity=gravity, dynamic=accel - gravity, gyro=rotation)
