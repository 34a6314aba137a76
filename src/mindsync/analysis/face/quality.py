"""Face-quality factors, each in [0, 1], and how they combine.

Thresholds are stated here once and explained in docs/models/face.md.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image
from scipy.ndimage import uniform_filter1d

# Face width (levelled mesh extent) in working-image pixels.
MIN_FACE_PX = 32.0  # below: no estimate ("face too small")
GOOD_FACE_PX = 96.0  # at or above: size factor 1
# Blur (``blur``) of a 96×96 crop of the face. Crisp photos measure 0.27–0.42; a Gaussian blur
# of σ = 3 % of the face width gives about 0.75–0.8, where the expression model's answers on
# our test photos stopped being right (docs/models/face.md).
CRISP_BLUR = 0.45  # at or below: sharpness factor 1
MAX_BLUR = 0.74  # at or above: no estimate ("face too blurred")
SHARPNESS_SIZE = 96
# Head pose (degrees) that still counts as turned to the screen, and where quality reaches 0.
FACING_YAW, FACING_PITCH = 25.0, 20.0
POSE_ZERO_DEG = 60.0
# Beyond these the expression model (trained on mostly frontal faces) is guessing: head pose
# and eyes are still reported, the emotion is not.
MAX_EXPRESSION_YAW, MAX_EXPRESSION_PITCH = 40.0, 35.0
MIN_PRESENCE = 0.5  # face-mesh presence below which the detection is not confirmed
# Exposure of the face crop (mean grey, 0-255) at which no expression is read: the
# ``exposure`` factor is 0 there (brightness ramp of 50 grey levels from these ends).
TOO_DARK_MEAN, OVEREXPOSED_MEAN = 25.0, 230.0
# Attention: a logistic fall-off in |yaw| and |pitch| whose 50 % points are the old
# ``facing_screen`` limits, so the boolean and the score agree where the boolean flips, and
# whose softness (degrees) bounds the slope to about 0.05 per degree: one degree of head
# turn moves attention by at most 5 % of its range.
ATTENTION_SOFTNESS_DEG = 5.0
# Eyes: closed eyes in one frame may be a blink, so they lower attention without zeroing it.
ATTENTION_EYES_FLOOR = 0.4

WEIGHTS = {"face_size": 0.25, "sharpness": 0.25, "exposure": 0.2, "pose": 0.15, "detection": 0.15}


def ramp(value: float, lo: float, hi: float) -> float:
    """0 at or below ``lo``, 1 at or above ``hi``, linear between."""
    if hi <= lo:
        return 1.0 if value >= hi else 0.0
    return float(min(max((value - lo) / (hi - lo), 0.0), 1.0))


def blur(gray_face: Image.Image) -> float:
    """No-reference blur of a grey face crop, 0 (crisp) to 1 (smooth); Crete et al. (2007).

    The crop is re-blurred with a 9-pixel box filter; the share of its neighbour differences
    that the re-blur does not remove grows as the crop was already blurred. It depends far
    less on the face's texture than Laplacian energy does (measured in docs/models/face.md).
    """
    f = np.asarray(gray_face, dtype=np.float32)
    scores = []
    for axis in (0, 1):
        reblurred = uniform_filter1d(f, size=9, axis=axis, mode="nearest")
        d_f = np.abs(np.diff(f, axis=axis))[1:-1, 1:-1]
        d_b = np.abs(np.diff(reblurred, axis=axis))[1:-1, 1:-1]
        total = float(d_f.sum())
        if total < 1e-6:
            return 1.0
        kept = float(np.maximum(d_f - d_b, 0.0).sum())
        scores.append((total - kept) / total)
    return float(min(max(scores), 1.0))


def sharpness_quality(blur_value: float) -> float:
    """1 for a crisp face, 0 at ``MAX_BLUR`` and beyond."""
    return ramp(-blur_value, -MAX_BLUR, -CRISP_BLUR)


def exposure(gray_face: Image.Image) -> float:
    """How well exposed a grey face crop is: mid brightness, some contrast, little clipping."""
    g = np.asarray(gray_face, dtype=np.float32)
    mean, std = float(g.mean()), float(g.std())
    brightness = ramp(min(mean - 25.0, 230.0 - mean), 0.0, 50.0)
    contrast = ramp(std, 6.0, 25.0)
    clipped = float(((g <= 4) | (g >= 251)).mean())
    return brightness * contrast * ramp(1.0 - clipped, 0.5, 0.9)


def pose_quality(yaw: float, pitch: float) -> float:
    """1 for a face turned to the camera, falling to 0 at ``POSE_ZERO_DEG`` of yaw or pitch."""
    turn = max(abs(yaw) - FACING_YAW, 0.0) + max(abs(pitch) - FACING_PITCH, 0.0)
    return ramp(-turn, -(POSE_ZERO_DEG - FACING_YAW), 0.0)


def _soft_limit(angle: float, half: float) -> float:
    """1 at 0°, 0.5 at ``half`` degrees, towards 0 beyond; smooth and monotone in |angle|."""
    at = 1.0 / (1.0 + math.exp((abs(angle) - half) / ATTENTION_SOFTNESS_DEG))
    at_zero = 1.0 / (1.0 + math.exp(-half / ATTENTION_SOFTNESS_DEG))
    return at / at_zero


def attention(yaw: float, pitch: float, eyes_open: float) -> float:
    """Face-based attention in [0, 1]: turned to the screen with open eyes → 1.

    Continuous in all three inputs (no threshold): the product of a soft limit on yaw
    (50 % at 25°), one on pitch (50 % at 20°), and an eye term from 0.4 (closed) to 1 (open).
    """
    eyes = ATTENTION_EYES_FLOOR + (1.0 - ATTENTION_EYES_FLOOR) * min(max(eyes_open, 0.0), 1.0)
    value = _soft_limit(yaw, FACING_YAW) * _soft_limit(pitch, FACING_PITCH) * eyes
    return float(min(max(value, 0.0), 1.0))


def detection_quality(score: float, presence: float) -> float:
    """Detector score and face-mesh presence, 0.5 → 0 and 0.9 → 1."""
    return ramp(min(score, presence), 0.5, 0.9)


def combine(factors: dict[str, float]) -> float:
    """Weighted geometric mean: one bad factor pulls the whole quality down."""
    total = sum(WEIGHTS[k] * math.log(max(factors[k], 0.01)) for k in WEIGHTS)
    return float(min(max(math.exp(total), 0.0), 1.0))
