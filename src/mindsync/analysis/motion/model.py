"""The motion model file: small tanh networks stored as JSON, evaluated with numpy alone.

Format ``mindsync-motion/2`` (written by ``tools/motion_train.py``)::

    {"format": "mindsync-motion/2",
     "heads": {"activity": [...classes], "placement": [...], "posture": [...]},
     "variants": {"acc_gyro": {<head>: NET, ...}, "acc": {<head>: NET, ...}},
     "posture_min_confidence": 0.8, "training": {...}}

    NET = {"features": [names from ALL_FEATURES], "mean": [f], "scale": [f],
           "layers": [{"weight": [[out x in]], "bias": [out]}, ...]}

Every hidden layer is ``tanh``; the last layer's output goes through a softmax.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mindsync.analysis.errors import ModelLoadError
from mindsync.analysis.motion.features import ALL_FEATURES

MODEL_FORMAT = "mindsync-motion/2"
DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[2] / "models" / "motion" / "activity.json"
#: The heads every variant must have, and the classes each head must list, in this order.
HEAD_CLASSES: dict[str, tuple[str, ...]] = {
    "activity": ("still", "walking", "upstairs", "downstairs", "running", "vigorous"),
    "placement": ("on_person", "not_on_person"),
    "posture": ("sitting", "standing", "lying"),
}


@dataclass(frozen=True, slots=True)
class TanhNet:
    """Standardise the chosen columns, tanh hidden layers, softmax output.

    ``columns``: indices into ``ALL_FEATURES``; ``weights[i]``: (out, in); ``biases[i]``: (out,).
    """

    columns: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities of a batch of windows, shape (n, k); rows sum to 1.

        ``x``: (n, len(ALL_FEATURES)) as built by :func:`~.features.window_features`.
        """
        h = (x[:, self.columns] - self.mean) / self.scale
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ weight.T + bias
            if i < last:
                h = np.tanh(h)
        h -= h.max(axis=1, keepdims=True)
        e = np.exp(h)
        probabilities: np.ndarray = e / e.sum(axis=1, keepdims=True)
        return probabilities


@dataclass(frozen=True, slots=True)
class MotionModel:
    """Both variants (with gyroscope, accelerometer only), each with the three heads."""

    with_gyro: dict[str, TanhNet]
    acc_only: dict[str, TanhNet]
    posture_min_confidence: float
    sha256: str
    info: dict[str, Any]


def _net(raw: Any, classes: int, where: str) -> TanhNet:
    try:
        features = [str(f) for f in raw["features"]]
        mean = np.asarray(raw["mean"], dtype=np.float64)
        scale = np.asarray(raw["scale"], dtype=np.float64)
        weights = tuple(np.asarray(layer["weight"], dtype=np.float64) for layer in raw["layers"])
        biases = tuple(np.asarray(layer["bias"], dtype=np.float64) for layer in raw["layers"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"motion model {where} is malformed: {exc}") from None
    unknown = [f for f in features if f not in ALL_FEATURES]
    if unknown or not features or not weights:
        raise ModelLoadError(f"motion model {where} needs unknown features {unknown}")
    width = len(features)
    ok = mean.shape == (width,) and scale.shape == (width,) and bool(np.all(scale > 0))
    for weight, bias in zip(weights, biases, strict=True):
        ok = ok and weight.ndim == 2 and weight.shape[1] == width and bias.shape == (len(weight),)
        ok = ok and bool(np.all(np.isfinite(weight))) and bool(np.all(np.isfinite(bias)))
        width = weight.shape[0] if weight.ndim == 2 else -1
    if not ok or width != classes:
        raise ModelLoadError(f"motion model {where} has wrong shapes or values")
    columns = np.asarray([ALL_FEATURES.index(f) for f in features])
    return TanhNet(columns, mean, scale, weights, biases)


def load_model(path: Path = DEFAULT_MODEL_PATH) -> MotionModel:
    """Read and check the model file; raises :class:`ModelLoadError` when it is unusable."""
    try:
        blob = path.read_bytes()
        raw = json.loads(blob)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read the motion model {path.name}: {exc}") from None
    if not isinstance(raw, dict) or raw.get("format") != MODEL_FORMAT:
        raise ModelLoadError(f"{path.name} is not a {MODEL_FORMAT} file")
    heads = raw.get("heads", {})
    for head, classes in HEAD_CLASSES.items():
        if not isinstance(heads, dict) or tuple(heads.get(head, ())) != classes:
            raise ModelLoadError(f"{path.name}: head {head!r} must have classes {classes}")
    variants = raw.get("variants", {})
    built: dict[str, dict[str, TanhNet]] = {}
    for name in ("acc_gyro", "acc"):
        variant = variants.get(name) if isinstance(variants, dict) else None
        if not isinstance(variant, dict):
            raise ModelLoadError(f"{path.name}: variant {name!r} is missing")
        built[name] = {
            head: _net(variant.get(head), len(classes), f"{name}/{head}")
            for head, classes in HEAD_CLASSES.items()
        }
    try:
        threshold = float(raw.get("posture_min_confidence", 1.0))
    except (TypeError, ValueError):
        raise ModelLoadError(f"{path.name}: posture_min_confidence is not a number") from None
    return MotionModel(
        with_gyro=built["acc_gyro"],
        acc_only=built["acc"],
        posture_min_confidence=threshold,
        sha256=hashlib.sha256(blob).hexdigest(),
        info=dict(raw.get("training", {})),
    )
