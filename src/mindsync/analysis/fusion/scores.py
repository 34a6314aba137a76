"""The fused scores: each a weighted mean of the modalities that can speak to it, read in the
situation the person is in, and pulled towards the neutral midpoint by how little is known.

See ``docs/scoring.md`` for every formula and its rationale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from mindsync.analysis.base import MODALITIES, Modality, ModalityResult
from mindsync.analysis.fusion.situation import (
    Situation,
    SituationReading,
    motion_exclusion,
    read_situation,
)

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
#: The neutral midpoint every fused score is pulled towards when little is known.
NEUTRAL = 0.5


class Exclusion(BaseModel):
    """A modality that was analysed but does not count towards a score, and why."""

    modality: Modality
    reason_code: str = Field(description="Stable machine code (see docs/scoring.md).")
    reason: str = Field(description="The same in words.")


class FusedScore(BaseModel):
    """One fused score with its confidence, the modalities behind it and those left out."""

    value: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="0.5 + (raw_value − 0.5) · confidence: never further from the neutral "
        "midpoint than the evidence allows. None when no modality can speak to it.",
    )
    raw_value: float | None = Field(
        default=None, ge=0, le=1, description="The weighted mean before bounding."
    )
    confidence: float = Field(ge=0, le=1, description="1 − Π(1 − r·quality·confidence).")
    modalities: list[Modality] = Field(default_factory=list)
    reason_code: str | None = Field(
        default=None,
        description="Why ``value`` is null: 'not_applicable_moving', 'no_usable_signal' or "
        "'not_measured' (docs/scoring.md).",
    )
    reason: str | None = Field(default=None, description="The same in words.")
    excluded: list[Exclusion] = Field(
        default_factory=list,
        description="Modalities that were analysed but do not count towards this score.",
    )


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
    situation: Situation = Field(
        default="unknown", description="The everyday situation the signals describe."
    )
    situation_confidence: float = Field(default=0.0, ge=0, le=1)
    situation_modalities: list[Modality] = Field(
        default_factory=list, description="The modalities the situation was read from."
    )


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


def bounded(value: float, confidence: float) -> float:
    """``0.5 + (value − 0.5) · confidence``: the distance from the neutral midpoint is at most
    the confidence (Kelley's regressed estimate with the confidence as reliability)."""
    return NEUTRAL + (_clip01(value) - NEUTRAL) * _clip01(confidence)


def evidence_weight(result: ModalityResult) -> float:
    """w = quality × confidence of one modality's estimate."""
    confidence = result.confidence if result.confidence is not None else DEFAULT_CONFIDENCE
    return _clip01(result.quality * confidence)


def _score(
    raw: float | None,
    confidence: float,
    modalities: list[Modality],
    excluded: list[Exclusion],
    *,
    null_code: str | None = None,
    null_reason: str | None = None,
) -> FusedScore:
    if raw is None:
        if null_code is None:
            null_code, null_reason = (
                ("no_usable_signal", "no analysed modality gave a usable signal for this score")
                if excluded
                else ("not_measured", "no modality that can speak to this score was analysed")
            )
        return FusedScore(
            value=None,
            confidence=0.0,
            modalities=[],
            reason_code=null_code,
            reason=null_reason,
            excluded=excluded,
        )
    return FusedScore(
        value=round(bounded(raw, confidence), 4),
        raw_value=round(_clip01(raw), 4),
        confidence=round(_clip01(confidence), 4),
        modalities=sorted(modalities, key=MODALITIES.index),
        excluded=excluded,
    )


def _combine(
    parts: list[tuple[Modality, float, float]],
    relevance: dict[Modality, float],
    excluded: list[Exclusion],
) -> FusedScore:
    """Weighted mean of (modality, value, weight) and its noisy-OR confidence, bounded."""
    weighted = [(m, v, relevance[m] * w) for m, v, w in parts if relevance[m] * w > 0]
    excluded = excluded + [
        Exclusion(modality=m, reason_code="no_weight", reason="its quality or confidence is zero")
        for m, _, w in parts
        if relevance[m] * w <= 0
    ]
    if not weighted:
        return _score(None, 0.0, [], excluded)
    total = sum(w for _, _, w in weighted)
    value = sum(v * w for _, v, w in weighted) / total
    confidence = 1.0 - math.prod(1.0 - min(w, 1.0) for _, _, w in weighted)
    return _score(value, confidence, [m for m, _, _ in weighted], excluded)


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


def _not_ok(modality: Modality, result: ModalityResult) -> Exclusion:
    return Exclusion(
        modality=modality,
        reason_code=result.reason_code or "no_signal",
        reason=result.reason or "the modality gave no usable signal",
    )


def _stress(
    results: Mapping[Modality, ModalityResult], valence: float | None, arousal: float | None
) -> FusedScore:
    parts: list[tuple[Modality, float, float]] = []
    excluded: list[Exclusion] = []
    voice = results.get("voice")
    if voice is not None:
        level = getattr(voice, "stress_level", None)
        if voice.status == "ok" and level is not None:
            parts.append(("voice", float(level), evidence_weight(voice)))
        else:
            excluded.append(_not_ok("voice", voice))
    face = results.get("face")
    if face is not None:
        if face.status == "ok" and valence is not None and arousal is not None:
            parts.append(("face", face_stress(valence, arousal), evidence_weight(face)))
        elif face.status == "ok":
            excluded.append(
                Exclusion(
                    modality="face",
                    reason_code=face.reason_code or "no_expression",
                    reason=face.reason or "the face gave no expression reading",
                )
            )
        else:
            excluded.append(_not_ok("face", face))
    return _combine(parts, RELEVANCE["stress"], excluded)


def _attention(
    results: Mapping[Modality, ModalityResult], situation: SituationReading
) -> FusedScore:
    face, motion = results.get("face"), results.get("motion")
    if situation.moving:
        # Screen attention is not low while walking: it does not apply.
        why = "screen attention does not apply while the person is moving"
        screen: tuple[tuple[Modality, ModalityResult | None], ...] = (
            ("face", face),
            ("motion", motion),
        )
        not_applicable = [
            Exclusion(modality=m, reason_code="not_applicable_moving", reason=why)
            for m, r in screen
            if r is not None
        ]
        return _score(
            None,
            0.0,
            [],
            not_applicable,
            null_code="not_applicable_moving",
            null_reason=f"{why} ({situation.situation})",
        )
    parts: list[tuple[Modality, float, float]] = []
    excluded: list[Exclusion] = []
    if face is not None:
        value = face_attention(face) if face.status == "ok" else None
        if value is not None:
            parts.append(("face", value, evidence_weight(face)))
        else:
            excluded.append(_not_ok("face", face))
    if motion is not None:
        restlessness = getattr(motion, "restlessness", None)
        if situation.person_stationary and restlessness is not None:
            parts.append(("motion", 1.0 - float(restlessness), evidence_weight(motion)))
        else:
            code, reason = motion_exclusion(motion, situation)
            excluded.append(Exclusion(modality="motion", reason_code=code, reason=reason))
    return _combine(parts, RELEVANCE["attention"], excluded)


def _overall(
    stress: FusedScore,
    attention: FusedScore,
    valence: float | None,
    face: ModalityResult | None,
) -> FusedScore:
    """Calm, positive and attentive: the raw components weighted by their confidence, then
    bounded once by the overall confidence (sum of weights / 3)."""
    components: list[tuple[float, float, list[Modality]]] = []
    if stress.raw_value is not None:
        components.append((1.0 - stress.raw_value, stress.confidence, stress.modalities))
    if valence is not None and face is not None:
        components.append(((valence + 1.0) / 2.0, evidence_weight(face), ["face"]))
    if attention.raw_value is not None:
        components.append((attention.raw_value, attention.confidence, attention.modalities))
    total = sum(w for _, w, _ in components)
    if total <= 0:
        if stress.excluded or attention.excluded:
            return _score(
                None,
                0.0,
                [],
                [],
                null_code="no_usable_signal",
                null_reason="no analysed modality gave a usable signal for this score",
            )
        return _score(None, 0.0, [], [])
    used = sorted({m for _, _, ms in components for m in ms}, key=MODALITIES.index)
    raw = sum(v * w for v, w, _ in components) / total
    return _score(raw, total / 3.0, used, [])


def fuse(results: Mapping[Modality, ModalityResult]) -> Assessment:
    """Fuse whatever modalities produced estimates, in the situation they describe.

    Missing or excluded modalities lower confidence, never a score; every score is bounded
    by its confidence; attention is null (not low) while the person is moving.
    """
    ok = {m: r for m, r in results.items() if r.status == "ok"}
    face = ok.get("face")

    emotion = None
    valence = arousal = None
    if face is not None and getattr(face, "dominant_emotion", None) is not None:
        emotion = {key: getattr(face, key) for key in EMOTION_KEYS}
        valence, arousal = float(face.valence), float(face.arousal)  # type: ignore[attr-defined]

    situation = read_situation(results)
    stress = _stress(results, valence, arousal)
    attention = _attention(results, situation)
    overall = _overall(stress, attention, valence if emotion else None, face)

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
        situation=situation.situation,
        situation_confidence=round(situation.confidence, 4),
        situation_modalities=situation.modalities,
    )
