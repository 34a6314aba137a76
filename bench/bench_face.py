"""Latency of the face analyser, base64 JPEG in → result out, on frames of real photos.

Usage: ``PYTHONPATH=src .venv/bin/python bench/bench_face.py [--n 300] [--threads 1]
[--json out.json] [--studies] [--compare OTHER_SRC]``. Prints p50/p95 (ms) per frame for the
whole call and for decode alone; with ``--threads N`` it also reports throughput of N threads
sharing one analyser.

``--compare OTHER_SRC`` measures this code and the code under ``OTHER_SRC`` (for instance a
``git worktree`` of an older commit's ``src``) side by side: two worker processes, one per
version, take turns frame by frame in rounds of ``--n`` calls, so both see the same load on a
shared machine; it prints each version's p50 and the ratio per frame.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from mindsync.analysis.face import FaceAnalyzer, create_analyzer
from mindsync.core.config import Settings

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "face"
CROP_SCALES = (0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.6)


def frame_640x480(name: str, size: tuple[int, int] = (640, 480)) -> str:
    """A photo letterboxed into a JPEG frame (quality 90, default 640×480), as base64."""
    photo = Image.open(DATA / name).convert("RGB")
    photo.thumbnail(size, Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", size, (40, 40, 40))
    canvas.paste(photo, ((size[0] - photo.width) // 2, (size[1] - photo.height) // 2))
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=90)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def frame_small_face_1080p() -> str:
    """A 1920×1080 JPEG of a real scene with one small face (the astronaut's, 5 % of the
    width) that only a search for small faces finds, as base64."""
    scene = Image.open(DATA / "coffee.png").convert("RGB").resize((1920, 1080))
    portrait = Image.open(DATA / "astronaut.png").convert("RGB")
    side = round(512 * 0.05 * 1920 / 95)  # her face is about 95 px of the 512-px portrait
    scene.paste(portrait.resize((side, side), Image.Resampling.LANCZOS), (1300, 380))
    buf = io.BytesIO()
    scene.save(buf, "JPEG", quality=90)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def bench_frames() -> dict[str, str]:
    """The benchmark's frames by name (base64 JPEG)."""
    return {
        "astronaut.png": frame_640x480("astronaut.png"),
        "grace_hopper.jpg": frame_640x480("grace_hopper.jpg"),
        "coffee.png": frame_640x480("coffee.png"),
        "group_five 1920x1080": frame_640x480("group_five.jpg", (1920, 1080)),
        "small face 1920x1080": frame_small_face_1080p(),
    }


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def crop_study(analyzer: FaceAnalyzer) -> dict[str, dict[str, str]]:
    """Expression answer per crop side (× face-mesh extent) on the frontal test photos."""
    from PIL import ImageOps

    from mindsync.analysis.face.geometry import roi_from_landmarks

    detector, landmarks, expression = analyzer._models()
    table: dict[str, dict[str, str]] = {}
    for name in ("astronaut.png", "grace_hopper.jpg"):
        photo = Image.open(DATA / name).convert("RGB")
        for variant, image in (("", photo), (" (mirrored)", ImageOps.mirror(photo))):
            face = detector.detect(image)[0]
            mesh = analyzer._mesh(landmarks, image, face)
            row = {}
            for scale in CROP_SCALES:
                roi = roi_from_landmarks(mesh.points, scale)
                probs = expression.predict(expression.crop(image, roi)).probabilities
                top = max(probs, key=probs.__getitem__)
                row[f"{scale:.1f}"] = f"{top} {probs[top]:.2f}"
            table[name + variant] = row
            print(f"{name + variant:28s}", "  ".join(f"{k}: {v}" for k, v in row.items()))
    return table


def blur_study(analyzer: FaceAnalyzer) -> dict[str, dict[str, str]]:
    """Blur measure, status and answer as Gaussian blur grows (σ as a share of face width)."""
    from PIL import ImageFilter

    table: dict[str, dict[str, str]] = {}
    for name, face_px in (("astronaut.png", 107), ("grace_hopper.jpg", 201)):
        photo = Image.open(DATA / name).convert("RGB")
        row = {}
        for share in (0.0, 0.01, 0.02, 0.03, 0.04, 0.06):
            image = photo.filter(ImageFilter.GaussianBlur(share * face_px)) if share else photo
            buf = io.BytesIO()
            image.save(buf, "PNG")
            result = analyzer.analyze(analyzer.decode(base64.b64encode(buf.getvalue()).decode()))
            sharp = result.quality_factors.sharpness if result.quality_factors else None
            row[f"{share:.2f}"] = (
                f"{result.status} {result.dominant_emotion} sharpness={sharp and round(sharp, 2)}"
            )
        table[name] = row
        print(name, row)
    return table


_WORKER = """
import base64, json, sys, time
from mindsync.analysis.face import create_analyzer
from mindsync.core.config import Settings
analyzer = create_analyzer(Settings())
analyzer.load()
analyzer.warmup()
print("ready", flush=True)
for line in sys.stdin:
    b64, n = json.loads(line)
    for _ in range(3):
        analyzer.analyze(analyzer.decode(b64))
    times, status = [], ""
    for _ in range(n):
        t0 = time.perf_counter()
        result = analyzer.analyze(analyzer.decode(b64))
        times.append((time.perf_counter() - t0) * 1000)
        status = f"{result.status}/{result.dominant_emotion}/{result.faces_detected}"
    print(json.dumps([times, status]), flush=True)
"""


def compare(other_src: Path, n: int, rounds: int, out: Path | None) -> None:
    """This version against ``other_src``, alternating in one run (see the module docstring)."""
    import subprocess
    import sys

    here = Path(__file__).resolve().parents[1] / "src"
    workers = {}
    for label, src in (("before", other_src.resolve()), ("after", here)):
        env = {**os.environ, "PYTHONPATH": str(src)}
        proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        workers[label] = proc
    report: dict[str, object] = {
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "method": f"{rounds} rounds of {n} calls per version, alternating",
    }
    for name, b64 in bench_frames().items():
        times: dict[str, list[float]] = {"before": [], "after": []}
        status: dict[str, str] = {}
        for _ in range(rounds):
            for label, proc in workers.items():
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(json.dumps([b64, n]) + "\n")
                proc.stdin.flush()
                got, status[label] = json.loads(proc.stdout.readline())
                times[label] += got
        row = {
            label: {
                "p50_ms": round(statistics.median(t), 2),
                "p95_ms": round(percentile(t, 95), 2),
                "result": status[label],
            }
            for label, t in times.items()
        }
        row["ratio_p50"] = round(
            statistics.median(times["after"]) / statistics.median(times["before"]), 2
        )
        report[name] = row
        print(
            f"{name:22s} before p50 {row['before']['p50_ms']:6.2f} ms ({status['before']:22s})"
            f"  after p50 {row['after']['p50_ms']:6.2f} ms ({status['after']:22s})"
            f"  ratio {row['ratio_p50']:.2f}"
        )
    for proc in workers.values():
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    """Run the benchmark and print (and optionally save) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="frames per photo")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--studies", action="store_true", help="also print the crop-scale and blur studies"
    )
    parser.add_argument(
        "--compare", type=Path, default=None, help="src folder of another version to compare"
    )
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds (--compare)")
    args = parser.parse_args()

    analyzer = create_analyzer(Settings())
    started = time.perf_counter()
    analyzer.load()
    analyzer.warmup()
    load_ms = (time.perf_counter() - started) * 1000
    if args.compare is not None:
        compare(args.compare, args.n, args.rounds, args.json)
        return
    frames = bench_frames()
    report: dict[str, object] = {
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "load_ms": round(load_ms, 1),
        "frames": "640x480 JPEG q90, base64",
    }
    for name, b64 in frames.items():
        for _ in range(10):
            analyzer.analyze(analyzer.decode(b64))
        total, decode, cpu = [], [], []
        status = ""
        for _ in range(args.n):
            c0 = time.thread_time()
            t0 = time.perf_counter()
            decoded = analyzer.decode(b64)
            t1 = time.perf_counter()
            result = analyzer.analyze(decoded)
            t2 = time.perf_counter()
            cpu.append((time.thread_time() - c0) * 1000)
            total.append((t2 - t0) * 1000)
            decode.append((t1 - t0) * 1000)
            status = f"{result.status}/{result.dominant_emotion}"
        row = {
            "result": status,
            "p50_ms": round(statistics.median(total), 2),
            "p95_ms": round(percentile(total, 95), 2),
            "decode_p50_ms": round(statistics.median(decode), 2),
            # CPU time of this thread: what the frame costs when the machine is not shared.
            "cpu_p50_ms": round(statistics.median(cpu), 2),
        }
        report[name] = row
        print(
            f"{name:18s} {status:14s} p50 {row['p50_ms']:6.2f} ms  p95 {row['p95_ms']:6.2f} ms"
            f"  (decode p50 {row['decode_p50_ms']:.2f} ms, CPU p50 {row['cpu_p50_ms']:.2f} ms)"
        )
    if args.threads > 1:
        b64 = frames["astronaut.png"]
        count = args.n * args.threads
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            list(pool.map(lambda _: analyzer.analyze(analyzer.decode(b64)), range(count)))
        elapsed = time.perf_counter() - t0
        report["threads"] = {"n": args.threads, "frames_per_s": round(count / elapsed, 1)}
        print(f"{args.threads} threads: {count / elapsed:.1f} frames/s")
    if args.studies:
        report["crop_study"] = crop_study(analyzer)
        report["blur_study"] = blur_study(analyzer)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
