"""Orientation-free features of canonical 10 Hz motion, shared by inference and training.

Every feature is invariant to how the device is held: it uses vector magnitudes, the
power summed over the three axes (a rotation of the axes leaves both unchanged), or
projections on the device's own gravity direction (vertical and horizontal parts of the
movement, and how much that direction drifts). Levels are log-transformed so that a quieter
or louder device shifts features instead of stretching them.
"""

from __future__ import annotations

import math

import numpy as np

from mindsync.analysis.motion.signal import CANONICAL_HZ, CanonicalSegment

WINDOW_SECONDS = 10.0
HOP_SECONDS = 5.0
SECOND = int(CANONICAL_HZ)
_NFFT = 128
_FREQS = np.fft.rfftfreq(_NFFT, 1.0 / CANONICAL_HZ)
_BAND = (_FREQS >= 0.3) & (_FREQS <= 4.5)
_BAND_EDGES = ((0.3, 1.2), (1.2, 2.2), (2.2, 3.3), (3.3, 4.5))
_BAND_MASKS = tuple((_FREQS[_BAND] >= lo) & (_FREQS[_BAND] < hi) for lo, hi in _BAND_EDGES)
_MIN_LAG, _MAX_LAG = 3, 20  # 0.3 s to 2 s: step and stride periods of walking and running
_ACC_EPS = 0.01  # m/s²
_GYRO_EPS = 0.005  # rad/s

ACC_FEATURES: tuple[str, ...] = (
    "log_acc_rms",
    "log_acc_p50",
    "log_acc_p90",
    "log_jerk_rms",
    "dominant_hz",
    "spectral_entropy",
    "band_0_3_1_2",
    "band_1_2_2_2",
    "band_2_2_3_3",
    "band_3_3_4_5",
    "periodicity",
)
#: Features read along the gravity direction; filled with neutral values and
#: ``gravity_known = 0`` when the client removed gravity (then there is no vertical).
GRAVITY_FEATURES: tuple[str, ...] = (
    "gravity_known",
    "log_vert_rms",
    "log_horiz_rms",
    "vert_share",
    "vert_skew",
    "log_tilt_deg",
)
GYRO_FEATURES: tuple[str, ...] = ("log_gyro_rms", "log_gyro_p90")
ALL_FEATURES: tuple[str, ...] = ACC_FEATURES + GRAVITY_FEATURES + GYRO_FEATURES
_TILT_EPS = 0.01  # degrees


def percentiles(values: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """``np.percentile(values, qs, axis=-1)`` (its default linear method) for finite
    ``values``, bit for bit (tested), one array per percentile.

    One sort and two rows of arithmetic: ``np.percentile`` costs about seven times as much
    on the analyser's (windows, 100) arrays, most of it in its generality.
    """
    ordered = np.sort(values, axis=-1)
    m = ordered.shape[-1]
    out = []
    for q in qs:
        virtual = (m - 1) * (q / 100)  # numpy's virtual index for the linear method
        below = math.floor(virtual)
        if below >= m - 1:
            out.append(ordered[..., -1].copy())
            continue
        gamma = virtual - below
        low, high = ordered[..., below], ordered[..., below + 1]
        step = high - low
        # numpy's _lerp: from the nearer end, so that gamma 1 gives the upper value exactly
        out.append(high - step * (1 - gamma) if gamma >= 0.5 else low + step * gamma)
    return out


def windows(segment: np.ndarray) -> np.ndarray:
    """Frame an (n, c) stretch into (w, m, c) windows of 10 s with 5 s hop.

    A stretch shorter than 10 s is one window of its own length; the last window is
    aligned to the end so that no sample is left out.
    """
    n = segment.shape[0]
    size = int(WINDOW_SECONDS * CANONICAL_HZ)
    if n <= size:
        return segment[None]
    hop = int(HOP_SECONDS * CANONICAL_HZ)
    starts = list(range(0, n - size + 1, hop))
    if starts[-1] != n - size:
        starts.append(n - size)
    index = np.asarray(starts)[:, None] + np.arange(size)[None, :]
    return segment[index]


def _autocorrelation(centred: np.ndarray) -> np.ndarray:
    """Unnormalised autocorrelation summed over axes, (w, 2 * _NFFT), of (w, m, 3) windows."""
    full = np.fft.rfft(centred, n=2 * _NFFT, axis=1)
    return np.fft.irfft(np.sum(full.real**2 + full.imag**2, axis=2), n=2 * _NFFT, axis=1)


def step_period(segments: list[CanonicalSegment], *, running: bool) -> float | None:
    """Step period in seconds from the mean autocorrelation of 10 s windows, or ``None``.

    The strongest autocorrelation peak between 0.3 s and 2 s is either a step or a stride
    (two steps: a wrist or a trouser pocket repeats once per stride). It is read as a step
    when it falls in the step range of the activity (running 0.28–0.5 s, walking
    0.4–0.8 s), as a stride when half of it does, and gives ``None`` when neither does or
    the peak is weak (< 0.3 of the zero-lag value).
    """
    curves = []
    for segment in segments:
        frames = windows(segment.dynamic)
        if frames.shape[1] < 2 * _MAX_LAG:
            continue
        centred = frames - frames.mean(axis=1, keepdims=True)
        auto = _autocorrelation(centred)
        curves.append(auto[:, : _MAX_LAG + 2] / (auto[:, :1] + 1e-12))
    if not curves:
        return None
    curve = np.concatenate(curves).mean(axis=0)
    lag = _MIN_LAG + int(np.argmax(curve[_MIN_LAG : _MAX_LAG + 1]))
    if curve[lag] < 0.3:
        return None
    left, centre, right = curve[lag - 1], curve[lag], curve[lag + 1]
    denominator = left - 2 * centre + right
    offset = 0.5 * (left - right) / denominator if denominator < 0 else 0.0
    period = (lag + float(np.clip(offset, -0.5, 0.5))) / CANONICAL_HZ
    low, high = (0.28, 0.5) if running else (0.4, 0.8)
    if low <= period <= high:
        return period
    if low <= period / 2 <= high:
        return period / 2
    return None


def gravity_features(dynamic: np.ndarray, gravity: np.ndarray | None) -> list[np.ndarray]:
    """The ``GRAVITY_FEATURES`` columns of (w, m, 3) windows; neutral when ``gravity`` is None.

    Vertical is the window's mean gravity direction: the movement along it (a step's
    bounce, a stair's lift) and across it, the skewness of the vertical part (impacts of
    going down), and the RMS angle (degrees) by which gravity's direction drifts within the
    window: a person sways and breathes (tenths of a degree to degrees), a device lying on
    a desk does not (hundredths).
    """
    w = dynamic.shape[0]
    total = np.sqrt(np.mean(np.einsum("wmc,wmc->wm", dynamic, dynamic), axis=1))
    if gravity is None:
        third = total / np.sqrt(3.0)
        return [
            np.zeros(w),
            np.log(third + _ACC_EPS),
            np.log(np.sqrt(2.0) * third + _ACC_EPS),
            np.full(w, 1.0 / 3.0),
            np.zeros(w),
            np.zeros(w),
        ]
    norm = np.linalg.norm(gravity, axis=2, keepdims=True)
    unit = gravity / np.maximum(norm, 1e-9)
    mean_dir = unit.mean(axis=1)
    mean_dir /= np.maximum(np.linalg.norm(mean_dir, axis=1, keepdims=True), 1e-9)
    vertical = np.einsum("wmc,wc->wm", dynamic, mean_dir)
    vert_rms = np.sqrt(np.mean(vertical**2, axis=1))
    horiz_rms = np.sqrt(np.maximum(total**2 - vert_rms**2, 0.0))
    centred = vertical - vertical.mean(axis=1, keepdims=True)
    spread = np.sqrt(np.mean(centred**2, axis=1))
    skew = np.mean(centred**3, axis=1) / np.maximum(spread, 1e-6) ** 3
    cosines = np.clip(np.einsum("wmc,wc->wm", unit, mean_dir), -1.0, 1.0)
    tilt = np.degrees(np.sqrt(np.mean(np.arccos(cosines) ** 2, axis=1)))
    return [
        np.ones(w),
        np.log(vert_rms + _ACC_EPS),
        np.log(horiz_rms + _ACC_EPS),
        vert_rms**2 / np.maximum(total**2, 1e-12),
        np.clip(skew, -5.0, 5.0),
        np.log(tilt + _TILT_EPS),
    ]


def window_features(
    dynamic: np.ndarray, gyro: np.ndarray | None, gravity: np.ndarray | None = None
) -> np.ndarray:
    """Features of a batch of windows, shape (w, len(ALL_FEATURES)).

    ``dynamic``: (w, m, 3) gravity-free acceleration, m/s², on the 10 Hz grid, m <= 128.
    ``gyro``: (w, m, 3) rad/s or ``None`` (then the gyroscope columns are zero and a model
    variant without them must be used). ``gravity``: (w, m, 3) m/s², the slow part of an
    input that included gravity, or ``None`` when it did not (see :func:`gravity_features`).
    """
    w, m, _ = dynamic.shape
    magnitude = np.sqrt(np.einsum("wmc,wmc->wm", dynamic, dynamic))
    acc_rms = np.sqrt(np.mean(magnitude**2, axis=1))
    p50, p90 = percentiles(magnitude, (50, 90))
    jerk = np.diff(dynamic, axis=1) * CANONICAL_HZ
    jerk_rms = np.sqrt(np.mean(np.einsum("wmc,wmc->wm", jerk, jerk), axis=1))

    centred = dynamic - dynamic.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred * np.hanning(m)[None, :, None], n=_NFFT, axis=1)
    power = np.sum(spectrum.real**2 + spectrum.imag**2, axis=2)[:, _BAND]
    total = power.sum(axis=1) + 1e-12
    share = power / total[:, None]
    dominant = _FREQS[_BAND][np.argmax(power, axis=1)]
    entropy = -np.sum(share * np.log(share + 1e-12), axis=1) / np.log(share.shape[1])
    bands = [share[:, mask].sum(axis=1) for mask in _BAND_MASKS]

    auto = _autocorrelation(centred)
    max_lag = min(_MAX_LAG, m - 2)
    if max_lag > _MIN_LAG:
        periodicity = np.max(auto[:, _MIN_LAG : max_lag + 1], axis=1) / (auto[:, 0] + 1e-12)
    else:
        periodicity = np.zeros(w)

    columns = [
        np.log(acc_rms + _ACC_EPS),
        np.log(p50 + _ACC_EPS),
        np.log(p90 + _ACC_EPS),
        np.log(jerk_rms + _ACC_EPS),
        dominant,
        entropy,
        *bands,
        np.clip(periodicity, -1.0, 1.0),
        *gravity_features(dynamic, gravity),
    ]
    if gyro is not None:
        rate = np.sqrt(np.einsum("wmc,wmc->wm", gyro, gyro))
        columns.append(np.log(np.sqrt(np.mean(rate**2, axis=1)) + _GYRO_EPS))
        columns.append(np.log(percentiles(rate, (90,))[0] + _GYRO_EPS))
    else:
        columns += [np.zeros(w), np.zeros(w)]
    return np.column_stack(columns)


def segment_features(
    segment: CanonicalSegment, *, use_gyro: bool, use_gravity: bool = False
) -> np.ndarray:
    """Window features of one canonical stretch (see :func:`window_features`).

    ``use_gravity``: the input included gravity, so its slow part gives the vertical.
    """
    gyro = windows(segment.gyro) if use_gyro and segment.gyro is not None else None
    gravity = windows(segment.gravity) if use_gravity else None
    return window_features(windows(segment.dynamic), gyro, gravity)


def second_levels(segment: CanonicalSegment) -> tuple[np.ndarray, np.ndarray | None]:
    """RMS dynamic acceleration (m/s²) and RMS rotation (rad/s) of each whole second."""
    n = (segment.dynamic.shape[0] // SECOND) * SECOND
    if n == 0:
        return np.empty(0), None
    acc = segment.dynamic[:n].reshape(-1, SECOND, 3)
    acc_level = np.sqrt(np.mean(np.sum(acc**2, axis=2), axis=1))
    gyro_level = None
    if segment.gyro is not None:
        rot = segment.gyro[:n].reshape(-1, SECOND, 3)
        gyro_level = np.sqrt(np.mean(np.sum(rot**2, axis=2), axis=1))
    return acc_level, gyro_level
