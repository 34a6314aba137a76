"""Gunicorn configuration for production: ``gunicorn -c gunicorn.conf.py``.

Run ``mindsync migrate`` once before starting (the workers do not migrate), and size the
workers to the cores: each worker loads the models once (about 150 MB resident).
"""

from __future__ import annotations

import os
import shutil
import tempfile

wsgi_app = "mindsync.api.app:app"
worker_class = "uvicorn.workers.UvicornWorker"
bind = os.environ.get("MINDSYNC_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
timeout = 60
graceful_timeout = 30
keepalive = 5
max_requests = 10_000
max_requests_jitter = 1_000
accesslog = None  # MindSync logs requests itself, with request ids and without payloads
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

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
