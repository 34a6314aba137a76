"""Benchmark of the voice analyser: base64 payload -> decode -> VAD -> features -> score.

Usage (from the repository root)::

    PYTHONPATH=src:. .venv/bin/python bench/bench_voice.py [--runs 200] [--json out.json]

The clip is 5.0 s of real read speech (LibriVox, from the pocketsphinx sdist, shipped in
tests/data/voice) encoded as WebM/Opus mono 48 kHz as Chrome's MediaRecorder does, plus the
other accepted formats for comparison. Prints wall-clock p50/p95 and the CPU time p50 of
the calling thread per format, in milliseconds (on a shared machine the CPU figure is the
steadier one).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from tests.analysis.voice.voice_audio import b64, encode, load

from mindsync.analysis.voice import create_analyzer
from mindsync.analysis.voice.decode import SAMPLE_RATE
from mindsync.core.config import Settings

FORMATS = ("webm_opus", "webm_opus_live", "ogg_opus", "mp4_aac", "mp3", "wav_s16", "flac")


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``."""
    return float(np.percentile(np.asarray(values), q))


def main() -> int:
    """Run the benchmark; return a process exit code."""
    parser = argparse.ArgumentParser(description="voice analyser latency")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    analyzer = create_analyzer(Settings())
    started = time.perf_counter()
    analyzer.load()
    analyzer.warmup()
    load_ms = (time.perf_counter() - started) * 1000
    clip = load("librivox_0890.wav")[: 5 * SAMPLE_RATE]
    results: dict[str, dict[str, float]] = {}
    for fmt in FORMATS:
        payload = b64(encode(clip, fmt))
        for _ in range(5):  # warm caches
            analyzer.analyze(analyzer.decode(payload))
        total, decode, cpu = [], [], []
        for _ in range(args.runs):
            c0 = time.thread_time()
            t0 = time.perf_counter()
            decoded = analyzer.decode(payload)
            t1 = time.perf_counter()
            result = analyzer.analyze(decoded)
            t2 = time.perf_counter()
            cpu.append((time.thread_time() - c0) * 1000)
            decode.append((t1 - t0) * 1000)
            total.append((t2 - t0) * 1000)
        assert result.status == "ok"
        results[fmt] = {
            "p50_ms": round(statistics.median(total), 2),
            "p95_ms": round(percentile(total, 95), 2),
            "decode_p50_ms": round(statistics.median(decode), 2),
            # CPU time of this thread: less sensitive than wall time to other processes.
            "cpu_p50_ms": round(statistics.median(cpu), 2),
            "payload_bytes": len(payload),
        }
        r = results[fmt]
        print(
            f"{fmt:16s} p50 {r['p50_ms']:6.2f} ms  p95 {r['p95_ms']:6.2f} ms  "
            f"cpu p50 {r['cpu_p50_ms']:6.2f} ms  (decode p50 {r['decode_p50_ms']:5.2f} ms, "
            f"{len(payload)} B base64)"
        )
    print(f"load+warmup {load_ms:.0f} ms; {args.runs} runs per format of a 5.0 s clip")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "clip_seconds": 5.0,
                    "runs": args.runs,
                    "machine": f"{platform.machine()} {platform.processor()}",
                    "python": platform.python_version(),
                    "load_ms": round(load_ms, 1),
                    "results": results,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
