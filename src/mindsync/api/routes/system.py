"""``GET /``, ``GET /livez``, ``GET /health``, ``GET /auth`` and ``GET /stats``."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from mindsync import __version__
from mindsync.api.deps import AccessDep, ClockDep, DbDep, OrchestratorDep
from mindsync.api.errors import error_responses
from mindsync.api.metrics import local_processes, process_usages
from mindsync.api.routing import JSONRoute
from mindsync.api.schemas import (
    HealthResponse,
    LatencyStats,
    ProcessStats,
    RootResponse,
    StatsResponse,
)
from mindsync.storage import migrate
from mindsync.storage.repositories import metrics as metrics_repo
from mindsync.storage.repositories import sessions as sessions_repo

router = APIRouter(tags=["system"], route_class=JSONRoute)


def _uptime(request: Request) -> float:
    started: float = request.app.state.started_monotonic
    return round(time.monotonic() - started, 3)


@router.get("/", response_model=RootResponse, summary="What this service is")
def root() -> RootResponse:
    """Name, version and where the documentation lives."""
    return RootResponse(
        name="MindSync",
        version=__version__,
        description="Private, explainable estimates of expressed state from face, voice "
        "and motion. Estimates of expressed signals, not diagnoses.",
        docs="/docs",
        redoc="/redoc",
        openapi="/openapi.json",
        health="/health",
    )


@router.get("/livez", summary="Liveness: the process answers (touches nothing else)")
async def livez() -> dict[str, str]:
    """``{"status": "ok"}`` while the process serves requests; for restarts, not for routing
    (``/health`` says whether the database and the analysers are ready)."""
    return {"status": "ok"}


@router.get(
    "/auth",
    status_code=204,
    response_class=Response,
    summary="Whether the bearer token is valid (for a proxy's auth_request)",
    responses=error_responses(401, 429),
)
def auth_check(access: AccessDep) -> Response:
    """``204`` for a valid token, ``401`` otherwise: nginx asks this before it forwards, and
    so reads no body for a caller without a valid token."""
    access.require_authenticated()
    return Response(status_code=204)


#: Seconds a readiness answer is reused: a flood of /health costs one database round trip
#: per process and period, not one per request.
HEALTH_CACHE_SECONDS = 1.0
_health_lock = threading.Lock()


@router.get(
    "/health",
    response_model=HealthResponse,
    summary="Readiness of the database and the analysers",
    responses={503: {"model": HealthResponse, "description": "The database is unreachable"}},
)
def health(request: Request, orchestrator: OrchestratorDep) -> Any:
    """``ok`` when everything works; ``degraded`` when an analyser is missing or migrations are
    behind; ``unavailable`` (503) when the database cannot be reached. The answer is computed
    at most once a second per process."""
    with _health_lock:
        cached = getattr(request.app.state, "health_cache", None)
        if cached is not None and time.monotonic() - cached[0] < HEALTH_CACHE_SECONDS:
            body, code = cached[1], cached[2]
        else:
            body, code = _readiness(request, orchestrator)
            request.app.state.health_cache = (time.monotonic(), body, code)
    body = {**body, "uptime_seconds": _uptime(request)}
    return JSONResponse(body, status_code=code)


def _readiness(request: Request, orchestrator: Any) -> tuple[dict[str, Any], int]:
    engine = request.app.state.engine
    database: dict[str, Any] = {"backend": engine.dialect.name}
    status = "ok"
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = migrate.current_revision(engine)
        head = migrate.head_revision()
        database.update(
            reachable=True, revision=current, head=head, migrations_current=current == head
        )
        if current != head:
            status = "degraded"
    except Exception as exc:  # any driver error means "unreachable" to a prober
        database.update(reachable=False, error=type(exc).__name__)
        status = "unavailable"
    analyzers = orchestrator.describe()
    if status == "ok" and not all(a["loaded"] for a in analyzers.values()):
        status = "degraded"
    body = HealthResponse(
        status=status,  # type: ignore[arg-type]
        version=__version__,
        uptime_seconds=_uptime(request),
        database=database,
        analyzers=analyzers,
    )
    return body.model_dump(mode="json"), 503 if status == "unavailable" else 200


@router.get(
    "/stats",
    response_model=StatsResponse,
    summary="Request, error and latency statistics from stored metrics",
    responses=error_responses(401, 404, 422, 503),
)
def stats(
    request: Request,
    db: DbDep,
    access: AccessDep,
    clock: ClockDep,
    window_hours: Annotated[
        float | None, Query(gt=0, le=24 * 3650, description="Only the last N hours.")
    ] = None,
) -> StatsResponse:
    """Counts and per-modality latency percentiles, computed from the stored metrics.

    Administrator only: the figures are about the whole service."""
    access.require_admin()
    request.app.state.metric_buffer.flush(request.app.state.session_factory)
    since = clock() - timedelta(hours=window_hours) if window_hours is not None else None
    total, client_errors, server_errors = metrics_repo.request_counts(db=db, since=since)
    latencies = metrics_repo.modality_latencies(db=db, since=since)
    return StatsResponse(
        window_hours=window_hours,
        uptime_seconds=_uptime(request),
        requests_total=total,
        client_errors=client_errors,
        server_errors=server_errors,
        requests_by_route=metrics_repo.requests_by_route(db=db, since=since),
        modality_latency={
            m: LatencyStats(
                count=s.count, p50_ms=s.p50_ms, p95_ms=s.p95_ms, mean_quality=s.mean_quality
            )
            for m, s in latencies.items()
        },
        sessions_stored=sessions_repo.count_sessions(db=db),
        processes=_processes(request),
    )


def _processes(request: Request) -> list[ProcessStats]:
    """CPU and memory of this server process and of its analysis processes (the same figures
    as ``/metrics``' ``mindsync_process_*``)."""
    roles = local_processes(request.app.state.orchestrator)
    return [ProcessStats(role=role, **asdict(usage)) for role, usage in process_usages(roles)]
