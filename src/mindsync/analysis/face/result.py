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
    face_width_px: float = Field(
        ge=0,
        description="Width of the face (the face mesh's extent along the eye line) in pixels "
        "of the image as sent.",
    )
    sharpness: float = Field(ge=0, le=1, description="0 blurred to 1 sharp.")
    exposure: float = Field(ge=0, le=1, description="0 too dark or too bright to 1 well exposed.")
    pose: float = Field(ge=0, le=1, description="1 when facing the camera.")
    detection: float = Field(ge=0, le=1, description="From detector score and mesh presence.")


class DetectedFace(BaseModel):
    """One face found in the image (pixel coordinates of the image as sent)."""

    model_config = ConfigDict(extra="forbid")

    box: tuple[float, float, float, float] = Field(
        description="x, y (top-left corner), width and height of the detector's box."
    )
    width_px: float = Field(
        ge=0, description="Width of the face (face-mesh extent along the eye line)."
    )
    score: float = Field(ge=0, le=1, description="Detection score.")
    primary: bool = Field(description="Whether this is the face the estimates describe.")


class FaceResult(ModalityResult):
    """Expressed emotion, head pose, eyes, mouth and attention of the primary face.

    The primary face is the largest one found, or the one nearest the client's ``focus``
    point. Estimates are ``None`` when ``status`` is "no_signal" (no face, or one too small,
    too dark or too blurred); ``faces``, ``faces_detected`` and ``quality_factors`` still say
    what was seen, and ``reason_code`` why (docs/models/face.md lists the codes).
    """

    dominant_emotion: Emotion | None = Field(
        default=None, description="The most probable expression; null without a usable face."
    )
    emotions: dict[Emotion, float] | None = Field(
        default=None, description="Probabilities of all seven emotions, summing to 1."
    )
    valence: float | None = Field(
        default=None,
        ge=-1,
        le=1,
        description="Unpleasant (-1) to pleasant (+1); null without a usable face.",
    )
    arousal: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Calm (0) to activated (1); null without a usable face.",
    )
    valence_arousal_source: Literal["model", "circumplex"] | None = Field(
        default=None,
        description="'model' when the model predicts them, 'circumplex' when mapped from "
        "the emotion probabilities.",
    )
    faces_detected: int = Field(ge=0, description="How many faces were found (len(faces)).")
    faces: list[DetectedFace] = Field(
        default_factory=list, description="Every face found, largest first."
    )
    head_pose: HeadPose | None = Field(
        default=None, description="Yaw, pitch and roll in degrees; null without a face mesh."
    )
    eyes_open: float | None = Field(default=None, ge=0, le=1, description="Mean eye openness.")
    facing_screen: bool | None = Field(
        default=None,
        description="|yaw| <= 25 and |pitch| <= 20 degrees (kept for compatibility; "
        "``attention`` is the continuous measure).",
    )
    attention: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Face-based attention, 0-1: smooth in yaw, pitch and eye openness.",
    )
    mouth_open: float | None = Field(
        default=None, ge=0, le=1, description="Inner-lip opening, 0 (closed) to 1 (wide open)."
    )
    speaking: bool | None = Field(
        default=None,
        description="True when the lips move while the voice modality hears speech (streams); "
        "None when one frame cannot tell.",
    )
    quality_factors: FaceQuality | None = Field(
        default=None, description="The factors of quality, each 0-1; null when no face was found."
    )
    model: str = Field(description="Name of the expression model (from its manifest).")
