"""h11 against httptools in MindSync's server: server CPU per request and throughput, side by side.

    .venv/bin/python bench/bench_http.py                      # 3 rounds of 8 s, concurrency 4
    .venv/bin/python bench/bench_http.py --rounds 2 --seconds 5 --concurrency 16

Two production servers (``mindsync migrate`` then ``gunicorn -c gunicorn.conf.py``, SQLite),
identical but for the worker class: ``MindSyncWorker`` (httptools, the default) and
``MindSyncH11Worker`` (h11), chosen with ``GUNICORN_CMD_ARGS``. Each server's log must name
the protocol it serves with. They take the list-form motion ``POST /analyze`` (30 s at 50 Hz,
about 223 KB, the seed's format) in alternating phases (h11, httptools, h11, ...) so that
drift on the shared machine hits both alike. Reported: per phase and summed over the rounds,
requests/s and the CPU per answered request of the server process and of the analysis
processes, and the httptools/h11 ratios. The load generator shares the 2 cores: compare the
two columns, not the absolute figures. Results: ``bench/results/http-protocols.json``.
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

WORKERS = {
    "h11": ("MindSyncH11Worker", "GuardedH11Protocol"),
    "httptools": ("MindSyncWorker", "GuardedHttpToolsProtocol"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="phases per protocol")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of one phase")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    parser.add_argument("--processes", type=int, default=2, help="analysis processes")
    parser.add_argument("--out", type=Path, default=RESULTS / "http-protocols.json")
    args = parser.parse_args()

    body = json.dumps({"motion_data": motion_samples_json(motion_recording())}).encode()
    servers: dict[str, Server] = {}
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in WORKERS}
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
                    rows[name].append(row)
                    print(round_, name, json.dumps(row), flush=True)
        finally:
            for server in servers.values():
                server.stop()

    summary: dict[str, dict[str, float]] = {}
    for name, phases in rows.items():
        answered = sum(row["n"] for row in phases)
        summary[name] = {
            "requests": answered,
            "requests_per_s": round(sum(row["requests_per_s"] for row in phases) / len(phases), 1),
            "server_cpu_ms": round(
                sum(row["server_cpu_ms"] * row["n"] for row in phases) / answered, 2
            ),
            "analysis_cpu_ms": round(
                sum(row["analysis_cpu_ms"] * row["n"] for row in phases) / answered, 2
            ),
        }
    h11, fast = summary["h11"], summary["httptools"]
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": _commit(Path(__file__).resolve().parents[1]),
        "request": f"POST /analyze, list-form motion, {len(body)} bytes",
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "seconds_per_phase": args.seconds,
        "phases": rows,
        "summary": summary,
        "httptools_over_h11": {
            "server_cpu_ms_per_request": round(fast["server_cpu_ms"] / h11["server_cpu_ms"], 3),
            "requests_per_s": round(fast["requests_per_s"] / h11["requests_per_s"], 3),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"summary": summary, "ratios": report["httptools_over_h11"]}, indent=2))


if __name__ == "__main__":
    main()
