"""Gunicorn configuration for production: ``gunicorn -c gunicorn.conf.py``.

Run ``mindsync migrate`` once before starting (the workers do not migrate).

One server process (``WEB_CONCURRENCY=1``) with one analysis process per core
(``MINDSYNC_ANALYSIS_PROCESSES``) is the default: the analysis processes take work per
request from every connection, so all cores stay busy however the keep-alive connections
land. With more server processes, keep WEB_CONCURRENCY x MINDSYNC_ANALYSIS_PROCESSES near
the number of cores. Each analysis process loads the models once.
"""

from __future__ import annotations

import os
import shutil
import tempfile

wsgi_app = "mindsync.api.app:app"
worker_class = "mindsync.api.gunicorn_worker.MindSyncWorker"
bind = os.environ.get("MINDSYNC_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", 1))
os.environ.setdefault("MINDSYNC_ANALYSIS_PROCESSES", str(os.cpu_count() or 2))
timeout = 60
graceful_timeout = 30
keepalive = 5
# No recycling after N requests: with one server process a recycle is a two-second gap
# (the new process starts its analysis pool) that queued requests wait through; the
# benchmark's last phase saw p95 3 s from it.
max_requests = 0
accesslog = None  # MindSync logs requests itself, with request ids and without payloads
# X-Forwarded-For is read by MindSync itself, from MINDSYNC_TRUSTED_PROXIES only.

raw_env = ["MINDSYNC_AUTO_MIGRATE=false"]

_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if not _metrics_dir:
    _metrics_dir = tempfile.mkdtemp(prefix="mindsync-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir


def on_starting(server):  # noqa: ARG001 - gunicorn hook signature
    """Start every run with an empty metrics folder."""
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def child_exit(server, worker):  # noqa: ARG001 - gunicorn hook signature
    """Forget a dead worker's live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
