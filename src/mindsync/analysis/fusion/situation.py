"""Where the person is and what they are doing, read from the modalities' results.

The motion result's ``placement`` and ``posture`` say it best. When they are missing (an
older motion analyser, a plugged-in one), the activity class and the amount of sway in the
signal stand in: a device on a person always sways a little (breathing, postural sway,
tremor); a device on a table does not. See docs/scoring.md, "Situation".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from mindsync.analysis.base import MODALITIES, Modality, ModalityResult

Situation = Literal[
    "walking",
    "exercising",
    "seated",
    "standing",
    "lying",
    "stationary",
    "at_desk_device_on_table",
    "device_unattended",
    "at_screen",
    "unknown",
]
SITUATIONS: tuple[Situation, ...] = get_args(Situation)
#: Situations in which the person's body moves through space.
MOVING: frozenset[str] = frozenset({"walking", "exercising"})
#: Situations in which the device is on a person who keeps in one place.
ON_PERSON_STATIONARY: frozenset[str] = frozenset({"seated", "standing", "lying", "stationary"})

#: Activities that are exercise rather than getting about.
EXERCISE_ACTIVITIES = frozenset({"running", "vigorous"})
#: Below this the placement is not trusted and the fallback reads the signal instead.
MIN_PLACEMENT_CONFIDENCE = 0.5
#: Sway that tells a device on a person from one on a surface, in the 0.3–5 Hz band that the
#: motion features keep (canonical 10 Hz). The least-moving of 252 stationary stretches
#: (first 10-20 s of each sitting, standing or lying run) of UCI HAPT's 21 training volunteers had
#: 0.038 m/s² and 0.0064 rad/s; white sensor noise of 0.02 m/s² per axis (a noisy phone IMU
#: on a table) reads 0.012 m/s² and 0.0014 rad/s. The limits sit between the two.
SWAY_ACC_MS2 = 0.025
SWAY_GYRO_RADS = 0.004
#: Restlessness above which some seconds clearly moved (a person, not a table).
SWAY_RESTLESSNESS = 0.05
#: The fallback reading is less sure than the motion model's own placement.
FALLBACK_CONFIDENCE = 0.6

MotionState = Literal["moving", "on_person_stationary", "not_on_person", "unknown"]


@dataclass(frozen=True)
class SituationReading:
    """The situation, how sure it is, and the motion state behind it."""

    situation: Situation
    confidence: float
    modalities: list[Modality] = field(default_factory=list)
    motion_state: MotionState | None = None
    placement_source: Literal["model", "fallback"] | None = None

    @property
    def moving(self) -> bool:
        """The person moves through space (walking, stairs, running, exercise)."""
        return self.motion_state == "moving"

    @property
    def person_stationary(self) -> bool:
        """The device is on a person who stays in one place."""
        return self.motion_state == "on_person_stationary"


def _sway(motion: ModalityResult) -> bool | None:
    """True when the signal sways like a body, False when it is as quiet as a table, None
    when the result has nothing to tell by."""
    features = getattr(motion, "features", None) or {}
    acc = features.get("dynamic_acc_rms_ms2")
    gyro = features.get("rotation_rms_rads")
    restlessness = getattr(motion, "restlessness", None)
    stillness = getattr(motion, "stillness_ratio", None)
    if (acc is not None and acc >= SWAY_ACC_MS2) or (gyro is not None and gyro >= SWAY_GYRO_RADS):
        return True
    if restlessness is not None and restlessness > SWAY_RESTLESSNESS:
        return True
    if stillness is not None and stillness < 1.0 - SWAY_RESTLESSNESS:
        return True
    if acc is not None:
        return False
    return None


def motion_state(motion: ModalityResult | None) -> tuple[MotionState | None, float, str | None]:
    """(state, confidence, source) of a motion result; state None without a usable one.

    ``placement`` decides when the motion analyser gives it with enough confidence;
    otherwise any activity but "still" is moving, and a still device is on a person only
    when it sways.
    """
    if motion is None or motion.status != "ok":
        return None, 0.0, None
    base = motion.confidence if motion.confidence is not None else 0.5
    placement = getattr(motion, "placement", None)
    placement_conf: float = getattr(motion, "placement_confidence", None) or 0.0
    if placement is not None and placement_conf >= MIN_PLACEMENT_CONFIDENCE:
        state: MotionState = "moving" if placement == "moving_with_person" else placement
        return state, float(placement_conf), "model"
    activity = getattr(motion, "activity", None)
    if activity is None:
        return "unknown", 0.0, "fallback"
    if activity != "still":
        return "moving", base, "fallback"
    sway = _sway(motion)
    if sway is None:
        return "unknown", 0.0, "fallback"
    state = "on_person_stationary" if sway else "not_on_person"
    return state, base * FALLBACK_CONFIDENCE, "fallback"


def _present(results: Mapping[Modality, ModalityResult], modality: Modality) -> bool:
    result = results.get(modality)
    return result is not None and result.status == "ok"


def read_situation(results: Mapping[Modality, ModalityResult]) -> SituationReading:
    """The everyday situation the results describe (vocabulary in docs/scoring.md)."""
    motion = results.get("motion")
    state, confidence, source = motion_state(motion)
    face, speech = _present(results, "face"), _present(results, "voice")
    someone: list[Modality] = [m for m in MODALITIES if m != "motion" and _present(results, m)]
    quality = motion.quality if motion is not None else 0.0
    conf = confidence * quality
    if state == "moving":
        activity = getattr(motion, "activity", None)
        name: Situation = "exercising" if activity in EXERCISE_ACTIVITIES else "walking"
        return SituationReading(name, conf, ["motion"], state, source)  # type: ignore[arg-type]
    if state == "on_person_stationary":
        posture = getattr(motion, "posture", None)
        posture_conf = getattr(motion, "posture_confidence", None) or 0.0
        named = {"sitting": "seated", "standing": "standing", "lying": "lying"}
        if posture in named and posture_conf >= MIN_PLACEMENT_CONFIDENCE:
            return SituationReading(
                named[posture],  # type: ignore[arg-type]
                conf * posture_conf,
                ["motion"],
                state,
                source,  # type: ignore[arg-type]
            )
        return SituationReading("stationary", conf, ["motion"], state, source)  # type: ignore[arg-type]
    if state == "not_on_person":
        if face or speech:
            return SituationReading(
                "at_desk_device_on_table",
                conf,
                ["motion", *someone],
                state,
                source,  # type: ignore[arg-type]
            )
        return SituationReading("device_unattended", conf, ["motion"], state, source)  # type: ignore[arg-type]
    if face:
        face_result = results["face"]
        return SituationReading(
            "at_screen",
            face_result.quality * (face_result.confidence or 0.5),
            ["face"],
            state,
            source,  # type: ignore[arg-type]
        )
    return SituationReading("unknown", 0.0, [], state, source)  # type: ignore[arg-type]


def motion_exclusion(motion: ModalityResult, reading: SituationReading) -> tuple[str, str]:
    """(reason_code, reason) for a motion result that does not count towards attention."""
    if motion.status != "ok":
        return motion.reason_code or "no_signal", motion.reason or "no usable motion signal"
    if reading.motion_state == "not_on_person":
        how = (
            "the motion analyser places the device off the body"
            if reading.placement_source == "model"
            else "the signal has no body sway or tremor"
        )
        return (
            "not_on_person",
            f"the device is not on a person ({how}): its stillness says nothing about them",
        )
    if reading.motion_state == "unknown":
        return (
            "placement_unknown",
            "it cannot be told whether the device is on a person, so its stillness is not "
            "read as attention",
        )
    return "no_restlessness", "the motion result has no restlessness"
