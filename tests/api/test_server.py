"""The server's read deadlines and per-address cap, over real sockets, with both guarded
protocols (httptools, what production serves with, and h11)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from mindsync.api import server as server_module
from mindsync.api.server import (
    GuardedH11Protocol,
    GuardedHttpToolsProtocol,
    ServerLimits,
    guarded_protocol,
)
from tests.conftest import within_one_budget_minute

LIMITS = ServerLimits(
    header_timeout_seconds=0.5,
    body_timeout_seconds=0.5,
    keepalive_timeout_seconds=0.5,
    max_connections_per_address=4,
)


async def echo_app(scope, receive, send) -> None:
    """Answers with the body's length; ``/slow`` first waits 1 s (longer than every deadline),
    ``/early`` answers without reading the body; accepts WebSockets and holds them open."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass
        return
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(1.0)
    size = 0
    while scope["path"] != "/early":
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = str(size).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(params=["httptools", "h11"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    server_module.configure(LIMITS)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    config = uvicorn.Config(
        echo_app,
        host="127.0.0.1",
        port=free,
        http=guarded_protocol(request.param),
        timeout_keep_alive=1,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield free
    finally:
        server.should_exit = True
        thread.join(10)
        server_module.configure(None)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def _read_all(sock: socket.socket, within: float = 3.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and when it closed."""
    started = time.monotonic()
    sock.settimeout(within)
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data, time.monotonic() - started


def test_a_silent_connection_is_closed(port) -> None:
    with _connect(port) as sock:
        data, took = _read_all(sock)
    assert data == b"" and took < 2.0


def test_half_a_header_gets_408_and_is_closed(port) -> None:
    with _connect(port) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Len")
        data, took = _read_all(sock)
    assert data.startswith(b"HTTP/1.1 408") and took < 2.0


def test_a_header_dripped_byte_by_byte_still_meets_the_deadline(port) -> None:
    with _connect(port) as sock:
        started = time.monotonic()
        with contextlib.suppress(OSError):
            for byte in b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"a" * 100:
                sock.send(bytes([byte]))
                time.sleep(0.05)
                if time.monotonic() - started > 3:
                    break
        data, _ = _read_all(sock)
    assert data.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - started < 3.5


def test_half_a_body_gets_408_and_is_closed(port) -> None:
    with _connect(port) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n" + b"a" * 10)
        data, took = _read_all(sock)
    assert data.startswith(b"HTTP/1.1 408") and took < 2.0


def test_complete_requests_keep_working_and_idle_keep_alive_closes(port) -> None:
    with _connect(port) as sock:
        for _ in range(3):
            sock.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
            reply = sock.recv(65536)
            assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"5")
            time.sleep(0.2)  # shorter than every deadline
        data, took = _read_all(sock)
    assert data == b"" and took < 2.5


def test_connections_per_address_are_capped(port) -> None:
    held = [_connect(port) for _ in range(LIMITS.max_connections_per_address)]
    try:
        # Send a byte so each connection is accepted and counted before the next one.
        time.sleep(0.1)
        with _connect(port) as extra:
            data, took = _read_all(extra, within=2.0)
        assert data == b"" and took < 0.4  # closed at once, not after the header deadline
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    with _connect(port) as again:
        again.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        assert again.recv(65536).startswith(b"HTTP/1.1 200")


def test_an_address_guessing_far_past_its_budget_is_shut_out_at_connect(port) -> None:
    from mindsync.api import guard

    budget = guard.FailureBudget(limit=5)
    guard._budgets.append(budget)
    within_one_budget_minute(needed_seconds=10.0)
    try:
        for _ in range(5 * guard.SHUT_OUT_FACTOR - 1):
            budget.spend("127.0.0.1")
        with _connect(port) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")  # past the budget, not shut out
        budget.spend("127.0.0.1")
        with _connect(port) as sock:
            data, took = _read_all(sock, within=2.0)
        assert data == b"" and took < 0.4
    finally:
        guard._budgets.remove(budget)


def test_invalid_requests_get_400_and_are_closed(port) -> None:
    for request in (
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
        b"HELLO\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",  # no Host (h11 refuses it; so must httptools)
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET /\r\n\r\n",  # HTTP/0.9
    ):
        with _connect(port) as sock:
            sock.sendall(request)
            data, took = _read_all(sock)
        assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n"), request
        assert data.endswith(b"Invalid HTTP request received.") and took < 0.4, request


def test_a_head_dripped_past_16_kib_gets_400(port) -> None:
    # h11 refuses an unfinished head over 16 KiB; llhttp holds any amount unless bounded.
    with _connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ")
        with contextlib.suppress(OSError):
            for _ in range(12):
                time.sleep(0.01)
                sock.sendall(b"a" * 2000)
        data, took = _read_all(sock)
    assert data.startswith(b"HTTP/1.1 400") and took < 0.4


def test_pipelined_requests_are_answered_in_order_without_a_false_408(port) -> None:
    with _connect(port) as sock:
        # The second request's body arrives while the first is answered (1 s, longer than
        # the body deadline): its deadline starts when the server starts reading it.
        sock.sendall(
            b"POST /slow HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
            b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345"
        )
        time.sleep(0.3)
        sock.sendall(b"67890")
        data, _ = _read_all(sock, within=4.0)
    first, second = data.split(b"HTTP/1.1 200 OK")[1:]
    assert first.endswith(b"\r\n\r\n5") and second.endswith(b"\r\n\r\n10")


def test_no_408_is_written_into_a_response_in_progress(port) -> None:
    with _connect(port) as sock:
        # Half of a second request sent while the first is answered (1 s): the first
        # response comes out whole; the header deadline may then close with a 408.
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHo")
        data, took = _read_all(sock, within=4.0)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.split(b"\r\n\r\n", 2)[1].startswith(b"0")
    assert took < 3.0


def test_a_websocket_outlives_the_deadlines_and_leaves_the_cap(port) -> None:
    key = base64.b64encode(os.urandom(16))
    upgrade = (
        b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + b"\r\n\r\n"
    )
    sockets = [_connect(port) for _ in range(LIMITS.max_connections_per_address)]
    try:
        for sock in sockets:
            sock.sendall(upgrade)
            assert sock.recv(65536).startswith(b"HTTP/1.1 101")
        time.sleep(1.0)  # past the header and body deadlines
        for sock in sockets:
            sock.settimeout(0.1)
            with pytest.raises(TimeoutError):
                sock.recv(1)  # still open, and nothing was sent
        with _connect(port) as extra:  # WebSockets do not count against the cap
            extra.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            assert extra.recv(65536).startswith(b"HTTP/1.1 200")
    finally:
        for sock in sockets:
            sock.close()


def test_production_serves_with_httptools_and_keeps_h11() -> None:
    from mindsync.cli import build_parser

    assert guarded_protocol() is GuardedHttpToolsProtocol
    assert guarded_protocol("h11") is GuardedH11Protocol
    with pytest.raises(ValueError, match="unknown HTTP protocol"):
        guarded_protocol("h2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # uvicorn.workers is deprecated
        from mindsync.api.gunicorn_worker import MindSyncH11Worker, MindSyncWorker
    assert MindSyncWorker.CONFIG_KWARGS["http"] is GuardedHttpToolsProtocol
    assert MindSyncH11Worker.CONFIG_KWARGS["http"] is GuardedH11Protocol
    assert MindSyncWorker.CONFIG_KWARGS["proxy_headers"] is False
    assert build_parser().parse_args(["serve"]).http == "auto"
    assert build_parser().parse_args(["serve", "--http", "h11"]).http == "h11"


@pytest.mark.parametrize(
    ("worker", "protocol"),
    [("MindSyncWorker", "GuardedHttpToolsProtocol"), ("MindSyncH11Worker", "GuardedH11Protocol")],
)
def test_the_gunicorn_workers_serve_with_the_guard(tmp_path, worker, protocol) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
        "MINDSYNC_HEADER_TIMEOUT_SECONDS": "0.5",
    }
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                *("-k", f"mindsync.api.gunicorn_worker.{worker}"),
                *("-b", f"127.0.0.1:{free}", "--log-level", "info"),
                "tests.api.test_server:echo_app",
            ],
            env=env,
            cwd=Path(__file__).resolve().parents[2],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while f"serving HTTP with {protocol}" not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        sock = None
        while sock is None:
            with contextlib.suppress(ConnectionRefusedError):
                sock = _connect(free)
            assert time.monotonic() < deadline, log.read_text()
        with sock:
            sock.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Len")
            data, took = _read_all(sock)
        assert data.startswith(b"HTTP/1.1 408") and took < 2.0
    finally:
        process.terminate()
        process.wait(30)


def test_a_body_trickled_after_an_early_answer_meets_the_header_deadline(port) -> None:
    with _connect(port) as sock:
        sock.sendall(b"POST /early HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n" + b"a" * 10)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        with contextlib.suppress(OSError):
            while time.monotonic() - started < 3:  # the rest of the body, a drop at a time
                sock.sendall(b"a")
                time.sleep(0.1)
        took = time.monotonic() - started
    assert took < 1.5  # closed (after a 408) instead of held for as long as the client likes
