"""Typed views of the API's responses; a test checks their fields against the service's
OpenAPI document, so they cannot drift from it."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Score:
    """One fused score: value (0-1, ``None`` when nothing informs it), confidence, sources."""

    value: float | None
    confidence: float
    modalities: list[str]


@dataclass(frozen=True)
class AnalysisResult:
    """The response of ``POST /analyze`` (and a stored session). ``raw`` is the full JSON."""

    session_id: str
    user_id: str | None
    timestamp: str
    status: str
    emotion_analysis: dict[str, Any] | None
    stress_level: float | None
    stress_confidence: float
    attention_score: float | None
    attention_confidence: float
    overall_score: float | None
    overall_confidence: float
    quality_score: float | None
    processing_time_ms: float
    recommendations: list[str]
    recommendation_details: list[dict[str, Any]]
    assessment: dict[str, Any] | None
    baseline: dict[str, Any] | None
    modalities: dict[str, dict[str, Any]]
    modalities_used: list[str]
    modalities_skipped: list[dict[str, str]]
    stored: bool
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> AnalysisResult:
        """Build from a response body; fields the server added later stay in ``raw``."""
        names = {f.name for f in fields(cls)} - {"raw"}
        values: dict[str, Any] = {n: body.get(n) for n in names}
        return cls(**values, raw=body)

    def score(self, name: str) -> Score:
        """``stress``, ``attention`` or ``overall`` with its confidence and modalities."""
        part = (self.assessment or {}).get(name) or {}
        return Score(
            value=part.get("value"),
            confidence=float(part.get("confidence", 0.0)),
            modalities=list(part.get("modalities", [])),
        )
