"""The face analyser's result: derived values only, never pixels."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mindsync.analysis.base import ModalityResult

Emotion = Literal["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


class HeadPose(BaseModel):
    """Head rotation in degrees (see docs/models/face.md for the axes)."""

    model_config = ConfigDict(extra="forbid")

    yaw: float = Field(ge=-180, le=180, description=">0: face turned to the image's right.")
    pitch: float = Field(ge=-90, le=90, description=">0: face tilted up.")
    roll: float = Field(ge=-180, le=180, description=">0: eye line turned clockwise.")


class FaceQuality(BaseModel):
    """The factors that make up ``quality``, each 0 (unusable) to 1 (ideal)."""

    model_config = ConfigDict(extra="forbid")

    face_size: float = Field(ge=0, le=1, description="From the face width in pixels.")
    face_width_px: float = Field(ge=0, description="Face width in analysed pixels.")
    sharpness: float = Field(ge=0, le=1)
    exposure: float = Field(ge=0, le=1)
    pose: float = Field(ge=0, le=1, description="1 when facing the camera.")
    detection: float = Field(ge=0, le=1, description="From detector score and mesh presence.")


class FaceResult(ModalityResult):
    """Expressed emotion, head pose and eye openness of the largest face in the image.

    Estimates are ``None`` when ``status`` is "no_signal" (no face, or one too small or too
    blurred); ``faces_detected`` and ``quality_factors`` still say what was seen.
    """

    dominant_emotion: Emotion | None = None
    emotions: dict[Emotion, float] | None = Field(
        default=None, description="Probabilities of all seven emotions, summing to 1."
    )
    valence: float | None = Field(default=None, ge=-1, le=1)
    arousal: float | None = Field(default=None, ge=0, le=1)
    valence_arousal_source: Literal["model", "circumplex"] | None = Field(
        default=None,
        description="'model' when the model predicts them, 'circumplex' when mapped from "
        "the emotion probabilities.",
    )
    faces_detected: int = Field(ge=0)
    head_pose: HeadPose | None = None
    eyes_open: float | None = Field(default=None, ge=0, le=1, description="Mean eye openness.")
    facing_screen: bool | None = None
    quality_factors: FaceQuality | None = None
    model: str = Field(description="Name of the expression model (from its manifest).")
