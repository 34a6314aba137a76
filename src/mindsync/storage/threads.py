"""The threads that a database's blocking calls run on, off the event loop.

SQLite has one writer at a time: on a shared pool of worker threads (anyio's, up to 40),
concurrent requests' transactions each took a thread and queued on the writer lock, and
every hand-over woke another thread that then fought for the GIL. One thread that runs the
writes one after another, and one that runs the reads, do the same work without the convoy
(measured on 2 cores, 16 clients of ``POST /analyze`` with list-form motion: 150 -> 190
requests/s, server CPU 4.9 -> 3.7 ms per request; docs/performance.md). PostgreSQL takes
concurrent transactions and each waits for network round trips, so its calls keep the
shared pool.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy.engine import Engine

T = TypeVar("T")


class DatabaseThreads:
    """Runs a database's blocking calls off the event loop: on one reader and one writer
    thread for SQLite, on anyio's shared worker threads for other databases.

    Like anyio's worker threads, a call runs to its end even when the awaiting task is
    cancelled (the cancellation is raised afterwards), and it sees the caller's context
    variables (the request id of log lines).
    """

    def __init__(self, engine: Engine) -> None:
        self.serial = engine.dialect.name == "sqlite"
        self._reader: Executor | None = None
        self._writer: Executor | None = None
        if self.serial:
            self._reader = ThreadPoolExecutor(1, thread_name_prefix="db-read")
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="db-write")

    async def read(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, a call that only reads, on a thread; its result."""
        return await _run(self._reader, partial(fn, *args, **kwargs))

    async def write(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, a call that may write, on a thread; its result. On SQLite
        the writes run one at a time, in the order they were asked for."""
        return await _run(self._writer, partial(fn, *args, **kwargs))

    def close(self) -> None:
        """Finish the calls already asked for, then stop the threads."""
        for executor in (self._reader, self._writer):
            if executor is not None:
                executor.shutdown(wait=True)


async def _run(executor: Executor | None, call: Callable[[], T]) -> T:
    if executor is None:
        return await anyio.to_thread.run_sync(call)
    context = contextvars.copy_context()
    future = asyncio.get_running_loop().run_in_executor(executor, context.run, call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        # The call was not cancelled with its caller (it may be committing): wait for it,
        # then let the cancellation through.
        await asyncio.wait([future])
        raise
