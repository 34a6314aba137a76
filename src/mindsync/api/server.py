"""The HTTP server's own defences: read timeouts and a per-address connection cap.

uvicorn closes an idle keep-alive connection, but it has no deadline for a request's headers
or body: a client that connects and says nothing, or sends half a header, or half a body,
holds a connection (and, for a body, the request's memory) for as long as it likes.
:class:`GuardedH11Protocol` is uvicorn's h11 protocol with

- a **header deadline** (``header_timeout_seconds``): from the connection's start, or from
  the first byte of the next request on a kept-alive connection, to the end of the headers.
  Silence is closed; half a request gets ``408`` and is closed;
- a **body deadline** (``body_timeout_seconds``): from the end of the headers to the end of
  the body. A body still arriving then gets ``408`` (if no response has started) and the
  connection is closed;
- a **cap on open connections per client address** (``max_connections_per_address``);
  trusted proxies (``MINDSYNC_TRUSTED_PROXIES``) are exempt, since every client behind them
  shares their address;
- **shutting out guessers**: an address that failed authentication several times its budget
  this minute (:func:`mindsync.api.guard.shut_out`) has its new connections closed on
  arrival, without a byte read, until the minute ends.

``mindsync serve`` and the gunicorn worker class
:class:`mindsync.api.gunicorn_worker.MindSyncWorker`
use it; uvicorn's own ``X-Forwarded-For`` rewriting is turned off there: the guard
(:mod:`mindsync.api.guard`) decides which proxies to believe.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from mindsync.api.guard import shut_out

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerLimits:
    """The connection limits of one server process."""

    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 60.0
    keepalive_timeout_seconds: float = 5.0
    max_connections_per_address: int = 64
    exempt: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Any) -> ServerLimits:
        """The limits configured in ``settings``."""
        return cls(
            header_timeout_seconds=settings.header_timeout_seconds,
            body_timeout_seconds=settings.body_timeout_seconds,
            keepalive_timeout_seconds=settings.keepalive_timeout_seconds,
            max_connections_per_address=settings.max_connections_per_address,
            exempt=tuple(settings.trusted_proxies),
        )

    def is_exempt(self, address: str) -> bool:
        """Whether ``address`` is a trusted proxy (no per-address cap)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in ipaddress.ip_network(net, strict=False) for net in self.exempt)


_limits: ServerLimits | None = None
#: Open connections per client address in this process (the event loop is single-threaded).
_open: Counter[str] = Counter()


def configure(limits: ServerLimits | None) -> None:
    """Set this process's limits (``None``: read them from the environment on first use)."""
    global _limits
    _limits = limits


def current_limits() -> ServerLimits:
    """This process's limits, from the environment unless :func:`configure` set them."""
    global _limits
    if _limits is None:
        from mindsync.core.config import get_settings

        _limits = ServerLimits.from_settings(get_settings())
    return _limits


def open_connections(address: str) -> int:
    """How many connections from ``address`` this process holds open."""
    return _open.get(address, 0)


def _timeout_response() -> bytes:
    body = json.dumps(
        {
            "error": {
                "code": "request_timeout",
                "message": "the request was not received in time; the connection is closed",
                "field": None,
                "request_id": None,
            }
        }
    ).encode()
    return (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with header and body deadlines and a per-address cap."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = current_limits()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_kind: str | None = None
        self._address: str | None = None
        self._partial = False

    # -- connection accounting ------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else None
        if address is not None and not self.limits.is_exempt(address):
            if _open[address] >= self.limits.max_connections_per_address or shut_out(address):
                # The cap is reached, or the address guessed tokens at several times its
                # failure budget this minute: closed before a byte is read.
                transport.close()
                return
            _open[address] += 1
            self._address = address
        self._arm("header", self.limits.header_timeout_seconds)

    def _forget_address(self) -> None:
        if self._address is not None:
            _open[self._address] -= 1
            if _open[self._address] <= 0:
                del _open[self._address]
            self._address = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        self._forget_address()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self, event: Any) -> None:
        # The WebSocket protocol takes the transport over; its own ping timeouts apply.
        self._cancel()
        self._forget_address()
        super().handle_websocket_upgrade(event)

    # -- deadlines ----------------------------------------------------------------------
    def _arm(self, kind: str, seconds: float) -> None:
        self._cancel()
        self._timer_kind = kind
        self._timer = self.loop.call_later(seconds, self._expired, kind)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_kind = None

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        waiting = self._between_requests()
        super().data_received(data)
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return
        cycle = self.cycle
        if cycle is not None and cycle is not before:
            # A request's headers are complete: now the body's deadline, if it has a body.
            self._partial = False
            if cycle.more_body:
                self._arm("body", self.limits.body_timeout_seconds)
            else:
                self._cancel()
        elif cycle is not None and not cycle.more_body and self._timer_kind == "body":
            self._cancel()
        elif waiting and self._between_requests():
            # Part of the next request's headers: its deadline starts with its first byte.
            self._partial = True
            if self._timer_kind != "header":
                self._arm("header", self.limits.header_timeout_seconds)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # arms uvicorn's idle keep-alive timeout
        if self._timer_kind == "body":
            self._cancel()

    def _expired(self, kind: str) -> None:
        self._timer = None
        self._timer_kind = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if kind == "header":
            if not self._between_requests():
                return  # the headers completed meanwhile
            if self._partial:  # half a request: say why; silence is simply closed
                self.transport.write(_timeout_response())
        elif kind == "body":
            if cycle is None or cycle.response_complete or not cycle.more_body:
                return
            if not cycle.response_started:
                self.transport.write(_timeout_response())
        self.transport.close()
