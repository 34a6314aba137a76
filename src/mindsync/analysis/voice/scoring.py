"""Explainable vocal-arousal ("stress") score: weighted z-scores of features against a reference.

The signs and the relative weights follow what the literature on vocal arousal and stress
agrees on (Scherer 2003; Juslin & Laukka 2003; Giddens et al. 2013; Eyben et al. 2016; see
``docs/models/voice.md``): under high arousal, f0 rises and varies more, the voice gets
louder, speech gets faster with fewer pauses, and energy shifts to higher frequencies.
Jitter, shimmer and HNR are reported but carry no weight: the studies disagree on their
direction under stress. The functions here are pure: the analyser uses the shipped
population reference; the per-user baseline (derived statistics only) goes through the same
:func:`score_stress`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ReferenceSource = Literal["population", "personal"]

# feature -> (direction, weight). Direction +1: higher value = more arousal.
STRESS_WEIGHTS: dict[str, tuple[int, float]] = {
    "f0_mean_st": (+1, 0.25),
    "f0_sd_st": (+1, 0.10),
    "f0_range_st": (+1, 0.05),
    "loudness_dbfs": (+1, 0.15),
    "articulation_rate_sps": (+1, 0.15),
    "pause_fraction": (-1, 0.05),
    "alpha_ratio_db": (+1, 0.15),
    "hammarberg_db": (-1, 0.10),
}
# Against the population reference these carry no weight (they stay in ``features`` and count
# against a personal baseline): mean f0 says more about who speaks than how (women's and
# children's voices sit 9-12 semitones above men's, Hillenbrand et al. 1995, while arousal
# moves a speaker's f0 by a few semitones, Juslin & Laukka 2003), and level in dBFS says more
# about the microphone's gain and distance than about vocal effort, whose level-free correlate
# is the spectral balance that stays weighted (alpha ratio, Hammarberg index; Nordenberg &
# Sundberg 2004). Against one's own baseline, voice and microphone are the same, and both
# weigh in.
SPEAKER_DEPENDENT: frozenset[str] = frozenset({"f0_mean_st", "loudness_dbfs"})
# A z-score is clipped to this many standard deviations, so that one wild feature (an octave
# error, a shouted word) cannot decide the score alone.
Z_CLIP = 3.0
# Steepness of the logistic that maps the weighted mean z-score to [0, 1]: a mean z of +1
# (every weighted feature one reference SD above the mean) gives about 0.82.
LOGISTIC_GAIN = 1.5
# Standard deviations below these are not trusted (tiny references understate spread).
SD_FLOOR: dict[str, float] = {
    "f0_mean_st": 2.5,
    "f0_sd_st": 0.3,
    "f0_range_st": 1.0,
    "loudness_dbfs": 2.0,
    "articulation_rate_sps": 0.3,
    "pause_fraction": 0.03,
    "alpha_ratio_db": 1.0,
    "hammarberg_db": 1.5,
}
MIN_WEIGHT_COVERED = 0.5  # at least this much of the total weight must have a feature
MAX_DRIVERS = 3


class FeatureStats(BaseModel):
    """Mean and standard deviation of one feature in a reference."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mean: float
    sd: float = Field(ge=0.0)


class FeatureReference(BaseModel):
    """Per-feature statistics that z-scores are taken against (derived values only).

    ``n`` is how many recordings (population) or sessions (personal) built it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: ReferenceSource
    n: int = Field(ge=1)
    stats: dict[str, FeatureStats]
    description: str = ""

    @classmethod
    def from_samples(
        cls,
        samples: Iterable[Mapping[str, float]],
        *,
        source: ReferenceSource,
        description: str = "",
    ) -> FeatureReference:
        """Build a reference from feature dicts (one per recording or session).

        A feature seen in fewer than two samples is left out. Raises ``ValueError`` when
        ``samples`` is empty.
        """
        rows = list(samples)
        if not rows:
            raise ValueError("a reference needs at least one sample")
        names = sorted({k for row in rows for k in row})
        stats: dict[str, FeatureStats] = {}
        for name in names:
            values = [float(r[name]) for r in rows if name in r and math.isfinite(float(r[name]))]
            if len(values) < 2:
                continue
            mean = sum(values) / len(values)
            var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
            stats[name] = FeatureStats(mean=mean, sd=math.sqrt(var))
        return cls(source=source, n=len(rows), stats=stats, description=description)

    @classmethod
    def load(cls, path: Path) -> FeatureReference:
        """Read a reference written by :meth:`dump` (JSON)."""
        return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))

    def dump(self, path: Path) -> None:
        """Write this reference as indented JSON."""
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")


class Driver(BaseModel):
    """One feature that moved the estimate: its value, z-score and signed contribution."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Feature name (see docs/models/voice.md).")
    value: float = Field(description="The feature's value in this clip.")
    z: float = Field(description="Standard deviations from the reference mean.")
    direction: Literal["higher", "lower"] = Field(
        description="Whether the value is higher or lower than the reference mean."
    )
    effect: Literal["raises", "lowers"] = Field(description="What it does to stress_level.")
    contribution: float = Field(description="Weighted, clipped z-score; sums to the raw score.")


@dataclass(frozen=True, slots=True)
class StressEstimate:
    """A stress score with what drove it.

    ``level`` is in [0, 1] or ``None`` when too few weighted features were present;
    ``coverage`` is the fraction of the total weight whose feature was present.
    """

    level: float | None
    raw: float | None
    coverage: float
    reference: ReferenceSource
    drivers: list[Driver]


def weights_for(source: ReferenceSource) -> dict[str, tuple[int, float]]:
    """The (direction, weight) of each scored feature against a reference of ``source``.

    A personal baseline uses all of :data:`STRESS_WEIGHTS`; the population reference leaves
    out :data:`SPEAKER_DEPENDENT` (the weights of the others are unchanged).
    """
    if source == "personal":
        return dict(STRESS_WEIGHTS)
    return {k: v for k, v in STRESS_WEIGHTS.items() if k not in SPEAKER_DEPENDENT}


def score_stress(features: Mapping[str, float], reference: FeatureReference) -> StressEstimate:
    """Score ``features`` against ``reference``: a logistic of the weighted mean z-score.

    Pure and deterministic. The weights are :func:`weights_for` the reference's source.
    Features missing from either side are skipped; if less than :data:`MIN_WEIGHT_COVERED`
    of the weight remains, ``level`` is ``None``.
    """
    weights = weights_for(reference.source)
    total_weight = sum(w for _, w in weights.values())
    used_weight = 0.0
    raw_sum = 0.0
    parts: list[Driver] = []
    for name, (sign, weight) in weights.items():
        value = features.get(name)
        if value is None or not math.isfinite(value):
            continue
        stat = reference.stats.get(name)
        if stat is None:
            continue
        sd = max(stat.sd, SD_FLOOR.get(name, 1e-6))
        z = (float(value) - stat.mean) / sd
        contribution = sign * weight * max(-Z_CLIP, min(Z_CLIP, z))
        used_weight += weight
        raw_sum += contribution
        parts.append(
            Driver(
                name=name,
                value=round(float(value), 4),
                z=round(z, 3),
                direction="higher" if z >= 0 else "lower",
                effect="raises" if contribution >= 0 else "lowers",
                contribution=round(contribution, 4),
            )
        )
    coverage = used_weight / total_weight if total_weight else 0.0
    drivers = sorted(parts, key=lambda d: abs(d.contribution), reverse=True)[:MAX_DRIVERS]
    if coverage < MIN_WEIGHT_COVERED or used_weight <= 0:
        return StressEstimate(None, None, coverage, reference.source, drivers)
    raw = raw_sum / used_weight
    level = 1.0 / (1.0 + math.exp(-LOGISTIC_GAIN * raw))
    return StressEstimate(level, raw, coverage, reference.source, drivers)


POPULATION_TRUST = 0.6


def reference_trust(reference: FeatureReference) -> float:
    """How far a reference can be trusted for this speaker, 0-1."""
    if reference.source == "population":
        return POPULATION_TRUST
    return min(0.9, 0.5 + 0.04 * reference.n)
