"""``POST /analyze``: analyse a bundle of face, voice and motion data."""

from __future__ import annotations

import time

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from mindsync.api import services
from mindsync.api.deps import AccessDep, ClockDep, OrchestratorDep, SessionFactoryDep, SettingsDep
from mindsync.api.errors import Conflict, error_responses
from mindsync.api.schemas import AnalysisRequest, AnalysisResponse

router = APIRouter(tags=["analysis"])


@router.post(
    "/analyze",
    response_model=AnalysisResponse,
    summary="Analyse face, voice and motion data",
    responses=error_responses(404, 409, 413, 415, 422, 501, 503),
)
async def analyze(
    body: AnalysisRequest,
    access: AccessDep,
    orchestrator: OrchestratorDep,
    factory: SessionFactoryDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> AnalysisResponse:
    """Analyse every modality in the request that the user consents to.

    Modalities the user turned off are neither decoded nor analysed, and are listed in
    ``modalities_skipped`` with the reason. With ``store_history`` off nothing is stored.
    Raw data is never stored: only the derived results in this response.
    """
    started = time.perf_counter()
    now = clock()
    user_id = access.user(body.user_id) if body.user_id is not None else None
    prefs = await run_in_threadpool(
        services.load_preferences, factory, user_id=user_id, settings=settings
    )
    if body.session_id is not None and await run_in_threadpool(
        services.session_exists, factory, str(body.session_id)
    ):
        raise Conflict(f"session {body.session_id} already exists", field="session_id")
    response, results = await services.analyze(
        request=body, prefs=prefs, orchestrator=orchestrator, now=now
    )
    store = (prefs is None or prefs.store_history) and bool(results)
    response.processing_time_ms = round((time.perf_counter() - started) * 1000, 3)
    if store:
        await run_in_threadpool(
            services.store_analysis,
            factory,
            response=response,
            results=results,
            duration_seconds=body.duration_seconds,
            now=now,
        )
        response.stored = True
    return response
