"""Facial-expression classification with any ONNX model described by a manifest."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from mindsync.analysis.errors import ModelLoadError
from mindsync.analysis.face.geometry import SquareRoi
from mindsync.analysis.face.manifest import EMOTIONS, ExpressionManifest
from mindsync.analysis.face.runtime import new_session

logger = logging.getLogger(__name__)

# Circumplex coordinates (valence in [-1, 1], arousal in [0, 1]) of the seven categories,
# used when the model has no valence/arousal head. Placed after Russell (1980) and the
# category means reported for AffectNet (Mollahosseini et al. 2017); see docs/models/face.md.
CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "angry": (-0.60, 0.80),
    "disgust": (-0.65, 0.55),
    "fear": (-0.60, 0.85),
    "happy": (0.80, 0.60),
    "sad": (-0.65, 0.25),
    "surprise": (0.20, 0.85),
    "neutral": (0.00, 0.30),
}


# FER2013 classes whose pictures mostly show an open mouth (a shout, a scream, a gasp), so a
# mouth opened by speech alone pushes a FER model towards them (Goodfellow et al. 2013 show
# the classes; docs/models/face.md measures the effect on real frames of people speaking).
MOUTH_CLASSES = frozenset({"angry", "fear", "surprise"})
# How much of their probability an open mouth (openness 1) can explain away. In a live
# session people speak much of the time, so an open mouth is mostly speech; 0.2 is kept so a
# gasp with wide eyes still ranks. On 61 labelled CK+ frames no top-1 answer changed for any
# value from 0 to 0.9; on 120 frames of a man speaking the open-mouth answers with
# confidence > 0.5 fell from 28 to 4 (docs/models/face.md).
MOUTH_EXPLAINS = 0.8


@dataclass(frozen=True, slots=True)
class Expression:
    """Probabilities of the seven seed emotions (sum 1) and valence/arousal.

    ``va_source`` is "model" when the model predicted valence/arousal itself, else "circumplex".
    """

    probabilities: dict[str, float]
    valence: float
    arousal: float
    va_source: str


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    out: np.ndarray = e / e.sum()
    return out


class ExpressionModel:
    """Runs the manifest's model on a face crop; ``predict`` is thread-safe."""

    def __init__(self, manifest: ExpressionManifest) -> None:
        self.manifest = manifest
        self._session = new_session(manifest.model_path())
        self._index = manifest.label_index()
        spec = manifest.input
        inputs = {i.name: i for i in self._session.get_inputs()}
        first = self._session.get_inputs()[0]
        self._input = spec.name or first.name
        if self._input not in inputs:
            raise ModelLoadError(f"face model {manifest.name!r} has no input {self._input!r}")
        shape = inputs[self._input].shape
        width, height = spec.size
        expected = (
            [height, width, spec.channels]
            if spec.layout == "NHWC"
            else [spec.channels, height, width]
        )
        if len(shape) != 4 or any(
            isinstance(s, int) and s != e for s, e in zip(shape[1:], expected, strict=True)
        ):
            raise ModelLoadError(
                f"face model {manifest.name!r}: input shape {shape} does not match the manifest "
                f"({spec.layout}, {width}x{height}, {spec.color})"
            )
        outputs = [o.name for o in self._session.get_outputs()]
        self._scores = manifest.outputs.scores.name or outputs[0]
        wanted = [self._scores]
        for dim in (manifest.outputs.valence, manifest.outputs.arousal):
            if dim is not None:
                wanted.append(dim.name)
        missing = [n for n in wanted if n not in outputs]
        if missing:
            raise ModelLoadError(f"face model {manifest.name!r} has no output {missing[0]!r}")
        self._outputs = list(dict.fromkeys(wanted))
        self._mean = np.asarray(spec.mean, dtype=np.float32)
        self._std = np.asarray(spec.std, dtype=np.float32)

    def crop(self, image: Image.Image, roi: SquareRoi) -> Image.Image:
        """The face crop at the model's input size, in the manifest's colour."""
        spec = self.manifest.input
        width, height = spec.size
        crop = roi.crop(image, max(width, height))
        if width != height:
            crop = crop.resize((width, height), Image.Resampling.BILINEAR)
        return crop.convert("L") if spec.color == "gray" else crop

    def tensor(self, crop: Image.Image) -> np.ndarray:
        """The input tensor (batch of one) of a crop made by :meth:`crop`."""
        spec = self.manifest.input
        x = np.asarray(crop, dtype=np.float32)
        if x.ndim == 2:
            x = x[:, :, None]
        elif spec.color == "bgr":
            x = x[:, :, ::-1]
        x = (x * spec.scale - self._mean) / self._std
        if spec.layout == "NCHW":
            x = x.transpose(2, 0, 1)
        return np.ascontiguousarray(x[None], dtype=np.float32)

    def predict(self, crop: Image.Image) -> Expression:
        """Probabilities over the seven emotions, valence and arousal for one face crop."""
        results = dict(
            zip(
                self._outputs,
                self._session.run(self._outputs, {self._input: self.tensor(crop)}),
                strict=True,
            )
        )
        start = self.manifest.outputs.scores.start
        raw = np.asarray(results[self._scores], dtype=np.float64).reshape(-1)
        raw = raw[start : start + len(self.manifest.labels)]
        if raw.size != len(self.manifest.labels):
            raise ModelLoadError(
                f"face model {self.manifest.name!r} returned {raw.size} class scores for "
                f"{len(self.manifest.labels)} labels"
            )
        activation = self.manifest.outputs.scores.activation
        if activation == "softmax":
            scores = _softmax(raw)
        elif activation == "sigmoid":
            scores = 1.0 / (1.0 + np.exp(-raw))
        else:
            scores = np.clip(raw, 0.0, None)
        if not np.all(np.isfinite(scores)):
            scores = np.ones_like(scores)
        merged = np.array([scores[self._index[e]].sum() for e in EMOTIONS], dtype=np.float64)
        total = merged.sum()
        merged = merged / total if total > 0 else np.full(len(EMOTIONS), 1 / len(EMOTIONS))
        probabilities = {e: float(p) for e, p in zip(EMOTIONS, merged, strict=True)}
        valence = float(sum(p * CIRCUMPLEX[e][0] for e, p in probabilities.items()))
        arousal = float(sum(p * CIRCUMPLEX[e][1] for e, p in probabilities.items()))
        source = "circumplex"
        v_spec, a_spec = self.manifest.outputs.valence, self.manifest.outputs.arousal
        if v_spec is not None and a_spec is not None:
            valence = _rescale(results[v_spec.name], v_spec.index, v_spec.range, (-1.0, 1.0))
            arousal = _rescale(results[a_spec.name], a_spec.index, a_spec.range, (0.0, 1.0))
            source = "model"
        return Expression(
            probabilities=probabilities,
            valence=float(np.clip(valence, -1.0, 1.0)),
            arousal=float(np.clip(arousal, 0.0, 1.0)),
            va_source=source,
        )


def _rescale(
    output: np.ndarray, index: int, native: tuple[float, float], target: tuple[float, float]
) -> float:
    value = float(np.asarray(output, dtype=np.float64).reshape(-1)[index])
    lo, hi = native
    t = (value - lo) / (hi - lo) if hi != lo else 0.5
    return target[0] + float(np.clip(t, 0.0, 1.0)) * (target[1] - target[0])


def speaking_aware(expression: Expression, mouth_open: float) -> tuple[Expression, float]:
    """Discount the open-mouth classes by how open the mouth is; returns the new expression
    and the factor (≤ 1) by which the confidence of an open-mouth class is to be lowered.

    An open mouth is what speech looks like in one frame; it is also most of what makes a
    FER2013 model say angry, fearful or surprised. The open-mouth classes keep
    ``1 - MOUTH_EXPLAINS × mouth_open`` of their probability and the seven are renormalised,
    so a speaking face with calm brows moves towards what the rest of the face shows.
    """
    factor = 1.0 - MOUTH_EXPLAINS * float(np.clip(mouth_open, 0.0, 1.0))
    if factor >= 1.0:
        return expression, 1.0
    probs = {
        e: p * (factor if e in MOUTH_CLASSES else 1.0) for e, p in expression.probabilities.items()
    }
    total = sum(probs.values())
    probs = {e: p / total for e, p in probs.items()}
    if expression.va_source == "model":
        return replace(expression, probabilities=probs), factor
    valence = float(sum(p * CIRCUMPLEX[e][0] for e, p in probs.items()))
    arousal = float(sum(p * CIRCUMPLEX[e][1] for e, p in probs.items()))
    return (
        Expression(
            probabilities=probs,
            valence=float(np.clip(valence, -1.0, 1.0)),
            arousal=float(np.clip(arousal, 0.0, 1.0)),
            va_source=expression.va_source,
        ),
        factor,
    )
