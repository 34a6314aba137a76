"""Which unit the acceleration was sent in, told from the size of gravity.

iOS Core Motion reports acceleration in g, Android in m/s². With gravity in the signal the
two cannot be confused: the slow part of the acceleration (here: one-second means) has a
magnitude of 1 in g and 9.81 in m/s², whatever the device does, because movement averages
out over a second while gravity does not. Without gravity (a "linear acceleration" or
"user acceleration" stream) there is nothing of known size to compare with: the data is
read as m/s² and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from mindsync.analysis.motion.signal import STANDARD_GRAVITY

AccelerationUnit = Literal["m/s2", "g"]
#: Gravity's magnitude may read ±15 % off (sensor calibration, movement within a second).
TOLERANCE = 0.15
#: In g, the one-second means must also be steady: (p90 - p10) / median below this.
#: Gravity-free "linear acceleration" has second means that swing around zero instead.
MAX_SPREAD_G = 0.3
#: Below this slow magnitude (m/s²) the client removed gravity.
GRAVITY_FREE_BELOW = 3.0


@dataclass(frozen=True, slots=True)
class UnitReading:
    """``unit`` (``None`` when it cannot be told), the factor to m/s², and why when unsure."""

    unit: AccelerationUnit | None
    factor: float
    note: str | None
    slow_magnitude: float


def detect_unit(acc: np.ndarray, rate_hz: float) -> UnitReading:
    """Read the unit of ``acc`` ((n, 3), as sent) from its one-second means.

    Promises: 'm/s2' when the median magnitude of the one-second means is 9.81 ± 15 %;
    'g' when it is 1 ± 15 % and steady (see ``MAX_SPREAD_G``), with factor 9.80665;
    otherwise ``None`` with factor 1 (the data is read as m/s²) and a note that says why.
    """
    n = acc.shape[0]
    block = max(1, min(n, int(round(rate_hz))))
    count = n // block
    means = acc[: count * block].reshape(count, block, 3).mean(axis=1)
    magnitude = np.linalg.norm(means, axis=1)
    median = float(np.median(magnitude))
    if abs(median - STANDARD_GRAVITY) <= TOLERANCE * STANDARD_GRAVITY:
        return UnitReading("m/s2", 1.0, None, median)
    if abs(median - 1.0) <= TOLERANCE:
        spread = float(np.subtract(*np.percentile(magnitude, (90, 10)))) / median
        if spread < MAX_SPREAD_G:
            return UnitReading("g", STANDARD_GRAVITY, None, median)
    if median < GRAVITY_FREE_BELOW:
        note = (
            "gravity was removed from the acceleration, so its unit cannot be told from "
            "gravity's size; it was read as m/s² (send g with gravity included, or convert)"
        )
    else:
        note = (
            f"the slow part of the acceleration has a magnitude of {median:.2f}, neither "
            "1 g nor 9.81 m/s²; it was read as m/s²"
        )
    return UnitReading(None, 1.0, note, median)
