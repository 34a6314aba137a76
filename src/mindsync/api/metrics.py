"""Prometheus metrics, correct under several worker processes.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``mindsync serve --workers N`` and the gunicorn
configuration set it), every worker writes its samples to that folder and ``/metrics``
aggregates them; otherwise the process's own registry is served.
"""

from __future__ import annotations

import os

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "mindsync_http_requests_total",
    "HTTP requests handled, by method, route template and status.",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "mindsync_http_request_duration_seconds",
    "Time from request to response, by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ANALYSIS_SECONDS = Histogram(
    "mindsync_analysis_duration_seconds",
    "Decode plus analysis time of one modality.",
    ["modality", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
SESSIONS_STORED = Counter("mindsync_sessions_stored_total", "Analyses stored in a history.")

router = APIRouter(tags=["system"])


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one handled request."""
    REQUESTS.labels(method, route, str(status)).inc()
    REQUEST_SECONDS.labels(method, route).observe(seconds)


def observe_analysis(modality: str, status: str, seconds: float) -> None:
    """Time one modality's analysis."""
    ANALYSIS_SECONDS.labels(modality, status).observe(seconds)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics() -> Response:
    """Counters and histograms of every worker, in Prometheus' text format."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        payload = generate_latest(registry)
    else:
        payload = generate_latest()
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
