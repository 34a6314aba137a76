"""Request rate limits (per verified identity, see :mod:`mindsync.api.guard`): in memory by
default, shared through Redis when configured."""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0


class RateLimiter(Protocol):
    """Counts requests per key in fixed one-minute windows."""

    async def hit(self, key: str) -> float | None:
        """Count one request; ``None`` when allowed, else seconds until the next window."""

    async def close(self) -> None:
        """Release connections."""


class MemoryRateLimiter:
    """Fixed windows in this process's memory (one worker, or per-worker limits)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._windows: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    async def hit(self, key: str) -> float | None:
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        with self._lock:
            start, count = self._windows.get(key, (window, 0))
            if start != window:
                start, count = window, 0
            count += 1
            self._windows[key] = (start, count)
            if len(self._windows) > 100_000:  # forget finished windows
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
        if count > self.limit:
            return (window + 1) * WINDOW_SECONDS - now
        return None

    async def close(self) -> None:
        return None


class RedisRateLimiter:
    """Fixed windows in Redis, shared by every worker and replica that uses the same server.

    If Redis cannot be reached the request is allowed (and a warning logged): a limiter
    outage must not take the API down.
    """

    def __init__(self, limit: int, url: str) -> None:
        import redis.asyncio as redis

        self.limit = limit
        self._redis = redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    async def hit(self, key: str) -> float | None:
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        name = f"mindsync:ratelimit:{key}:{window}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, int(WINDOW_SECONDS) + 5)
                count, _ = await pipe.execute()
        except Exception as exc:
            logger.warning("rate limiter unavailable, allowing request: %s", type(exc).__name__)
            return None
        if int(count) > self.limit:
            return (window + 1) * WINDOW_SECONDS - now
        return None

    async def close(self) -> None:
        await self._redis.aclose()
