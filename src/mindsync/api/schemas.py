"""Request and response models of the HTTP API (field names follow the seed exactly)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from mindsync.analysis.fusion import FusedScore, PersonalComparison, Recommendation

USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"


def _as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:10+20:51 is before year 1 in UTC
        raise ValueError("is out of range once converted to UTC") from None


_NUMERIC = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _iso_only(value: object) -> object:
    """Date-times are ISO 8601 strings: a number (or a string of one) is refused, where lax
    mode would read it as seconds since 1970."""
    if isinstance(value, bool | int | float) or (
        isinstance(value, str) and _NUMERIC.fullmatch(value.strip())
    ):
        raise ValueError("must be an ISO 8601 date-time, such as 2026-01-15T12:00:00Z")
    return value


UtcDatetime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_as_utc)]
UserId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=USER_ID_PATTERN,
        description="Opaque user identifier: letters, digits and . _ : @ -, at most 128.",
        examples=["user-123"],
    ),
]
Score = Annotated[float, Field(ge=0.0, le=1.0)]
#: A JSON number and nothing else: ``true``, ``false`` and ``"1.5"`` are refused (422), where
#: lax mode would store them as 1.0, 0.0 and 1.5.
Number = Annotated[float, Field(strict=True)]


# ----------------------------------------------------------------------------- errors
class ErrorDetail(BaseModel):
    """One problem with a request."""

    field: str | None = Field(default=None, description="Dotted path of the offending field.")
    message: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    code: str = Field(description="Machine-readable error code.", examples=["validation_error"])
    message: str = Field(description="What went wrong, for a human.")
    field: str | None = Field(default=None, description="The offending field, when there is one.")
    request_id: str | None = Field(default=None, description="Quote it when reporting a problem.")
    details: list[ErrorDetail] | None = None


class ErrorResponse(BaseModel):
    """Error envelope: ``{"error": {...}}``."""

    error: ErrorBody


# ----------------------------------------------------------------------------- analyze
class Vector3(BaseModel):
    """Three axes of one sensor sample."""

    x: Number
    y: Number
    z: Number


class FaceFocus(BaseModel):
    """A point of the face image, as fractions of its width and height (after EXIF
    orientation): the face there, or nearest to it, is the one analysed."""

    model_config = ConfigDict(extra="forbid")

    x: float = Field(ge=0, le=1, strict=True)
    y: float = Field(ge=0, le=1, strict=True)


class MotionSample(BaseModel):
    """One motion sample, as in the seed."""

    timestamp: float = Field(
        strict=True, description="Seconds (epoch or relative to the recording)."
    )
    acceleration: Vector3 = Field(description="m/s², with or without gravity.")
    gyroscope: Vector3 | None = Field(default=None, description="rad/s.")


class AxisColumns(BaseModel):
    """One array per axis."""

    x: list[Number]
    y: list[Number]
    z: list[Number]

    @model_validator(mode="after")
    def _same_length(self) -> AxisColumns:
        if not len(self.x) == len(self.y) == len(self.z):
            raise ValueError("x, y and z must have the same length")
        return self


class MotionColumns(BaseModel):
    """The compact columnar form preferred by clients streaming at 50–200 Hz."""

    timestamps: list[Number] = Field(description="Seconds, one per sample.")
    acceleration: AxisColumns
    gyroscope: AxisColumns | None = None

    @model_validator(mode="after")
    def _aligned(self) -> MotionColumns:
        n = len(self.timestamps)
        if len(self.acceleration.x) != n:
            raise ValueError("acceleration arrays must have one value per timestamp")
        if self.gyroscope is not None and len(self.gyroscope.x) != n:
            raise ValueError("gyroscope arrays must have one value per timestamp")
        return self


class AnalysisRequest(BaseModel):
    """A bundle of sensor data to analyse. Every modality is optional, but one is required."""

    model_config = ConfigDict(
        json_schema_extra={
            # The "at least one modality" rule, stated in the schema for clients and fuzzers.
            "anyOf": [
                {"required": ["face_image"]},
                {"required": ["audio_data"]},
                {"required": ["motion_data"]},
            ],
            "examples": [
                {
                    "user_id": "user-123",
                    "motion_data": [
                        {
                            "timestamp": 1640995200.0,
                            "acceleration": {"x": 0.1, "y": 0.2, "z": 9.8},
                            "gyroscope": {"x": 0.01, "y": 0.02, "z": 0.03},
                        }
                    ],
                    "timestamp": "2023-12-31T12:00:00Z",
                    "duration_seconds": 30.0,
                }
            ],
        }
    )

    session_id: UUID | None = Field(default=None, description="Client-chosen session id.")
    user_id: UserId | None = None
    face_image: str | None = Field(
        default=None, description="Base64 JPEG, PNG or WebP, optionally a data: URL."
    )
    face_focus: FaceFocus | None = Field(
        default=None,
        description="Optional: which face to analyse when the image holds several "
        "(default: the largest).",
    )
    audio_data: str | None = Field(
        default=None,
        description="Base64 WAV, MP3, OGG, WebM/Opus, MP4/AAC or FLAC, optionally a data: URL.",
    )
    motion_data: list[MotionSample] | MotionColumns | None = Field(
        default=None, description="Samples as in the seed, or the columnar form."
    )
    timestamp: UtcDatetime | None = Field(
        default=None, description="When the data was captured; defaults to now."
    )
    duration_seconds: float | None = Field(default=None, gt=0, le=86_400, strict=True)

    @model_validator(mode="after")
    def _some_modality(self) -> AnalysisRequest:
        if self.face_image is None and self.audio_data is None and self.motion_data is None:
            raise ValueError("give at least one of face_image, audio_data or motion_data")
        return self


class EmotionAnalysis(BaseModel):
    """The seed's expression block."""

    dominant_emotion: str
    emotions: dict[str, float]
    confidence: float = Field(ge=0, le=1)
    valence: float = Field(ge=-1, le=1)
    arousal: float = Field(ge=0, le=1)


class SkippedModality(BaseModel):
    """A modality that was present in the request but not analysed."""

    modality: str
    reason: str


class AssessmentRead(BaseModel):
    """Each fused score with its confidence and the modalities behind it."""

    stress: FusedScore
    attention: FusedScore
    overall: FusedScore


class AnalysisResponse(BaseModel):
    """The seed's analysis response, plus per-modality detail."""

    session_id: str
    user_id: str | None = None
    timestamp: datetime
    status: Literal["completed"] = "completed"
    emotion_analysis: EmotionAnalysis | None = None
    stress_level: Score | None = None
    attention_score: Score | None = None
    overall_score: Score | None = None
    quality_score: Score | None = None
    processing_time_ms: float = Field(ge=0)
    recommendations: list[str] = Field(
        default_factory=list, description="The texts of recommendation_details, in order."
    )
    recommendation_details: list[Recommendation] = Field(
        default_factory=list,
        description="Each recommendation with its id, priority and the signals that fired it.",
    )
    assessment: AssessmentRead | None = Field(
        default=None, description="Confidence and modalities of each fused score."
    )
    baseline: PersonalComparison | None = Field(
        default=None,
        description="Calibration progress, or stress and attention against the user's own "
        "baseline (users only).",
    )
    modalities: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per analysed modality: status, reason, quality, confidence, processing_ms "
        "and the modality's derived values.",
    )
    modalities_used: list[str] = Field(default_factory=list)
    modalities_skipped: list[SkippedModality] = Field(default_factory=list)
    stored: bool = Field(description="Whether this result was stored in the user's history.")


class SessionRead(AnalysisResponse):
    """A stored session."""

    timestamp: UtcDatetime
    stored: bool = True
    duration_seconds: float | None = None
    created_at: UtcDatetime

    @classmethod
    def from_record(cls, record: Any) -> SessionRead:
        """The API view of a stored ``SessionRecord``."""
        return cls(
            session_id=record.id,
            user_id=record.user_id,
            timestamp=record.timestamp,
            created_at=record.created_at,
            status=record.status,
            duration_seconds=record.duration_seconds,
            emotion_analysis=record.emotion_analysis,
            stress_level=record.stress_level,
            attention_score=record.attention_score,
            overall_score=record.overall_score,
            quality_score=record.quality_score,
            processing_time_ms=record.processing_time_ms,
            recommendations=record.recommendations,
            modalities=record.modalities,
            modalities_used=record.modalities_used,
            modalities_skipped=record.modalities_skipped,
            **(record.fusion or {}),
        )


class SessionList(BaseModel):
    """One page of sessions, newest first."""

    items: list[SessionRead]
    total: int = Field(ge=0, description="Sessions matching the filters, over all pages.")
    limit: int
    offset: int


# ----------------------------------------------------------------------------- preferences
class PreferencesUpdate(BaseModel):
    """Fields to change; omitted fields keep their current value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "user_id": "user-123",
                    "face_enabled": True,
                    "audio_enabled": False,
                    "motion_enabled": True,
                    "store_history": True,
                    "retention_days": 30,
                }
            ]
        },
    )

    user_id: UserId
    face_enabled: bool | None = Field(
        default=None, strict=True, description="Consent to face analysis."
    )
    audio_enabled: bool | None = Field(
        default=None, strict=True, description="Consent to voice analysis."
    )
    motion_enabled: bool | None = Field(
        default=None, strict=True, description="Consent to motion analysis."
    )
    store_history: bool | None = Field(
        default=None, strict=True, description="Keep analysis results in the user's history."
    )
    retention_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        strict=True,
        description="Days to keep sessions before deletion.",
    )


class PreferencesRead(BaseModel):
    """A user's effective preferences."""

    model_config = ConfigDict(from_attributes=True)

    user_id: str
    face_enabled: bool
    audio_enabled: bool
    motion_enabled: bool
    face_consent_at: UtcDatetime | None = None
    audio_consent_at: UtcDatetime | None = None
    motion_consent_at: UtcDatetime | None = None
    store_history: bool
    retention_days: int
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    is_default: bool = Field(default=False, description="True when the user never set preferences.")


# ----------------------------------------------------------------------------- system
class HealthResponse(BaseModel):
    """Readiness of the service and its parts."""

    status: Literal["ok", "degraded", "unavailable"]
    version: str
    uptime_seconds: float
    database: dict[str, Any]
    analyzers: dict[str, dict[str, Any]]


class LatencyStats(BaseModel):
    """Latency of one modality."""

    count: int
    p50_ms: float | None
    p95_ms: float | None
    mean_quality: float | None


class StatsResponse(BaseModel):
    """Service statistics computed from stored metrics."""

    window_hours: float | None
    uptime_seconds: float
    requests_total: int
    client_errors: int
    server_errors: int
    requests_by_route: dict[str, int]
    modality_latency: dict[str, LatencyStats]
    sessions_stored: int


class RootResponse(BaseModel):
    """What this service is and where its documentation lives."""

    name: str
    version: str
    description: str
    docs: str
    redoc: str
    openapi: str
    health: str


# ----------------------------------------------------------------------------- users
class UserCreate(BaseModel):
    """A new user (administrator only)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Display name (no control characters).",
    )
    user_id: UserId | None = Field(default=None, description="Chosen id; random when omitted.")


class UserCreated(BaseModel):
    """A new user and their first token: the only time the token is shown."""

    user_id: str
    name: str
    created_at: UtcDatetime
    token: str = Field(description="Bearer token; store it now, it is not shown again.")


class TokenIssued(BaseModel):
    """A freshly issued token; every older token of the user is revoked."""

    user_id: str
    token: str = Field(description="Bearer token; store it now, it is not shown again.")


class ErasureResponse(BaseModel):
    """What an erasure deleted, by kind."""

    user_id: str
    deleted: dict[str, int]


class AuditEventRead(BaseModel):
    """One audit event."""

    model_config = ConfigDict(from_attributes=True)

    created_at: UtcDatetime
    actor: str
    action: str
    resource: str
    request_id: str | None


class MetricRead(BaseModel):
    """Timing and quality of one modality of one analysis."""

    model_config = ConfigDict(from_attributes=True)

    created_at: UtcDatetime
    session_id: str | None
    modality: str
    status: str
    processing_ms: float
    quality: float | None


class TokenRead(BaseModel):
    """A token's metadata (never the token or its hash)."""

    model_config = ConfigDict(from_attributes=True)

    prefix: str
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None


class UserExport(BaseModel):
    """Everything MindSync holds about one user (derived data only)."""

    user_id: str
    exported_at: UtcDatetime
    user: dict[str, Any] | None
    preferences: PreferencesRead | None
    sessions: list[SessionRead]
    metrics: list[MetricRead]
    tokens: list[TokenRead]
    baselines: dict[str, Any] = Field(
        default_factory=dict,
        description="Personal baselines: per signal, sessions seen, rolling mean and spread.",
    )
    audit: list[AuditEventRead]


class TrendBucket(BaseModel):
    """Averages of the fused scores over one time bucket."""

    start: UtcDatetime
    sessions: int
    stress_level: float | None
    attention_score: float | None
    overall_score: float | None
    quality_score: float | None


class TrendsResponse(BaseModel):
    """A user's fused scores per bucket over the last ``days`` days (empty buckets omitted)."""

    user_id: str
    days: int
    bucket: Literal["hour", "day", "week"]
    since: UtcDatetime
    until: UtcDatetime
    buckets: list[TrendBucket]


class MeResponse(BaseModel):
    """Who the bearer token belongs to."""

    kind: Literal["admin", "user"]
    user_id: str | None = None
    name: str | None = None
