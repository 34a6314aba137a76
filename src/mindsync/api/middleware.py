"""ASGI middleware: request ids, the body-size limit, and request metrics."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mindsync.api.errors import error_body
from mindsync.api.metrics import observe_request, route_label
from mindsync.core.logging import request_id_var

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("mindsync.access")

_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
]
# The API answers JSON only; the interactive docs need their scripts and styles.
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
API_PERMISSIONS = b"camera=(), microphone=(), geolocation=()"
DOCS_PATHS = ("/docs", "/redoc")
# The web app is served from this origin only and may use the sensors it asks consent for.
APP_PATH = "/app"
APP_CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    b"media-src 'self' blob: mediastream:; connect-src 'self' ws: wss:; worker-src 'self' blob:; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
APP_PERMISSIONS = (
    b"camera=(self), microphone=(self), accelerometer=(self), gyroscope=(self), geolocation=()"
)

_ESCAPED = re.compile(rb"\\.", re.DOTALL)
_STRUCTURAL = bytes(b for b in range(256) if b not in b'"[]{}')


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text (strings are not counted).

    Cheap on large bodies: escapes are dropped, then everything but quotes and brackets
    (in C, ``bytes.translate``, the only pass over the whole body); a bracket is inside a
    string when an odd number of quotes precede it, which numpy counts for all of them at
    once. (Dropping whole strings with a regular expression instead cost 1 ms on a 220 KB
    list of motion samples.)
    """
    if b"\\" in body:
        body = _ESCAPED.sub(b"", body)
    # One pass over the body; everything after it works on the (much smaller) skeleton.
    kept = body.translate(None, _STRUCTURAL)
    opening = kept.count(b"[") + kept.count(b"{")
    if opening <= 1:
        return opening
    skeleton = np.frombuffer(kept, np.uint8)
    outside = (np.cumsum(skeleton == 34, dtype=np.int64) & 1) == 0
    steps = ((skeleton == 91) | (skeleton == 123)).astype(np.int8) - (
        (skeleton == 93) | (skeleton == 125)
    ).astype(np.int8)
    steps *= outside
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))


#: The request state's key for the depth limit a route checks itself (``own_depth_check``).
DEPTH_LIMIT_STATE = "json_depth_limit"

MetricSink = Callable[[str, str, int, float], Awaitable[None]]


class _BodyTooLarge(Exception):
    pass


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


class RequestContextMiddleware:
    """Gives each request an id (``X-Request-ID``), enforces the body size and JSON depth
    limits while reading, adds security headers, and reports route, status and duration to
    ``metric_sink`` after the response is sent.

    The size limit holds whatever ``Content-Length`` says: bytes are counted as they arrive.
    The routes in ``own_depth_check`` (``POST`` bodies, by path) check the JSON depth limit
    themselves, on what they parse (``POST /analyze`` never walks its motion samples in this
    process): they find the limit in the request's state as ``json_depth_limit``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_json_depth: int = 32,
        metric_sink: MetricSink | None = None,
        skip_metrics: frozenset[str] = frozenset(),
        route_body_bytes: dict[str, int] | None = None,
        other_body_bytes: int | None = None,
        own_depth_check: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.own_depth_check = own_depth_check
        self.max_body_bytes = max_body_bytes
        # Per-route caps: the routes named here get their own limit, every other route
        # ``other_body_bytes`` (default: ``max_body_bytes``).
        self.route_body_bytes = route_body_bytes or {}
        self.other_body_bytes = other_body_bytes
        self.max_json_depth = max_json_depth
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
        status_holder: dict[str, Any] = {"status": 500, "started": False}
        try:
            await self._handle(scope, receive, send, headers, request_id, status_holder)
        finally:
            await self._finish(scope, status_holder, started)
            request_id_var.reset(token)

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[bytes, bytes],
        request_id: str,
        status_holder: dict[str, Any],
    ) -> None:
        async def reject(status: int, code: str, message: str) -> None:
            status_holder["status"] = status
            await self._send_error(send, request_id, status, code, message)

        path = scope.get("path", "")
        limit = self.route_body_bytes.get(path, self.other_body_bytes or self.max_body_bytes)
        limit = min(limit, self.max_body_bytes)
        too_large = f"request body is larger than the limit of {limit} bytes for {path}"
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await reject(413, "payload_too_large", too_large)
            return

        received = 0
        is_docs = path.startswith(DOCS_PATHS)
        is_app = path == APP_PATH or path.startswith(APP_PATH + "/")

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                message.setdefault("headers", [])
                extra = [(b"x-request-id", request_id.encode("latin-1")), *SECURITY_HEADERS]
                present = {name.lower() for name, _ in message["headers"]}
                if b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-cache" if is_app else b"no-store"))
                if is_app:
                    extra += [
                        (b"content-security-policy", APP_CSP),
                        (b"permissions-policy", APP_PERMISSIONS),
                    ]
                elif not is_docs:
                    extra += [
                        (b"content-security-policy", API_CSP),
                        (b"permissions-policy", API_PERMISSIONS),
                    ]
                message["headers"] = [*message["headers"], *extra]
            await send(message)

        app_receive: Receive = limited_receive
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if content_type.endswith(b"json") and scope.get("method") in ("POST", "PUT", "PATCH"):
            try:
                body = await _read_body(limited_receive)
            except _BodyTooLarge:
                await reject(413, "payload_too_large", too_large)
                return
            if path in self.own_depth_check and scope["method"] == "POST":
                scope.setdefault("state", {})[DEPTH_LIMIT_STATE] = self.max_json_depth
            elif json_depth(body) > self.max_json_depth:
                await reject(
                    422,
                    "json_too_deep",
                    f"request body nests deeper than the limit of {self.max_json_depth} levels",
                )
                return
            app_receive = _replay(body)

        try:
            await self.app(scope, app_receive, tracking_send)
        except _BodyTooLarge:
            if not status_holder["started"]:
                await reject(413, "payload_too_large", too_large)
            status_holder["status"] = 413

    async def _send_error(
        self, send: Send, request_id: str, status: int, code: str, message: str
    ) -> None:
        body = json.dumps(error_body(code, message, field="body")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode("latin-1")),
                    (b"connection", b"close"),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _finish(self, scope: Scope, status_holder: dict[str, Any], started: float) -> None:
        path = route_label(scope)
        duration_ms = (time.perf_counter() - started) * 1000
        status = int(status_holder["status"])
        observe_request(scope["method"], path, status, duration_ms / 1000)
        if path not in self.skip_metrics:
            # The access log: the route's template, never the path (ids) or the query.
            access_logger.info("%s %s %d %.1f ms", scope["method"], path, status, duration_ms)
        if self.metric_sink is None or path in self.skip_metrics:
            return
        try:
            await self.metric_sink(scope["method"], path, int(status_holder["status"]), duration_ms)
        except Exception:  # metrics must never break a request
            logger.warning("could not record a request metric", exc_info=True)
