"""Work that must finish before the server stops, whichever event loop or thread started it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class PendingWork:
    """Counts running jobs so that shutdown can wait for them (thread-safe)."""

    def __init__(self) -> None:
        self._running = 0
        self._idle = threading.Condition()

    def run(self, job: Callable[[], T]) -> T:
        """Run ``job`` in the calling thread, counted as pending until it returns."""
        with self._idle:
            self._running += 1
        try:
            return job()
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def wait(self, timeout: float) -> bool:
        """Block until no job runs (True) or ``timeout`` seconds pass (False)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout=timeout)
