"""The HTTP server's own defences: read timeouts and a per-address connection cap.

uvicorn closes an idle keep-alive connection, but it has no deadline for a request's headers
or body: a client that connects and says nothing, or sends half a header, or half a body,
holds a connection (and, for a body, the request's memory) for as long as it likes.
:class:`GuardedHttpToolsProtocol` (uvicorn's httptools protocol: the llhttp parser, in C) and
:class:`GuardedH11Protocol` (uvicorn's pure-Python h11 protocol) add

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

Both behave the same; httptools costs the server less CPU per request (h11 parses and
normalises every header in Python). ``mindsync serve`` and the gunicorn worker class
:class:`mindsync.api.gunicorn_worker.MindSyncWorker` serve with :func:`guarded_protocol`
(httptools when it is installed, else h11); uvicorn's own ``X-Forwarded-For`` rewriting is
turned off there: the guard (:mod:`mindsync.api.guard`) decides which proxies to believe.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from uvicorn.protocols.http.h11_impl import H11Protocol

from mindsync.api.guard import shut_out

try:  # uvicorn[standard] installs httptools; without it, h11 serves (guarded_protocol)
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is a dependency
    HTTPTOOLS = False
else:
    HTTPTOOLS = True

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


class _MalformedRequest(Exception):
    """A request h11 refuses and llhttp lets through (uvicorn answers ``400``)."""


def _check_head(http_version: str, headers: list[tuple[bytes, bytes]]) -> None:
    """Refuse what h11 refuses and llhttp accepts: HTTP/0.9, an HTTP/1.1 request without a
    ``Host`` header, more than one ``Host`` header (RFC 9112, section 3.2).

    Raised inside a parser callback, the error reaches uvicorn as an ``HttpParserError``:
    ``400 Invalid HTTP request received.`` and the connection is closed, as with h11."""
    hosts = sum(1 for name, _ in headers if name == b"host")
    if hosts > 1 or (hosts == 0 and http_version == "1.1") or http_version == "0.9":
        raise _MalformedRequest(f"HTTP/{http_version} with {hosts} Host headers")


class _GuardedConnection(asyncio.Protocol):
    """The deadlines, the per-address cap and the shut-out, for either uvicorn protocol.

    Mixed in before uvicorn's protocol class. The subclass arms the deadlines as its parser
    reports progress and says, through :meth:`_between_requests`, :meth:`_receiving_body`
    and :meth:`_response_started`, where the connection stands when one expires.
    """

    # Set by uvicorn's protocol classes.
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    client: tuple[str, int] | None

    def _guard_setup(self) -> None:
        self.limits = current_limits()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_kind: str | None = None
        self._address: str | None = None
        # Bytes of a request's head have arrived and its headers are not complete yet.
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

    def _hand_over(self) -> None:
        # A WebSocket upgrade: the WebSocket protocol takes the transport over, with its own
        # ping timeouts, and the connection no longer counts against the address's cap.
        self._cancel()
        self._forget_address()

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
        """No request is being received or answered."""
        raise NotImplementedError

    def _receiving_body(self) -> bool:
        """The current request's body is still arriving."""
        raise NotImplementedError

    def _response_started(self) -> bool:
        """The current request's response has begun (a 408 can no longer be written)."""
        raise NotImplementedError

    def _expired(self, kind: str) -> None:
        self._timer = None
        self._timer_kind = None
        if self.transport.is_closing():
            return
        if kind == "header":
            if not self._between_requests():
                return  # the headers completed meanwhile
            if self._partial:  # half a request: say why; silence is simply closed
                self.transport.write(_timeout_response())
        elif kind == "body":
            if self._between_requests() or not self._receiving_body():
                return
            if not self._response_started():
                self.transport.write(_timeout_response())
        self.transport.close()


class GuardedH11Protocol(_GuardedConnection, H11Protocol):
    """uvicorn's h11 protocol (pure Python) with header and body deadlines and a per-address
    cap."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard_setup()

    def handle_websocket_upgrade(self, event: Any) -> None:
        self._hand_over()
        super().handle_websocket_upgrade(event)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _receiving_body(self) -> bool:
        return self.cycle is not None and self.cycle.more_body

    def _response_started(self) -> bool:
        return self.cycle is not None and self.cycle.response_started

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


if TYPE_CHECKING or HTTPTOOLS:

    class GuardedHttpToolsProtocol(_GuardedConnection, HttpToolsProtocol):
        """uvicorn's httptools protocol (llhttp, in C) with the same deadlines, cap and
        shut-out as :class:`GuardedH11Protocol`.

        The deadlines follow the parser's callbacks: a request's first byte
        (``on_message_begin``) starts the header deadline, the end of its headers the body
        deadline, the end of its body stops it. Added, so that it refuses what the h11 one
        refuses:

        - **a bound on what the parser holds**: h11 refuses a request whose unfinished
          head (or chunk header, or trailer) outgrows 16 KiB (``h11_max_incomplete_event_size``);
          llhttp has no such limit, so a client could pour headers in for the whole header
          deadline. More than that many bytes received without the parser finishing a head,
          passing on body bytes or ending a message get the same ``400`` and a close;
        - **HTTP/0.9, and HTTP/1.1 without exactly one Host header**: ``400``, as h11
          (:func:`_check_head`). llhttp is stricter than h11 elsewhere (``Content-Length``
          with ``Transfer-Encoding``, unknown methods, obsolete line folding: ``400``).

        And one thing h11 never meets, since it reads a pipelined request only after the
        response before it: a request that waits behind another's response (uvicorn stops
        reading meanwhile) gets its body deadline when it is started, not when its headers
        arrived, and the next request's header deadline starts once the response before it
        is complete, so a ``408`` is never written into another response.
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._guard_setup()
            self._in_head = False  # between on_message_begin and on_headers_complete
            self._in_body = False  # between on_headers_complete and on_message_complete
            self._progress = False  # the parser produced something from the current chunk
            self._held = 0  # bytes received since the parser last produced something
            configured = self.config.h11_max_incomplete_event_size
            self._max_held = configured or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE

        def handle_websocket_upgrade(self) -> None:
            self._hand_over()
            super().handle_websocket_upgrade()

        def _between_requests(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _receiving_body(self) -> bool:
            return self._in_body

        def _response_started(self) -> bool:
            return self.cycle is not None and self.cycle.response_started

        def data_received(self, data: bytes) -> None:
            waiting = self._between_requests()
            self._progress = False
            super().data_received(data)
            if self.transport.is_closing() or self.transport.get_protocol() is not self:
                return
            if self._progress or not (self._in_head or self._in_body):
                self._held = 0
            else:
                self._held += len(data)
                if self._held > self._max_held:
                    self._refuse_oversized()
                    return
            if waiting and self._between_requests() and self._timer_kind != "header":
                # Bytes after a response that start no request (the rest of a body the
                # application answered without reading): under the header deadline, as h11.
                self._partial = True
                self._arm("header", self.limits.header_timeout_seconds)

        def _refuse_oversized(self) -> None:
            if self._response_started() and not self._between_requests():
                self.transport.close()  # a 400 cannot be written into a response
            else:
                # What uvicorn's h11 protocol answers to an oversized head.
                self.send_400_response("Invalid HTTP request received.")

        # -- parser callbacks -----------------------------------------------------------
        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True
            self._partial = True
            if self._between_requests() and self._timer_kind != "header":
                # The first byte of a request on a kept-alive connection. (The first request's
                # deadline runs from the connection's start; a request sent while another is
                # answered gets its deadline when that response is complete.)
                self._arm("header", self.limits.header_timeout_seconds)

        def on_headers_complete(self) -> None:
            _check_head(self.parser.get_http_version(), self.headers)
            before = self.cycle
            super().on_headers_complete()
            self._in_head = False
            self._partial = False
            self._progress = True
            if self.cycle is before:
                self._cancel()  # a WebSocket upgrade, handed over when the parser stops
                return
            self._in_body = True
            if self.pipeline and self.pipeline[0][0] is self.cycle:
                self._cancel()  # queued behind a response: its body deadline starts with it
            else:
                self._arm("body", self.limits.body_timeout_seconds)

        def on_body(self, body: bytes) -> None:
            self._progress = True
            super().on_body(body)

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._in_body = False
            self._progress = True
            if self._timer_kind == "body":
                self._cancel()

        def on_response_complete(self) -> None:
            queued = len(self.pipeline)
            super().on_response_complete()  # starts a queued request, or arms keep-alive
            if self._timer_kind == "body":
                self._cancel()  # answered before its body arrived, as h11
            if len(self.pipeline) < queued and self._in_body:
                # The started request is the last one parsed (only it can be mid-body).
                self._arm("body", self.limits.body_timeout_seconds)
            elif self._partial and self._between_requests() and self._timer_kind != "header":
                self._arm("header", self.limits.header_timeout_seconds)


def guarded_protocol(http: str = "auto") -> type[asyncio.Protocol]:
    """The guarded protocol class to serve with.

    ``"httptools"``: :class:`GuardedHttpToolsProtocol` (llhttp, in C); ``"h11"``:
    :class:`GuardedH11Protocol` (pure Python); ``"auto"``: httptools when it is installed,
    else h11. Raises ``ValueError`` for another name, or for ``"httptools"`` without httptools.
    """
    if http == "h11" or (http == "auto" and not HTTPTOOLS):
        return GuardedH11Protocol
    if http in ("auto", "httptools"):
        if not HTTPTOOLS:
            raise ValueError("httptools is not installed: serve with http='h11'")
        return GuardedHttpToolsProtocol
    raise ValueError(f"unknown HTTP protocol {http!r}: 'auto', 'httptools' or 'h11'")
