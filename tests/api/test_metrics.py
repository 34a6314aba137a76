"""Prometheus metrics at /metrics."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mindsync.api.metrics import PROCESSES_FILE, ProcessCollector, publish_processes
from tests.api.fakes import fake_registry
from tests.api.test_analyze import AUDIO
from tests.conftest import give_consent, make_client


def _value(text: str, prefix: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


def test_metrics_count_requests_and_analyses(settings, clock) -> None:
    with make_client(settings, fake_registry(), clock) as client:
        give_consent(client, "mo")
        before = client.get("/metrics").text
        client.post("/analyze", json={"user_id": "mo", "audio_data": AUDIO})
        client.get("/session/not-a-uuid")
        after = client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    label = 'mindsync_http_requests_total{method="POST",route="/analyze",status="200"}'
    assert _value(after.text, label) == _value(before, label) + 1
    voice = 'mindsync_analysis_duration_seconds_count{modality="voice",status="ok"}'
    assert _value(after.text, voice) == _value(before, voice) + 1
    assert _value(after.text, "mindsync_sessions_stored_total") >= 1
    assert '"mo"' not in after.text  # labels never name a user


Labels = frozenset[tuple[str, str]]
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def labels(**pairs: object) -> Labels:
    """A label set, whatever order the exposition writes it in."""
    return frozenset((k, str(v)) for k, v in pairs.items())


def samples(text: str, name: str) -> dict[Labels, float]:
    """``{label set: value}`` of one metric in Prometheus' text format."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            label_text, value = line[len(name) :].rsplit(" ", 1)
            found[frozenset(_LABEL.findall(label_text))] = float(value)
    return found


def test_the_openapi_document_and_static_files_are_labelled_as_their_routes(
    settings, clock
) -> None:
    paths = {
        "/openapi.json": "/openapi.json",
        "/app/": "/app/{path}",
        "/app/index.html": "/app/{path}",
        "/app/no-such-file.js": "/app/{path}",
        "/docs/assets/swagger-ui.css": "/docs/assets/{path}",
        "/no/such/route": "unmatched",
        "/session/0f8fad5b-d9cb-469f-a165-70867728950e": "/session/{session_id}",
    }
    with make_client(settings, fake_registry(), clock) as client:
        before = samples(client.get("/metrics").text, "mindsync_http_requests_total")
        statuses = {path: client.get(path).status_code for path in paths}
        after = samples(client.get("/metrics").text, "mindsync_http_requests_total")
    for path, route in paths.items():
        key = labels(method="GET", route=route, status=statuses[path])
        assert after.get(key, 0) - before.get(key, 0) >= 1, (path, key)
    routes = {value for key in after for name, value in key if name == "route"}
    assert not any("index.html" in r or "0f8fad5b" in r for r in routes)  # never the path


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")
def test_metrics_report_cpu_and_memory_of_the_server_process(settings, clock) -> None:
    with make_client(settings, fake_registry(), clock) as client:
        text = client.get("/metrics").text
    server = labels(role="server", pid=os.getpid())
    assert samples(text, "mindsync_process_cpu_seconds_total")[server] > 0
    assert samples(text, "mindsync_process_resident_memory_bytes")[server] > 10_000_000
    families = {f.name: f.type for f in text_string_to_metric_families(text)}  # parses
    assert families["mindsync_process_cpu_seconds"] == "counter"
    assert families["mindsync_process_resident_memory_bytes"] == "gauge"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux /proc")
def test_under_several_workers_every_workers_processes_are_reported(tmp_path, monkeypatch) -> None:
    """Another worker (a child standing in for it) published its processes; the worker that
    answers reports them with its own, and forgets the file once that worker is gone."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    pool = SimpleNamespace(pids=lambda: [])
    publish_processes(SimpleNamespace(pool=pool))
    own = tmp_path / PROCESSES_FILE.format(pid=os.getpid())
    assert json.loads(own.read_text()) == {"server": os.getpid(), "analysis": []}

    sleepers = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range(2)
    ]
    worker, analysis = (p.pid for p in sleepers)
    other = tmp_path / PROCESSES_FILE.format(pid=worker)
    other.write_text(json.dumps({"server": worker, "analysis": [analysis]}))
    try:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ProcessCollector(SimpleNamespace(pool=pool)))
        cpu = samples(generate_latest(registry).decode(), "mindsync_process_cpu_seconds_total")
        assert set(cpu) == {
            labels(role="server", pid=os.getpid()),
            labels(role="server", pid=worker),
            labels(role="analysis", pid=analysis),
        }
        sleepers[0].kill()
        sleepers[0].wait()
        cpu = samples(generate_latest(registry).decode(), "mindsync_process_cpu_seconds_total")
        assert set(cpu) == {labels(role="server", pid=os.getpid())}
        assert not other.exists() and own.exists()
    finally:
        for process in sleepers:
            process.kill()
            process.wait()


def test_a_database_outage_is_logged_once_by_the_metrics_flusher(settings, clock) -> None:
    import logging
    import time

    from sqlalchemy.exc import OperationalError

    from tests.api.fakes import fake_registry
    from tests.conftest import make_client

    def broken() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("down"))

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    app_logger = logging.getLogger("mindsync.api.app")
    with make_client(settings, fake_registry(), clock) as c:
        app_logger.addHandler(handler)  # the lifespan configured logging: listen after it
        try:
            real = c.app.state.session_factory
            c.app.state.session_factory = broken
            for _ in range(4):
                c.get("/me")
                time.sleep(0.8)
            c.app.state.session_factory = real
            time.sleep(1.5)
        finally:
            app_logger.removeHandler(handler)
        stats = c.get("/stats").json()
    lines = [r for r in records if "metrics" in r.getMessage()]
    assert [r.levelname for r in lines] == ["WARNING", "INFO"], [r.message for r in lines]
    assert all(r.exc_info is None for r in lines)
    assert stats["requests_by_route"].get("GET /me", 0) >= 4  # kept through the outage
