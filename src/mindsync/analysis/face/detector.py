"""BlazeFace short-range face detection (MediaPipe's model, converted to ONNX).

Anchors, box decoding and weighted non-maximum suppression follow MediaPipe's
``face_detection_short_range.pbtxt`` graph: ``SsdAnchorsCalculator`` (4 layers, strides
8/16/16/16, fixed anchor size), ``TensorsToDetectionsCalculator`` (scale 128, sigmoid scores,
clipping at ±100) and ``NonMaxSuppressionCalculator`` (IoU 0.3, weighted).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mindsync.analysis.face.runtime import new_session

logger = logging.getLogger(__name__)

INPUT_SIZE = 128
NUM_KEYPOINTS = 6  # right eye, left eye, nose tip, mouth centre, right ear, left ear
MIN_SCORE = 0.5
NMS_IOU = 0.3
TILE_SHARE = 0.6  # side of each of the four fallback tiles, as a share of the image's side
TILE_MIN_SIDE = 400  # below this long side the tiles would only enlarge tiny faces


@dataclass(frozen=True, slots=True)
class Detection:
    """One face in image pixel coordinates.

    ``box``: (x_min, y_min, x_max, y_max); ``keypoints``: shape (6, 2) as (x, y) in the order
    right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion
    (the subject's right, which is usually on the image's left); ``score`` in [0, 1].
    """

    box: tuple[float, float, float, float]
    keypoints: np.ndarray
    score: float

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.box[3] - self.box[1]


def ssd_anchors() -> np.ndarray:
    """The 896 anchor centres of the short-range model, shape (896, 2), normalised (x, y)."""
    strides = [8, 16, 16, 16]
    anchors: list[tuple[float, float]] = []
    layer = 0
    while layer < len(strides):
        # Consecutive layers with the same stride share one feature map: 2 anchors per layer.
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
        per_cell = 2 * (last - layer)
        size = INPUT_SIZE // strides[layer]
        for y in range(size):
            for x in range(size):
                for _ in range(per_cell):
                    anchors.append(((x + 0.5) / size, (y + 0.5) / size))
        layer = last
    return np.asarray(anchors, dtype=np.float32)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    iou: np.ndarray = inter / np.maximum(area + areas - inter, 1e-9)
    return iou


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's WEIGHTED suppression: overlapping candidates are averaged by score.

    ``boxes`` (N, 4), ``keypoints`` (N, K, 2), ``scores`` (N,). Returns (box, keypoints, score)
    per kept face, best first; the score is the best candidate's.
    """
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    remaining = np.ones(len(scores), dtype=bool)
    kept: list[tuple[np.ndarray, np.ndarray, float]] = []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        overlap = _iou(boxes[i], boxes) > iou
        group = overlap & remaining
        weights = scores[group][:, None]
        box = (boxes[group] * weights).sum(0) / weights.sum()
        kps = (keypoints[group] * weights[:, :, None]).sum(0) / weights.sum()
        kept.append((box, kps, float(scores[i])))
        remaining &= ~group
    return kept


class FaceDetector:
    """Finds faces in an RGB image; ``detect`` is thread-safe (onnxruntime sessions are)."""

    def __init__(self, model_path: Path) -> None:
        self._session = new_session(model_path)
        self._input = self._session.get_inputs()[0].name
        self._anchors = ssd_anchors()

    def detect(self, image: Image.Image, *, min_score: float = MIN_SCORE) -> list[Detection]:
        """Faces in the whole of ``image`` (RGB), largest first, in image pixel coordinates."""
        width, height = image.size
        return self._faces(self._candidates(image, (0, 0, width, height), min_score), image.size)

    @staticmethod
    def can_tile(image: Image.Image) -> bool:
        """Whether :meth:`detect_tiles` can find faces that :meth:`detect` cannot."""
        return max(image.size) >= TILE_MIN_SIDE

    def detect_tiles(self, image: Image.Image, *, min_score: float = MIN_SCORE) -> list[Detection]:
        """Faces found in four overlapping tiles of 60 % of each side, largest first.

        The short-range model misses faces under ~15 % of the frame; in a tile they are
        1.7× larger, which reaches faces down to ~8 % of the frame. Costs four detector runs.
        """
        width, height = image.size
        tile_w, tile_h = width * TILE_SHARE, height * TILE_SHARE
        found = [
            self._candidates(image, (x, y, x + tile_w, y + tile_h), min_score)
            for y in (0.0, height - tile_h)
            for x in (0.0, width - tile_w)
        ]
        merged = (
            np.concatenate([f[0] for f in found]),
            np.concatenate([f[1] for f in found]),
            np.concatenate([f[2] for f in found]),
        )
        return self._faces(merged, image.size)

    @staticmethod
    def _faces(
        candidates: tuple[np.ndarray, np.ndarray, np.ndarray], size: tuple[int, int]
    ) -> list[Detection]:
        boxes, kps, scores = candidates
        if len(scores) == 0:
            return []
        width, height = size
        faces: list[Detection] = []
        for box, points, score in weighted_nms(boxes, kps, scores):
            x0, x1 = float(np.clip(box[0], 0, width)), float(np.clip(box[2], 0, width))
            y0, y1 = float(np.clip(box[1], 0, height)), float(np.clip(box[3], 0, height))
            if x1 - x0 < 1 or y1 - y0 < 1:
                continue
            faces.append(
                Detection(box=(x0, y0, x1, y1), keypoints=points.astype(np.float32), score=score)
            )
        faces.sort(key=lambda d: d.width * d.height, reverse=True)
        return faces

    def _candidates(
        self,
        image: Image.Image,
        region: tuple[float, float, float, float],
        min_score: float,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scored boxes (N, 4), keypoints (N, 6, 2) and scores (N,) found in ``region`` of
        ``image``, before suppression, in image coordinates."""
        left, top, right, bottom = region
        width, height = right - left, bottom - top
        scale = INPUT_SIZE / max(width, height)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        # reducing_gap=1: an integer box reduction does most of the work, then bilinear;
        # 5× faster than plain bilinear on a 640×480 frame (MediaPipe itself does not
        # antialias at all here).
        resized = image.resize(
            (new_w, new_h), Image.Resampling.BILINEAR, box=region, reducing_gap=1.0
        )
        # Letterbox like MediaPipe (keep aspect ratio, zero border, image centred).
        canvas = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), dtype=np.float32)
        off_x, off_y = (INPUT_SIZE - new_w) // 2, (INPUT_SIZE - new_h) // 2
        pixels = np.asarray(resized, dtype=np.float32) * (2.0 / 255.0) - 1.0
        canvas[off_y : off_y + new_h, off_x : off_x + new_w] = pixels
        regressors, logits = self._session.run(None, {self._input: canvas[None]})
        logit = np.clip(logits[0, :, 0].astype(np.float64), -100.0, 100.0)
        scores = 1.0 / (1.0 + np.exp(-logit))
        keep = scores >= min_score
        raw, scores, anchors = regressors[0][keep], scores[keep], self._anchors[keep]
        # Decode in the 128×128 letterboxed frame (pixels), then map back to the image.
        cx = raw[:, 0] + anchors[:, 0] * INPUT_SIZE
        cy = raw[:, 1] + anchors[:, 1] * INPUT_SIZE
        w, h = raw[:, 2], raw[:, 3]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        kps = raw[:, 4 : 4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2)
        kps = kps + anchors[:, None, :] * INPUT_SIZE
        offset = np.array([off_x, off_y], dtype=np.float32)
        origin = np.array([left, top], dtype=np.float32)
        boxes = ((boxes.reshape(-1, 2, 2) - offset) / scale + origin).reshape(-1, 4)
        kps = (kps - offset) / scale + origin
        return boxes, kps, scores
