"""``POST /analyze``: analyse a bundle of face, voice and motion data."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Body

from mindsync.api import services
from mindsync.api.deps import AccessDep, AnalysisDepsDep
from mindsync.api.errors import Conflict, error_responses
from mindsync.api.metrics import SESSIONS_STORED, observe_analysis
from mindsync.api.routing import AnalysisRoute
from mindsync.api.schemas import (
    ANALYSIS_EXAMPLES,
    AnalysisRequest,
    AnalysisResponse,
    SessionRead,
)

router = APIRouter(tags=["analysis"], route_class=AnalysisRoute)


@router.post(
    "/analyze",
    response_model=AnalysisResponse,
    summary="Analyse face, voice and motion data",
    responses=error_responses(401, 403, 404, 409, 410, 413, 415, 422, 429, 501, 503),
)
async def analyze(
    body: Annotated[AnalysisRequest, Body(openapi_examples=ANALYSIS_EXAMPLES)],
    access: AccessDep,
    deps: AnalysisDepsDep,
) -> AnalysisResponse:
    """Analyse every modality in the request that the user consented to.

    Consent is explicit: a modality is analysed only after the user consented to it
    (``POST /preferences``, the web app, or ``consent`` when the user was created). Other
    modalities are neither decoded nor analysed and are listed in ``modalities_skipped``
    with the reason ``no consent given``; when no modality of the request has consent the
    answer is a 403 with code ``consent_required`` naming them.

    With ``store_history`` off nothing is stored; anonymous results (when the server allows
    them) are never stored. Raw data is never stored: only the derived results in this
    response.

    A ``session_id`` makes the request idempotent: repeating it for the same user returns the
    stored result instead of analysing again; another user's id is a 409.
    """
    started = time.perf_counter()
    settings, db_threads = deps.settings, deps.db_threads
    now = deps.clock()
    user_id, may_store = access.analysis_subject(body.user_id)
    body.user_id = user_id
    context = await db_threads.read(
        services.load_context,
        deps.read_factory,
        user_id=user_id,
        session_id=str(body.session_id) if body.session_id is not None else None,
        settings=settings,
    )
    prefs, baselines, existing = context.prefs, context.baselines, context.existing
    if existing is not None:
        if may_store and existing.user_id == user_id:
            # A retry of a request whose answer was lost: the stored result, not a duplicate.
            return SessionRead.from_record(existing)
        raise Conflict(f"session {body.session_id} already exists", field="session_id")
    response, results, signals = await services.analyze(
        request=body,
        prefs=prefs,
        orchestrator=deps.orchestrator,
        now=now,
        rules=deps.rules,
        baselines=baselines,
        min_sessions=settings.baseline_min_sessions,
    )
    for modality, result in results.items():
        observe_analysis(modality, result.status, result.processing_ms / 1000)
    store = may_store and (prefs is None or prefs.store_history) and bool(results)
    response.processing_time_ms = round((time.perf_counter() - started) * 1000, 3)
    if store:
        await db_threads.write(
            services.store_analysis,
            deps.factory,
            response=response,
            results=results,
            signals=signals,
            duration_seconds=body.duration_seconds,
            now=now,
            owner_must_exist=access.kind == "user",
            pseudonym_key=settings.pseudonym_key,
        )
        response.stored = True
        SESSIONS_STORED.inc()
    return response
