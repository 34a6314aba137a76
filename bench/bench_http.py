"""h11 against httptools in MindSync's server: server CPU per request and throughput, side by side.

    .venv/bin/python bench/bench_http.py                      # 3 rounds of 8 s, concurrency 4
    .venv/bin/python bench/bench_http.py --rounds 2 --seconds 5 --concurrency 16

Two production servers (``mindsync migrate`` then ``gunicorn -c gunicorn.conf.py``, SQLite),
identical but for the worker class: ``MindSyncWorker`` (httptools, the default) and
``MindSyncH11Worker`` (h11), chosen with ``GUNICORN_CMD_ARGS``. Each server's log must name
the protocol it serves with. They take the list-form motion ``POST /analyze`` (30 s at 50 Hz,
about 223 KB, the seed's format) in alternating phases (h11, httptools, h11, ...) so that
drift on the shared machine hits both alike, and then together (each with half the
concurrency, at the same time, so that the machine's other tenants hit both in the same
seconds). Reported: per phase and summed over the rounds, requests/s and the CPU per
answered request of the server process and of the analysis processes, and the httptools/h11
ratios. The load generator shares the 2 cores: compare the two columns, not the absolute figures.

First, without sockets or MindSync's application, the CPU each protocol class spends on the
same request, in process (one keep-alive connection; the request in one read, as uvloop reads
it on loopback; an application that reads the body and answers 1 KB with MindSync's headers):
uvicorn's plain classes and MindSync's guarded ones, alternated.
Results: ``bench/results/http-protocols.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (  # noqa: E402
    RESULTS,
    Server,
    _commit,
    _load,
    _measured_load,
    _user_token,
    motion_recording,
    motion_samples_json,
)


class _Transport(asyncio.Transport):
    """Just enough of a socket transport for a protocol object driven in process."""

    def __init__(self) -> None:
        super().__init__()
        self.protocol: asyncio.BaseProtocol | None = None
        self.written = 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("10.0.0.1", 5000), "sockname": ("10.0.0.2", 80)}.get(name, default)

    def write(self, data: Any) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self.protocol is not None
        return self.protocol


_ANSWER = b'{"session_id": "' + b"0" * 36 + b'", "motion": {' + b'"x": 0.0, ' * 90 + b'"y": 1}}'
_ANSWER_HEADERS = [  # what MindSync's middleware puts on an /analyze answer
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_ANSWER)).encode()),
    (b"x-request-id", b"0" * 32),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cache-control", b"no-store"),
]


async def _drain_app(scope: Any, receive: Any, send: Any) -> None:
    """Read the whole body, answer about 1 KB of JSON with MindSync's headers."""
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": _ANSWER_HEADERS})
    await send({"type": "http.response.body", "body": _ANSWER})


def protocol_cost(body: bytes, requests: int, rounds: int) -> dict[str, float]:
    """CPU ms per request of each protocol class on one keep-alive connection, in process."""
    import uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    from mindsync.api import server as guarded

    guarded.configure(guarded.ServerLimits())
    classes = {
        "h11": H11Protocol,
        "httptools": HttpToolsProtocol,
        "guarded_h11": guarded.GuardedH11Protocol,
        "guarded_httptools": guarded.GuardedHttpToolsProtocol,
    }
    head = (
        b"POST /analyze HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAccept: */*\r\n"
        b"Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n"
        b"User-Agent: python-httpx/0.28\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer ms_" + b"x" * 43 + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    message = head + body
    spent: dict[str, float] = dict.fromkeys(classes, 0.0)

    async def drive(cls: type[asyncio.Protocol]) -> float:
        config = uvicorn.Config(_drain_app, log_level="warning", lifespan="off")
        config.load()
        state = ServerState()
        protocol = cls(config=config, server_state=state, app_state={})  # type: ignore[call-arg]
        transport = _Transport()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        started = time.process_time()
        for _ in range(requests):
            answered = state.total_requests
            protocol.data_received(message)
            while state.total_requests == answered:
                await asyncio.sleep(0)
        took = time.process_time() - started
        protocol.connection_lost(None)
        return took

    for _ in range(rounds):
        for name, cls in classes.items():
            spent[name] += asyncio.run(drive(cls))
    guarded.configure(None)
    return {name: round(s * 1000 / (requests * rounds), 3) for name, s in spent.items()}


WORKERS = {
    "h11": ("MindSyncH11Worker", "GuardedH11Protocol"),
    "httptools": ("MindSyncWorker", "GuardedHttpToolsProtocol"),
}


def _together(
    servers: dict[str, Server],
    tokens: dict[str, str],
    body: bytes,
    concurrency: int,
    seconds: float,
) -> dict[str, dict[str, Any]]:
    """Both servers under the same load at the same time: what the machine's other tenants do
    meanwhile hits both alike. The CPU per answered request of each server's processes."""
    before = {name: server.cpu_seconds() for name, server in servers.items()}

    async def both() -> list[dict[str, Any]]:
        loads = (_load(s.url, tokens[n], body, concurrency, seconds) for n, s in servers.items())
        return list(await asyncio.gather(*loads))

    out = dict(zip(servers, asyncio.run(both()), strict=True))
    for name, server in servers.items():
        after, answered = server.cpu_seconds(), max(out[name]["n"], 1)
        for role in ("server", "analysis"):
            spent = after[role] - before[name][role]
            out[name][f"{role}_cpu_ms"] = round(spent * 1000 / answered, 2)
    return out


def _summary(phases: list[dict[str, Any]]) -> dict[str, float]:
    answered = sum(row["n"] for row in phases)
    return {
        "requests": answered,
        "requests_per_s": round(sum(row["requests_per_s"] for row in phases) / len(phases), 1),
        "server_cpu_ms": round(
            sum(row["server_cpu_ms"] * row["n"] for row in phases) / answered, 2
        ),
        "analysis_cpu_ms": round(
            sum(row["analysis_cpu_ms"] * row["n"] for row in phases) / answered, 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds (each: h11, httptools, both)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of one phase")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    parser.add_argument("--processes", type=int, default=2, help="analysis processes")
    parser.add_argument("--out", type=Path, default=RESULTS / "http-protocols.json")
    args = parser.parse_args()

    body = json.dumps({"motion_data": motion_samples_json(motion_recording())}).encode()
    in_process = protocol_cost(body, requests=1000, rounds=3)
    print("protocol CPU ms per request, in process:", json.dumps(in_process), flush=True)
    servers: dict[str, Server] = {}
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {
        mode: {name: [] for name in WORKERS} for mode in ("alternating", "together")
    }
    with tempfile.TemporaryDirectory(prefix="mindsync-bench-http-") as tmp:
        try:
            for name, (worker, protocol) in WORKERS.items():
                folder = Path(tmp) / name
                (folder / "metrics").mkdir(parents=True)
                server = Server(1, folder, processes=args.processes)
                server.env["GUNICORN_CMD_ARGS"] = (
                    f"--worker-class mindsync.api.gunicorn_worker.{worker}"
                )
                servers[name] = server
                server.start()
                if f"serving HTTP with {protocol}" not in server.log.read_text():
                    raise RuntimeError(f"{name}: the server does not say it serves {protocol}")
            tokens = {name: _user_token(server) for name, server in servers.items()}
            for name, server in servers.items():  # warm up
                asyncio.run(_load(server.url, tokens[name], body, args.concurrency, 2.0))
            for round_ in range(args.rounds):
                for name, server in servers.items():
                    row = _measured_load(server, tokens[name], body, args.concurrency, args.seconds)
                    rows["alternating"][name].append(row)
                    print(round_, name, json.dumps(row), flush=True)
                half = max(args.concurrency // 2, 1)
                for name, row in _together(servers, tokens, body, half, args.seconds).items():
                    rows["together"][name].append(row)
                    print(round_, "together", name, json.dumps(row), flush=True)
        finally:
            for server in servers.values():
                server.stop()

    summary = {mode: {n: _summary(r) for n, r in by.items()} for mode, by in rows.items()}
    ratios = {
        mode: {
            "server_cpu_ms_per_request": round(
                by["httptools"]["server_cpu_ms"] / by["h11"]["server_cpu_ms"], 3
            ),
            "requests_per_s": round(
                by["httptools"]["requests_per_s"] / by["h11"]["requests_per_s"], 3
            ),
        }
        for mode, by in summary.items()
    }
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": _commit(Path(__file__).resolve().parents[1]),
        "request": f"POST /analyze, list-form motion, {len(body)} bytes",
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "seconds_per_phase": args.seconds,
        "protocol_cpu_ms_per_request_in_process": in_process,
        "phases": rows,
        "summary": summary,
        "httptools_over_h11": ratios,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"summary": summary, "httptools_over_h11": ratios}, indent=2))


if __name__ == "__main__":
    main()
