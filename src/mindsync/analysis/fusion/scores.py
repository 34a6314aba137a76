"""The fused scores: each a weighted mean of the modalities that can speak to it.

See ``docs/scoring.md`` for every formula and its rationale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from mindsync.analysis.base import MODALITIES, Modality, ModalityResult

EMOTION_KEYS = ("dominant_emotion", "emotions", "confidence", "valence", "arousal")

#: How much each modality can say about each fused score (its relevance r). A facial
#: expression is a weaker witness of stress than the voice (expressions are often posed or
#: suppressed), and motion says less about attention than gaze does.
RELEVANCE: dict[str, dict[Modality, float]] = {
    "stress": {"voice": 1.0, "face": 0.5},
    "attention": {"face": 1.0, "motion": 0.6},
}
#: A confidence stands in for a modality that reports none.
DEFAULT_CONFIDENCE = 0.5


class FusedScore(BaseModel):
    """One fused score with its confidence and the modalities behind it."""

    value: float | None = Field(default=None, ge=0, le=1)
    confidence: float = Field(ge=0, le=1, description="1 − Π(1 − r·quality·confidence).")
    modalities: list[Modality] = Field(default_factory=list)


class Assessment(BaseModel):
    """The fused assessment of one analysis."""

    emotion_analysis: dict[str, Any] | None = None
    stress: FusedScore
    attention: FusedScore
    overall: FusedScore
    quality_score: float | None = Field(
        default=None, ge=0, le=1, description="How far the result can be trusted."
    )
    modalities_ok: list[Modality] = Field(default_factory=list)


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


def evidence_weight(result: ModalityResult) -> float:
    """w = quality × confidence of one modality's estimate."""
    confidence = result.confidence if result.confidence is not None else DEFAULT_CONFIDENCE
    return _clip01(result.quality * confidence)


def _combine(
    parts: list[tuple[Modality, float, float]], relevance: dict[Modality, float]
) -> FusedScore:
    """Weighted mean of (modality, value, weight) and its noisy-OR confidence."""
    weighted = [(m, v, relevance[m] * w) for m, v, w in parts if relevance[m] * w > 0]
    if not weighted:
        return FusedScore(value=None, confidence=0.0, modalities=[])
    total = sum(w for _, _, w in weighted)
    value = sum(v * w for _, v, w in weighted) / total
    confidence = 1.0 - math.prod(1.0 - min(w, 1.0) for _, _, w in weighted)
    return FusedScore(
        value=round(_clip01(value), 4),
        confidence=round(_clip01(confidence), 4),
        modalities=sorted((m for m, _, _ in weighted), key=MODALITIES.index),
    )


def face_stress(valence: float, arousal: float) -> float:
    """Tension shown by the face: high arousal with negative valence (circumplex quadrant)."""
    return _clip01(0.5 * arousal + 0.5 * (1.0 - (valence + 1.0) / 2.0))


def face_attention(face: ModalityResult) -> float | None:
    """The face's own continuous ``attention`` (smooth in yaw, pitch and eye openness).

    Results without it (older analysers, a plugged-in one) fall back to the mean of
    "turned to the screen" and eye openness, whichever are known.
    """
    attention = getattr(face, "attention", None)
    if attention is not None:
        return _clip01(float(attention))
    facing_screen = getattr(face, "facing_screen", None)
    eyes_open = getattr(face, "eyes_open", None)
    parts = []
    if facing_screen is not None:
        parts.append(1.0 if facing_screen else 0.0)
    if eyes_open is not None:
        parts.append(_clip01(eyes_open))
    return sum(parts) / len(parts) if parts else None


def fuse(results: Mapping[Modality, ModalityResult]) -> Assessment:
    """Fuse whatever modalities produced estimates; missing ones lower confidence, never a score."""
    ok = {m: r for m, r in results.items() if r.status == "ok"}
    face, voice, motion = ok.get("face"), ok.get("voice"), ok.get("motion")

    emotion = None
    valence = arousal = None
    if face is not None and getattr(face, "dominant_emotion", None) is not None:
        emotion = {key: getattr(face, key) for key in EMOTION_KEYS}
        valence, arousal = float(face.valence), float(face.arousal)  # type: ignore[attr-defined]

    stress_parts: list[tuple[Modality, float, float]] = []
    voice_stress = getattr(voice, "stress_level", None) if voice is not None else None
    if voice is not None and voice_stress is not None:
        stress_parts.append(("voice", float(voice_stress), evidence_weight(voice)))
    if face is not None and valence is not None and arousal is not None:
        stress_parts.append(("face", face_stress(valence, arousal), evidence_weight(face)))
    stress = _combine(stress_parts, RELEVANCE["stress"])

    attention_parts: list[tuple[Modality, float, float]] = []
    if face is not None:
        value = face_attention(face)
        if value is not None:
            attention_parts.append(("face", value, evidence_weight(face)))
    restlessness = getattr(motion, "restlessness", None) if motion is not None else None
    if motion is not None and restlessness is not None:
        attention_parts.append(("motion", 1.0 - float(restlessness), evidence_weight(motion)))
    attention = _combine(attention_parts, RELEVANCE["attention"])

    # Overall wellness: calm, positive and attentive, each weighted by its confidence.
    components: list[tuple[float, float, list[Modality]]] = []
    if stress.value is not None:
        components.append((1.0 - stress.value, stress.confidence, stress.modalities))
    if valence is not None and face is not None:
        components.append(((valence + 1.0) / 2.0, evidence_weight(face), ["face"]))
    if attention.value is not None:
        components.append((attention.value, attention.confidence, attention.modalities))
    total = sum(w for _, w, _ in components)
    if total > 0:
        used = sorted({m for _, _, ms in components for m in ms}, key=MODALITIES.index)
        overall = FusedScore(
            value=round(_clip01(sum(v * w for v, w, _ in components) / total), 4),
            confidence=round(_clip01(total / 3.0), 4),
            modalities=used,  # type: ignore[arg-type]
        )
    else:
        overall = FusedScore(value=None, confidence=0.0, modalities=[])

    quality = None
    if results:
        mean_quality = sum(r.quality for r in results.values()) / len(results)
        coverage = 0.5 + 0.5 * len(ok) / len(MODALITIES)
        quality = round(_clip01(mean_quality * coverage), 4)
    return Assessment(
        emotion_analysis=emotion,
        stress=stress,
        attention=attention,
        overall=overall,
        quality_score=quality,
        modalities_ok=[m for m in MODALITIES if m in ok],
    )
