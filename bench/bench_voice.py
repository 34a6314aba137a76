"""Benchmark of the voice analyser: base64 payload -> decode -> VAD -> features -> score.

Usage (from the repository root)::

    PYTHONPATH=src:. .venv/bin/python bench/bench_voice.py [--runs 200] [--json out.json]
    PYTHONPATH=src:. .venv/bin/python bench/bench_voice.py --against /tmp/voice-base/src

``--against SRC`` times ``analyze_one(registry, "voice", payload)`` of this tree and of the
``mindsync`` package under SRC (an older commit, e.g. ``git archive bda2f24 | tar -x -C
/tmp/voice-base``) side by side in one process: calls alternate between the two trees, on the
5 s clip as a PCM16 WAV and as WebM/Opus (``bench/run.py``'s ``speech_webm``), and the answers
of the two are checked to be the same. Prints wall-clock p50 and min per call, the calling
thread's CPU time p50 (steadier on a shared machine) and the ratios new/old.

The clip is 5.0 s of real read speech (LibriVox, from the pocketsphinx sdist, shipped in
tests/data/voice) encoded as WebM/Opus mono 48 kHz as Chrome's MediaRecorder does, plus the
other accepted formats for comparison. Prints wall-clock p50/p95 and the CPU time p50 of
the calling thread per format, in milliseconds (on a shared machine the CPU figure is the
steadier one).
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tests.analysis.voice.voice_audio import b64, encode, load

from mindsync.analysis.voice import create_analyzer
from mindsync.analysis.voice.decode import SAMPLE_RATE
from mindsync.core.config import Settings

FORMATS = ("webm_opus", "webm_opus_live", "ogg_opus", "mp4_aac", "mp3", "wav_s16", "flac")


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``."""
    return float(np.percentile(np.asarray(values), q))


def _voice_call(src: Path | None) -> Callable[[str], Any]:
    """``payload -> result`` of ``analyze_one`` with a voice-only registry, from the
    ``mindsync`` package under ``src`` (imported apart from this process's one) or, with
    ``None``, from this tree."""

    def build() -> Callable[[str], Any]:
        orchestrator = importlib.import_module("mindsync.analysis.orchestrator")
        registry_mod = importlib.import_module("mindsync.analysis.registry")
        config = importlib.import_module("mindsync.core.config")
        registry = registry_mod.load_analyzers(config.Settings(), modalities=("voice",))
        if registry.get("voice") is None:
            raise SystemExit(f"no voice analyser in {src or 'this tree'}: {registry.unavailable}")
        analyze_one = orchestrator.analyze_one
        return lambda payload: analyze_one(registry, "voice", payload)

    if src is None:
        return build()
    ours = {k: v for k, v in sys.modules.items() if k == "mindsync" or k.startswith("mindsync.")}
    for name in ours:
        del sys.modules[name]
    sys.path.insert(0, str(src))
    try:
        call = build()
    finally:
        sys.path.remove(str(src))
        for name in [k for k in sys.modules if k == "mindsync" or k.startswith("mindsync.")]:
            del sys.modules[name]
        sys.modules.update(ours)
    return call


def compare(against: Path, runs: int) -> int:
    """Time this tree against the one under ``against``, interleaved; return an exit code."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import speech_webm  # bench/run.py: the WebM/Opus clip its tables use

    clip = load("librivox_0890.wav")[: 5 * SAMPLE_RATE]
    payloads = {
        "wav_s16 (5 s)": b64(encode(clip, "wav_s16")),
        "webm_opus (5 s)": b64(speech_webm()),
    }
    calls = {"old": _voice_call(against), "new": _voice_call(None)}
    print(f"{runs} calls each, alternating old/new; wall-clock ms per analyze_one call")
    for label, payload in payloads.items():
        answers = {}
        for tree, call in calls.items():
            for _ in range(5):  # warm caches
                result = call(payload)
            answers[tree] = result.model_dump(exclude={"processing_ms"})
        if answers["old"] != answers["new"]:
            print(f"{label}: the two trees answer differently:\n{answers}")
            return 1
        times: dict[str, list[float]] = {"old": [], "new": []}
        cpu: dict[str, list[float]] = {"old": [], "new": []}
        for i in range(runs):
            order = ("old", "new") if i % 2 == 0 else ("new", "old")
            for tree in order:
                c0 = time.thread_time()
                t0 = time.perf_counter()
                calls[tree](payload)
                times[tree].append((time.perf_counter() - t0) * 1000)
                cpu[tree].append((time.thread_time() - c0) * 1000)
        old, new = times["old"], times["new"]
        cpu_old, cpu_new = statistics.median(cpu["old"]), statistics.median(cpu["new"])
        print(
            f"{label:16s} old p50 {statistics.median(old):6.2f} min {min(old):6.2f} | "
            f"new p50 {statistics.median(new):6.2f} min {min(new):6.2f} | "
            f"new/old p50 {statistics.median(new) / statistics.median(old):.2f} "
            f"min {min(new) / min(old):.2f} | cpu p50 {cpu_old:.2f} -> {cpu_new:.2f} "
            f"({cpu_new / cpu_old:.2f})"
        )
    return 0


def main() -> int:
    """Run the benchmark; return a process exit code."""
    parser = argparse.ArgumentParser(description="voice analyser latency")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--against",
        type=Path,
        help="compare with the mindsync package under this source folder, side by side",
    )
    args = parser.parse_args()
    if args.against is not None:
        return compare(args.against, args.runs)

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
