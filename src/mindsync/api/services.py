"""Use cases that wire the analysis layer to storage: analyse a request, honour preferences."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from mindsync.analysis.base import Modality, ModalityResult
from mindsync.analysis.fusion import (
    Assessment,
    BaselineStats,
    PersonalComparison,
    RuleSet,
    baseline_signals,
    compare_to_baseline,
    fuse,
    personal_voice_reference,
    personalize_voice,
    update_baseline,
)
from mindsync.analysis.fusion.recommendations import recommend
from mindsync.analysis.motion.json_input import MotionJSON
from mindsync.analysis.motion.recording import MotionRecording
from mindsync.analysis.orchestrator import Orchestrator
from mindsync.api.errors import (
    ApiError,
    Conflict,
    ConsentRequired,
    Gone,
    JSONTooDeep,
    NotFound,
)
from mindsync.api.middleware import json_depth
from mindsync.api.routing import loads
from mindsync.api.schemas import (
    AnalysisRequest,
    AnalysisResponse,
    AssessmentRead,
    MotionColumns,
    MotionData,
    PreferencesRead,
    SkippedModality,
)
from mindsync.core.config import Settings
from mindsync.storage.engine import engine_of
from mindsync.storage.models import SessionRecord, UserPreferences
from mindsync.storage.repositories import baselines as baselines_repo
from mindsync.storage.repositories import preferences as prefs_repo
from mindsync.storage.repositories import sessions as sessions_repo
from mindsync.storage.repositories import users as users_repo

logger = logging.getLogger(__name__)

# Request field that carries each modality, and the preference that gates it.
MODALITY_FIELDS: dict[Modality, tuple[str, str]] = {
    "face": ("face_image", "face_enabled"),
    "voice": ("audio_data", "audio_enabled"),
    "motion": ("motion_data", "motion_enabled"),
}
MAX_FUTURE_SKEW = timedelta(days=1)
#: The earliest capture time accepted: before any phone had these sensors (and never 1970).
EARLIEST_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)
NO_CONSENT = "no consent given"
CONSENT_HOW = (
    "give consent with POST /preferences (face_enabled, audio_enabled, motion_enabled), "
    "in the web app's Privacy page, or when the user is created (POST /users with consent, "
    "`mindsync users create NAME --consent face,voice,motion`)"
)


def consent_required_error(modalities: Sequence[str]) -> ConsentRequired:
    """The 403 for a request none of whose modalities the user consented to."""
    return ConsentRequired(
        f"no consent given for {', '.join(modalities)}: {CONSENT_HOW}",
        field=MODALITY_FIELDS[modalities[0]][0],  # type: ignore[index]
        modalities=list(modalities),
    )


DECIMALS = 4


def rounded(value: Any, decimals: int = DECIMALS) -> Any:
    """``value`` with every float inside (dicts, lists) rounded to ``decimals`` places: the
    one rounding rule of API responses, so that probabilities read like the scores."""
    if isinstance(value, float):
        return round(value, decimals)
    if isinstance(value, dict):
        return {k: rounded(v, decimals) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, decimals) for v in value]
    return value


def modality_fields(
    results: dict[Modality, ModalityResult], skipped: list[SkippedModality] | None = None
) -> dict[str, Any]:
    """The response's ``modalities``, ``modalities_used`` and ``modalities_skipped``."""
    return {
        "modalities": {m: rounded(r.model_dump(mode="json")) for m, r in results.items()},
        "modalities_used": [m for m, r in results.items() if r.status == "ok"],
        "modalities_skipped": (skipped or [])
        + [
            SkippedModality(modality=m, reason=r.reason or "no usable signal")
            for m, r in results.items()
            if r.status != "ok"
        ],
    }


def default_preferences(settings: Settings) -> dict[str, Any]:
    """Preferences of a user who never set any: no consent to any modality, unless the
    deployment records consent elsewhere (``consent_required`` off)."""
    consent = not settings.consent_required
    return {
        "face_enabled": consent,
        "audio_enabled": consent,
        "motion_enabled": consent,
        "store_history": True,
        "retention_days": settings.default_retention_days,
    }


CONSENT_PREFERENCE: dict[str, str] = {m: pref for m, (_, pref) in MODALITY_FIELDS.items()}


def consent_changes(modalities: Sequence[str]) -> dict[str, bool]:
    """The preference changes that record consent to ``modalities`` (and no other)."""
    return {CONSENT_PREFERENCE[m]: True for m in modalities}


def effective_preferences(
    stored: UserPreferences | Row[Any] | None, *, user_id: str, settings: Settings
) -> PreferencesRead:
    """The stored preferences of a user, or the defaults marked ``is_default``."""
    if stored is not None:
        return PreferencesRead.model_validate(stored)
    return PreferencesRead(user_id=user_id, is_default=True, **default_preferences(settings))


def motion_recording(data: Any) -> MotionRecording:
    """Convert the request's motion samples (either form) into numpy arrays (a recording
    that validation already built, the usual case, is returned as it is)."""
    if isinstance(data, MotionRecording):
        return data
    if isinstance(data, MotionColumns):
        t = np.asarray(data.timestamps, dtype=np.float64)
        acc = np.column_stack(
            [data.acceleration.x, data.acceleration.y, data.acceleration.z]
        ).astype(np.float64)
        gyro = None
        if data.gyroscope is not None:
            gyro = np.column_stack([data.gyroscope.x, data.gyroscope.y, data.gyroscope.z]).astype(
                np.float64
            )
        return MotionRecording(timestamps=t, acceleration=acc.reshape(-1, 3), gyroscope=gyro)
    n = len(data)
    t = np.fromiter((s.timestamp for s in data), dtype=np.float64, count=n)
    acc = np.array(
        [(s.acceleration.x, s.acceleration.y, s.acceleration.z) for s in data], dtype=np.float64
    ).reshape(-1, 3)
    gyro = None
    if n and all(s.gyroscope is not None for s in data):
        gyro = np.array(
            [(s.gyroscope.x, s.gyroscope.y, s.gyroscope.z) for s in data],
            dtype=np.float64,
        ).reshape(-1, 3)
    return MotionRecording(timestamps=t, acceleration=acc, gyroscope=gyro)


_MOTION_DATA: TypeAdapter[Any] = TypeAdapter(MotionData)


def validate_motion_json(value: MotionJSON) -> MotionRecording:
    """Validate motion data that is still JSON text field by field, exactly as the request's
    body would have been, and convert it (the rare path: the analysis process found it not
    plainly well formed).

    Raises :class:`JSONTooDeep` when the text nests deeper than it may, and FastAPI's
    :class:`RequestValidationError` (a 422 naming the sample, the field and the reason, as
    for any other field of the body) when it is not valid.
    """
    if json_depth(value.text) > value.max_depth:
        raise JSONTooDeep(value.max_depth + 1)
    try:
        data = loads(value.text)
        validated = _MOTION_DATA.validate_python(data)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "ctx": {"error": exc.msg},
                }
            ]
        ) from None
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {**error, "loc": ("body", "motion_data", *error["loc"])}
                for error in exc.errors(include_url=False, include_input=False)
            ]
        ) from None
    return motion_recording(validated)


async def _revalidate(modality: Modality, raw: Any) -> Any:
    """Motion JSON the analysis process could not take as it is, validated here field by
    field: a 422 that names the sample, or a valid but unusual payload to analyse."""
    if modality != "motion" or not isinstance(raw, MotionJSON):
        raise RuntimeError(f"no validation for {modality} input handed back by its analyser")
    return await run_in_threadpool(validate_motion_json, raw)


@dataclass(frozen=True)
class AnalysisContext:
    """What ``/analyze`` needs to know before analysing, read in one transaction."""

    prefs: PreferencesRead | None
    baselines: dict[str, BaselineStats] | None
    existing: SessionRecord | None


def _refuse_erased(db: users_repo.Database, user_id: str, key: Any) -> None:
    configured = key.get_secret_value() if key is not None else None
    if users_repo.is_erased(db=db, user_id=user_id, configured_key=configured):
        raise Gone(f"user {user_id} was erased; the id cannot be used again", field="user_id")


def load_context(
    factory: sessionmaker[Session],
    *,
    user_id: str | None,
    session_id: str | None,
    settings: Settings,
) -> AnalysisContext:
    """The user's preferences and baselines, and the session ``session_id`` if it exists.

    Raises :class:`Gone` when ``user_id`` was erased. Read on a Core connection, in one
    transaction (the ORM session cost about twice the CPU for the same three statements);
    only a repeated ``session_id``, the rare case, is read through the ORM.
    """
    prefs = baselines = None
    if user_id is not None:
        with engine_of(factory).connect() as db:
            stored = prefs_repo.preferences_row(db=db, user_id=user_id)
            if stored is None:
                # Erasure deletes the preferences with everything else, and no one may set
                # them for an erased id: only an id without them needs the tombstone check.
                _refuse_erased(db, user_id, settings.pseudonym_key)
            prefs = effective_preferences(stored, user_id=user_id, settings=settings)
            baselines = {
                k: BaselineStats(n=n, mean=mean, var=var)
                for k, (n, mean, var) in baselines_repo.get_baselines(
                    db=db, user_id=user_id
                ).items()
            }
    existing = None
    if session_id:
        with factory() as session:
            existing = sessions_repo.get_session(db=session, session_id=session_id)
    return AnalysisContext(prefs=prefs, baselines=baselines, existing=existing)


def load_preferences(
    factory: sessionmaker[Session], *, user_id: str | None, settings: Settings
) -> PreferencesRead | None:
    """The effective preferences of ``user_id`` (``None`` for anonymous requests)."""
    if user_id is None:
        return None
    with factory() as db:
        stored = prefs_repo.get_preferences(db=db, user_id=user_id)
        return effective_preferences(stored, user_id=user_id, settings=settings)


def _fold(previous: tuple[int, float, float] | None, value: float) -> tuple[int, float, float]:
    before = BaselineStats(n=previous[0], mean=previous[1], var=previous[2]) if previous else None
    after = update_baseline(before, value)
    return after.n, after.mean, after.var


def compose_response(
    *,
    results: dict[Modality, ModalityResult],
    assessment: Assessment,
    rules: RuleSet,
    session_id: str,
    user_id: str | None,
    timestamp: datetime,
    personal: PersonalComparison | None = None,
    skipped: list[SkippedModality] | None = None,
) -> AnalysisResponse:
    """The API's response for analysed ``results`` and their fused ``assessment`` (not
    stored, ``processing_time_ms`` 0): the one shape the API and the CLI print."""
    advice = recommend(rules, assessment, results, personal)
    return AnalysisResponse(
        session_id=session_id,
        user_id=user_id,
        timestamp=timestamp,
        emotion_analysis=rounded(assessment.emotion_analysis),
        stress_level=assessment.stress.value,
        attention_score=assessment.attention.value,
        overall_score=assessment.overall.value,
        quality_score=assessment.quality_score,
        processing_time_ms=0.0,
        recommendations=[r.text for r in advice],
        recommendation_details=advice,
        assessment=AssessmentRead.of(assessment),
        baseline=personal,
        **modality_fields(results, skipped),
        stored=False,
    )


async def analyze(
    *,
    request: AnalysisRequest,
    prefs: PreferencesRead | None,
    orchestrator: Orchestrator,
    now: datetime,
    rules: RuleSet,
    baselines: dict[str, BaselineStats] | None,
    min_sessions: int,
) -> tuple[AnalysisResponse, dict[Modality, ModalityResult], dict[str, float]]:
    """Analyse the modalities the user consents to; skipped ones are listed with the reason.

    Returns the response, the per-modality results and the signals a baseline tracks.

    With ``baselines`` (a known user), the response says how far calibration has come, or
    compares stress and attention with the user's own baseline.
    """
    if request.timestamp is not None and request.timestamp > now + MAX_FUTURE_SKEW:
        raise ApiError("timestamp is more than one day in the future", field="timestamp")
    if request.timestamp is not None and request.timestamp < EARLIEST_TIMESTAMP:
        raise ApiError("timestamp is before 2000-01-01", field="timestamp")
    inputs: dict[Modality, Any] = {}
    skipped: list[SkippedModality] = []
    for modality, (field_name, pref_name) in MODALITY_FIELDS.items():
        value = getattr(request, field_name)
        if value is None:
            continue
        if prefs is not None and not getattr(prefs, pref_name):
            # Not decoded, not analysed: consent was never given, or was withdrawn. (Motion
            # still in its JSON text is validated, as the rest of the body was: malformed
            # data is a 422 whether or not it would have been analysed.)
            if isinstance(value, MotionJSON):
                await run_in_threadpool(validate_motion_json, value)
            skipped.append(SkippedModality(modality=modality, reason=NO_CONSENT))
            continue
        if modality == "motion" and not isinstance(value, MotionJSON):
            value = motion_recording(value)
        inputs[modality] = value
        if modality == "face" and request.face_focus is not None:
            inputs["face"] = {"image": value, "focus": request.face_focus.model_dump()}
    if skipped and not inputs:
        raise consent_required_error([s.modality for s in skipped])

    results = await orchestrator.run(inputs, revalidate=_revalidate) if inputs else {}
    population_voice = None
    if baselines and "voice" in results:
        reference = personal_voice_reference(baselines, min_sessions=min_sessions)
        if reference is not None:
            results["voice"], population_voice = personalize_voice(results["voice"], reference)
    assessment = fuse(results)
    personal = (
        compare_to_baseline(assessment, baselines, min_sessions=min_sessions)
        if baselines is not None
        else None
    )
    if personal is not None and population_voice is not None:
        personal.voice_population_stress = population_voice
    response = compose_response(
        results=results,
        assessment=assessment,
        rules=rules,
        session_id=str(request.session_id or uuid.uuid4()),
        user_id=request.user_id,
        timestamp=request.timestamp or now,
        personal=personal,
        skipped=skipped,
    )
    return response, results, baseline_signals(assessment, results)


def store_analysis(
    factory: sessionmaker[Session],
    *,
    response: AnalysisResponse,
    results: dict[Modality, ModalityResult],
    signals: dict[str, float],
    duration_seconds: float | None,
    now: datetime,
    owner_must_exist: bool = False,
    pseudonym_key: Any = None,
) -> None:
    """Store the derived result, its per-modality metrics and the user's updated baseline in
    one transaction.

    Raises :class:`Conflict` when the session id is already taken, and :class:`NotFound`
    when ``owner_must_exist`` and the user's account is gone (erased meanwhile).
    """
    session = {
        "id": response.session_id,
        "user_id": response.user_id,
        "timestamp": response.timestamp,
        "created_at": now,
        "status": response.status,
        "duration_seconds": duration_seconds,
        "emotion_analysis": (
            response.emotion_analysis.model_dump() if response.emotion_analysis else None
        ),
        "stress_level": response.stress_level,
        "attention_score": response.attention_score,
        "overall_score": response.overall_score,
        "quality_score": response.quality_score,
        "processing_time_ms": response.processing_time_ms,
        "recommendations": list(response.recommendations),
        "modalities": response.modalities,
        "modalities_used": list(response.modalities_used),
        "modalities_skipped": [s.model_dump() for s in response.modalities_skipped],
        "fusion": {
            "assessment": response.assessment.model_dump(mode="json")
            if response.assessment
            else None,
            "baseline": response.baseline.model_dump(mode="json") if response.baseline else None,
            "recommendation_details": [
                r.model_dump(mode="json") for r in response.recommendation_details
            ],
        },
    }
    metrics = [
        {
            "created_at": now,
            "session_id": response.session_id,
            "user_id": response.user_id,
            "modality": modality,
            "status": result.status,
            "processing_ms": result.processing_ms,
            "quality": result.quality,
        }
        for modality, result in results.items()
    ]
    # A Core connection, not the ORM: the same statements for about half the CPU.
    with engine_of(factory).connect() as db:
        if response.user_id is not None:
            # Under the user's lock: an erasure that committed while this was being analysed
            # must not get data back (one still running waits for us). Erasure deletes the
            # account and leaves a tombstone in one transaction, so an account that still
            # exists needs no tombstone check; an id without one does.
            users_repo.lock_user(db=db, user_id=response.user_id)
            if not (owner_must_exist and users_repo.user_exists(db=db, user_id=response.user_id)):
                _refuse_erased(db, response.user_id, pseudonym_key)
                if owner_must_exist:
                    raise NotFound(
                        f"user {response.user_id} was erased during the analysis; "
                        "nothing was stored",
                        field="user_id",
                    )
        try:
            sessions_repo.add_session_rows(db=db, session=session, metrics=metrics)
            if response.user_id is not None and signals:
                baselines_repo.update_baselines(
                    db=db,
                    user_id=response.user_id,
                    signals=signals,
                    update=_fold,
                    now=now,
                    locked=True,  # taken above, in this transaction
                )
            db.commit()
        except IntegrityError:
            db.rollback()
            raise Conflict(
                f"session {response.session_id} already exists", field="session_id"
            ) from None
