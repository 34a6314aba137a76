"""The gunicorn worker classes: uvicorn's, with MindSync's connection defences.

``worker_class = "mindsync.api.gunicorn_worker.MindSyncWorker"`` (gunicorn.conf.py): header
and body deadlines and the per-address connection cap of :mod:`mindsync.api.server`, and no
``X-Forwarded-For`` rewriting by uvicorn (the guard reads it from trusted proxies only).
HTTP is parsed by httptools (C) when it is installed, else by h11; :class:`MindSyncH11Worker`
keeps h11 (``gunicorn -k mindsync.api.gunicorn_worker.MindSyncH11Worker``).
The idle keep-alive timeout is gunicorn's ``keepalive``.
"""

from __future__ import annotations

from typing import Any

from uvicorn.workers import UvicornWorker

from mindsync.api.server import GuardedH11Protocol, guarded_protocol


class MindSyncWorker(UvicornWorker):
    """A uvicorn worker that serves HTTP with :func:`mindsync.api.server.guarded_protocol`:
    :class:`~mindsync.api.server.GuardedHttpToolsProtocol` when httptools is installed."""

    CONFIG_KWARGS: dict[str, Any] = {
        **UvicornWorker.CONFIG_KWARGS,
        "http": guarded_protocol("auto"),
        "proxy_headers": False,
        # WS /ws/analyze carries JPEG frames and PCM, which do not compress: per-message
        # deflate cost the server about 8 % of its CPU at 24 live streams (py-spy) for nothing.
        "ws_per_message_deflate": False,
    }

    def init_process(self) -> None:
        self.log.info("serving HTTP with %s", self.CONFIG_KWARGS["http"].__name__)
        super().init_process()


class MindSyncH11Worker(MindSyncWorker):
    """:class:`MindSyncWorker` with uvicorn's pure-Python h11 parser instead of httptools."""

    CONFIG_KWARGS: dict[str, Any] = {**MindSyncWorker.CONFIG_KWARGS, "http": GuardedH11Protocol}
