"""Prometheus metrics, correct under several worker processes.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``mindsync serve --workers N`` and the gunicorn
configuration set it), every worker writes its samples to that folder and ``/metrics``
aggregates them; otherwise the process's own registry is served.

CPU time and resident memory of every process (each server process and each of its
analysis processes) are read from the operating system when ``/metrics`` is scraped, the
same figures as ``/stats``' ``processes``. Under several workers each one publishes which
processes it runs in a small file in that folder, so that whichever worker answers reports
them all.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import Mount
from starlette.types import Scope

from mindsync.core.resources import ProcessUsage, process_usage

logger = logging.getLogger(__name__)

Role = Literal["server", "analysis"]
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# One file per server process in the multiprocess folder: {"server": pid, "analysis": [pids]}.
PROCESSES_FILE = "mindsync-processes-{pid}.json"

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


def route_label(scope: Scope) -> str:
    """The label of the route that handled a request: its path template (``/session/{session_id}``,
    ``/openapi.json``), ``<mount>/{path}`` for static files (``/app/{path}``), or
    ``unmatched`` when no route took it. Never the request's own path, which holds ids.
    """
    path = getattr(scope.get("route"), "path", None)
    if path:
        return str(path)
    # FastAPI names its own routes in the scope; plain Starlette routes (the OpenAPI document)
    # and mounts (static files) leave only their endpoint there.
    endpoint = scope.get("endpoint")
    if endpoint is not None:
        for route in getattr(scope.get("app"), "routes", ()):
            if isinstance(route, Mount) and route.app is endpoint:
                return f"{route.path}/{{path}}"
            if getattr(route, "endpoint", None) is endpoint:
                return str(getattr(route, "path", "unmatched"))
    return "unmatched"


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one handled request."""
    REQUESTS.labels(method, route, str(status)).inc()
    REQUEST_SECONDS.labels(method, route).observe(seconds)


def observe_analysis(modality: str, status: str, seconds: float) -> None:
    """Time one modality's analysis."""
    ANALYSIS_SECONDS.labels(modality, status).observe(seconds)


def local_processes(orchestrator: Any) -> list[tuple[Role, int]]:
    """This server process and the live processes of its analysis pool (if it has one)."""
    pool = getattr(orchestrator, "pool", None)
    roles: list[tuple[Role, int]] = [("server", os.getpid())]
    roles += [("analysis", pid) for pid in (pool.pids() if pool is not None else [])]
    return roles


def process_usages(roles: Iterable[tuple[Role, int]]) -> list[tuple[Role, ProcessUsage]]:
    """CPU and memory of each listed process that is still alive."""
    found = []
    for role, pid in roles:
        usage = process_usage(pid)
        if usage is not None:
            found.append((role, usage))
    return found


_published: dict[str, str] = {}


def publish_processes(orchestrator: Any) -> None:
    """Under several workers, write which processes this one runs, for whichever worker
    answers ``/metrics``; rewritten only when the list changes (an analysis process replaced).
    Does nothing without ``PROMETHEUS_MULTIPROC_DIR``."""
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        return
    roles = local_processes(orchestrator)
    text = json.dumps({"server": os.getpid(), "analysis": [p for r, p in roles if r == "analysis"]})
    path = Path(folder) / PROCESSES_FILE.format(pid=os.getpid())
    if _published.get(str(path)) == text:
        return
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(path)  # atomic: a reader never sees half a file
    _published[str(path)] = text


def _published_processes(folder: Path) -> Iterator[tuple[Role, int]]:
    for path in sorted(folder.glob(PROCESSES_FILE.format(pid="*"))):
        try:
            listed = json.loads(path.read_text())
            server, analysis = int(listed["server"]), [int(p) for p in listed["analysis"]]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if process_usage(server) is None:  # the worker is gone: forget its file
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        yield "server", server
        yield from (("analysis", pid) for pid in analysis)


class ProcessCollector(Collector):
    """``mindsync_process_cpu_seconds_total`` and ``mindsync_process_resident_memory_bytes``
    for every process of the service, labelled by ``role`` and ``pid``, read at scrape time."""

    def __init__(self, orchestrator: Any) -> None:
        self.orchestrator = orchestrator

    def _roles(self) -> list[tuple[Role, int]]:
        roles = local_processes(self.orchestrator)
        folder = os.environ.get(MULTIPROC_ENV)
        if folder:
            roles += [r for r in _published_processes(Path(folder)) if r not in roles]
        return roles

    def collect(self) -> Iterable[Metric]:
        cpu = CounterMetricFamily(
            "mindsync_process_cpu_seconds",
            "CPU time (user + system) used by a process of the service since it started, "
            "seconds; role is server or analysis.",
            labels=["role", "pid"],
        )
        memory = GaugeMetricFamily(
            "mindsync_process_resident_memory_bytes",
            "Resident memory of a process of the service, bytes; role is server or analysis.",
            labels=["role", "pid"],
        )
        for role, usage in process_usages(self._roles()):
            cpu.add_metric([role, str(usage.pid)], usage.cpu_seconds)
            if usage.rss_bytes is not None:
                memory.add_metric([role, str(usage.pid)], usage.rss_bytes)
        return [cpu, memory]


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(request: Request) -> Response:
    """Counters and histograms of every worker, and CPU and memory of every process, in
    Prometheus' text format."""
    processes = CollectorRegistry(auto_describe=False)
    processes.register(ProcessCollector(getattr(request.app.state, "orchestrator", None)))
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        payload = generate_latest(registry)
    else:
        payload = generate_latest()
    return Response(payload + generate_latest(processes), media_type=CONTENT_TYPE_LATEST)
