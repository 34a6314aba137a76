"""Analysis of files on disk, without a server: ``mindsync analyze``.

A bundle is up to one face image, one audio file and one motion CSV. In folder mode the
files are grouped into bundles by their name without extension (``s1.jpg``, ``s1.webm`` and
``s1.csv`` form bundle ``s1``). Each bundle's result is the API's ``POST /analyze`` response
(built by the same code), or an error in the API's error shape.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from mindsync.analysis.base import Modality, ModalityResult
from mindsync.analysis.errors import AnalysisError, InputError
from mindsync.analysis.fusion import RuleSet, fuse, load_rules
from mindsync.analysis.motion.recording import MotionRecording
from mindsync.analysis.orchestrator import analyze_one
from mindsync.analysis.registry import AnalyzerRegistry
from mindsync.core.clock import utcnow

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
AUDIO_SUFFIXES = {".wav", ".mp3", ".ogg", ".oga", ".opus", ".webm", ".m4a", ".mp4", ".aac", ".flac"}
MOTION_SUFFIXES = {".csv"}

#: Accepted CSV column names for each motion channel (case-insensitive), first = canonical.
COLUMNS = {
    "t": ("timestamp", "time", "t"),
    "ax": ("ax", "acc_x", "acceleration_x", "accel_x"),
    "ay": ("ay", "acc_y", "acceleration_y", "accel_y"),
    "az": ("az", "acc_z", "acceleration_z", "accel_z"),
    "gx": ("gx", "gyro_x", "gyroscope_x"),
    "gy": ("gy", "gyro_y", "gyroscope_y"),
    "gz": ("gz", "gyro_z", "gyroscope_z"),
}


@dataclass
class Bundle:
    """The files of one analysis."""

    name: str
    face: Path | None = None
    audio: Path | None = None
    motion: Path | None = None


@dataclass
class BundleResult:
    """What one bundle gave: the API's response, or an error in the API's error shape."""

    name: str
    row: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_motion_csv(path: Path) -> MotionRecording:
    """A motion CSV (header row; timestamp, ax, ay, az and optionally gx, gy, gz) as arrays.

    Raises :class:`InputError` naming the real problem: no header row, or which channels
    have no column (by their canonical names, with the accepted aliases).
    """
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        if not header:
            raise InputError(f"{path.name}: the file is empty", field="motion")
        if all(_is_number(name) for name in header if name):
            raise InputError(
                f"{path.name}: the first row holds numbers, not column names: the file needs "
                "a header row such as timestamp,ax,ay,az[,gx,gy,gz]",
                field="motion",
            )
        names = {
            name.lower(): original
            for name, original in zip(header, reader.fieldnames or [], strict=False)
        }
        chosen: dict[str, str] = {}
        for channel, aliases in COLUMNS.items():
            for alias in aliases:
                if alias in names:
                    chosen[channel] = names[alias]
                    break
        missing = [c for c in ("t", "ax", "ay", "az") if c not in chosen]
        if missing:
            wanted = "; ".join(f"{COLUMNS[c][0]} (or {', '.join(COLUMNS[c][1:])})" for c in missing)
            raise InputError(
                f"{path.name}: no column for {wanted}; the header has {', '.join(header)}",
                field="motion",
            )
        rows = list(reader)
    try:
        data = {c: np.array([float(r[name]) for r in rows]) for c, name in chosen.items()}
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path.name}: a value is not a number ({exc})", field="motion") from None
    gyro = None
    if all(c in data for c in ("gx", "gy", "gz")):
        gyro = np.column_stack([data["gx"], data["gy"], data["gz"]])
    return MotionRecording(
        timestamps=data["t"],
        acceleration=np.column_stack([data["ax"], data["ay"], data["az"]]),
        gyroscope=gyro,
    )


def bundles_in(folder: Path) -> list[Bundle]:
    """The bundles of a folder, by file name without extension, sorted by name."""
    found: dict[str, Bundle] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        suffix = path.suffix.lower()
        slot = (
            "face"
            if suffix in IMAGE_SUFFIXES
            else "audio"
            if suffix in AUDIO_SUFFIXES
            else "motion"
            if suffix in MOTION_SUFFIXES
            else None
        )
        if slot is None:
            continue
        bundle = found.setdefault(path.stem, Bundle(name=path.stem))
        setattr(bundle, slot, path)
    return list(found.values())


def _error(code: str, message: str, field: str | None) -> dict[str, Any]:
    """The API's error body (``{"error": {...}}``) for a bundle that could not be analysed."""
    return {"error": {"code": code, "message": message, "field": field, "request_id": None}}


def analyze_bundle(registry: AnalyzerRegistry, bundle: Bundle, rules: RuleSet) -> BundleResult:
    """Analyse one bundle with the loaded analysers; an unreadable file becomes an error."""
    from mindsync.api.services import compose_response

    try:
        inputs: dict[Modality, Any] = {}
        if bundle.face is not None:
            inputs["face"] = base64.b64encode(bundle.face.read_bytes()).decode()
        if bundle.audio is not None:
            inputs["voice"] = base64.b64encode(bundle.audio.read_bytes()).decode()
        if bundle.motion is not None:
            inputs["motion"] = read_motion_csv(bundle.motion)
        results: dict[Modality, ModalityResult] = {
            m: analyze_one(registry, m, raw) for m, raw in inputs.items()
        }
    except AnalysisError as exc:
        return BundleResult(name=bundle.name, error=_error(exc.code, exc.message, exc.field))
    except OSError as exc:
        return BundleResult(
            name=bundle.name, error=_error("unreadable_file", str(exc), bundle.name)
        )
    assessment = fuse(results)
    response = compose_response(
        results=results,
        assessment=assessment,
        rules=rules,
        session_id=str(uuid.uuid4()),
        user_id=None,
        timestamp=utcnow(),
    )
    emotion = assessment.emotion_analysis or {}
    row = {
        "bundle": bundle.name,
        "modalities": "+".join(m for m in results if results[m].status == "ok") or "-",
        "emotion": emotion.get("dominant_emotion"),
        "stress_level": assessment.stress.value,
        "attention_score": assessment.attention.value,
        "overall_score": assessment.overall.value,
        "quality_score": assessment.quality_score,
        "activity": getattr(results.get("motion"), "activity", None),
        "notes": "; ".join(r.reason for r in results.values() if r.reason) or "",
    }
    return BundleResult(name=bundle.name, row=row, response=response.model_dump(mode="json"))


def progress(done: int, total: int, stream: TextIO = sys.stderr) -> None:
    """A one-line progress bar on ``stream`` (only when it is a terminal)."""
    if not stream.isatty():
        return
    width = 30
    filled = int(width * done / max(total, 1))
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        stream.write("\n")
    stream.flush()


def run(
    registry: AnalyzerRegistry,
    bundles: Iterable[Bundle],
    *,
    on_progress: Callable[[int, int], None] = progress,
) -> list[BundleResult]:
    """Analyse every bundle in order, reporting progress."""
    items = list(bundles)
    rules = load_rules()
    out = []
    for i, bundle in enumerate(items, start=1):
        out.append(analyze_bundle(registry, bundle, rules))
        on_progress(i, len(items))
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def render(results: list[BundleResult], fmt: str) -> str:
    """The results as a readable table, JSON or CSV."""
    if fmt == "json":
        # The API's response (or error body) of each bundle, with the bundle's name.
        return json.dumps(
            [{"bundle": r.name, **(r.response if r.error is None else r.error)} for r in results],
            indent=2,
        )
    headers = [
        "bundle",
        "modalities",
        "emotion",
        "stress_level",
        "attention_score",
        "overall_score",
        "quality_score",
        "activity",
        "notes",
    ]
    rows = [
        r.row
        if r.error is None
        else {"bundle": r.name, "notes": f"error: {r.error['error']['message']}"}
        for r in results
    ]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=headers, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({h: row.get(h) for h in headers})
        return buffer.getvalue().rstrip("\n")
    cells = [[_fmt(row.get(h)) for h in headers] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    body = ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])
