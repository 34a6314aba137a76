"""Request metrics buffered in memory and written in one transaction a second.

One write per request would serialise every request behind SQLite's single writer; a
batch costs one write per second. A crash loses at most the last second of request counts
(never a session: sessions are written before their response is sent).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from mindsync.storage.repositories import metrics as metrics_repo


@dataclass(frozen=True)
class PendingRequest:
    """One handled request, not yet stored."""

    method: str
    route: str
    status_code: int
    duration_ms: float
    at: datetime


class MetricBuffer:
    """Thread-safe buffer of request metrics with an explicit flush."""

    def __init__(self, limit: int = 10_000) -> None:
        self._items: list[PendingRequest] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._limit = limit

    def add(self, item: PendingRequest) -> None:
        """Buffer one request (the oldest are dropped past ``limit`` if flushing stalls)."""
        with self._lock:
            self._items.append(item)
            if len(self._items) > self._limit:
                del self._items[: len(self._items) - self._limit]

    def flush(self, factory: sessionmaker[Session]) -> int:
        """Write everything buffered in one transaction; return how many rows. If that fails
        the items are kept (the newest ``limit``) for the next flush, and the error raised."""
        with self._flush_lock:
            with self._lock:
                items, self._items = self._items, []
            if not items:
                return 0
            try:
                with factory() as db:
                    for item in items:
                        metrics_repo.record_request(
                            db=db,
                            method=item.method,
                            route=item.route,
                            status_code=item.status_code,
                            duration_ms=item.duration_ms,
                            now=item.at,
                        )
                    db.commit()
            except BaseException:
                with self._lock:
                    self._items = (items + self._items)[-self._limit :]
                raise
            return len(items)
