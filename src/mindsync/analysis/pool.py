"""Analysis in worker processes that every connection of the serving process shares.

Why: the analysers hold Python's GIL for much of their work, so one process analyses on
about one core. Several server processes (gunicorn workers) use more cores, but each
keeps the connections it accepted: with keep-alive clients one worker can end up with
most of them while another idles (measured: 15 of 16 connections on one of two
workers). A pool of analysis processes behind one event loop takes work per request,
first come first served, so every core stays busy and no request waits behind a busy
worker while another is idle.

Each process loads and warms the analysers once, in :func:`_serve`; the serving process
loads none. The event loop talks to each process over two pipes, writing a job and reading
its answer without blocking: no thread of the serving process takes part in a hand-over.
(``ProcessPoolExecutor`` woke a manager thread and a feeder thread for each one, and they
fought the event loop for the GIL: measured 0.41 -> 0.30 ms of the serving process's CPU per
hand-over of 250 KB, and more under load.) Each process holds at most two jobs, the one it
analyses and the next (so that it never idles waiting for the event loop); the others wait
here, first come first served.

A process that dies (killed, or crashed in a native decoder) fails the job it was analysing
with :class:`AnalysisInterrupted` (the job waiting behind it goes to another process) and is
replaced; so is a process whose job runs past the time limit, which is stopped (a thread
stuck in a decoder could not be). A job that waited past the limit for a free process fails
without stopping anything.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import logging
import multiprocessing
import os
import pickle
import signal
import struct
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

from mindsync.analysis.base import Modality, ModalityResult
from mindsync.analysis.errors import AnalysisInterrupted
from mindsync.analysis.orchestrator import analyze_one
from mindsync.analysis.registry import AnalyzerRegistry, load_analyzers
from mindsync.core.config import Settings
from mindsync.core.logging import configure_logging, request_id_var

try:
    import fcntl
except ImportError:  # not POSIX: no pool (SUPPORTED), and pipes keep their size
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

#: Whether this system's event loops can watch the pool's pipes (POSIX; Windows' proactor
#: loop cannot): where not, the server analyses in its threads.
SUPPORTED = os.name == "posix"

START_TIMEOUT_S = 120.0
#: How long :meth:`AnalysisPool.shutdown` lets a process finish its job before stopping it.
STOP_TIMEOUT_S = 10.0
#: A process started in place of another that exits before its models load is followed by
#: the next after this long, doubled for each such failure in a row (up to the most): a
#: passing failure (memory, a killed process) costs seconds, a lasting one no busy loop.
RESTART_DELAY_S = 1.0
MAX_RESTART_DELAY_S = 60.0

# multiprocessing.Connection's framing, which the processes read and write with
# ``recv_bytes``/``send_bytes``: a signed 4-byte big-endian length, or -1 and 8 bytes.
_SHORT = struct.Struct("!i")
_LONG = struct.Struct("!Q")
_READ_BYTES = 1 << 20
#: Jobs a process holds at most: the one it analyses and the next, waiting in its pipe.
JOBS_PER_PROCESS = 2


# --------------------------------------------------------------------- in the processes
def _analyze_group(
    registry: AnalyzerRegistry, items: list[tuple[Modality, Any]], request_id: str
) -> list[ModalityResult | BaseException]:
    outcomes: list[ModalityResult | BaseException] = []
    token = request_id_var.set(request_id)
    try:
        for modality, raw in items:
            try:
                outcomes.append(analyze_one(registry, modality, raw))
            except Exception as exc:  # the caller raises the first, in modality order
                outcomes.append(exc)
    finally:
        request_id_var.reset(token)
    return outcomes


def _answer(outcomes: list[ModalityResult | BaseException] | BaseException) -> bytes:
    """A job's answer: each item's outcome, or the exception that failed the whole job."""
    try:
        return bytes(ForkingPickler.dumps(outcomes))
    except Exception as exc:  # an exception that does not pickle: its text still goes back
        if isinstance(outcomes, BaseException):
            return bytes(ForkingPickler.dumps(RuntimeError(repr(outcomes))))
        failed = [
            RuntimeError(f"{type(o).__name__}: {o}") if isinstance(o, BaseException) else o
            for o in outcomes
        ]
        logger.warning("an analysis answer did not pickle: %r", exc)
        return bytes(ForkingPickler.dumps(failed))


class _Inbox:
    """The jobs arriving on a pipe in multiprocessing's framing, each read into one buffer
    that is used again for the next (``recv_bytes`` read a 250 KB job into a new buffer and
    copied it once more: twice the CPU of this)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._head = memoryview(bytearray(12))
        self._buffer = bytearray(1 << 16)

    def _fill(self, view: memoryview) -> None:
        got = 0
        while got < view.nbytes:
            n = os.readv(self._fd, [view[got:]])
            if n == 0:
                raise EOFError("the serving process closed the pipe")
            got += n

    def next(self) -> memoryview:
        """The next message, valid until the next call; raises ``EOFError`` or ``OSError``
        when the pipe closed or broke."""
        self._fill(self._head[:4])
        (n,) = _SHORT.unpack_from(self._head)
        if n == -1:
            self._fill(self._head[4:12])
            (n,) = _LONG.unpack_from(self._head, 4)
        if n > len(self._buffer):
            self._buffer = bytearray(n)
        view = memoryview(self._buffer)[:n]
        self._fill(view)
        return view


def _serve(settings: Settings, jobs: Connection, answers: Connection) -> None:
    """A pool process: load the analysers, say so, then analyse each job it is sent until
    the serving process closes the pipe (or dies)."""
    # Ctrl-C in a terminal reaches the whole process group; the parent decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(settings.log_level, json_lines=settings.log_json)
    try:
        registry = load_analyzers(settings)
    except BaseException as exc:
        answers.send_bytes(pickle.dumps(("failed", repr(exc))))
        raise
    gc.freeze()  # the models live as long as the process: keep them out of full collections
    try:
        answers.send_bytes(pickle.dumps(("ready", os.getpid(), registry.describe())))
    except OSError:
        return  # the pool stopped while this process loaded
    inbox = _Inbox(jobs.fileno())
    while True:
        try:
            job = inbox.next()
        except (EOFError, OSError):
            return  # the serving process closed the pipe or is gone
        try:
            with job:  # the objects are copied out of the buffer, which is used again
                items, request_id, deadline = pickle.loads(job)
        except Exception as exc:  # not a job this code can read: the caller's error
            answers.send_bytes(_answer(RuntimeError(f"unreadable analysis job: {exc!r}")))
            continue
        try:
            if time.monotonic() > deadline:  # the request stopped waiting for this job
                answers.send_bytes(_answer(_Expired()))
                continue
            answers.send_bytes(_answer(_analyze_group(registry, items, request_id)))
        except OSError:
            return  # the serving process stopped listening


# --------------------------------------------------------------------- in the server
@dataclass(eq=False)
class _Job:
    payload: tuple[memoryview, memoryview]  # framed, not copied
    future: asyncio.Future[list[ModalityResult | BaseException]]
    worker: _Worker | None = None


@dataclass(eq=False)
class _Worker:
    """One analysis process and the serving process's ends of its two pipes."""

    process: multiprocessing.process.BaseProcess
    jobs: Connection
    answers: Connection
    ready: bool = False
    dead: bool = False
    #: Jobs sent, oldest first: the first is being analysed, the next waits in the pipe.
    held: collections.deque[_Job] = field(default_factory=collections.deque)
    #: What the pipe has not taken yet, oldest first.
    unsent: collections.deque[memoryview] = field(default_factory=collections.deque)
    writing: bool = False
    received: bytearray = field(default_factory=bytearray)

    @property
    def pid(self) -> int:
        return self.process.pid or 0


def _pipe_bytes() -> int:
    """The size a job pipe asks for: 4 MB, or the system's most (``pipe-max-size``)."""
    try:
        most = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    except (OSError, ValueError):
        most = 1 << 20
    return min(4 << 20, most)


def _frame(payload: memoryview) -> tuple[memoryview, memoryview]:
    """``payload`` as one message of multiprocessing's framing: its header, and itself."""
    n = payload.nbytes
    head = _SHORT.pack(n) if n <= 0x7FFFFFFF else _SHORT.pack(-1) + _LONG.pack(n)
    return memoryview(head), payload


def _unframe(buffer: bytearray) -> bytes | None:
    """The first whole message in ``buffer`` (removed from it), or ``None`` yet."""
    if len(buffer) < 4:
        return None
    (n,) = _SHORT.unpack_from(buffer)
    start = 4
    if n == -1:
        if len(buffer) < 12:
            return None
        (n,) = _LONG.unpack_from(buffer, 4)
        start = 12
    if len(buffer) < start + n:
        return None
    message = bytes(memoryview(buffer)[start : start + n])
    del buffer[: start + n]
    return message


class AnalysisPool:
    """``processes`` analysis processes (spawned, not forked: the server has threads).

    :meth:`start` and :meth:`shutdown` block (call them from a thread); :meth:`run_group`
    runs on one event loop, the first that calls it.
    """

    def __init__(self, settings: Settings, processes: int) -> None:
        if processes < 1:
            raise ValueError("an analysis pool needs at least one process")
        self.settings = settings
        self.processes = processes
        self.timeout = settings.analysis_timeout_seconds
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._queue: collections.deque[_Job] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = True
        self._stopping: list[multiprocessing.process.BaseProcess] = []
        self.description: dict[str, dict[str, Any]] = {}
        self.restarts = 0
        #: Replacement processes in a row that exited before they were ready.
        self.failed_starts = 0
        #: Jobs a process skipped because their request had stopped waiting (time limit).
        self.expired = 0

    # ------------------------------------------------------------------ processes
    def _spawn(self) -> _Worker:
        jobs_out, jobs_in = self._context.Pipe(duplex=False)  # (reader, writer)
        answers_out, answers_in = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_serve,
            args=(self.settings, jobs_out, answers_in),
            name="mindsync-analysis",
            daemon=True,
        )
        process.start()
        jobs_out.close()  # the process's ends: EOF reaches either side when the other goes
        answers_in.close()
        with contextlib.suppress(OSError, AttributeError, TypeError):
            # A pipe holds 64 KB: a 500 KB job would reach the process in eight writes, each
            # waiting for the event loop. Linux lets a pipe hold up to pipe-max-size (1 MB
            # unless raised), so that a job or two go in one write.
            fcntl.fcntl(jobs_in.fileno(), fcntl.F_SETPIPE_SZ, _pipe_bytes())
        return _Worker(process=process, jobs=jobs_in, answers=answers_out)

    def start(self) -> None:
        """Start every process and wait until each has loaded its analysers (blocking).

        Raises :class:`RuntimeError` when a process fails to start.
        """
        workers = [self._spawn() for _ in range(self.processes)]
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            for worker in workers:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not wait([worker.answers], remaining):
                    raise TimeoutError(f"no answer within {START_TIMEOUT_S:g} s")
                self._take_ready(worker, pickle.loads(worker.answers.recv_bytes()))
        except Exception as exc:
            for worker in workers:
                self._stop_process(worker, wait_s=0)
            raise RuntimeError(f"the analysis processes did not start: {exc!r}") from exc
        for worker in workers:
            os.set_blocking(worker.jobs.fileno(), False)
            os.set_blocking(worker.answers.fileno(), False)
        with self._lock:
            self._workers = workers
            self._closed = False
        logger.info("analysis pool ready: %d processes %s", len(workers), self.pids())

    def _take_ready(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        if message[0] != "ready":
            raise RuntimeError(f"an analysis process failed to load: {message[1]}")
        worker.ready = True
        self.description = message[2]

    @staticmethod
    def _stop_process(worker: _Worker, *, wait_s: float) -> None:
        worker.dead = True
        for end in (worker.jobs, worker.answers):
            end.close()
        worker.process.join(wait_s)
        if worker.process.is_alive():
            worker.process.terminate()
            worker.process.join(5)

    # ------------------------------------------------------------------ the event loop's side
    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return loop
        if self._loop is not None and not self._loop.is_closed():
            raise RuntimeError("the analysis pool is in use by another event loop")
        self._loop = loop
        for worker in self._workers:
            if not worker.dead:
                loop.add_reader(worker.answers.fileno(), self._on_readable, worker)
        return loop

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
        running them died or ran past :attr:`timeout` (that process is stopped and replaced:
        a process stuck on one input must not keep a core for ever), or when no process was
        free within :attr:`timeout`.
        """
        if self._closed:
            raise RuntimeError("the analysis pool is not started")
        loop = self._bind()
        modality = items[0][0]
        label = " and ".join(m for m, _ in items)
        # CLOCK_MONOTONIC is one clock for every process of the machine: a process that
        # reaches a job after its request stopped waiting skips it (see _Expired).
        deadline = time.monotonic() + self.timeout
        job = _Job(
            payload=_frame(ForkingPickler.dumps((items, request_id_var.get(), deadline))),
            future=loop.create_future(),
        )
        self._queue.append(job)
        self._dispatch()
        try:
            return await asyncio.wait_for(job.future, self.timeout)
        except TimeoutError:
            worker = job.worker
            if worker is None or worker.dead or not worker.held or worker.held[0] is not job:
                # Not started: the server is overloaded, nothing is stuck. (One waiting in a
                # process's pipe is analysed when its turn comes, and the answer dropped.)
                if job in self._queue:
                    self._queue.remove(job)
                raise self._waited(label, modality) from None
            logger.error("an analysis ran past its time limit; replacing its process")
            self._lose(worker, stop=True)
            raise AnalysisInterrupted(
                f"{label} analysis took longer than {self.timeout:g} s and was stopped",
                field=modality,
            ) from None
        except _ProcessDied:
            raise AnalysisInterrupted(
                "an analysis process stopped unexpectedly; retry the request", field=modality
            ) from None
        except _Expired:  # reached its process at the time limit, as it was about to give up
            raise self._waited(label, modality) from None
        except asyncio.CancelledError:
            if job.worker is None and job in self._queue:
                self._queue.remove(job)  # never sent; a sent one finishes in its process
            raise

    def _waited(self, label: str, modality: Modality) -> AnalysisInterrupted:
        """The 503 of a job that no process started within the time limit."""
        return AnalysisInterrupted(
            f"{label} analysis waited {self.timeout:g} s for a free analysis process; retry later",
            field=modality,
        )

    def _dispatch(self) -> None:
        """Send queued jobs to the processes holding the fewest, at most
        :data:`JOBS_PER_PROCESS` each: a process that finishes a job finds the next in its
        pipe instead of idling until the event loop gets round to sending one."""
        while self._queue:
            free = [
                w
                for w in self._workers
                if w.ready and not w.dead and len(w.held) < JOBS_PER_PROCESS
            ]
            if not free:
                return
            worker = min(free, key=lambda w: len(w.held))
            job = self._queue.popleft()
            job.worker = worker
            worker.held.append(job)
            worker.unsent.extend(job.payload)
            if not worker.writing:
                self._send(worker)

    def _send(self, worker: _Worker) -> None:
        """Write what the pipe takes of ``worker``'s jobs now; the loop writes the rest when
        the process has read some (a job is up to a few MB; its pipe holds what
        :func:`_pipe_bytes` asked for where the system allows, 64 KB where not)."""
        assert self._loop is not None
        fd = worker.jobs.fileno()
        while worker.unsent:
            try:
                written = os.write(fd, worker.unsent[0])
            except BlockingIOError:
                written = 0
            except OSError:  # the process is gone (EPIPE); its reader sees the EOF too
                self._lose(worker)
                return
            rest = worker.unsent[0][written:]
            if len(rest):
                worker.unsent[0] = rest
                if not worker.writing:
                    self._loop.add_writer(fd, self._send, worker)
                    worker.writing = True
                return
            worker.unsent.popleft()
        if worker.writing:
            self._loop.remove_writer(fd)
            worker.writing = False

    def _on_readable(self, worker: _Worker) -> None:
        try:
            chunk = os.read(worker.answers.fileno(), _READ_BYTES)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._lose(worker)  # EOF: the process is gone
            return
        worker.received += chunk
        while (message := _unframe(worker.received)) is not None:
            self._on_message(worker, message)

    def _on_message(self, worker: _Worker, message: bytes) -> None:
        if not worker.ready:
            try:
                self._take_ready(worker, pickle.loads(message))
            except Exception:
                logger.exception("a replacement analysis process failed to start")
                self._lose(worker)
                return
            self.failed_starts = 0
            logger.info("analysis process %d ready", worker.pid)
            self._reap()
            self._dispatch()
            return
        job = worker.held.popleft() if worker.held else None
        try:
            answer = pickle.loads(message)
        except Exception as exc:  # an answer that does not unpickle
            answer = exc
        if isinstance(answer, _Expired):
            self.expired += 1
        if job is not None and not job.future.done():
            if isinstance(answer, BaseException):
                job.future.set_exception(answer)
            else:
                job.future.set_result(answer)
        self._dispatch()

    def _lose(self, worker: _Worker, *, stop: bool = False) -> None:
        """Forget ``worker`` (gone, or stuck and to be stopped), fail the job it held, and
        start another process in its place (on the event loop; never waits for one): at
        once, or after :func:`restart_delay` when ``worker`` itself never became ready."""
        if worker.dead:
            return
        worker.dead = True
        if self._loop is not None:
            self._loop.remove_reader(worker.answers.fileno())
            if worker.writing:
                self._loop.remove_writer(worker.jobs.fileno())
        if stop:
            worker.process.terminate()
        elif worker.ready:
            logger.error("analysis process %d stopped unexpectedly", worker.pid)
        else:
            logger.error("analysis process %d stopped before its models loaded", worker.pid)
        worker.jobs.close()
        worker.answers.close()
        self._reap(worker.process)
        if worker.held:
            # The first was being analysed; the others never started: they go first again.
            running = worker.held.popleft()
            if not running.future.done():
                running.future.set_exception(_ProcessDied())
            for waiting in reversed(worker.held):
                waiting.worker = None
                if not waiting.future.done():
                    self._queue.appendleft(waiting)
            worker.held.clear()
            worker.unsent.clear()
        with self._lock:
            self._workers = [w for w in self._workers if w is not worker]
        if not self._closed:
            if worker.ready:
                self._replace()
            else:
                self.failed_starts += 1
                delay = restart_delay(self.failed_starts)
                logger.error("starting another analysis process in %g s", delay)
                assert self._loop is not None
                self._loop.call_later(delay, self._replace_if_open)
        self._dispatch()

    def _replace_if_open(self) -> None:
        if not self._closed:
            self._replace()

    def _replace(self) -> None:
        """Start a process for one that was lost; it takes jobs once it says it is ready."""
        self.restarts += 1
        fresh = self._spawn()
        os.set_blocking(fresh.jobs.fileno(), False)
        os.set_blocking(fresh.answers.fileno(), False)
        with self._lock:
            self._workers = [*self._workers, fresh]
        assert self._loop is not None
        self._loop.add_reader(fresh.answers.fileno(), self._on_readable, fresh)

    def _reap(self, process: multiprocessing.process.BaseProcess | None = None) -> None:
        """Collect the exit status of stopped processes that have exited (no zombies)."""
        if process is not None:
            self._stopping.append(process)
        self._stopping = [p for p in self._stopping if p.is_alive()]

    def pids(self) -> list[int]:
        """Process ids of the live analysis processes (for tests and diagnostics)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the analysis pool is not started")
            return sorted(w.pid for w in self._workers if not w.dead)

    def busy(self) -> int:
        """How many jobs the processes hold now (sent, not answered yet)."""
        with self._lock:
            return sum(len(w.held) for w in self._workers if not w.dead)

    def shutdown(self) -> None:
        """Stop every process (blocking; from any thread but the event loop's). Each may
        finish the job it is analysing (for up to :data:`STOP_TIMEOUT_S`) but its answer is
        not read: every request still waiting for the pool gets :class:`AnalysisInterrupted`.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers, self._workers = self._workers, []
        loop = self._loop
        if loop is not None and loop.is_running():
            done = threading.Event()

            def detach() -> None:
                for worker in workers:
                    if not worker.dead:
                        loop.remove_reader(worker.answers.fileno())
                        if worker.writing:
                            loop.remove_writer(worker.jobs.fileno())
                held = [job for w in workers for job in w.held]
                for job in [*self._queue, *held]:
                    if not job.future.done():
                        job.future.set_exception(_ProcessDied())
                self._queue.clear()
                done.set()

            loop.call_soon_threadsafe(detach)
            done.wait(STOP_TIMEOUT_S)
        for worker in workers:
            if not worker.dead:
                self._stop_process(worker, wait_s=STOP_TIMEOUT_S)
        for process in self._stopping:
            process.join(5)
        self._stopping = []


def restart_delay(failures: int) -> float:
    """Seconds before the next process after ``failures`` (>= 1) in a row exited before they
    were ready: :data:`RESTART_DELAY_S`, doubled for each failure, at most
    :data:`MAX_RESTART_DELAY_S`."""
    return float(min(RESTART_DELAY_S * 2 ** min(failures - 1, 16), MAX_RESTART_DELAY_S))


class _Expired(Exception):
    """A job that reached its process after its request's time limit: not analysed (a job
    waiting in a process's pipe cannot be taken back; nobody would read its answer)."""


class _ProcessDied(Exception):
    """The process holding a job stopped before it answered."""
