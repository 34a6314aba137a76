"""Combines per-modality results into the seed's fused scores.

This is the first, deliberately simple fusion: each fused score is a weighted mean of the
modalities that can speak to it, each weighted by ``quality × confidence``; a modality that
is missing or has no estimate contributes nothing (it is never counted as zero). The
formulas are documented in ``docs/scoring.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mindsync.analysis.base import Modality, ModalityResult

EMOTION_KEYS = ("dominant_emotion", "emotions", "confidence", "valence", "arousal")
# The face is a weaker witness of stress than the voice (expressions are often posed or
# suppressed), so its weight is halved relative to the voice's.
FACE_STRESS_WEIGHT = 0.5


@dataclass
class FusedAssessment:
    """The seed's fused fields, each ``None`` when no modality could speak to it."""

    emotion_analysis: dict[str, Any] | None = None
    stress_level: float | None = None
    attention_score: float | None = None
    overall_score: float | None = None
    quality_score: float | None = None
    recommendations: list[str] = field(default_factory=list)


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


def _weight(result: ModalityResult) -> float:
    confidence = result.confidence if result.confidence is not None else 0.5
    return result.quality * confidence


def _weighted(pairs: list[tuple[float, float]]) -> float | None:
    total = sum(w for _, w in pairs)
    if total <= 0:
        return None
    return round(_clip01(sum(v * w for v, w in pairs) / total), 4)


def fuse(results: Mapping[Modality, ModalityResult]) -> FusedAssessment:
    """Fuse whatever modalities produced estimates; an empty mapping gives all ``None``."""
    out = FusedAssessment()
    ok = {m: r for m, r in results.items() if r.status == "ok"}
    face = ok.get("face")
    voice = ok.get("voice")
    motion = ok.get("motion")

    valence = arousal = None
    if face is not None and getattr(face, "dominant_emotion", None) is not None:
        out.emotion_analysis = {key: getattr(face, key) for key in EMOTION_KEYS}
        valence = float(face.valence)  # type: ignore[attr-defined]
        arousal = float(face.arousal)  # type: ignore[attr-defined]

    stress: list[tuple[float, float]] = []
    if voice is not None and getattr(voice, "stress_level", None) is not None:
        stress.append((float(voice.stress_level), _weight(voice)))  # type: ignore[attr-defined]
    if face is not None and valence is not None and arousal is not None:
        face_stress = 0.5 * arousal + 0.5 * (1.0 - (valence + 1.0) / 2.0)
        stress.append((face_stress, FACE_STRESS_WEIGHT * _weight(face)))
    out.stress_level = _weighted(stress)

    attention: list[tuple[float, float]] = []
    if face is not None:
        facing = getattr(face, "facing_screen", None)
        eyes = getattr(face, "eyes_open", None)
        parts = [1.0 if facing else 0.0] if facing is not None else []
        if eyes is not None:
            parts.append(_clip01(eyes))
        if parts:
            attention.append((sum(parts) / len(parts), _weight(face)))
    if motion is not None and getattr(motion, "restlessness", None) is not None:
        attention.append((1.0 - float(motion.restlessness), _weight(motion)))  # type: ignore[attr-defined]
    out.attention_score = _weighted(attention)

    components = []
    if out.stress_level is not None:
        components.append(1.0 - out.stress_level)
    if valence is not None:
        components.append((valence + 1.0) / 2.0)
    if out.attention_score is not None:
        components.append(out.attention_score)
    if components:
        out.overall_score = round(_clip01(sum(components) / len(components)), 4)

    if results:
        out.quality_score = round(
            _clip01(sum(r.quality for r in results.values()) / len(results)), 4
        )
    return out
