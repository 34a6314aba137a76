"""ASGI middleware: request ids, the body-size limit, and request metrics."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mindsync.api.errors import error_body
from mindsync.core.logging import request_id_var

logger = logging.getLogger(__name__)

_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

MetricSink = Callable[[str, str, int, float], Awaitable[None]]


class _BodyTooLarge(Exception):
    pass


class RequestContextMiddleware:
    """Gives each request an id (``X-Request-ID``), enforces the body limit while reading, and
    reports route, status and duration to ``metric_sink`` after the response is sent.

    The limit holds whatever ``Content-Length`` says: bytes are counted as they arrive.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        metric_sink: MetricSink | None = None,
        skip_metrics: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metric_sink = metric_sink
        self.skip_metrics = skip_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _CLIENT_REQUEST_ID.match(given) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._send_too_large(send, request_id)
            status_holder["status"] = 413
            await self._finish(scope, status_holder, started)
            request_id_var.reset(token)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not status_holder["started"]:
                await self._send_too_large(send, request_id)
            status_holder["status"] = 413
        finally:
            await self._finish(scope, status_holder, started)
            request_id_var.reset(token)

    async def _send_too_large(self, send: Send, request_id: str) -> None:
        body = json.dumps(
            error_body(
                "payload_too_large",
                f"request body is larger than the limit of {self.max_body_bytes} bytes",
                field="body",
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode("latin-1")),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _finish(self, scope: Scope, status_holder: dict[str, Any], started: float) -> None:
        if self.metric_sink is None:
            return
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        if path in self.skip_metrics:
            return
        duration_ms = (time.perf_counter() - started) * 1000
        try:
            await self.metric_sink(scope["method"], path, int(status_holder["status"]), duration_ms)
        except Exception:  # metrics must never break a request
            logger.warning("could not record a request metric", exc_info=True)
