"""The manifest that describes a pluggable facial-expression model (the seed's ml_models/).

A manifest is a small JSON file next to its ONNX model. The shipped default model is loaded
through exactly the same code (``src/mindsync/models/face/expression.manifest.json``).
Example and field meanings: docs/models/face.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mindsync.analysis.errors import ModelLoadError
from mindsync.core.config import Settings

logger = logging.getLogger(__name__)

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# Spellings that other expression models use for the seed's seven classes.
_ALIASES = {
    "anger": "angry",
    "disgusted": "disgust",
    "fearful": "fear",
    "scared": "fear",
    "happiness": "happy",
    "joy": "happy",
    "sadness": "sad",
    "surprised": "surprise",
    "calm": "neutral",
}
PACKAGED_DIR = Path(__file__).resolve().parents[2] / "models" / "face"
PACKAGED_MANIFEST = PACKAGED_DIR / "expression.manifest.json"
GEOMETRY_MANIFEST = PACKAGED_DIR / "geometry.manifest.json"
MODELS_DIR_MANIFEST = "face_expression.manifest.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    """How a face crop becomes the model's input tensor: ``(pixel * scale - mean) / std``."""

    name: str | None = Field(default=None, description="Input name; the first input if null.")
    layout: Literal["NHWC", "NCHW"] = "NHWC"
    size: tuple[int, int] = Field(description="Width and height of the crop in pixels.")
    color: Literal["gray", "rgb", "bgr"] = "rgb"
    scale: float = Field(default=1 / 255, gt=0)
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    crop_scale: float = Field(
        default=1.2, ge=0.8, le=3.0, description="Crop side / face-mesh extent."
    )

    @field_validator("size")
    @classmethod
    def _size_ok(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not all(8 <= v <= 1024 for v in value):
            raise ValueError("each side must be between 8 and 1024 pixels")
        return value

    @property
    def channels(self) -> int:
        """1 for grey input, 3 otherwise."""
        return 1 if self.color == "gray" else 3


class ScoresSpec(_Strict):
    """The class-score output and what to apply to it to get probabilities."""

    name: str | None = Field(default=None, description="Output name; the first output if null.")
    activation: Literal["none", "softmax", "sigmoid"] = "softmax"
    start: int = Field(
        default=0,
        ge=0,
        description="Index of the first class score in the output (when one output also holds "
        "other values, e.g. 8 logits then valence and arousal).",
    )


class DimensionSpec(_Strict):
    """An optional regression output (valence or arousal) and its native range."""

    name: str
    index: int = Field(default=0, ge=0)
    range: tuple[float, float] = (-1.0, 1.0)


class OutputsSpec(_Strict):
    """The model's outputs."""

    scores: ScoresSpec = ScoresSpec()
    valence: DimensionSpec | None = None
    arousal: DimensionSpec | None = None


class ExpressionManifest(_Strict):
    """A validated expression-model manifest; ``path`` is the manifest file itself."""

    name: str = Field(min_length=1, max_length=100)
    version: str = ""
    task: Literal["expression"] = "expression"
    file: str = Field(min_length=1, description="ONNX file, relative to the manifest.")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    licence: str = ""
    source: str = ""
    source_sha256: str | None = None
    training_data: str = ""
    input: InputSpec
    labels: tuple[str, ...] = Field(min_length=2)
    outputs: OutputsSpec = OutputsSpec()
    path: Path | None = None

    def model_path(self) -> Path:
        """Absolute path of the ONNX file."""
        base = self.path.parent if self.path is not None else Path.cwd()
        return (base / self.file).resolve()

    def label_index(self) -> dict[str, list[int]]:
        """For each of the seven seed emotions, the model outputs that feed it.

        Raises :class:`ModelLoadError` when one of the seven is missing. Extra classes
        (e.g. ``contempt``) are dropped and the seven are renormalised.
        """
        mapping: dict[str, list[int]] = {e: [] for e in EMOTIONS}
        for i, label in enumerate(self.labels):
            key = _ALIASES.get(label.strip().lower(), label.strip().lower())
            if key in mapping:
                mapping[key].append(i)
        missing = [e for e, idx in mapping.items() if not idx]
        if missing:
            raise ModelLoadError(
                f"face model manifest {self.name!r}: labels lack {', '.join(missing)}"
            )
        return mapping


def resolve_manifest_path(settings: Settings) -> Path:
    """Which manifest to load.

    1. ``settings.face_model_manifest`` (a relative path is looked up in ``models_dir`` first);
    2. ``<models_dir>/face_expression.manifest.json`` when that file exists;
    3. the shipped default.
    """
    chosen = settings.face_model_manifest
    if chosen is not None:
        if not chosen.is_absolute() and settings.models_dir is not None:
            candidate = settings.models_dir / chosen
            if candidate.is_file():
                return candidate
        return chosen
    if settings.models_dir is not None:
        candidate = settings.models_dir / MODELS_DIR_MANIFEST
        if candidate.is_file():
            return candidate
    return PACKAGED_MANIFEST


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_manifest(path: Path) -> ExpressionManifest:
    """Read and validate a manifest; check its model file exists (and its hash, if given).

    Raises :class:`ModelLoadError` with a message naming the manifest's file name.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"face model manifest {path.name} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(
            f"face model manifest {path.name} is not readable JSON: {exc}"
        ) from None
    if not isinstance(raw, dict):
        raise ModelLoadError(f"face model manifest {path.name} must be a JSON object")
    try:
        manifest = ExpressionManifest.model_validate({**raw, "path": path.resolve()})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ModelLoadError(f"face model manifest {path.name} is invalid: {problems}") from None
    manifest.label_index()
    model = manifest.model_path()
    if not model.is_file():
        raise ModelLoadError(f"face model manifest {path.name}: model file {manifest.file} missing")
    if manifest.sha256 is not None and file_sha256(model) != manifest.sha256:
        raise ModelLoadError(
            f"face model manifest {path.name}: {manifest.file} does not match its sha256"
        )
    return manifest


def load_geometry_manifest() -> dict[str, Path]:
    """Paths of the shipped detectors and face-mesh model, hash-checked.

    Roles: "detector" (short range), "full_range_detector" and "landmarks".
    """
    try:
        raw = json.loads(GEOMETRY_MANIFEST.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"face geometry manifest is unreadable: {exc}") from None
    paths: dict[str, Path] = {}
    for role in ("detector", "full_range_detector", "landmarks"):
        entry = raw.get(role)
        if not isinstance(entry, dict) or "file" not in entry:
            raise ModelLoadError(f"face geometry manifest lacks the {role} entry")
        model = PACKAGED_DIR / str(entry["file"])
        if not model.is_file():
            raise ModelLoadError(f"face {role} model {model.name} is missing")
        if entry.get("sha256") and file_sha256(model) != entry["sha256"]:
            raise ModelLoadError(f"face {role} model {model.name} does not match its sha256")
        paths[role] = model
    return paths
