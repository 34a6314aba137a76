"""Validation and normalisation of raw motion samples (the cheap part that may refuse input).

Promises of :func:`decode_recording`:

* every value is finite and physically plausible, otherwise :class:`InputError` naming
  ``motion_data[<index as sent>]``;
* the sample count and the duration stay within the configured limits, otherwise
  :class:`PayloadTooLarge` naming the setting and its value;
* timestamps come back in seconds from the first sample, strictly increasing; samples that
  share a timestamp are merged into their mean.

Timestamp units are read from the median spacing of distinct timestamps ``d`` (as sent):
``d <= 0.5`` seconds; ``0.5 < d <= 500`` milliseconds; ``500 < d <= 5e5`` microseconds;
``5e5 < d <= 5e9`` nanoseconds (Android ``SensorEvent.timestamp``); anything larger is
kept as seconds (and then fails the minimum sampling rate as "no signal"). For sampling
rates between 2 Hz and 2 kHz these ranges cannot be confused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from mindsync.analysis.errors import InputError, PayloadTooLarge
from mindsync.analysis.motion.recording import MotionRecording

FIELD = "motion_data"
#: Largest plausible acceleration on any axis, m/s² (about 100 g; phones clip at 16 g).
MAX_ABS_ACCELERATION = 1000.0
#: Largest plausible angular rate on any axis, rad/s (about 5,700 °/s; sensors clip at 4,000).
MAX_ABS_ANGULAR_RATE = 100.0

TimeUnit = Literal["s", "ms", "us", "ns"]
# (largest median spacing as sent, unit, factor to seconds), checked in order
_UNIT_RULES: tuple[tuple[float, TimeUnit, float], ...] = (
    (0.5, "s", 1.0),
    (500.0, "ms", 1e-3),
    (5e5, "us", 1e-6),
    (5e9, "ns", 1e-9),
)


@dataclass(frozen=True, slots=True)
class DecodedMotion:
    """Validated motion samples on a strictly increasing time axis.

    ``t``: shape (n,), seconds from the first sample, strictly increasing.
    ``acc``: shape (n, 3), as sent (m/s² or g: the analyser reads the unit from gravity).
    ``gyro``: shape (n, 3), rad/s, or ``None``.
    ``samples_received`` counts samples as sent, before duplicates were merged.
    """

    t: np.ndarray
    acc: np.ndarray
    gyro: np.ndarray | None
    samples_received: int
    duplicates_merged: int
    time_unit: TimeUnit


def _as_array(value: Any, *, name: str, shape_tail: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{FIELD}: {name} must be numbers", field=FIELD) from None
    if arr.ndim != 1 + len(shape_tail) or arr.shape[1:] != shape_tail:
        raise InputError(
            f"{FIELD}: {name} must have shape (N{', 3' if shape_tail else ''}), got {arr.shape}",
            field=FIELD,
        )
    return arr


def _first_bad_index(mask: np.ndarray) -> int | None:
    if not mask.any():
        return None
    return int(np.argmax(mask))


def _check_values(t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None) -> None:
    """Raise InputError naming the first sample (as sent) with a non-finite or absurd value."""
    problems: list[tuple[int, str]] = []
    index = _first_bad_index(~np.isfinite(t))
    if index is not None:
        problems.append((index, "timestamp is not a finite number"))
    index = _first_bad_index(~np.isfinite(acc).all(axis=1))
    if index is not None:
        problems.append((index, "acceleration is not a finite number"))
    else:
        index = _first_bad_index((np.abs(acc) > MAX_ABS_ACCELERATION).any(axis=1))
        if index is not None:
            problems.append(
                (
                    index,
                    f"acceleration exceeds the plausible limit of {MAX_ABS_ACCELERATION:g} m/s² "
                    "on an axis (units must be m/s² or g)",
                )
            )
    if gyro is not None:
        index = _first_bad_index(~np.isfinite(gyro).all(axis=1))
        if index is not None:
            problems.append((index, "gyroscope is not a finite number"))
        else:
            index = _first_bad_index((np.abs(gyro) > MAX_ABS_ANGULAR_RATE).any(axis=1))
            if index is not None:
                problems.append(
                    (
                        index,
                        f"gyroscope exceeds the plausible limit of {MAX_ABS_ANGULAR_RATE:g} rad/s "
                        "on an axis (units must be rad/s)",
                    )
                )
    if problems:
        index, message = min(problems)
        field = f"{FIELD}[{index}]"
        raise InputError(f"{field}: {message}", field=field)


def _time_unit(sorted_t: np.ndarray) -> tuple[TimeUnit, float]:
    """The unit of sorted timestamps, from the median spacing of distinct values."""
    steps = np.diff(sorted_t)
    steps = steps[steps > 0]
    if steps.size == 0:
        return "s", 1.0
    median_step = float(np.median(steps))
    for limit, unit, factor in _UNIT_RULES:
        if median_step <= limit:
            return unit, factor
    return "s", 1.0


def decode_recording(raw: Any, *, max_samples: int, max_seconds: float) -> DecodedMotion:
    """Validate a :class:`MotionRecording` and return sorted, merged samples in seconds.

    Raises :class:`InputError` (bad shapes, non-finite or absurd values, naming the sample
    index as sent) or :class:`PayloadTooLarge` (``max_samples``/``max_seconds``).
    """
    if not isinstance(raw, MotionRecording):
        raise InputError(f"{FIELD} must be a list of motion samples", field=FIELD)
    t = _as_array(raw.timestamps, name="timestamps", shape_tail=())
    n = int(t.shape[0])
    if n > max_samples:
        raise PayloadTooLarge(
            f"{FIELD} has {n} samples; the limit is {max_samples} (motion_max_samples)",
            field=FIELD,
            limit=max_samples,
        )
    acc = _as_array(raw.acceleration, name="acceleration", shape_tail=(3,))
    gyro = (
        None
        if raw.gyroscope is None
        else _as_array(raw.gyroscope, name="gyroscope", shape_tail=(3,))
    )
    if acc.shape[0] != n or (gyro is not None and gyro.shape[0] != n):
        raise InputError(
            f"{FIELD}: timestamps, acceleration and gyroscope must have one entry per sample",
            field=FIELD,
        )
    _check_values(t, acc, gyro)

    if n > 1 and not bool(np.all(t[1:] > t[:-1])):
        order = np.argsort(t, kind="stable")
        t = t[order]
        acc = acc[order]
        gyro = gyro[order] if gyro is not None else None
    unit, factor = _time_unit(t)
    duplicates = 0
    if n > 1:
        starts = np.flatnonzero(np.concatenate(([True], t[1:] != t[:-1])))
        duplicates = n - int(starts.size)
        if duplicates:
            counts = np.diff(np.append(starts, n)).astype(np.float64)[:, None]
            t = t[starts]
            acc = np.add.reduceat(acc, starts, axis=0) / counts
            gyro = np.add.reduceat(gyro, starts, axis=0) / counts if gyro is not None else None
    seconds = (t - t[0]) * factor if n else t
    duration = float(seconds[-1]) if n else 0.0
    if duration > max_seconds:
        raise PayloadTooLarge(
            f"{FIELD} spans {duration:.1f} s; the limit is {max_seconds:g} s (motion_max_seconds)",
            field=FIELD,
            limit=max_seconds,
        )
    return DecodedMotion(
        t=seconds,
        acc=acc,
        gyro=gyro,
        samples_received=n,
        duplicates_merged=duplicates,
        time_unit=unit,
    )
