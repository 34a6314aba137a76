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
    Discriminator,
    Field,
    Tag,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from mindsync.analysis.fusion import Assessment, PersonalComparison, Recommendation
from mindsync.analysis.fusion.situation import Situation
from mindsync.analysis.motion.json_input import MotionJSON
from mindsync.analysis.motion.recording import MotionRecording
from mindsync.api.motion_input import fast_motion_recording

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
        description="Opaque user identifier: letters, digits and . _ : @ -, at most 128. "
        "Your own is in GET /me.",
        examples=["ada"],
    ),
]
Score = Annotated[float, Field(ge=0.0, le=1.0)]
ModalityName = Literal["face", "voice", "motion"]
#: A JSON number and nothing else: ``true``, ``false`` and ``"1.5"`` are refused (422), where
#: lax mode would store them as 1.0, 0.0 and 1.5.
Number = Annotated[float, Field(strict=True)]


# ----------------------------------------------------------------------------- errors
class ErrorDetail(BaseModel):
    """One problem with a request."""

    field: str | None = Field(default=None, description="Dotted path of the offending field.")
    message: str = Field(description="What is wrong with that field, for a human.")


class ErrorBody(BaseModel):
    """The body of every error response."""

    code: str = Field(description="Machine-readable error code.", examples=["validation_error"])
    message: str = Field(description="What went wrong, for a human.")
    field: str | None = Field(default=None, description="The offending field, when there is one.")
    request_id: str | None = Field(default=None, description="Quote it when reporting a problem.")
    details: list[ErrorDetail] | None = Field(
        default=None, description="Every problem found, when there are several (422)."
    )
    modalities: list[ModalityName] | None = Field(
        default=None,
        description="With code consent_required: the modalities the user has not consented to.",
    )


class ErrorResponse(BaseModel):
    """Error envelope: ``{"error": {...}}``."""

    error: ErrorBody = Field(description="The error.")


# ----------------------------------------------------------------------------- analyze
class Vector3(BaseModel):
    """Three axes of one sensor sample, in the device's frame."""

    x: Number = Field(description="X axis (unit of the sensor: m/s² or g, rad/s).")
    y: Number = Field(description="Y axis.")
    z: Number = Field(description="Z axis.")


class FaceFocus(BaseModel):
    """A point of the face image, as fractions of its width and height (after EXIF
    orientation): the face there, or nearest to it, is the one analysed."""

    model_config = ConfigDict(extra="forbid")

    x: float = Field(ge=0, le=1, strict=True, description="0 = left edge, 1 = right edge.")
    y: float = Field(ge=0, le=1, strict=True, description="0 = top edge, 1 = bottom edge.")


class MotionSample(BaseModel):
    """One motion sample, as in the seed."""

    timestamp: float = Field(
        strict=True, description="Seconds (epoch or relative to the recording)."
    )
    acceleration: Vector3 = Field(
        description="m/s² or g (told from gravity's size), with or without gravity."
    )
    gyroscope: Vector3 | None = Field(default=None, description="rad/s.")


class AxisColumns(BaseModel):
    """One array per axis, one value per timestamp."""

    x: list[Number] = Field(description="X axis values.")
    y: list[Number] = Field(description="Y axis values.")
    z: list[Number] = Field(description="Z axis values.")

    @model_validator(mode="after")
    def _same_length(self) -> AxisColumns:
        if not len(self.x) == len(self.y) == len(self.z):
            raise ValueError("x, y and z must have the same length")
        return self


class MotionColumns(BaseModel):
    """The compact columnar form preferred by clients streaming at 50–200 Hz."""

    timestamps: list[Number] = Field(description="Seconds, one per sample.")
    acceleration: AxisColumns = Field(
        description="m/s² or g (told from gravity's size), with or without gravity."
    )
    gyroscope: AxisColumns | None = Field(default=None, description="rad/s; null when absent.")

    @model_validator(mode="after")
    def _aligned(self) -> MotionColumns:
        n = len(self.timestamps)
        if len(self.acceleration.x) != n:
            raise ValueError("acceleration arrays must have one value per timestamp")
        if self.gyroscope is not None and len(self.gyroscope.x) != n:
            raise ValueError("gyroscope arrays must have one value per timestamp")
        return self


def _motion_form(value: Any) -> str | None:
    """Which motion form ``value`` is: a list of samples or the columnar object."""
    if isinstance(value, list | tuple):
        return "samples"
    if isinstance(value, dict | MotionColumns):
        return "columns"
    return None


def _motion_fast_path(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """A well-formed motion payload becomes a :class:`MotionRecording` at C speed
    (:mod:`~mindsync.api.motion_input`); anything else is validated field by field, so that
    errors name the sample, the field and the reason exactly as before. Motion data that
    ``POST /analyze`` left as JSON text (:class:`MotionJSON`) passes as it is: the analysis
    process parses it, and hands it back for validation here when it is not plainly well
    formed (:func:`mindsync.api.services.validate_motion_json`)."""
    if isinstance(value, MotionRecording | MotionJSON):
        return value
    recording = fast_motion_recording(value)
    return recording if recording is not None else handler(value)


#: The two motion forms as a named ``oneOf``; the JSON type alone tells them apart.
MotionData = Annotated[
    Annotated[
        list[MotionSample],
        Tag("samples"),
        Field(
            title="MotionSamples",
            description="The seed's form: one object per sample.",
        ),
    ]
    | Annotated[MotionColumns, Tag("columns")],
    Discriminator(
        _motion_form,
        custom_error_type="motion_form",
        custom_error_message="motion_data must be a list of samples or an object with "
        "timestamps and acceleration arrays",
    ),
    WrapValidator(_motion_fast_path),
]


def _walk_example(seconds: float = 4.0, rate: float = 10.0) -> dict[str, Any]:
    """A short columnar recording of a phone on a walking person (for the documentation)."""
    import math

    n = int(seconds * rate)
    t = [round(i / rate, 3) for i in range(n)]
    return {
        "timestamps": t,
        "acceleration": {
            "x": [round(0.8 * math.sin(2 * math.pi * 1.9 * s), 3) for s in t],
            "y": [round(0.4 * math.cos(2 * math.pi * 1.9 * s), 3) for s in t],
            "z": [round(9.81 + 1.6 * math.sin(2 * math.pi * 3.8 * s), 3) for s in t],
        },
    }


#: Request examples shown in /docs; each works as-is with a user's token (tested).
ANALYSIS_EXAMPLES: dict[str, dict[str, Any]] = {
    "motion_columns": {
        "summary": "Motion, columnar form (4 s at 10 Hz)",
        "value": {"motion_data": _walk_example(), "duration_seconds": 4.0},
    },
    "motion_samples": {
        "summary": "Motion, one object per sample (the seed's form; 4 s at 5 Hz)",
        "value": {
            "motion_data": [
                {
                    "timestamp": i / 5,
                    "acceleration": {"x": 0.1, "y": 0.2, "z": round(9.8 + 0.05 * (i % 3), 2)},
                    "gyroscope": {"x": 0.01, "y": 0.02, "z": 0.03},
                }
                for i in range(21)
            ],
        },
    },
}


class AnalysisRequest(BaseModel):
    """A bundle of sensor data to analyse.

    Every modality is optional, but at least one of ``face_image``, ``audio_data`` and
    ``motion_data`` is required (422 otherwise). Only modalities the user consented to are
    analysed (403 ``consent_required`` when none is).
    """

    model_config = ConfigDict(
        json_schema_extra={"examples": [ANALYSIS_EXAMPLES["motion_columns"]["value"]]}
    )

    session_id: UUID | None = Field(
        default=None,
        description="Client-chosen session id; repeating it returns the stored result instead "
        "of analysing again (a safe retry). Random when omitted.",
    )
    user_id: UserId | None = Field(
        default=None,
        description="Whose data this is. Users may omit it (it is their own id); an "
        "administrator names the user, or gets an anonymous, unstored result.",
    )
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
    motion_data: MotionData | None = Field(
        default=None,
        description="Accelerometer (and gyroscope) samples: a list of samples as in the seed, "
        "or the columnar form.",
    )
    timestamp: UtcDatetime | None = Field(
        default=None,
        description="When the data was captured (ISO 8601; naive means UTC); defaults to now.",
    )
    duration_seconds: float | None = Field(
        default=None,
        gt=0,
        le=86_400,
        strict=True,
        description="Length of the capture in seconds (stored).",
    )

    @model_validator(mode="after")
    def _some_modality(self) -> AnalysisRequest:
        if self.face_image is None and self.audio_data is None and self.motion_data is None:
            raise ValueError("give at least one of face_image, audio_data or motion_data")
        return self


class EmotionAnalysis(BaseModel):
    """The seed's expression block, from the face."""

    dominant_emotion: str = Field(
        description="The most probable of angry, disgust, fear, happy, sad, surprise, neutral."
    )
    emotions: dict[str, float] = Field(
        description="Probability of each of the seven expressions, 0-1, summing to 1."
    )
    confidence: float = Field(ge=0, le=1, description="Probability of the dominant emotion.")
    valence: float = Field(ge=-1, le=1, description="Unpleasant (-1) to pleasant (+1).")
    arousal: float = Field(ge=0, le=1, description="Calm (0) to activated (1).")


class SkippedModality(BaseModel):
    """A modality that was present in the request but gave no estimate."""

    modality: ModalityName = Field(description="face, voice or motion.")
    reason: str = Field(
        description="Why: 'no consent given' (not decoded, not analysed), or what the "
        "analyser found missing (no face, no speech, too few samples …)."
    )


class ExclusionRead(BaseModel):
    """A modality that was analysed but does not count towards a score, and why."""

    model_config = ConfigDict(from_attributes=True)

    modality: ModalityName = Field(description="The modality left out.")
    reason_code: str = Field(
        description="Stable machine code, e.g. 'not_on_person' (docs/scoring.md)."
    )
    reason: str = Field(description="The same, in words.")


class ScoreRead(BaseModel):
    """One fused score with its confidence and the modalities behind it."""

    model_config = ConfigDict(from_attributes=True)

    value: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="The score, 0-1, never further from the neutral 0.5 than its confidence "
        "allows; null when no modality informs it or it does not apply (``reason_code``).",
    )
    confidence: float = Field(
        ge=0,
        le=1,
        description="How much evidence stands behind the value, 0 (none) to 1: "
        "1 − Π(1 − relevance·quality·confidence) over the modalities used.",
    )
    modalities: list[ModalityName] = Field(
        default_factory=list, description="The modalities that informed the value."
    )
    raw_value: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="The weighted mean of the modalities before it was bounded by the "
        "confidence (``value`` = 0.5 + (raw_value − 0.5) · confidence).",
    )
    reason_code: str | None = Field(
        default=None,
        description="Why ``value`` is null: 'not_applicable_moving', 'no_usable_signal' or "
        "'not_measured' (docs/scoring.md).",
    )
    reason: str | None = Field(default=None, description="The same, in words.")
    excluded: list[ExclusionRead] = Field(
        default_factory=list,
        description="Modalities that were analysed but do not count towards this score, "
        "each with its reason.",
    )


class AssessmentRead(BaseModel):
    """Each fused score with its confidence and the modalities behind it, and the situation
    the signals describe (docs/scoring.md)."""

    stress: ScoreRead = Field(description="Stress (0 calm, 1 highly stressed).")
    attention: ScoreRead = Field(description="Attention (0 absent, 1 fully attentive).")
    overall: ScoreRead = Field(description="Overall wellbeing (0 poor, 1 good).")
    situation: Situation = Field(
        default="unknown",
        description="The situation the signals describe: walking, exercising, seated, standing, "
        "lying, stationary, at_desk_device_on_table, device_unattended, at_screen or unknown "
        "(docs/scoring.md).",
    )
    situation_confidence: float = Field(
        default=0.0, ge=0, le=1, description="Confidence of ``situation``, 0 to 1."
    )
    situation_modalities: list[str] = Field(
        default_factory=list, description="The modalities the situation was read from."
    )

    @classmethod
    def of(cls, assessment: Assessment) -> AssessmentRead:
        """The API view of a fused :class:`Assessment`."""
        return cls(
            stress=ScoreRead.model_validate(assessment.stress),
            attention=ScoreRead.model_validate(assessment.attention),
            overall=ScoreRead.model_validate(assessment.overall),
            situation=assessment.situation,
            situation_confidence=assessment.situation_confidence,
            situation_modalities=list(assessment.situation_modalities),
        )


class AnalysisResponse(BaseModel):
    """The seed's analysis response, plus per-modality detail.

    Numbers are rounded to at most 4 decimal places. A score is ``null`` when no analysed
    modality informs it; its confidence is then 0.
    """

    session_id: str = Field(description="Id of this analysis (GET /session/{session_id}).")
    user_id: str | None = Field(
        default=None, description="Whose analysis this is; null for an anonymous analysis."
    )
    timestamp: datetime = Field(description="When the data was captured (UTC).")
    status: Literal["completed"] = Field(
        default="completed", description="Always 'completed' (errors are 4xx/5xx responses)."
    )
    emotion_analysis: EmotionAnalysis | None = Field(
        default=None, description="Facial expression; null without a usable face."
    )
    stress_level: Score | None = Field(
        default=None,
        description="Fused stress, 0 (calm) to 1 (highly stressed); null when no modality "
        "informs it. Its confidence is stress_confidence.",
    )
    stress_confidence: Score = Field(
        default=0.0, description="Confidence of stress_level, 0 (no evidence) to 1."
    )
    attention_score: Score | None = Field(
        default=None,
        description="Fused attention, 0 (absent) to 1 (fully attentive); null when no modality "
        "informs it. Its confidence is attention_confidence.",
    )
    attention_confidence: Score = Field(
        default=0.0, description="Confidence of attention_score, 0 (no evidence) to 1."
    )
    overall_score: Score | None = Field(
        default=None,
        description="Overall wellbeing, 0 (poor) to 1 (good), from stress, attention and "
        "expression; null when nothing informs it. Its confidence is overall_confidence.",
    )
    overall_confidence: Score = Field(
        default=0.0, description="Confidence of overall_score, 0 (no evidence) to 1."
    )
    quality_score: Score | None = Field(
        default=None,
        description="How far the whole result can be trusted, 0-1: mean data quality of the "
        "modalities used times their coverage; null when nothing was analysed.",
    )
    processing_time_ms: float = Field(
        ge=0, description="Server time for this request, milliseconds."
    )
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
        description="Per analysed modality (face, voice, motion): status, reason, quality, "
        "confidence, processing_ms and the modality's derived values. A modality that was "
        "not analysed (absent, or no consent) has no entry.",
    )
    modalities_used: list[ModalityName] = Field(
        default_factory=list, description="Modalities that gave an estimate (status 'ok')."
    )
    modalities_skipped: list[SkippedModality] = Field(
        default_factory=list,
        description="Modalities in the request that gave no estimate, each with the reason.",
    )
    stored: bool = Field(description="Whether this result was stored in the user's history.")

    @model_validator(mode="after")
    def _confidences(self) -> AnalysisResponse:
        # The top-level confidences mirror the assessment (also for sessions stored before
        # they existed), so that a client sees them next to the scores.
        if self.assessment is not None:
            self.stress_confidence = self.assessment.stress.confidence
            self.attention_confidence = self.assessment.attention.confidence
            self.overall_confidence = self.assessment.overall.confidence
        return self


class SessionRead(AnalysisResponse):
    """A stored session."""

    timestamp: UtcDatetime = Field(description="When the data was captured (UTC).")
    stored: bool = Field(default=True, description="Always true for a stored session.")
    duration_seconds: float | None = Field(
        default=None, description="Length of the capture in seconds, as the client said."
    )
    created_at: UtcDatetime = Field(description="When the session was stored (UTC).")

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

    items: list[SessionRead] = Field(description="The sessions of this page, newest first.")
    total: int = Field(ge=0, description="Sessions matching the filters, over all pages.")
    limit: int = Field(description="Page size asked for.")
    offset: int = Field(description="Sessions skipped before this page.")


# ----------------------------------------------------------------------------- preferences
class PreferencesUpdate(BaseModel):
    """Fields to change; omitted fields keep their current value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "face_enabled": True,
                    "audio_enabled": True,
                    "motion_enabled": True,
                    "store_history": True,
                    "retention_days": 30,
                }
            ]
        },
    )

    user_id: UserId | None = Field(
        default=None,
        description="Whose preferences: a user may omit it (their own); the administrator "
        "must name the user.",
    )
    face_enabled: bool | None = Field(
        default=None,
        strict=True,
        description="Consent to face analysis (true gives it, false withdraws it; the time is "
        "recorded).",
    )
    audio_enabled: bool | None = Field(
        default=None,
        strict=True,
        description="Consent to voice analysis (true gives, false withdraws).",
    )
    motion_enabled: bool | None = Field(
        default=None,
        strict=True,
        description="Consent to motion analysis (true gives, false withdraws).",
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

    user_id: str = Field(description="Whose preferences.")
    face_enabled: bool = Field(description="Consent to face analysis (false until given).")
    audio_enabled: bool = Field(description="Consent to voice analysis (false until given).")
    motion_enabled: bool = Field(description="Consent to motion analysis (false until given).")
    face_consent_at: UtcDatetime | None = Field(
        default=None,
        description="When face consent was last given or withdrawn (UTC); null: never chosen.",
    )
    audio_consent_at: UtcDatetime | None = Field(
        default=None,
        description="When voice consent was last given or withdrawn (UTC); null: never chosen.",
    )
    motion_consent_at: UtcDatetime | None = Field(
        default=None,
        description="When motion consent was last given or withdrawn (UTC); null: never chosen.",
    )
    store_history: bool = Field(
        description="Whether analysis results are kept in the user's history."
    )
    retention_days: int = Field(description="Days sessions are kept before retention deletes them.")
    created_at: UtcDatetime | None = Field(
        default=None, description="When the preferences were first stored (UTC); null for defaults."
    )
    updated_at: UtcDatetime | None = Field(
        default=None, description="When they last changed (UTC); null for defaults."
    )
    is_default: bool = Field(default=False, description="True when the user never set preferences.")


# ----------------------------------------------------------------------------- system
class HealthResponse(BaseModel):
    """Readiness of the service and its parts."""

    status: Literal["ok", "degraded", "unavailable"] = Field(
        description="ok; degraded (an analyser is missing); unavailable (database down, HTTP 503)."
    )
    version: str = Field(description="MindSync version.")
    uptime_seconds: float = Field(description="Seconds since this process started.")
    database: dict[str, Any] = Field(
        description="reachable, dialect and whether migrations are current."
    )
    analyzers: dict[str, dict[str, Any]] = Field(
        description="Per modality: loaded, and the model facts of its analyser."
    )


class LatencyStats(BaseModel):
    """Latency of one modality."""

    count: int = Field(description="Analyses of this modality in the window.")
    p50_ms: float | None = Field(description="Median processing time, ms; null without analyses.")
    p95_ms: float | None = Field(
        description="95th percentile processing time, ms; null without analyses."
    )
    mean_quality: float | None = Field(description="Mean data quality, 0-1; null without analyses.")


class ProcessStats(BaseModel):
    """CPU and memory of one process of this server."""

    role: Literal["server", "analysis"] = Field(
        description="server: the process that answered; analysis: one of its analysis "
        "processes (MINDSYNC_ANALYSIS_PROCESSES)."
    )
    pid: int = Field(description="Operating-system process id.")
    cpu_seconds: float = Field(ge=0, description="CPU time used so far (user + system), s.")
    cpu_percent: float | None = Field(
        default=None,
        ge=0,
        description="Mean CPU load over the process's life, in percent of one core; null "
        "where the system does not say (not Linux).",
    )
    rss_bytes: int | None = Field(
        default=None, ge=0, description="Resident memory, bytes; null where unknown."
    )
    uptime_seconds: float | None = Field(
        default=None, ge=0, description="How long the process has run, s; null where unknown."
    )


class StatsResponse(BaseModel):
    """Service statistics computed from stored metrics."""

    window_hours: float | None = Field(
        description="The window asked for, hours; null: since metrics are kept."
    )
    uptime_seconds: float = Field(description="Seconds since this process started.")
    requests_total: int = Field(description="Requests in the window (probes and docs excluded).")
    client_errors: int = Field(description="Requests answered 4xx.")
    server_errors: int = Field(description="Requests answered 5xx.")
    requests_by_route: dict[str, int] = Field(description="Requests per 'METHOD /route'.")
    modality_latency: dict[str, LatencyStats] = Field(
        description="Per modality: count, p50/p95 processing time and mean quality."
    )
    sessions_stored: int = Field(description="Sessions stored in the window.")
    processes: list[ProcessStats] = Field(
        default_factory=list,
        description="CPU and resident memory of the process that answered and of each of its "
        "analysis processes (with several workers, each reports its own).",
    )


class RootResponse(BaseModel):
    """What this service is and where its documentation lives."""

    name: str = Field(description="Service name.")
    version: str = Field(description="MindSync version.")
    description: str = Field(description="What the service does.")
    docs: str = Field(description="Swagger UI.")
    redoc: str = Field(description="ReDoc.")
    openapi: str = Field(description="The OpenAPI document.")
    health: str = Field(description="Health check.")


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
    consent: list[ModalityName] = Field(
        default_factory=list,
        description="Modalities the user has explicitly consented to (recorded with the time); "
        "the others stay off until the user consents through POST /preferences.",
        examples=[["face", "voice", "motion"]],
    )


class UserCreated(BaseModel):
    """A new user and their first token: the only time the token is shown."""

    user_id: str = Field(description="The new user's id.")
    name: str = Field(description="Display name.")
    created_at: UtcDatetime = Field(description="When the user was created (UTC).")
    token: str = Field(description="Bearer token; store it now, it is not shown again.")
    consent: list[ModalityName] = Field(
        default_factory=list, description="Modalities the user consented to at creation."
    )


class TokenIssued(BaseModel):
    """A freshly issued token; every older token of the user is revoked."""

    user_id: str = Field(description="Whose token.")
    token: str = Field(description="Bearer token; store it now, it is not shown again.")


class ErasureResponse(BaseModel):
    """What an erasure deleted, by kind."""

    user_id: str = Field(description="Whose data was erased.")
    deleted: dict[str, int] = Field(
        description="Rows deleted, per kind (sessions, metrics, preferences, tokens …)."
    )


class AuditEventRead(BaseModel):
    """One audit event."""

    model_config = ConfigDict(from_attributes=True)

    created_at: UtcDatetime = Field(description="When (UTC).")
    actor: str = Field(description="Who: user:<id>, admin or anonymous.")
    action: str = Field(description="What: read, update, export, erase, create, rotate_token.")
    resource: str = Field(description="On what: preferences, sessions, user, tokens, trends.")
    request_id: str | None = Field(description="The request's id (X-Request-ID).")


class MetricRead(BaseModel):
    """Timing and quality of one modality of one analysis."""

    model_config = ConfigDict(from_attributes=True)

    created_at: UtcDatetime = Field(description="When (UTC).")
    session_id: str | None = Field(
        description="The analysis it belongs to; null once the session is gone."
    )
    modality: str = Field(description="face, voice or motion.")
    status: str = Field(description="ok or no_signal.")
    processing_ms: float = Field(description="Decode plus analysis time, milliseconds.")
    quality: float | None = Field(description="Data quality, 0-1.")


class TokenRead(BaseModel):
    """A token's metadata (never the token or its hash)."""

    model_config = ConfigDict(from_attributes=True)

    prefix: str = Field(description="First characters of the token, to recognise it.")
    created_at: UtcDatetime = Field(description="When it was issued (UTC).")
    revoked_at: UtcDatetime | None = Field(
        description="When it was revoked (UTC); null while valid."
    )


class UserExport(BaseModel):
    """Everything MindSync holds about one user (derived data only)."""

    user_id: str = Field(description="Whose data.")
    exported_at: UtcDatetime = Field(description="When this export was made (UTC).")
    user: dict[str, Any] | None = Field(
        description="The account: id, name, created_at; null for a user known only by data."
    )
    preferences: PreferencesRead | None = Field(
        description="Stored preferences; null if never set."
    )
    sessions: list[SessionRead] = Field(description="Every stored session.")
    metrics: list[MetricRead] = Field(description="Timing and quality of each analysed modality.")
    tokens: list[TokenRead] = Field(description="Token metadata (never the tokens).")
    baselines: dict[str, Any] = Field(
        default_factory=dict,
        description="Personal baselines: per signal, sessions seen, rolling mean and spread.",
    )
    audit: list[AuditEventRead] = Field(
        description="Who read, changed, exported or erased this user's data."
    )


class TrendBucket(BaseModel):
    """Averages of the fused scores over one time bucket."""

    start: UtcDatetime = Field(description="Start of the bucket (UTC).")
    sessions: int = Field(description="Sessions in the bucket.")
    stress_level: float | None = Field(
        description="Mean stress, 0-1; null when no session had one."
    )
    attention_score: float | None = Field(
        description="Mean attention, 0-1; null when no session had one."
    )
    overall_score: float | None = Field(
        description="Mean overall score, 0-1; null when no session had one."
    )
    quality_score: float | None = Field(
        description="Mean quality, 0-1; null when no session had one."
    )


class TrendsResponse(BaseModel):
    """A user's fused scores per bucket over the last ``days`` days (empty buckets omitted)."""

    user_id: str = Field(description="Whose trends.")
    days: int = Field(description="How many days back.")
    bucket: Literal["hour", "day", "week"] = Field(description="Bucket size: hour, day or week.")
    since: UtcDatetime = Field(description="Start of the period (UTC).")
    until: UtcDatetime = Field(description="End of the period (UTC).")
    buckets: list[TrendBucket] = Field(
        description="Buckets with sessions, oldest first (empty ones omitted)."
    )


class MeResponse(BaseModel):
    """Who the bearer token belongs to."""

    kind: Literal["admin", "user"] = Field(description="admin or user.")
    user_id: str | None = Field(
        default=None, description="The user's id; null for the administrator."
    )
    name: str | None = Field(
        default=None, description="The user's display name; null for the administrator."
    )
