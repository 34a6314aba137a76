"""Latency of the motion analyser (decode + analyze, as the orchestrator times it).

    PYTHONPATH=src .venv/bin/python bench/bench_motion.py [--runs 300] [--json out.json]

The last two lines time what a server's CPU does for the motion part of an /analyze
request: validate the JSON body (the seed's list of samples, or the columnar form), build
the arrays, decode and analyse.

Inputs are real smart-watch recordings (tests/data/motion, BasicMotions TEST split) chained
to the wanted length, band-limited-resampled to the wanted rate, turned to a random
orientation with gravity added, as a phone would send them. Target on the 2-core
development machine: p50 <= 3 ms for 30 s at 50 Hz.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from scipy import signal
from scipy.spatial.transform import Rotation

from mindsync.analysis.motion import MotionRecording, create_analyzer
from mindsync.core.config import Settings

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "motion" / "BasicMotions_TEST.ts"
GRAVITY = np.array([0.0, 0.0, 9.80665])


def load_recordings() -> list[np.ndarray]:
    """The (6, 100) recordings of the .ts file, in file order."""
    out, in_data = [], False
    for line in DATA.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if in_data and line:
            out.append(np.array([[float(v) for v in d.split(",")] for d in line.split(":")[:-1]]))
        in_data = in_data or line.lower().startswith("@data")
    return out


def build(recordings: list[np.ndarray], seconds: int, rate: int, gyro: bool) -> MotionRecording:
    """``seconds`` of chained recordings at ``rate`` Hz with gravity, in a random orientation."""
    chained = np.concatenate([recordings[i % len(recordings)] for i in range(seconds // 10)], 1).T
    resampled = signal.resample_poly(chained, rate // 10, 1, axis=0) if rate > 10 else chained
    rotation = Rotation.random(random_state=0)
    acc = rotation.apply(resampled[:, :3]) + rotation.apply(GRAVITY)
    t = 1_732_000_000.0 + np.arange(resampled.shape[0]) / rate
    return MotionRecording(t, acc, rotation.apply(resampled[:, 3:]) if gyro else None)


def measure(runs: int, recording: MotionRecording) -> dict[str, float]:
    """p50/p95/mean of decode + analyze in milliseconds after a short warm-up."""
    analyzer = create_analyzer(Settings())
    analyzer.load()
    analyzer.warmup()
    for _ in range(20):
        analyzer.analyze(analyzer.decode(recording))
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        analyzer.analyze(analyzer.decode(recording))
        times.append((time.perf_counter() - started) * 1000)
    quantiles = statistics.quantiles(times, n=100)
    return {
        "p50_ms": round(statistics.median(times), 3),
        "p95_ms": round(quantiles[94], 3),
        "mean_ms": round(statistics.fmean(times), 3),
    }


def request_bodies(recording: MotionRecording) -> dict[str, bytes]:
    """The JSON body of an /analyze request with ``recording``, in the seed's list form and
    in the columnar form."""
    t, acc, gyro = recording.timestamps, recording.acceleration, recording.gyroscope
    assert gyro is not None
    samples = [
        {
            "timestamp": round(float(t[i]), 4),
            "acceleration": dict(zip("xyz", acc[i].round(5).tolist(), strict=True)),
            "gyroscope": dict(zip("xyz", gyro[i].round(5).tolist(), strict=True)),
        }
        for i in range(t.size)
    ]
    columns = {
        "timestamps": t.round(4).tolist(),
        "acceleration": {k: acc[:, i].round(5).tolist() for i, k in enumerate("xyz")},
        "gyroscope": {k: gyro[:, i].round(5).tolist() for i, k in enumerate("xyz")},
    }
    return {
        form: json.dumps({"user_id": "bench", "motion_data": data}).encode()
        for form, data in (("list", samples), ("columnar", columns))
    }


def measure_request(runs: int, body: bytes) -> dict[str, float]:
    """p50/p95/mean of what the server's CPU does for the motion part of a request: parse
    and validate the JSON body, build the arrays, decode and analyse (no HTTP, no database)."""
    from mindsync.api.schemas import AnalysisRequest
    from mindsync.api.services import motion_recording

    analyzer = create_analyzer(Settings())
    analyzer.load()
    analyzer.warmup()

    def once() -> None:
        request = AnalysisRequest.model_validate_json(body)
        analyzer.analyze(analyzer.decode(motion_recording(request.motion_data)))

    for _ in range(10):
        once()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        once()
        times.append((time.perf_counter() - started) * 1000)
    quantiles = statistics.quantiles(times, n=100)
    return {
        "p50_ms": round(statistics.median(times), 3),
        "p95_ms": round(quantiles[94], 3),
        "mean_ms": round(statistics.fmean(times), 3),
    }


def main() -> None:
    """Run every scenario and print (and optionally save) the figures."""
    parser = argparse.ArgumentParser(description="motion analyser latency")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    walking = [
        r for r, label in zip(load_recordings(), _labels(), strict=True) if label == "Walking"
    ]
    scenarios = [
        ("30 s at 50 Hz, acc + gyro", 30, 50, True),
        ("30 s at 50 Hz, acc only", 30, 50, False),
        ("30 s at 200 Hz, acc + gyro", 30, 200, True),
        ("10 min at 100 Hz (60,000 samples)", 600, 100, True),
    ]
    results = {}
    for name, seconds, rate, gyro in scenarios:
        runs = args.runs if seconds <= 30 else max(20, args.runs // 10)
        results[name] = measure(runs, build(walking, seconds, rate, gyro))
        figures = results[name]
        print(f"{name:<36} p50 {figures['p50_ms']:8.3f} ms   p95 {figures['p95_ms']:8.3f} ms")
    bodies = request_bodies(build(walking, 30, 50, True))
    for form, body in bodies.items():
        name = f"request body, 30 s at 50 Hz, {form} form ({len(body) // 1024} KB)"
        results[name] = measure_request(max(20, args.runs // 3), body)
        figures = results[name]
        print(f"{name:<36} p50 {figures['p50_ms']:8.3f} ms   p95 {figures['p95_ms']:8.3f} ms")
    if args.json:
        payload = {"machine": platform.processor() or platform.machine(), "results": results}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def _labels() -> list[str]:
    labels, in_data = [], False
    for line in DATA.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if in_data and line:
            labels.append(line.rsplit(":", 1)[1])
        in_data = in_data or line.lower().startswith("@data")
    return labels


if __name__ == "__main__":
    main()
