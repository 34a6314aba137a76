"""From decoded samples to the window features the model reads (shared with training).

Steps: measure the sampling (rate, gaps), refuse what cannot be analysed (each refusal has
a stable ``reason_code``), read the acceleration unit and convert g to m/s², bring each
gap-free stretch to the canonical 10 Hz grid, tell whether gravity is included, and compute
the orientation-free window features. ``tools/motion_train.py`` calls :func:`extract` on
its augmented recordings, so the model learns from exactly what it will see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mindsync.analysis.motion.decode import DecodedMotion
from mindsync.analysis.motion.features import segment_features
from mindsync.analysis.motion.signal import (
    MIN_SEGMENT_SECONDS,
    STANDARD_GRAVITY,
    CanonicalSegment,
    Sampling,
    measure_sampling,
    to_canonical,
)
from mindsync.analysis.motion.units import UnitReading, detect_unit

MIN_RATE_HZ = 4.0


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the samples hold nothing to analyse: ``code`` is the result's ``reason_code``."""

    code: str
    reason: str
    quality: float
    sampling: Sampling | None


@dataclass(frozen=True, slots=True)
class Extraction:
    """Everything the model and the readable statistics need.

    ``usable``: (start, stop) index pairs of the analysed stretches; ``segments``: their
    canonical 10 Hz form (m/s²); ``windows``: (w, len(ALL_FEATURES)) window features;
    ``acc``: the acceleration converted to m/s², shape (n, 3). ``has_gyroscope``: a
    gyroscope stream was used (absent, or constant and therefore ignored, gives False).
    """

    sampling: Sampling
    usable: list[tuple[int, int]]
    segments: list[CanonicalSegment]
    unit: UnitReading
    gravity_included: bool | None
    windows: np.ndarray
    acc: np.ndarray
    has_gyroscope: bool


def gravity_included(segments: list[CanonicalSegment]) -> bool | None:
    """True when the slow part of the acceleration has Earth's magnitude (±15 %); False when
    it is near zero (< 3 m/s²); None in between (ambiguous)."""
    gravity = np.concatenate([s.gravity for s in segments])
    median = float(np.median(np.linalg.norm(gravity, axis=1)))
    if abs(median - STANDARD_GRAVITY) <= 0.15 * STANDARD_GRAVITY:
        return True
    if median < 3.0:
        return False
    return None


#: Human movement measured in m/s² and rad/s: dynamic acceleration RMS over rotation RMS of
#: 10 s windows that rotate (> 0.3 rad/s) lies between 0.8 and 7 (1st-99th percentiles over
#: HAPT training volunteers and BasicMotions TRAIN); the same movement in g gives a tenth.
#: Below 0.75 (under the 1st percentile) the data is flagged as probably g.
HINT_MIN_ROTATION_RADS = 0.3
HINT_G_BELOW_RATIO = 0.75


def _hint_unit(unit: UnitReading, segments: list[CanonicalSegment]) -> UnitReading:
    """For gravity-free input with a gyroscope: say when the movement is too small for its
    rotation to be m/s² (it is then probably g). Nothing is converted: a phone turned in
    the hand also rotates much while moving little."""
    dynamic = np.concatenate([s.dynamic for s in segments])
    rotation = np.concatenate([s.gyro for s in segments if s.gyro is not None])
    acc_rms = float(np.sqrt(np.mean(np.sum(dynamic**2, axis=1))))
    gyro_rms = float(np.sqrt(np.mean(np.sum(rotation**2, axis=1))))
    if gyro_rms < HINT_MIN_ROTATION_RADS or acc_rms / gyro_rms >= HINT_G_BELOW_RATIO:
        return unit
    note = (
        f"{unit.note}; the movement is small for its rotation ({acc_rms / gyro_rms:.2f} "
        "m/s² per rad/s, where human movement in m/s² gives 0.8-7), which suggests g"
    )
    return UnitReading(None, 1.0, note, unit.slow_magnitude)


def extract(data: DecodedMotion) -> Extraction | Refusal:
    """The analysable content of ``data``, or the reason there is none."""
    if data.t.size < 2:
        return Refusal("too_few_samples", "fewer than two distinct samples", 0.0, None)
    sampling = measure_sampling(data.t)
    if sampling.rate_hz < MIN_RATE_HZ:
        return Refusal(
            "rate_too_low",
            f"sampling rate {sampling.rate_hz:.2f} Hz is below {MIN_RATE_HZ:g} Hz",
            0.0,
            sampling,
        )
    usable = [
        (a, b) for a, b in sampling.segments if data.t[b - 1] - data.t[a] >= MIN_SEGMENT_SECONDS
    ]
    if not usable:
        short = sampling.duration_s < MIN_SEGMENT_SECONDS
        return Refusal(
            "too_short" if short else "gaps",
            f"no stretch of at least {MIN_SEGMENT_SECONDS:g} s without gaps "
            f"(recording spans {sampling.duration_s:.1f} s"
            + (")" if short else f", cut by {sampling.gap_count} gaps)"),
            0.1,
            sampling,
        )
    unit = detect_unit(data.acc, sampling.rate_hz)
    acc = data.acc * unit.factor if unit.factor != 1.0 else data.acc
    gyro = data.gyro
    if gyro is not None and not bool(np.any(np.ptp(gyro, axis=0) > 0)):
        # A real gyroscope always flickers by at least one quantisation step; a constant
        # stream (zeros sent by a client without one) would read as "no rotation at all"
        # and make a person look like a device on a desk.
        gyro = None
    segments = [
        to_canonical(data.t[a:b], acc[a:b], None if gyro is None else gyro[a:b], sampling.rate_hz)
        for a, b in usable
    ]
    included = gravity_included(segments)
    if unit.unit is None and included is False and gyro is not None:
        unit = _hint_unit(unit, segments)
    use_gyro = gyro is not None
    window_feats = np.vstack(
        [segment_features(s, use_gyro=use_gyro, use_gravity=bool(included)) for s in segments]
    )
    return Extraction(sampling, usable, segments, unit, included, window_feats, acc, use_gyro)
