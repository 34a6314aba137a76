"""Latency of the face analyser, base64 JPEG in → result out, on 640×480 frames of real photos.

Usage: ``PYTHONPATH=src .venv/bin/python bench/bench_face.py [--n 300] [--threads 1]
[--json out.json] [--studies]``. Prints p50/p95 (ms) per frame for the whole call and for
decode alone; with ``--threads N`` it also reports throughput of N threads sharing one analyser.
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


def frame_640x480(name: str) -> str:
    """A photo letterboxed into a 640×480 JPEG (quality 90), as base64."""
    photo = Image.open(DATA / name).convert("RGB")
    photo.thumbnail((640, 480), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (640, 480), (40, 40, 40))
    canvas.paste(photo, ((640 - photo.width) // 2, (480 - photo.height) // 2))
    buf = io.BytesIO()
    canvas.save(buf, "JPEG", quality=90)
    return base64.b64encode(buf.getvalue()).decode("ascii")


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


def main() -> None:
    """Run the benchmark and print (and optionally save) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="frames per photo")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--studies", action="store_true", help="also print the crop-scale and blur studies"
    )
    args = parser.parse_args()

    analyzer = create_analyzer(Settings())
    started = time.perf_counter()
    analyzer.load()
    analyzer.warmup()
    load_ms = (time.perf_counter() - started) * 1000
    frames = {n: frame_640x480(n) for n in ("astronaut.png", "grace_hopper.jpg", "coffee.png")}
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
