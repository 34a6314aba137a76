"""Real IMU recordings (BasicMotions TEST split, held out from training) and a loaded analyser."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from mindsync.analysis.motion import MotionAnalyzer, MotionRecording, create_analyzer
from mindsync.core.config import Settings

DATA = Path(__file__).resolve().parents[2] / "data" / "motion"
LABELS = {"Standing": "still", "Walking": "walking", "Running": "running", "Badminton": "vigorous"}


@dataclass(frozen=True)
class Recording:
    """One real 10 s, 10 Hz smart-watch recording: acc (100, 3) m/s², gyro (100, 3) rad/s."""

    label: str
    acc: np.ndarray
    gyro: np.ndarray

    def at(self, rate_hz: int = 10, *, start: float = 0.0, gyro: bool = True) -> MotionRecording:
        """The recording band-limited-resampled to ``rate_hz`` (a multiple of 10 Hz)."""
        up = rate_hz // 10
        acc = signal.resample_poly(self.acc, up, 1, axis=0) if up > 1 else self.acc
        rot = signal.resample_poly(self.gyro, up, 1, axis=0) if up > 1 else self.gyro
        t = start + np.arange(acc.shape[0]) / rate_hz
        return MotionRecording(timestamps=t, acceleration=acc, gyroscope=rot if gyro else None)


def _parse_ts(path: Path) -> list[Recording]:
    out, in_data = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("@data"):
            in_data = True
            continue
        if in_data:
            *dims, label = line.split(":")
            values = np.array([[float(v) for v in d.split(",")] for d in dims])
            out.append(Recording(LABELS[label], values[:3].T.copy(), values[3:].T.copy()))
    return out


@pytest.fixture(scope="session")
def recordings() -> list[Recording]:
    """The 40 held-out BasicMotions recordings, 10 of each class."""
    return _parse_ts(DATA / "BasicMotions_TEST.ts")


@pytest.fixture(scope="session")
def analyzer() -> MotionAnalyzer:
    """The shipped motion analyser, loaded and warmed up once."""
    instance = create_analyzer(Settings())
    instance.load()
    instance.warmup()
    return instance
