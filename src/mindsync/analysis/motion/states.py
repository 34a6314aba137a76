"""From window features to the public estimates: activity, placement and posture.

The activity head knows six internal classes (still, walking, upstairs, downstairs,
running, vigorous); the public ``activity`` keeps four (still, walking, running,
vigorous): stairs count as walking and their share is reported as ``stairs_probability``.
Window probabilities are averaged over the recording.

Placement: a recording whose activity is not ``still`` is ``moving_with_person``
(confidence: the probability of not being still). A still one goes to the placement head,
which tells a person's micro-motion (tremor, sway, breathing: the gravity direction drifts,
the gyroscope shows small rotations) from a device lying on a surface (sensor noise only):
``on_person_stationary`` or ``not_on_person`` (confidence: P(still) × the head's
probability). Posture is read only for ``on_person_stationary`` and reported only when the
posture head's top probability reaches the model's ``posture_min_confidence`` (chosen for
precision on the training volunteers, see docs/models/motion.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mindsync.analysis.motion.model import HEAD_CLASSES, TanhNet
from mindsync.analysis.motion.result import ACTIVITY_CLASSES, ActivityClass, Placement, Posture

#: Internal activity class index -> public class.
_PUBLIC: dict[str, ActivityClass] = {
    "still": "still",
    "walking": "walking",
    "upstairs": "walking",
    "downstairs": "walking",
    "running": "running",
    "vigorous": "vigorous",
}


@dataclass(frozen=True, slots=True)
class StateEstimate:
    """The public estimates of one recording (see the module docstring)."""

    activity: ActivityClass
    confidence: float
    probabilities: dict[str, float]
    stairs_probability: float
    placement: Placement
    placement_confidence: float
    posture: Posture | None
    posture_confidence: float


def estimate_states(
    heads: dict[str, TanhNet], windows: np.ndarray, posture_min_confidence: float
) -> StateEstimate:
    """Run the three heads on ``windows`` ((w, len(ALL_FEATURES))) and combine them."""
    internal = heads["activity"].predict_proba(windows).mean(axis=0)
    public: dict[str, float] = dict.fromkeys(ACTIVITY_CLASSES, 0.0)
    for name, p in zip(HEAD_CLASSES["activity"], internal, strict=True):
        public[_PUBLIC[name]] += float(p)
    activity: ActivityClass = max(ACTIVITY_CLASSES, key=lambda c: public[c])
    stairs = float(internal[2] + internal[3])
    posture: Posture | None = None
    posture_confidence = 0.0
    if activity != "still":
        placement: Placement = "moving_with_person"
        placement_confidence = 1.0 - public["still"]
    else:
        p_not = float(heads["placement"].predict_proba(windows).mean(axis=0)[1])
        placement = "not_on_person" if p_not >= 0.5 else "on_person_stationary"
        placement_confidence = public["still"] * max(p_not, 1.0 - p_not)
        if placement == "on_person_stationary":
            postures = heads["posture"].predict_proba(windows).mean(axis=0)
            best = int(np.argmax(postures))
            if postures[best] >= posture_min_confidence:
                posture = HEAD_CLASSES["posture"][best]  # type: ignore[assignment]
                posture_confidence = float(postures[best])
    return StateEstimate(
        activity=activity,
        confidence=public[activity],
        probabilities=public,
        stairs_probability=stairs,
        placement=placement,
        placement_confidence=placement_confidence,
        posture=posture,
        posture_confidence=posture_confidence,
    )
