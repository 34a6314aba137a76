"""The typed result of the motion analyser (derived values only, never samples)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mindsync.analysis.base import ModalityResult

ActivityClass = Literal["still", "walking", "running", "vigorous"]
ACTIVITY_CLASSES: tuple[ActivityClass, ...] = ("still", "walking", "running", "vigorous")
#: Where the device is: carried by a moving person; on a person who is not moving (tremor
#: and sway present); or not on a person at all (lying on a surface).
Placement = Literal["moving_with_person", "on_person_stationary", "not_on_person"]
Posture = Literal["sitting", "standing", "lying"]


class MotionQuality(BaseModel):
    """Why the motion quality is what it is; each part is 0 (unusable) to 1 (ideal).

    The overall ``quality`` of :class:`MotionResult` is the product of the four parts.
    """

    model_config = ConfigDict(extra="forbid")

    rate: float = Field(ge=0.0, le=1.0, description="From the measured sampling rate.")
    duration: float = Field(ge=0.0, le=1.0, description="From the usable duration.")
    gaps: float = Field(ge=0.0, le=1.0, description="1 minus the share of time lost in gaps.")
    saturation: float = Field(
        ge=0.0, le=1.0, description="Lower when the accelerometer clipped at its range."
    )
    gap_seconds: float = Field(ge=0.0, description="Time lost in gaps, seconds.")
    gap_count: int = Field(ge=0, description="Number of gaps in the sampling.")
    saturated_fraction: float = Field(ge=0.0, le=1.0, description="Share of clipped samples.")


class MotionResult(ModalityResult):
    """Activity and restlessness estimated from accelerometer (and gyroscope) samples.

    Estimates are ``None`` when ``status`` is ``"no_signal"``. Descriptive fields
    (``samples``, ``sampling_rate_hz`` …) are filled whenever they could be measured.
    """

    activity: ActivityClass | None = Field(
        default=None, description="Most likely activity: still, walking, running or vigorous."
    )
    activity_probabilities: dict[str, float] | None = Field(
        default=None, description="Probability of each activity class; they sum to 1."
    )
    activity_level: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Movement intensity from the dynamic acceleration, 0 (still) to 1 (intense).",
    )
    restlessness: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=(
            "Share of one-second windows with movement, each graded by its strength on a log "
            "scale: 0 = the device never moved, 1 = it moved at walking strength or more all "
            "the time. Not attention itself; fusion uses 1 - restlessness as one cue."
        ),
    )
    stillness_ratio: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Share of one-second windows without movement."
    )
    sampling_rate_hz: float | None = Field(
        default=None, ge=0.0, description="Sampling rate measured from the timestamps."
    )
    duration_seconds: float | None = Field(
        default=None, ge=0.0, description="Time from the first to the last sample."
    )
    samples: int = Field(ge=0, description="Samples received, before duplicates were merged.")
    gravity_included: bool | None = Field(
        default=None,
        description="Whether the acceleration includes gravity; None when it cannot be told.",
    )
    timestamp_unit: Literal["s", "ms", "us", "ns"] | None = Field(
        default=None, description="Unit the timestamps were read in (see docs/models/motion.md)."
    )
    placement: Placement | None = Field(
        default=None,
        description="Where the device is: 'moving_with_person', 'on_person_stationary' or "
        "'not_on_person' (lying on a surface: no tremor, no sway). None when it cannot be told.",
    )
    placement_confidence: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Confidence of ``placement``, 0 to 1."
    )
    posture: Posture | None = Field(
        default=None,
        description="Sitting, standing or lying, only while on a stationary person and only "
        "when the data supports it; None otherwise.",
    )
    posture_confidence: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Confidence of ``posture``, 0 to 1."
    )
    acceleration_unit: Literal["m/s2", "g"] | None = Field(
        default=None,
        description="Unit the acceleration was read in, told from the gravity magnitude; None "
        "when it cannot be told (then see ``acceleration_unit_note``).",
    )
    acceleration_unit_note: str | None = Field(
        default=None, description="Why the unit is ambiguous or was assumed, when it was."
    )
    has_gyroscope: bool = Field(default=False, description="Whether gyroscope data was used.")
    features: dict[str, float] | None = Field(
        default=None, description="Derived, orientation-free signal statistics."
    )
    quality_breakdown: MotionQuality | None = Field(
        default=None, description="The parts the overall quality is made of."
    )
