"""A real user's latency and the server's memory while hostile clients attack, before and after.

    .venv/bin/python bench/bench_hostile.py                    # this checkout vs its merge base
    .venv/bin/python bench/bench_hostile.py --only after       # this checkout only
    .venv/bin/python bench/bench_hostile.py --base-ref main    # compare with another ref

For each version it starts ``python -m mindsync serve`` (SQLite, one analysis process), creates
a user, and measures the user's ``POST /analyze`` (10 s of motion at 50 Hz, columnar) one
request at a time:

1. idle: 40 requests, p50/p95, and the server's resident memory (server + its children);
2. under attack, the issue's pattern: 4 processes posting 22 MB JSON bodies with made-up
   tokens in a loop, and 200 slow connections (half a header, a byte a second, reopened when
   closed), all from another loopback address (127.0.0.2, as a different client would be);
   40 more requests, p50/p95, and the peak memory.

With ``--pin`` the server and the user's client run on CPU 0 and the attackers on CPU 1, as
if the attackers were other machines (on a 2-core box, unpinned attackers in tight loops
mostly measure the attackers' own CPU use). The base version comes from ``git archive`` of
the ref (no worktree), run with this checkout's virtual environment.
Results: ``bench/results/hostile*.json`` and ``hostile*.md``.
The machine's 2 cores are shared with the attackers and the load generator: compare the two
columns, not the absolute figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "bench-admin-token-0123456789abcdef-0123456789"
ATTACK_ADDRESS = "127.0.0.2"
BODY_MB = 22


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _motion() -> dict[str, Any]:
    rng = np.random.default_rng(1)
    t = np.arange(0, 10, 1 / 50)
    acc = np.column_stack(
        [
            0.8 * np.sin(2 * np.pi * 1.9 * t) + rng.normal(0, 0.1, t.size),
            0.4 * np.sin(2 * np.pi * 1.9 * t + 1) + rng.normal(0, 0.1, t.size),
            9.81 + 1.2 * np.sin(2 * np.pi * 3.8 * t) + rng.normal(0, 0.1, t.size),
        ]
    )
    return {
        "timestamps": t.round(4).tolist(),
        "acceleration": {k: acc[:, i].round(4).tolist() for i, k in enumerate("xyz")},
    }


def _rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB."""
    total = 0
    pids = [pid]
    seen: set[int] = set()
    while pids:
        p = pids.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
            pids += [int(c) for c in children]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1024


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its descendants so far."""
    total = 0.0
    pids, seen = [pid], set()
    tick = os.sysconf("SC_CLK_TCK")
    while pids:
        p = pids.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            pids += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _pin(cpus: set[int] | None) -> None:
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


def _attacker(
    url: str, stop: Any, counts: Any, index: int, rate: float, cpus: set[int] | None
) -> None:
    """Post 22 MB JSON bodies with made-up tokens until ``stop`` is set (at most ``rate``
    requests a second when ``rate`` > 0, else as fast as the server lets it)."""
    _pin(cpus)
    body = b'{"audio_data": "' + b"A" * (BODY_MB * 1024 * 1024 - 20) + b'"}'
    transport = httpx.HTTPTransport(local_address=ATTACK_ADDRESS)
    n = 0
    with httpx.Client(transport=transport, timeout=60) as client:
        while not stop.is_set():
            n += 1
            if rate > 0:
                time.sleep(1 / rate)
            try:
                client.post(
                    url + "/analyze",
                    content=body,
                    headers={
                        "Authorization": f"Bearer ms_madeup-{index}-{n}",
                        "Content-Type": "application/json",
                        "X-Forwarded-For": f"10.{index}.{n % 250}.1",
                    },
                )
            except httpx.TransportError:
                pass
            counts[index] = n


def _slow_connections(port: int, stop: Any, cpus: set[int] | None, n: int = 200) -> None:
    """Hold ``n`` connections that send half a header, a byte a second; reopen closed ones."""
    _pin(cpus)
    request = b"POST /analyze HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10_000

    def open_one() -> tuple[socket.socket, int] | None:
        try:
            sock = socket.socket()
            sock.bind((ATTACK_ADDRESS, 0))
            sock.settimeout(2)
            sock.connect(("127.0.0.1", port))
            sock.setblocking(False)
            return sock, 0
        except OSError:
            return None

    conns: list[tuple[socket.socket, int] | None] = [open_one() for _ in range(n)]
    while not stop.wait(1.0):
        for i, entry in enumerate(conns):
            if entry is None:
                conns[i] = open_one()
                continue
            sock, sent = entry
            readable, _, _ = select.select([sock], [], [], 0)
            closed = False
            if readable:
                try:
                    closed = sock.recv(4096) == b""
                except OSError:
                    closed = True
            if not closed:
                try:
                    sock.send(request[sent : sent + 1])
                    conns[i] = (sock, sent + 1)
                    continue
                except OSError:
                    closed = True
            sock.close()
            conns[i] = open_one()
    for entry in conns:
        if entry is not None:
            entry[0].close()


def _measure(client: httpx.Client, url: str, headers: dict[str, str], n: int) -> list[float]:
    motion = _motion()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.post(url + "/analyze", json={"motion_data": motion}, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"the user's request failed: {response.status_code}")
    return times


def run_version(
    label: str, src: Path, log_dir: Path, rate: float = 0.0, pin: bool = False
) -> dict[str, Any]:
    """Serve ``src`` and measure it idle and under attack (with ``pin``, the server and the
    user on CPU 0, the attackers on CPU 1, as if they were other machines)."""
    server_cpus = {0} if pin else None
    attack_cpus = {1} if pin else None
    _pin(server_cpus)  # the user's client shares the server's CPU
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "DATABASE_URL": f"sqlite:///{log_dir / f'{label}.db'}",
        "MINDSYNC_ADMIN_TOKEN": ADMIN,
        "MINDSYNC_ANALYSIS_PROCESSES": "1",
        "MINDSYNC_RATE_LIMIT_PER_MINUTE": "100000",
    }
    log = (log_dir / f"{label}.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "mindsync", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=log_dir,
        preexec_fn=(lambda: _pin(server_cpus)) if pin else None,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"{label}: the server did not start; see {log.name}")
            time.sleep(0.3)
        admin = {"Authorization": f"Bearer {ADMIN}"}
        with httpx.Client(timeout=120) as client:
            token = client.post(url + "/users", json={"name": "bench"}, headers=admin)
            headers = {"Authorization": f"Bearer {token.json()['token']}"}
            consent = {"face_enabled": True, "audio_enabled": True, "motion_enabled": True}
            client.post(
                url + "/preferences",
                json={"user_id": token.json()["user_id"], **consent},
                headers=headers,
            )  # consent is off by default since issue 16
            _measure(client, url, headers, 5)  # warm-up
            time.sleep(1)
            idle_rss = _rss_mb(server.pid)
            idle = _measure(client, url, headers, 40)

            stop_mp = multiprocessing.Event()
            counts = multiprocessing.Array("i", 4)
            attackers = [
                multiprocessing.Process(
                    target=_attacker, args=(url, stop_mp, counts, i, rate, attack_cpus)
                )
                for i in range(4)
            ]
            slow = multiprocessing.Process(
                target=_slow_connections, args=(port, stop_mp, attack_cpus)
            )
            peak = [idle_rss]
            stop_sampling = threading.Event()

            def sample() -> None:
                while not stop_sampling.wait(0.2):
                    peak[0] = max(peak[0], _rss_mb(server.pid))

            sampler = threading.Thread(target=sample)
            sampler.start()
            slow.start()
            for a in attackers:
                a.start()
            time.sleep(5)  # let the attack settle in
            cpu_before, sent_before, t0 = _cpu_seconds(server.pid), sum(counts[:]), time.time()
            try:
                attacked = _measure(client, url, headers, 40)
                cpu = _cpu_seconds(server.pid) - cpu_before
                window = time.time() - t0
                hostile = sum(counts[:]) - sent_before
            finally:
                stop_mp.set()
                for a in attackers:
                    a.join(60)
                    if a.is_alive():
                        a.kill()
                slow.join(30)
                stop_sampling.set()
                sampler.join()
        return {
            "label": label,
            "idle_p50_ms": round(statistics.median(idle), 1),
            "idle_p95_ms": round(float(np.percentile(idle, 95)), 1),
            "attack_p50_ms": round(statistics.median(attacked), 1),
            "attack_p95_ms": round(float(np.percentile(attacked, 95)), 1),
            "slowdown_p50": round(statistics.median(attacked) / statistics.median(idle), 2),
            "idle_rss_mb": round(idle_rss),
            "attack_peak_rss_mb": round(peak[0]),
            "rss_growth_mb": round(peak[0] - idle_rss),
            "hostile_requests_sent": int(sum(counts[:])),
            "hostile_per_second": round(hostile / window, 1),
            "server_cpu_share": round(cpu / window, 2),
            "server_cpu_ms_per_hostile_request": round(1000 * cpu / max(hostile, 1), 1),
        }
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _archive(ref: str, into: Path) -> Path:
    """The ``src`` folder of ``ref``, unpacked into ``into`` (no git worktree is created)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def main() -> int:
    """Run the comparison and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-ref", default=None, help="default: merge base with main")
    parser.add_argument("--only", choices=["before", "after"], default=None)
    parser.add_argument(
        "--pin",
        action="store_true",
        help="server and user on CPU 0, attackers on CPU 1 (attackers on other machines)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="requests a second per attacker (default: as fast as the server answers)",
    )
    args = parser.parse_args()
    base_ref = (
        args.base_ref
        or subprocess.run(
            ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    results = []
    with tempfile.TemporaryDirectory(prefix="mindsync-hostile-") as tmp:
        work = Path(tmp)
        if args.only != "after":
            base_src = _archive(base_ref, work)
            before = run_version("before", base_src, work, args.rate, args.pin)
            results.append({**before, "ref": base_ref[:10]})
        if args.only != "before":
            after = run_version("after", ROOT / "src", work, args.rate, args.pin)
            results.append({**after, "ref": head})
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    suffix = (f"-rate{args.rate:g}" if args.rate else "") + ("-pinned" if args.pin else "")
    rate_arg = (f" --rate {args.rate:g}" if args.rate else "") + (" --pin" if args.pin else "")
    (out / f"hostile{suffix}.json").write_text(json.dumps(results, indent=2) + "\n")
    keys = [k for k in results[0] if k not in ("label",)]
    lines = [
        "# A real user's POST /analyze while 4 clients post 22 MB bodies with made-up tokens "
        "and 200 slow connections hang",
        "",
        "| | " + " | ".join(r["label"] for r in results) + " |",
        "|---|" + "---|" * len(results),
        *(f"| {k} | " + " | ".join(str(r[k]) for r in results) + " |" for k in keys),
        "",
        f"Command: `.venv/bin/python bench/bench_hostile.py{rate_arg}` "
        "(2 shared cores, attackers included; SQLite; one analysis process).",
    ]
    (out / f"hostile{suffix}.md").write_text("\n".join(lines) + "\n")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
