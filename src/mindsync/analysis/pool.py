"""Analysis in worker processes that every connection of the serving process shares.

Why: the analysers hold Python's GIL for much of their work, so one process analyses on
about one core. Several server processes (gunicorn workers) use more cores, but each
keeps the connections it accepted: with keep-alive clients one worker can end up with
most of them while another idles (measured: 15 of 16 connections on one of two
workers). A pool of analysis processes behind one event loop takes work per request,
first come first served, so every core stays busy and no request waits behind a busy
worker while another is idle.

Each process loads and warms the analysers once, in :func:`_initialise`; the serving
process loads none. A process that dies (killed, or crashed in a native decoder) breaks
the pool: the requests in flight get :class:`AnalysisInterrupted` and the next request
gets a fresh pool. So does an analysis that runs past the time limit, whose processes are
stopped (a thread stuck in a decoder could not be).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from mindsync.analysis.base import Modality, ModalityResult
from mindsync.analysis.errors import AnalysisInterrupted
from mindsync.analysis.orchestrator import analyze_one
from mindsync.analysis.registry import AnalyzerRegistry, load_analyzers
from mindsync.core.config import Settings
from mindsync.core.logging import configure_logging, request_id_var

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0

# State of a worker process, set once by its initialiser.
_registry: AnalyzerRegistry | None = None
_started: Any = None  # multiprocessing barrier shared by the first processes of a pool


PARENT_CHECK_SECONDS = 1.0


def _exit_with(parent: int) -> None:
    """Exit when ``parent`` is gone. A killed server (SIGKILL, the OOM killer) never closes
    its queues: the processes would wait on them for ever, holding their memory."""
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent:
            os._exit(0)


def _initialise(settings: Settings, started: Any) -> None:
    global _registry, _started
    threading.Thread(
        target=_exit_with, args=(os.getppid(),), name="parent-watch", daemon=True
    ).start()
    # Ctrl-C in a terminal reaches the whole process group; the parent decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(settings.log_level, json_lines=settings.log_json)
    _registry = load_analyzers(settings)
    _started = started
    gc.freeze()  # the models live as long as the process: keep them out of full collections


def _ready() -> tuple[int, dict[str, dict[str, Any]]]:
    """Wait until every first process has loaded; its pid and what its registry loaded."""
    assert _registry is not None
    if _started is not None:
        _started.wait(START_TIMEOUT_S)
    return os.getpid(), _registry.describe()


def _analyze(modality: Modality, raw: Any, request_id: str) -> ModalityResult:
    assert _registry is not None
    token = request_id_var.set(request_id)
    try:
        return analyze_one(_registry, modality, raw)
    finally:
        request_id_var.reset(token)


def _analyze_group(
    items: list[tuple[Modality, Any]], request_id: str
) -> list[ModalityResult | BaseException]:
    outcomes: list[ModalityResult | BaseException] = []
    for modality, raw in items:
        try:
            outcomes.append(_analyze(modality, raw, request_id))
        except Exception as exc:  # the caller raises the first, in modality order
            outcomes.append(exc)
    return outcomes


class AnalysisPool:
    """``processes`` analysis processes (spawned, not forked: the server has threads)."""

    def __init__(self, settings: Settings, processes: int) -> None:
        if processes < 1:
            raise ValueError("an analysis pool needs at least one process")
        self.settings = settings
        self.processes = processes
        self.timeout = settings.analysis_timeout_seconds
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self.description: dict[str, dict[str, Any]] = {}
        self.restarts = 0

    def _new_executor(self, barrier: Any) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=self._context,
            initializer=_initialise,
            initargs=(self.settings, barrier),
        )

    def start(self) -> None:
        """Start every process and wait until each has loaded its analysers (blocking).

        Raises :class:`RuntimeError` when a process fails to start.
        """
        barrier = self._context.Barrier(self.processes)
        executor = self._new_executor(barrier)
        # One call per process: each blocks on the barrier, so no process takes two.
        futures = [executor.submit(_ready) for _ in range(self.processes)]
        try:
            answers = [f.result(timeout=START_TIMEOUT_S) for f in futures]
        except Exception as exc:
            executor.shutdown(wait=False, cancel_futures=True)
            raise RuntimeError(f"the analysis processes did not start: {exc!r}") from exc
        pids = sorted(pid for pid, _ in answers)
        self.description = answers[0][1]
        self._executor = executor
        logger.info("analysis pool ready: %d processes %s", len(pids), pids)

    async def run(self, modality: Modality, raw: Any) -> ModalityResult:
        """Decode and analyse one modality in a pool process (see :meth:`run_group`)."""
        (outcome,) = await self.run_group([(modality, raw)])
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def run_group(
        self, items: list[tuple[Modality, Any]]
    ) -> list[ModalityResult | BaseException]:
        """Decode and analyse ``items`` one after another in one pool process: one hand-over
        for all of them. Each answer is the modality's result or the exception it raised.

        Raises :class:`AnalysisInterrupted` (naming the first modality) when the process
        running them died or ran past :attr:`timeout` (the pool is replaced for the requests
        that follow: a process stuck on one input must not keep a core for ever).
        """
        executor = self._current()
        modality = items[0][0]
        label = " and ".join(m for m, _ in items)
        try:
            future = executor.submit(_analyze_group, items, request_id_var.get())
            outcomes: list[ModalityResult | BaseException] = await asyncio.wait_for(
                asyncio.wrap_future(future), self.timeout
            )
            return outcomes
        except BrokenProcessPool:
            self._replace(executor)
            raise AnalysisInterrupted(
                "an analysis process stopped unexpectedly; retry the request", field=modality
            ) from None
        except TimeoutError:
            if not future.running():
                # Still queued: the server is overloaded, nothing is stuck.
                future.cancel()
                raise AnalysisInterrupted(
                    f"{label} analysis waited {self.timeout:g} s for a free analysis "
                    "process; retry later",
                    field=modality,
                ) from None
            self._replace(executor, stop=True)
            raise AnalysisInterrupted(
                f"{label} analysis took longer than {self.timeout:g} s and was stopped",
                field=modality,
            ) from None

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                raise RuntimeError("the analysis pool is not started")
            return self._executor

    def _replace(self, broken: ProcessPoolExecutor, *, stop: bool = False) -> None:
        with self._lock:
            if self._executor is not broken:
                return  # another request replaced it already
            logger.error(
                "%s; starting a new analysis pool",
                "an analysis ran past its time limit" if stop else "an analysis process died",
            )
            self._executor = self._new_executor(None)
            self.restarts += 1
        if stop:
            # Which process holds the slow call is not known: stop them all (what they were
            # doing fails with BrokenProcessPool, a 503 for those requests).
            for process in list((getattr(broken, "_processes", None) or {}).values()):
                process.terminate()
        broken.shutdown(wait=False, cancel_futures=True)

    def pids(self) -> list[int]:
        """Process ids of the live analysis processes (for tests and diagnostics)."""
        executor = self._current()
        processes = getattr(executor, "_processes", None) or {}
        return sorted(processes)

    def shutdown(self) -> None:
        """Stop every process; queued work is cancelled."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
