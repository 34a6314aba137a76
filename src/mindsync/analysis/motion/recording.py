"""The framework-neutral raw motion input that the API hands to the motion analyser."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class MotionRecording:
    """Motion samples as given by the client, not yet validated.

    ``timestamps``: shape (N,), seconds (as sent: epoch or relative, possibly unsorted).
    ``acceleration``: shape (N, 3), m/s^2 or g (x, y, z), with or without gravity; the
    analyser tells the unit from gravity's size (see :mod:`~.units`).
    ``gyroscope``: shape (N, 3), rad/s, or ``None`` when the client sent none.
    Values may contain NaN/inf: the analyser's ``decode`` rejects them naming the index.
    """

    timestamps: np.ndarray
    acceleration: np.ndarray
    gyroscope: np.ndarray | None = None
