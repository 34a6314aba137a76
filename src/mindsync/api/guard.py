"""The guard: who is calling, decided before any work is done for them.

A pure ASGI middleware, outermost in the stack. For every HTTP request it

1. finds the client's address (``X-Forwarded-For`` only from the configured trusted proxies);
2. refuses an address that spent its budget of failed authentications (429, ``Retry-After``)
   before it may try another token;
3. authenticates the bearer token from a cache (no body has been read yet): a missing token on
   a route that needs one, a malformed, unknown, revoked or expired token is a 401 with
   ``Connection: close``, so a large body is never read;
4. rate-limits on the verified identity (the user, the administrator), or on the address for
   callers without a token;
5. hands the verified :class:`~mindsync.api.deps.Access` to the routes in the ASGI scope.

The body caps per route are enforced next, before and while the body is read, by
:class:`~mindsync.api.middleware.RequestContextMiddleware`.

The token cache (:class:`TokenCache`) keeps what it learnt until the shared revocation counter
(``auth_state.generation``) moves; it reads that counter at most every ``poll_seconds``, so a
rotation or revocation in any worker or replica takes effect everywhere within about a poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from mindsync.api.deps import Access
from mindsync.api.errors import error_body
from mindsync.api.metrics import observe_request
from mindsync.api.middleware import SECURITY_HEADERS
from mindsync.api.ratelimit import WINDOW_SECONDS, RateLimiter
from mindsync.core.config import Settings
from mindsync.storage.repositories import tokens as tokens_repo

logger = logging.getLogger(__name__)

ACCESS_SCOPE_KEY = "mindsync.access"
MAX_TOKEN_LENGTH = 512
BAD_TOKEN_MESSAGE = "the bearer token is malformed, unknown, revoked or expired"

#: Routes that answer without a token (everything else needs one, except ``/analyze`` when
#: anonymous analysis is on).
PUBLIC_PATHS = frozenset(
    {
        "/",
        "/livez",
        "/health",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/redoc",
        "/docs/oauth2-redirect",
        "/favicon.ico",
    }
)
PUBLIC_PREFIXES = ("/docs/assets/", "/app/")
#: Probes: no token looked at, never rate-limited (a load balancer polls them), and cheap by
#: construction (``/health`` is cached).
PROBE_PATHS = frozenset({"/livez", "/health", "/metrics"})
#: Not counted by the rate limiter: probes, and the proxy's token check that precedes every
#: proxied request (which the limiter then counts once).
UNLIMITED_PATHS = PROBE_PATHS | {"/auth"}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: list[str]) -> tuple[Network, ...]:
    """The trusted proxies as networks (single addresses become /32 or /128)."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(scope: Scope, trusted: tuple[Network, ...]) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy, in which case the
    right-most address in ``X-Forwarded-For`` that is not itself a trusted proxy.

    With no trusted proxies configured (the default) ``X-Forwarded-For`` is ignored: anyone can
    write it.
    """
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if not trusted or not _trusted(peer, trusted):
        return peer
    forwarded: list[str] = []
    for name, value in scope.get("headers") or []:
        if name == b"x-forwarded-for":
            forwarded += [p.strip() for p in value.decode("latin-1").split(",") if p.strip()]
    for hop in reversed(forwarded):
        if not _trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a garbled header: the proxy's own address is what we know
    return peer


def is_public(path: str) -> bool:
    """Whether ``path`` answers without a token."""
    return path in PUBLIC_PATHS or path == "/app" or path.startswith(PUBLIC_PREFIXES)


#: An address with this many times its failure budget in one minute is clearly guessing:
#: the server then closes its new connections at once, before reading a byte.
SHUT_OUT_FACTOR = 4

#: The budgets of this process's guards, for the server's connection-level check.
_budgets: list[FailureBudget] = []


def shut_out(address: str) -> bool:
    """Whether ``address`` spent :data:`SHUT_OUT_FACTOR` times its failure budget in this
    minute in any guard of this process (its connections are then closed on arrival)."""
    return any(budget.shut_out(address) for budget in _budgets)


class FailureBudget:
    """Failed authentications per address in fixed one-minute windows (this process)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._windows: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def shut_out(self, address: str) -> bool:
        """Whether ``address`` failed :data:`SHUT_OUT_FACTOR` times the limit this minute."""
        if self.limit <= 0:
            return False
        start, count = self._windows.get(address, (-1, 0))
        return start == self._window() and count >= SHUT_OUT_FACTOR * self.limit

    def _window(self) -> int:
        return int(time.time() // WINDOW_SECONDS)

    def exhausted(self, address: str) -> float | None:
        """Seconds until ``address`` may try again, or ``None`` while it has budget left."""
        if self.limit <= 0:
            return None
        window = self._window()
        start, count = self._windows.get(address, (window, 0))
        if start == window and count >= self.limit:
            return (window + 1) * WINDOW_SECONDS - time.time()
        return None

    def spend(self, address: str) -> None:
        """Count one failed authentication (or a refused attempt past the budget)."""
        window = self._window()
        with self._lock:
            start, count = self._windows.get(address, (window, 0))
            if start != window:
                start, count = window, 0
            self._windows[address] = (start, count + 1)
            if len(self._windows) > 100_000:
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}


class TokenCache:
    """Token hash -> owner, trusted until the shared revocation counter moves.

    Unknown tokens are remembered briefly (``negative_seconds``) so that one made-up token
    repeated costs one lookup; different made-up tokens are paid for by the failure budget.
    Known tokens are re-read at least every ``positive_seconds`` as a backstop.
    """

    def __init__(
        self,
        factory: Callable[[], Any],
        *,
        poll_seconds: float = 0.25,
        positive_seconds: float = 60.0,
        negative_seconds: float = 10.0,
        max_entries: int = 50_000,
    ) -> None:
        self._factory = factory
        self.poll_seconds = poll_seconds
        self.positive_seconds = positive_seconds
        self.negative_seconds = negative_seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[tokens_repo.TokenOwner | None, float]] = {}
        self._generation: int | None = None
        self._polled = -math.inf
        self._poll_lock = asyncio.Lock()
        self._outage_logged = False

    def clear(self) -> None:
        """Forget every token now (this process revoked one; others learn it by polling)."""
        self._entries.clear()

    def _read_generation(self) -> int:
        with self._factory() as db:
            return tokens_repo.auth_generation(db=db)

    async def refresh(self) -> None:
        """Forget everything if the revocation counter moved (read at most every poll)."""
        if time.monotonic() - self._polled < self.poll_seconds or self._poll_lock.locked():
            return
        async with self._poll_lock:
            self._polled = time.monotonic()
            try:
                generation = await run_in_threadpool(self._read_generation)
            except Exception as exc:
                # Without the counter, cached answers cannot be trusted to be current.
                self._entries.clear()
                if not self._outage_logged:
                    logger.warning(
                        "cannot read the token revocation counter: %s", type(exc).__name__
                    )
                    self._outage_logged = True
                return
            self._outage_logged = False
            if generation != self._generation:
                self._entries.clear()
                self._generation = generation

    def _lookup(self, token_hash: str, now: datetime) -> tokens_repo.TokenOwner | None:
        with self._factory() as db:
            return tokens_repo.lookup_token(db=db, token_hash=token_hash, now=now)

    async def known_owner(self, token_hash: str, now: datetime) -> tokens_repo.TokenOwner | None:
        """The owner if the cache already holds the token as valid; never a database lookup."""
        await self.refresh()
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        owner, at = entry
        if owner is None or time.monotonic() - at >= self.positive_seconds:
            return None
        if owner.expires_at is not None and owner.expires_at <= now:
            return None
        return owner

    async def owner(self, token_hash: str, now: datetime) -> tokens_repo.TokenOwner | None:
        """The active owner of the token with this hash at ``now``, or ``None``."""
        await self.refresh()
        entry = self._entries.get(token_hash)
        mono = time.monotonic()
        if entry is not None:
            owner, at = entry
            fresh = mono - at < (self.positive_seconds if owner else self.negative_seconds)
            if fresh and (owner is None or owner.expires_at is None or owner.expires_at > now):
                return owner
        owner = await run_in_threadpool(self._lookup, token_hash, now)
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[token_hash] = (owner, mono)
        return owner


def hash_bearer(token: str) -> str:
    """The token's stored hash (the cache key)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class GuardMiddleware:
    """Authenticate, budget failures and rate-limit before the body is read (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        cache: TokenCache,
        limiter: RateLimiter | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.app = app
        self.settings = settings
        self.cache = cache
        self.limiter = limiter
        self.clock = clock
        self.trusted = parse_networks(settings.trusted_proxies)
        self.failures = FailureBudget(settings.auth_failures_per_minute)
        _budgets.append(self.failures)
        del _budgets[:-8]  # apps built and dropped (tests) do not pile up
        admin = settings.admin_token
        self._admin = admin.get_secret_value().encode("utf-8") if admin is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") == "OPTIONS"
            or scope.get("path") in PROBE_PATHS
        ):
            if scope["type"] == "websocket":
                scope["mindsync.client"] = client_address(scope, self.trusted)
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope.get("path", "")
        address = client_address(scope, self.trusted)
        scope["mindsync.client"] = address
        header = None
        for name, value in scope.get("headers") or []:
            if name == b"authorization":
                header = value.strip() or None  # an empty header is no header
                break
        access: Access | None = None
        if header is not None:
            # An address past its failure budget may still use a token this process already
            # knows to be valid (a user behind the same NAT as a guesser), but gets no lookup.
            wait = self.failures.exhausted(address)
            try:
                access = await self._authenticate(header, lookup=wait is None)
            except Exception as exc:  # the database is down: say so, as the routes do
                logger.warning("cannot check a token: %s", type(exc).__name__)
                await self._refuse(
                    scope,
                    send,
                    started,
                    503,
                    "database_unavailable",
                    "the database is unreachable; retry shortly",
                    retry_after=5,
                )
                return
            if access is None and wait is not None:
                self.failures.spend(address)
                await self._refuse(
                    scope,
                    send,
                    started,
                    429,
                    "too_many_auth_failures",
                    f"more than {self.failures.limit} failed authentications per minute from "
                    f"this address; retry after {math.ceil(wait)} s",
                    retry_after=wait,
                )
                return
            if access is None:
                self.failures.spend(address)
                await self._refuse(scope, send, started, 401, "unauthorized", BAD_TOKEN_MESSAGE)
                return
        elif not is_public(path) and not (path == "/analyze" and self.settings.allow_anonymous):
            await self._refuse(
                scope, send, started, 401, "unauthorized", "a bearer token is required"
            )
            return
        if self.limiter is not None and path not in UNLIMITED_PATHS:
            key = (
                f"u:{access.user_id}"
                if access is not None and access.kind == "user"
                else "admin"
                if access is not None
                else f"a:{address}"
            )
            retry = await self.limiter.hit(key)
            if retry is not None:
                limit = getattr(self.limiter, "limit", "?")
                await self._refuse(
                    scope,
                    send,
                    started,
                    429,
                    "rate_limited",
                    f"more than {limit} requests per minute; retry after "
                    f"{max(1, math.ceil(retry))} s",
                    retry_after=retry,
                )
                return
        scope[ACCESS_SCOPE_KEY] = access or Access(
            kind="anonymous", allow_anonymous=self.settings.allow_anonymous
        )
        await self.app(scope, receive, send)

    async def _authenticate(self, header: bytes, *, lookup: bool = True) -> Access | None:
        """The access a raw ``Authorization`` header grants, or ``None`` when it grants none
        (without ``lookup``, only what the cache already knows)."""
        scheme, _, raw = header.partition(b" ")
        raw = raw.strip()
        if scheme.lower() != b"bearer" or not raw or len(raw) > MAX_TOKEN_LENGTH:
            return None
        if self._admin is not None and hmac.compare_digest(raw, self._admin):
            return Access(kind="admin")
        try:
            token = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if lookup:
            owner = await self.cache.owner(hash_bearer(token), self.clock())
        else:
            owner = await self.cache.known_owner(hash_bearer(token), self.clock())
        if owner is None:
            return None
        return Access(kind="user", user_id=owner.user_id)

    async def _refuse(
        self,
        scope: Scope,
        send: Send,
        started: float,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: float | None = None,
    ) -> None:
        """Answer without reading the body, and close the connection (the unread body would
        otherwise have to be drained)."""
        field = "Authorization" if status == 401 else None
        body = json.dumps(error_body(code, message, field=field)).encode()
        extra: list[tuple[bytes, bytes]] = []
        if scope.get("path") == "/auth" and status not in (401, 403):
            # nginx's auth_request understands 2xx, 401 and 403 only (anything else becomes a
            # 500): a refusal for another reason is a 403 that carries the real status.
            extra.append((b"x-mindsync-status", str(status).encode()))
            status = 403
        headers = [
            *extra,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (b"cache-control", b"no-store"),
            *SECURITY_HEADERS,
        ]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        if retry_after is not None:
            headers.append((b"retry-after", str(max(1, math.ceil(retry_after))).encode()))
        origin = dict(scope.get("headers") or []).get(b"origin")
        if origin is not None and origin.decode("latin-1") in self.settings.cors_origins:
            headers += [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        observe_request(scope.get("method", "?"), "guard", status, time.perf_counter() - started)
