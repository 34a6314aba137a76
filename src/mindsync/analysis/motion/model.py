"""The shipped activity model: a standardiser plus multinomial logistic regression, in JSON.

Runs with numpy alone. ``tools/motion_train.py`` writes the file; ``docs/models/motion.md``
and ``src/mindsync/models/motion/PROVENANCE.md`` say what it was trained on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mindsync.analysis.errors import ModelLoadError
from mindsync.analysis.motion.features import ACC_FEATURES, GYRO_FEATURES
from mindsync.analysis.motion.result import ACTIVITY_CLASSES

MODEL_FORMAT = "mindsync-motion-logreg/1"
DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[2] / "models" / "motion" / "activity.json"


@dataclass(frozen=True, slots=True)
class LogisticModel:
    """Standardise features, then softmax(x @ coef.T + intercept).

    ``mean``, ``scale``: (f,); ``coef``: (k, f); ``intercept``: (k,); classes in
    ``ACTIVITY_CLASSES`` order.
    """

    features: tuple[str, ...]
    columns: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities of a batch of all window features, shape (n, k); rows sum to 1.

        ``x``: (n, len(ACC_FEATURES) [+ len(GYRO_FEATURES)]); the model picks its columns.
        """
        z = ((x[:, self.columns] - self.mean) / self.scale) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True, slots=True)
class ActivityModel:
    """The two variants: with gyroscope features and accelerometer only."""

    with_gyro: LogisticModel
    acc_only: LogisticModel
    sha256: str
    info: dict[str, Any]


def _variant(raw: dict[str, Any], available: tuple[str, ...], name: str) -> LogisticModel:
    try:
        features = tuple(str(f) for f in raw["features"])
        mean = np.asarray(raw["mean"], dtype=np.float64)
        scale = np.asarray(raw["scale"], dtype=np.float64)
        coef = np.asarray(raw["coef"], dtype=np.float64)
        intercept = np.asarray(raw["intercept"], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"motion model variant {name!r} is malformed: {exc}") from None
    k, f = len(ACTIVITY_CLASSES), len(features)
    unknown = [feature for feature in features if feature not in available]
    if unknown or not features:
        raise ModelLoadError(f"motion model variant {name!r} needs unknown features {unknown}")
    shapes_ok = (
        mean.shape == (f,) and scale.shape == (f,) and coef.shape == (k, f)
    ) and intercept.shape == (k,)
    if not shapes_ok or not np.all(np.isfinite(coef)) or not np.all(scale > 0):
        raise ModelLoadError(f"motion model variant {name!r} has wrong shapes or values")
    columns = np.asarray([available.index(feature) for feature in features])
    return LogisticModel(features, columns, mean, scale, coef, intercept)


def load_model(path: Path = DEFAULT_MODEL_PATH) -> ActivityModel:
    """Read and check the model file; raises :class:`ModelLoadError` when it is unusable."""
    try:
        blob = path.read_bytes()
        raw = json.loads(blob)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read the motion model {path.name}: {exc}") from None
    if not isinstance(raw, dict) or raw.get("format") != MODEL_FORMAT:
        raise ModelLoadError(f"{path.name} is not a {MODEL_FORMAT} file")
    if tuple(raw.get("classes", ())) != ACTIVITY_CLASSES:
        raise ModelLoadError(f"{path.name} has classes {raw.get('classes')}")
    variants = raw.get("variants", {})
    return ActivityModel(
        with_gyro=_variant(variants.get("acc_gyro", {}), ACC_FEATURES + GYRO_FEATURES, "acc_gyro"),
        acc_only=_variant(variants.get("acc", {}), ACC_FEATURES, "acc"),
        sha256=hashlib.sha256(blob).hexdigest(),
        info=dict(raw.get("training", {})),
    )
