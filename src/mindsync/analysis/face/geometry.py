"""Rotated square crops, the 468-point face mesh, head pose and eye openness.

Coordinates are continuous image pixels: x to the right, y down; the mesh's z uses the same
scale as x and grows away from the camera (MediaPipe's convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mindsync.analysis.face.runtime import new_session

LANDMARK_INPUT = 192
NEAREST_MIN_SHARE = 0.75  # crops of at least 0.75 × 192 px are sampled nearest-pixel
NUM_LANDMARKS = 468
# MediaPipe face-mesh indices (the subject's right eye is on the image's left).
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
FOREHEAD, CHIN = 10, 152
# Eye contours for the eye aspect ratio: (outer/inner corner, upper lid pair, lower lid pair).
RIGHT_EYE = (33, 133, (160, 144), (158, 153))
LEFT_EYE = (263, 362, (387, 373), (385, 380))
# Eye aspect ratio of a closed and of a fully open eye on this mesh (see docs/models/face.md).
EAR_CLOSED, EAR_OPEN = 0.10, 0.28
# Mouth: outer corners, and three upper/lower inner-lip pairs (left of centre, centre, right).
MOUTH_CORNERS = (61, 291)
INNER_LIPS = ((82, 87), (13, 14), (312, 317))
# Mouth aspect ratio (inner-lip gap over mouth width) of lips that touch and of a mouth open
# wide (a yawn, a shout); measured on real frames, see docs/models/face.md.
MAR_CLOSED, MAR_WIDE = 0.05, 0.50
# The forehead–chin line leans back relative to the facial plane, so a face looking straight
# at the camera measures about -9° pitch (mean of four frontal measurements, docs/models/face.md).
PITCH_BIAS_DEG = 9.0


@dataclass(frozen=True, slots=True)
class SquareRoi:
    """A square region of an image: centre (cx, cy), side length and rotation (radians).

    A positive ``angle`` turns the region clockwise on screen (y points down).
    """

    cx: float
    cy: float
    size: float
    angle: float

    def affine(self, out_size: int) -> tuple[float, float, float, float, float, float]:
        """PIL AFFINE coefficients mapping output pixels of an ``out_size`` crop to the image."""
        k = self.size / out_size
        c, s = math.cos(self.angle), math.sin(self.angle)
        half = self.size / 2
        return (
            k * c,
            -k * s,
            self.cx - c * half + s * half,
            k * s,
            k * c,
            self.cy - s * half - c * half,
        )

    def crop(
        self,
        image: Image.Image,
        out_size: int,
        resample: Image.Resampling = Image.Resampling.BILINEAR,
    ) -> Image.Image:
        """The region resampled to ``out_size``×``out_size`` (black outside the image)."""
        return image.transform(
            (out_size, out_size), Image.Transform.AFFINE, self.affine(out_size), resample=resample
        )

    def to_image(self, points: np.ndarray, out_size: int) -> np.ndarray:
        """Map (N, 2|3) points of an ``out_size`` crop back to image coordinates (z scaled)."""
        k = self.size / out_size
        c, s = math.cos(self.angle), math.sin(self.angle)
        u = points[:, 0] * k - self.size / 2
        v = points[:, 1] * k - self.size / 2
        out = np.empty_like(points, dtype=np.float32)
        out[:, 0] = self.cx + c * u - s * v
        out[:, 1] = self.cy + s * u + c * v
        if points.shape[1] > 2:
            out[:, 2:] = points[:, 2:] * k
        return out


def roi_from_detection(
    box: tuple[float, float, float, float], right_eye: np.ndarray, left_eye: np.ndarray
) -> SquareRoi:
    """MediaPipe's detection-to-ROI rule: box centre, longest side × 1.5, eye line level."""
    angle = math.atan2(float(left_eye[1] - right_eye[1]), float(left_eye[0] - right_eye[0]))
    size = max(box[2] - box[0], box[3] - box[1]) * 1.5
    return SquareRoi((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, size, angle)


def roi_from_landmarks(points: np.ndarray, scale: float) -> SquareRoi:
    """A square around the mesh, levelled on the eye corners, its side × ``scale``."""
    eye_r, eye_l = points[RIGHT_EYE_OUTER, :2], points[LEFT_EYE_OUTER, :2]
    angle = math.atan2(float(eye_l[1] - eye_r[1]), float(eye_l[0] - eye_r[0]))
    c, s = math.cos(angle), math.sin(angle)
    # Express the points in the levelled frame, take their bounding box there.
    u = points[:, 0] * c + points[:, 1] * s
    v = -points[:, 0] * s + points[:, 1] * c
    mu, mv = (u.min() + u.max()) / 2, (v.min() + v.max()) / 2
    size = float(max(u.max() - u.min(), v.max() - v.min())) * scale
    return SquareRoi(float(mu * c - mv * s), float(mu * s + mv * c), size, angle)


@dataclass(frozen=True, slots=True)
class Mesh:
    """468 face landmarks, shape (468, 3), in image pixels; ``presence`` in [0, 1]."""

    points: np.ndarray
    presence: float


class LandmarkModel:
    """MediaPipe's face-mesh model; ``run`` is thread-safe."""

    def __init__(self, model_path: Path) -> None:
        self._session = new_session(model_path)
        self._input = self._session.get_inputs()[0].name

    def run(self, image: Image.Image, roi: SquareRoi) -> Mesh:
        """The mesh of the face inside ``roi`` of ``image`` (RGB)."""
        # Nearest is 15× faster than Pillow's bilinear affine (0.05 vs 0.8 ms), which does not
        # antialias when shrinking either; with at most 1.33× enlargement the landmarks moved
        # by 0.2–0.3 % of the inter-ocular distance on frontal faces (docs/models/face.md).
        # Stronger enlargement: bilinear, to avoid blocks.
        nearest_ok = roi.size >= NEAREST_MIN_SHARE * LANDMARK_INPUT
        resample = Image.Resampling.NEAREST if nearest_ok else Image.Resampling.BILINEAR
        crop = roi.crop(image, LANDMARK_INPUT, resample)
        tensor = np.asarray(crop, dtype=np.float32)[None] * (1.0 / 255.0)
        landmarks, flag = self._session.run(None, {self._input: tensor})
        local = landmarks.reshape(NUM_LANDMARKS, 3)
        presence = 1.0 / (1.0 + math.exp(-float(np.clip(flag.reshape(-1)[0], -50, 50))))
        return Mesh(points=roi.to_image(local, LANDMARK_INPUT), presence=presence)


@dataclass(frozen=True, slots=True)
class HeadPose:
    """Head rotation in degrees.

    ``yaw`` > 0: the face turns towards the image's right (the subject's left);
    ``pitch`` > 0: the face tilts up; ``roll`` > 0: the eye line turns clockwise on screen.
    """

    yaw: float
    pitch: float
    roll: float


def head_pose(points: np.ndarray) -> HeadPose:
    """Head pose from the mesh's own 3-D axes (eye corners and forehead–chin line).

    The face's x axis runs from the right to the left outer eye corner, its y axis from the
    forehead to the chin (made orthogonal to x); the face looks along -(x × y).
    """
    x_axis = points[LEFT_EYE_OUTER] - points[RIGHT_EYE_OUTER]
    y_axis = points[CHIN] - points[FOREHEAD]
    x_hat = x_axis / max(float(np.linalg.norm(x_axis)), 1e-6)
    y_axis = y_axis - float(y_axis @ x_hat) * x_hat
    y_hat = y_axis / max(float(np.linalg.norm(y_axis)), 1e-6)
    forward = -np.cross(x_hat, y_hat)  # points from the face towards the camera when frontal
    yaw = math.degrees(math.atan2(float(forward[0]), float(-forward[2])))
    pitch = math.degrees(math.atan2(float(-forward[1]), math.hypot(forward[0], forward[2])))
    pitch = max(-90.0, min(90.0, pitch + PITCH_BIAS_DEG))
    roll = math.degrees(math.atan2(float(x_hat[1]), float(x_hat[0])))
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll)


def eye_aspect_ratio(points: np.ndarray) -> tuple[float, float]:
    """Eye aspect ratio (Soukupová & Čech 2016) of the right and left eye, in 3-D."""
    ratios = []
    for corner_a, corner_b, (u1, l1), (u2, l2) in (RIGHT_EYE, LEFT_EYE):
        width = float(np.linalg.norm(points[corner_a] - points[corner_b]))
        height = float(
            np.linalg.norm(points[u1] - points[l1]) + np.linalg.norm(points[u2] - points[l2])
        )
        ratios.append(height / (2.0 * width) if width > 1e-6 else 0.0)
    return ratios[0], ratios[1]


def mouth_aspect_ratio(points: np.ndarray) -> float:
    """Inner-lip gap over mouth width (outer corners), in 3-D: about 0 with closed lips."""
    width = float(np.linalg.norm(points[MOUTH_CORNERS[0]] - points[MOUTH_CORNERS[1]]))
    if width <= 1e-6:
        return 0.0
    gap = sum(float(np.linalg.norm(points[u] - points[lo])) for u, lo in INNER_LIPS)
    return gap / (len(INNER_LIPS) * width)


def mouth_openness(mar: float) -> float:
    """Map a mouth aspect ratio to openness in [0, 1] (lips touching → 0, wide open → 1)."""
    return float(np.clip((mar - MAR_CLOSED) / (MAR_WIDE - MAR_CLOSED), 0.0, 1.0))


def face_width(points: np.ndarray) -> float:
    """Width of the face as the camera sees it: the mesh's extent along the eye line, in pixels.

    Only the width: the mesh is taller than wide (forehead to chin), so the side of a square
    around it overstates the width by about a third.
    """
    eye_r, eye_l = points[RIGHT_EYE_OUTER, :2], points[LEFT_EYE_OUTER, :2]
    angle = math.atan2(float(eye_l[1] - eye_r[1]), float(eye_l[0] - eye_r[0]))
    u = points[:, 0] * math.cos(angle) + points[:, 1] * math.sin(angle)
    return float(u.max() - u.min())


def eye_openness(ear: float) -> float:
    """Map an eye aspect ratio to openness in [0, 1] (closed → 0, fully open → 1)."""
    return float(np.clip((ear - EAR_CLOSED) / (EAR_OPEN - EAR_CLOSED), 0.0, 1.0))
