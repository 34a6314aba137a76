"""BlazeFace face detection (MediaPipe's short- and full-range models, converted to ONNX).

Anchors, box decoding and weighted non-maximum suppression follow MediaPipe's graphs
``face_detection_short_range.pbtxt`` (128×128 input, 896 anchors at strides 8/16/16/16,
score ≥ 0.5) and ``face_detection_full_range.pbtxt`` (192×192 input, 2,304 anchors on a
48×48 grid at stride 4, score ≥ 0.6): ``SsdAnchorsCalculator`` with a fixed anchor size,
``TensorsToDetectionsCalculator`` (sigmoid scores clipped at ±100, boxes in input pixels) and
``NonMaxSuppressionCalculator`` (IoU 0.3, weighted).

How the two combine (:class:`FaceDetector`) is explained in docs/models/face.md: the cheap
short-range model first; the full-range model when the frame may hold faces the short-range
model cannot see; overlapping full-range tiles only for frames large enough to gain from them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from mindsync.analysis.face.runtime import new_session

logger = logging.getLogger(__name__)

NUM_KEYPOINTS = 6  # right eye, left eye, nose tip, mouth centre, right ear, left ear
NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold, both models
# Detections from different passes (whole frame, tiles, the other model) are the same face
# when the smaller box lies mostly inside the larger one (a face cut by a tile's border gives
# a partial box whose IoU with the whole one can be well under 0.3) and the two are of
# similar size (short-range boxes are 1.0-1.5x the full-range ones on the same face; a face
# inside a much larger false box is another object).
MERGE_OVERLAP = 0.5
MERGE_MAX_SIZE_RATIO = 2.0  # widths within this factor
# Tiles (full-range model): square, 0.6 of the frame's long side, never more than its short
# side. In a tile a face is up to 1/0.6 = 1.7× larger in the model's input than in the whole
# frame, which moves the smallest face found from about 8 % to about 5 % of the frame's
# width. Tiles replace the whole-frame pass: a face narrower than the tiles' overlap (≥ 12 %
# of the frame) lies inside one tile, and wider ones are the short-range model's range.
TILE_SHARE = 0.6
# Below this long side no tiles: the faces they would add (under 8 % of the frame) are
# under ~75 px wide, and the whole-frame pass is cheaper than 2-4 tiles.
TILE_MIN_SIDE = 960


@dataclass(frozen=True, slots=True)
class BlazeFaceSpec:
    """What differs between the two BlazeFace models."""

    name: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int  # 2 with MediaPipe's interpolated anchor scale, 1 without
    min_score: float


SHORT_RANGE = BlazeFaceSpec("short-range", 128, (8, 16, 16, 16), 2, 0.5)
FULL_RANGE = BlazeFaceSpec("full-range", 192, (4,), 1, 0.6)


@dataclass(frozen=True, slots=True)
class Detection:
    """One face in image pixel coordinates.

    ``box``: (x_min, y_min, x_max, y_max); ``keypoints``: shape (6, 2) as (x, y) in the order
    right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion
    (the subject's right, which is usually on the image's left); ``score`` in [0, 1];
    ``source``: which model found it ("short-range" or "full-range"); ``agreed``: whether
    the other model found the same face too.
    """

    box: tuple[float, float, float, float]
    keypoints: np.ndarray
    score: float
    source: str = "short-range"
    agreed: bool = False  # found by both models (set by :func:`merge_detections`)

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.box[3] - self.box[1]


def ssd_anchors(spec: BlazeFaceSpec) -> np.ndarray:
    """Anchor centres, shape (N, 2), normalised (x, y), in the model's output order."""
    input_size, strides = spec.input_size, spec.strides
    anchors: list[tuple[float, float]] = []
    layer = 0
    while layer < len(strides):
        # Consecutive layers with the same stride share one feature map, each layer adding
        # its anchors per cell (short range: 2 on the 16×16 map, 6 on the 8×8 one).
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
        per_cell = spec.anchors_per_layer * (last - layer)
        size = input_size // strides[layer]
        for y in range(size):
            for x in range(size):
                for _ in range(per_cell):
                    anchors.append(((x + 0.5) / size, (y + 0.5) / size))
        layer = last
    return np.asarray(anchors, dtype=np.float32)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    inter, area, areas = _intersections(box, boxes)
    iou: np.ndarray = inter / np.maximum(area + areas - inter, 1e-9)
    return iou


def _intersections(box: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = float((box[2] - box[0]) * (box[3] - box[1]))
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter, area, areas


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


def merge_detections(*groups: list[Detection]) -> list[Detection]:
    """One detection per face across passes, largest first.

    Two detections are the same face when the intersection covers at least
    ``MERGE_OVERLAP`` of the smaller box and their widths are within
    ``MERGE_MAX_SIZE_RATIO``; the one with the higher score is kept (earlier groups win ties,
    so pass the preferred pass first) and marked ``agreed`` when both models found it.
    """
    pool = [d for group in groups for d in group]
    if not pool:
        return []
    order = sorted(range(len(pool)), key=lambda i: -pool[i].score)
    boxes = np.array([pool[i].box for i in order], dtype=np.float64)
    taken = np.zeros(len(order), dtype=bool)
    kept: list[Detection] = []
    for rank, i in enumerate(order):
        if taken[rank]:
            continue
        inter, area, areas = _intersections(boxes[rank], boxes)
        widths = boxes[:, 2] - boxes[:, 0]
        ratio = np.maximum(widths, widths[rank]) / np.maximum(
            np.minimum(widths, widths[rank]), 1e-9
        )
        inside = inter / np.maximum(np.minimum(area, areas), 1e-9) >= MERGE_OVERLAP
        same = inside & (ratio <= MERGE_MAX_SIZE_RATIO) & ~taken
        sources = {pool[order[k]].source for k in np.flatnonzero(same)}
        taken |= same
        best = pool[i]
        kept.append(replace(best, agreed=best.agreed or len(sources) > 1))
    kept.sort(key=lambda d: d.width * d.height, reverse=True)
    return kept


class BlazeFace:
    """One BlazeFace model; ``find`` is thread-safe (onnxruntime sessions are)."""

    def __init__(self, model_path: Path, spec: BlazeFaceSpec) -> None:
        self.spec = spec
        self._session = new_session(model_path)
        self._input = self._session.get_inputs()[0].name
        self._anchors = ssd_anchors(spec)
        outputs = self._session.get_outputs()
        if outputs[0].shape[1] != len(self._anchors):
            raise ValueError(
                f"{spec.name} model has {outputs[0].shape[1]} anchors, expected "
                f"{len(self._anchors)}"
            )

    def find(
        self, image: Image.Image, region: tuple[float, float, float, float] | None = None
    ) -> list[Detection]:
        """Faces in ``region`` (default: all) of ``image`` (RGB), in image coordinates."""
        if region is None:
            region = (0.0, 0.0, float(image.width), float(image.height))
        boxes, kps, scores = self._candidates(image, region)
        if len(scores) == 0:
            return []
        width, height = image.size
        faces: list[Detection] = []
        for box, points, score in weighted_nms(boxes, kps, scores):
            x0, x1 = float(np.clip(box[0], 0, width)), float(np.clip(box[2], 0, width))
            y0, y1 = float(np.clip(box[1], 0, height)), float(np.clip(box[3], 0, height))
            if x1 - x0 < 1 or y1 - y0 < 1:
                continue
            faces.append(
                Detection(
                    box=(x0, y0, x1, y1),
                    keypoints=points.astype(np.float32),
                    score=score,
                    source=self.spec.name,
                )
            )
        faces.sort(key=lambda d: d.width * d.height, reverse=True)
        return faces

    def _candidates(
        self, image: Image.Image, region: tuple[float, float, float, float]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scored boxes (N, 4), keypoints (N, 6, 2) and scores (N,) found in ``region`` of
        ``image``, before suppression, in image coordinates."""
        size = self.spec.input_size
        left, top, right, bottom = region
        width, height = right - left, bottom - top
        scale = size / max(width, height)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        # reducing_gap=1: an integer box reduction does most of the work, then bilinear;
        # 5× faster than plain bilinear on a 640×480 frame (MediaPipe itself does not
        # antialias at all here).
        resized = image.resize(
            (new_w, new_h), Image.Resampling.BILINEAR, box=region, reducing_gap=1.0
        )
        # Letterbox like MediaPipe (keep aspect ratio, zero border, image centred).
        canvas = np.zeros((size, size, 3), dtype=np.float32)
        off_x, off_y = (size - new_w) // 2, (size - new_h) // 2
        pixels = np.asarray(resized, dtype=np.float32) * (2.0 / 255.0) - 1.0
        canvas[off_y : off_y + new_h, off_x : off_x + new_w] = pixels
        regressors, logits = self._session.run(None, {self._input: canvas[None]})
        logit = np.clip(logits[0, :, 0].astype(np.float64), -100.0, 100.0)
        scores = 1.0 / (1.0 + np.exp(-logit))
        keep = scores >= self.spec.min_score
        raw, scores, anchors = regressors[0][keep], scores[keep], self._anchors[keep]
        # Decode in the letterboxed input frame (pixels), then map back to the image.
        cx = raw[:, 0] + anchors[:, 0] * size
        cy = raw[:, 1] + anchors[:, 1] * size
        w, h = raw[:, 2], raw[:, 3]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        kps = raw[:, 4 : 4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2)
        kps = kps + anchors[:, None, :] * size
        offset = np.array([off_x, off_y], dtype=np.float32)
        origin = np.array([left, top], dtype=np.float32)
        boxes = ((boxes.reshape(-1, 2, 2) - offset) / scale + origin).reshape(-1, 4)
        kps = (kps - offset) / scale + origin
        return boxes, kps, scores


def tile_regions(width: int, height: int) -> list[tuple[float, float, float, float]]:
    """Overlapping square tiles that cover a ``width``×``height`` frame.

    Side: ``TILE_SHARE`` of the long side, at most the short side; as few tiles per axis as
    cover it, spread evenly (a 16:9 frame gets 2 tiles side by side, overlapping by 25 % of a
    tile; a 4:3 or square frame a 2×2 grid). Empty below ``TILE_MIN_SIDE``.
    """
    long_side, short_side = max(width, height), min(width, height)
    if long_side < TILE_MIN_SIDE:
        return []
    side = min(TILE_SHARE * long_side, float(short_side))

    def starts(extent: int) -> list[float]:
        count = max(1, math.ceil(extent / side - 1e-9))
        if count == 1:
            return [0.0]
        step = (extent - side) / (count - 1)
        return [i * step for i in range(count)]

    return [(x, y, x + side, y + side) for y in starts(height) for x in starts(width)]


class FaceDetector:
    """Both BlazeFace models and the rules that combine them; thread-safe."""

    def __init__(self, short_range: Path, full_range: Path | None = None) -> None:
        self.short = BlazeFace(short_range, SHORT_RANGE)
        self.full = BlazeFace(full_range, FULL_RANGE) if full_range is not None else None

    def detect(self, image: Image.Image) -> list[Detection]:
        """Short-range faces in the whole of ``image`` (RGB), largest first: faces at
        selfie distance (wider than about 15 % of the frame), about 2 ms."""
        return self.short.find(image)

    def detect_far(
        self,
        image: Image.Image,
        *,
        tiles: bool = True,
        whole: list[Detection] | None = None,
    ) -> list[Detection]:
        """Full-range faces in the whole frame and, when ``tiles`` and the frame is large
        enough, in overlapping tiles, merged, largest first.

        Finds faces down to about 8 % of the frame's width on the whole frame and about 5 %
        with tiles. Costs one full-range run (whole frame) or, for frames whose long side is
        at least ``TILE_MIN_SIDE``, 2 (16:9) to 4 (4:3) runs on tiles; ``whole`` is a
        whole-frame result already at hand, merged in instead of run again.
        """
        if self.full is None:
            return []
        regions = tile_regions(*image.size) if tiles else []
        if not regions:
            return self.full.find(image) if whole is None else whole
        found = [self.full.find(image, region) for region in regions]
        return merge_detections(*found, whole or [])
