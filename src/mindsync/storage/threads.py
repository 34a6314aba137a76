"""The threads that a database's blocking calls run on, off the event loop.

SQLite has one writer at a time: on a shared pool of worker threads (anyio's, up to 40),
concurrent requests' transactions each took a thread and queued on the writer lock, and
every hand-over woke another thread that then fought for the GIL. One thread that runs the
writes one after another, and one that runs the reads, do the same work without the convoy
(measured on 2 cores, 16 clients of ``POST /analyze`` with list-form motion: 153-163 ->
194-204 requests/s, server CPU 4.6-4.8 -> 3.6-3.7 ms per request; docs/performance.md).
PostgreSQL takes concurrent transactions and each waits for network round trips: its calls
get as many threads as the engine keeps connections (more would only wait for one;
measured 109-111 -> 115-116 requests/s against anyio's pool).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

T = TypeVar("T")

#: Threads for a database whose engine does not say how many connections it keeps.
DEFAULT_THREADS = 5


class DatabaseThreads:
    """Runs a database's blocking calls off the event loop: on one reader and one writer
    thread for SQLite; for other databases on as many threads as the engine's connection
    pool keeps connections (reads and writes alike).

    Like anyio's worker threads (``run_in_threadpool``), a call runs to its end even when
    the awaiting task is cancelled (the cancellation is raised afterwards), and it sees the
    caller's context variables (the request id of log lines).
    """

    def __init__(self, engine: Engine) -> None:
        self.serial = engine.dialect.name == "sqlite"
        self._reader: Executor
        self._writer: Executor
        if self.serial:
            self._reader = ThreadPoolExecutor(1, thread_name_prefix="db-read")
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="db-write")
        else:
            size = getattr(engine.pool, "size", None)
            threads = size() if callable(size) else DEFAULT_THREADS
            self._reader = self._writer = ThreadPoolExecutor(
                max(1, threads), thread_name_prefix="db"
            )

    async def read(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, a call that only reads, on a thread; its result."""
        return await _run(self._reader, partial(fn, *args, **kwargs))

    async def write(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, a call that may write, on a thread; its result. On SQLite
        the writes run one at a time, in the order they were asked for."""
        return await _run(self._writer, partial(fn, *args, **kwargs))

    def close(self) -> None:
        """Finish the calls already asked for, then stop the threads."""
        for executor in {self._reader, self._writer}:
            executor.shutdown(wait=True)


async def _run(executor: Executor, call: Callable[[], T]) -> T:
    context = contextvars.copy_context()
    future = asyncio.get_running_loop().run_in_executor(executor, context.run, call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        # The call was not cancelled with its caller (it may be committing): wait for it,
        # then let the cancellation through.
        await asyncio.wait([future])
        raise
