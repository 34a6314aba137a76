"""Personal baselines: rolling statistics of a user's derived signals, and comparisons to them.

Only derived numbers are kept (count, mean, variance per signal), never raw data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, Field

from mindsync.analysis.base import Modality, ModalityResult
from mindsync.analysis.fusion.scores import Assessment
from mindsync.analysis.voice.scoring import (
    FeatureReference,
    FeatureStats,
    reference_trust,
    score_stress,
)

#: Equal weights for the first sessions, then exponential forgetting over about this many.
BASELINE_WINDOW = 20
#: Spread below which a baseline is too narrow to judge by (scores are on a 0–1 scale).
MIN_SPREAD = 0.05
#: |z| beyond which a score is "higher/lower than usual".
UNUSUAL_Z = 1.0


class BaselineStats(BaseModel):
    """Rolling mean and variance of one signal for one user."""

    n: int = Field(ge=1)
    mean: float
    var: float = Field(ge=0)

    @property
    def sd(self) -> float:
        """Standard deviation."""
        return math.sqrt(self.var)


def update_baseline(
    stats: BaselineStats | None, value: float, *, window: int = BASELINE_WINDOW
) -> BaselineStats:
    """The statistics after one more observation: exact mean/variance for the first
    ``window`` sessions, then exponentially weighted with ``alpha = 1/window``."""
    if stats is None:
        return BaselineStats(n=1, mean=float(value), var=0.0)
    n = stats.n + 1
    alpha = max(1.0 / n, 1.0 / window)
    delta = float(value) - stats.mean
    mean = stats.mean + alpha * delta
    var = (1.0 - alpha) * (stats.var + alpha * delta * delta)
    return BaselineStats(n=n, mean=mean, var=max(var, 0.0))


def baseline_signals(
    assessment: Assessment, results: Mapping[Modality, ModalityResult]
) -> dict[str, float]:
    """The derived signals of one analysis that a personal baseline tracks."""
    signals: dict[str, float] = {}
    for name, score in (
        ("stress_level", assessment.stress),
        ("attention_score", assessment.attention),
        ("overall_score", assessment.overall),
    ):
        if score.value is not None:
            signals[name] = score.value
    face = results.get("face")
    if face is not None and face.status == "ok":
        for key in ("valence", "arousal"):
            value = getattr(face, key, None)
            if value is not None:
                signals[f"face.{key}"] = float(value)
    motion = results.get("motion")
    if motion is not None and motion.status == "ok":
        for key in ("activity_level", "restlessness"):
            value = getattr(motion, key, None)
            if value is not None:
                signals[f"motion.{key}"] = float(value)
    voice = results.get("voice")
    if voice is not None and voice.status == "ok":
        for key, value in (getattr(voice, "features", None) or {}).items():
            if value is not None and math.isfinite(value):
                signals[f"voice.{key}"] = float(value)
    return signals


class PersonalScore(BaseModel):
    """A fused score compared with the user's own baseline."""

    value: float = Field(ge=0, le=1, description="0.5 = as usual for this user; logistic of z.")
    z: float = Field(description="Standard deviations from the user's usual value.")
    usual: float = Field(description="The user's rolling mean.")
    description: Literal["lower than usual", "as usual", "higher than usual"] = Field(
        description="The value in words, against the user's usual."
    )


class PersonalComparison(BaseModel):
    """Where the user's baseline stands, and this analysis against it once calibrated."""

    status: Literal["calibrating", "personal"] = Field(
        description="calibrating (too few sessions yet) or personal."
    )
    sessions: int = Field(ge=0, description="Stored sessions the baseline has seen.")
    required: int = Field(ge=1, description="Sessions needed before personal comparisons.")
    message: str = Field(
        description="Progress or outcome in words, e.g. 'calibrating: 3 of 5 sessions'."
    )
    stress: PersonalScore | None = Field(
        default=None, description="Stress against the user's usual; null while calibrating."
    )
    attention: PersonalScore | None = Field(
        default=None, description="Attention against the user's usual; null while calibrating."
    )
    voice_population_stress: float | None = Field(
        default=None,
        description="The voice's stress against the population reference, when the voice "
        "was scored against the user's own (modalities.voice.reference is then 'personal').",
    )


VOICE_PREFIX = "voice."


def personal_voice_reference(
    baselines: Mapping[str, BaselineStats], *, min_sessions: int
) -> FeatureReference | None:
    """The user's own reference for the voice features, once enough voice sessions exist."""
    stats = {
        name.removeprefix(VOICE_PREFIX): FeatureStats(mean=b.mean, sd=b.sd)
        for name, b in baselines.items()
        if name.startswith(VOICE_PREFIX) and b.n >= min_sessions and b.sd > 0
    }
    if not stats:
        return None
    n = min(b.n for name, b in baselines.items() if name.startswith(VOICE_PREFIX))
    return FeatureReference(
        source="personal",
        n=max(n, 1),
        stats=stats,
        description="rolling statistics of this user's own stored sessions",
    )


def personalize_voice(
    result: ModalityResult, reference: FeatureReference
) -> tuple[ModalityResult, float | None]:
    """The voice result re-scored against the user's own reference, and the population level.

    Unchanged when the voice had no speech or the reference covers none of its features.
    """
    features = getattr(result, "features", None)
    if result.status != "ok" or not features:
        return result, None
    estimate = score_stress(features, reference)
    if estimate.level is None:
        return result, None
    population = getattr(result, "stress_level", None)
    personal = result.model_copy(
        update={
            "stress_level": estimate.level,
            "reference": "personal",
            "drivers": estimate.drivers,
            "confidence": round(
                min(1.0, result.quality * estimate.coverage * reference_trust(reference)), 4
            ),
        }
    )
    return personal, population


def _personal(value: float | None, stats: BaselineStats | None) -> PersonalScore | None:
    if value is None or stats is None:
        return None
    z = (value - stats.mean) / max(stats.sd, MIN_SPREAD)
    z = max(-6.0, min(6.0, z))
    if z > UNUSUAL_Z:
        description: Literal["lower than usual", "as usual", "higher than usual"] = (
            "higher than usual"
        )
    elif z < -UNUSUAL_Z:
        description = "lower than usual"
    else:
        description = "as usual"
    return PersonalScore(
        value=round(1.0 / (1.0 + math.exp(-z)), 4),
        z=round(z, 3),
        usual=round(stats.mean, 4),
        description=description,
    )


def compare_to_baseline(
    assessment: Assessment, baselines: Mapping[str, BaselineStats], *, min_sessions: int
) -> PersonalComparison:
    """Calibrating ("3 of 5") until ``min_sessions``; then stress and attention against the
    user's own rolling mean and spread (as stored before this analysis)."""
    sessions = max((b.n for b in baselines.values()), default=0)
    if sessions < min_sessions:
        return PersonalComparison(
            status="calibrating",
            sessions=sessions,
            required=min_sessions,
            message=f"calibrating: {sessions} of {min_sessions} sessions",
        )
    return PersonalComparison(
        status="personal",
        sessions=sessions,
        required=min_sessions,
        message=f"compared with your own baseline of {sessions} sessions",
        stress=_personal(assessment.stress.value, baselines.get("stress_level")),
        attention=_personal(assessment.attention.value, baselines.get("attention_score")),
    )
