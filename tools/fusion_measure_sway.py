"""Measure the body sway that tells a device on a person from one lying on a table.

    python tools/fusion_measure_sway.py [--hapt ~/.cache/mindsync-motion/hapt.npz]

Reads UCI HAPT as plain arrays (``hapt.npz``, written by ``tools/motion_build_data.py``:
``r{k}_user``, ``r{k}_acc`` in g, ``r{k}_gyro`` in rad/s, ``r{k}_label``, 50 Hz), runs the
first 10-20 s of every sitting, standing and lying run (>= 10 s) of the 21 UCI *training*
volunteers through the shipped motion analyser, and prints the percentiles of the two sway
features the fusion's fallback reads (``dynamic_acc_rms_ms2``, ``rotation_rms_rads``), next
to white sensor noise on a still phone. The limits in ``analysis/fusion/situation.py``
(``SWAY_ACC_MS2``, ``SWAY_GYRO_RADS``) sit between the two; see docs/scoring.md §2.2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mindsync.analysis.motion import MotionRecording, create_analyzer
from mindsync.core.config import Settings

TRAIN_USERS = {1, 3, 5, 6, 7, 8, 11, 14, 15, 16, 17, 19, 21, 22, 23, 25, 26, 27, 28, 29, 30}
STATIONARY = {4: "sitting", 5: "standing", 6: "lying"}
RATE_HZ = 50


def main() -> None:
    """Print the sway percentiles of stationary people and of a phone on a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path.home() / ".cache" / "mindsync-motion" / "hapt.npz"
    parser.add_argument("--hapt", type=Path, default=default)
    args = parser.parse_args()
    analyzer = create_analyzer(Settings(_env_file=None))
    analyzer.load()

    def sway(acc: np.ndarray, gyro: np.ndarray) -> tuple[float, float]:
        t = np.arange(acc.shape[0]) / RATE_HZ
        result = analyzer.analyze(analyzer.decode(MotionRecording(t, acc, gyro)))
        assert result.features is not None
        return result.features["dynamic_acc_rms_ms2"], result.features["rotation_rms_rads"]

    data = np.load(args.hapt)
    rows: list[tuple[str, float, float]] = []
    for key in sorted({k.split("_")[0] for k in data.files}):
        if int(data[f"{key}_user"]) not in TRAIN_USERS:
            continue
        acc, gyro, label = data[f"{key}_acc"] * 9.80665, data[f"{key}_gyro"], data[f"{key}_label"]
        edges = np.flatnonzero(np.diff(label)) + 1
        for a, b in zip(np.r_[0, edges], np.r_[edges, label.size], strict=True):
            name = STATIONARY.get(int(label[a]))
            if name is None or b - a < 10 * RATE_HZ:
                continue
            s = slice(a, a + min(b - a, 20 * RATE_HZ))
            rows.append((name, *sway(acc[s], gyro[s])))
    acc_sway = np.array([r[1] for r in rows])
    gyro_sway = np.array([r[2] for r in rows])
    pcts = (0, 5, 50, 95)
    print(f"{len(rows)} stationary stretches of training volunteers")  # noqa: T201
    print("  acc m/s2  min/p5/p50/p95", np.percentile(acc_sway, pcts).round(4))  # noqa: T201
    print("  gyro rad/s min/p5/p50/p95", np.percentile(gyro_sway, pcts).round(4))  # noqa: T201
    rng = np.random.default_rng(0)
    for noise in (0.005, 0.01, 0.02):
        acc = rng.normal(0.0, noise, (30 * RATE_HZ, 3))
        acc[:, 2] += 9.80665
        gyro = rng.normal(0.0, 0.002, acc.shape)
        print(f"  table, noise {noise} m/s2 per axis:", np.round(sway(acc, gyro), 4))  # noqa: T201


if __name__ == "__main__":
    main()
