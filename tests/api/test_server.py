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
