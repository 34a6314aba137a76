"""The gunicorn worker class: uvicorn's, with MindSync's connection defences.

``worker_class = "mindsync.api.gunicorn_worker.MindSyncWorker"`` (gunicorn.conf.py): header
and body deadlines and the per-address connection cap of :mod:`mindsync.api.server`, and no
``X-Forwarded-For`` rewriting by uvicorn (the guard reads it from trusted proxies only).
The idle keep-alive timeout is gunicorn's ``keepalive``.
"""

from __future__ import annotations

from typing import Any

from uvicorn.workers import UvicornWorker

from mindsync.api.server import GuardedH11Protocol


class MindSyncWorker(UvicornWorker):
    """A uvicorn worker that serves HTTP with :class:`GuardedH11Protocol`."""

    CONFIG_KWARGS: dict[str, Any] = {
        **UvicornWorker.CONFIG_KWARGS,
        "http": GuardedH11Protocol,
        "proxy_headers": False,
        # WS /ws/analyze carries JPEG frames and PCM, which do not compress: per-message
        # deflate cost the server about 8 % of its CPU at 24 live streams (py-spy) for nothing.
        "ws_per_message_deflate": False,
    }
