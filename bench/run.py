"""MindSync's benchmark harness: one command, every figure of the tables in docs/performance.md.

    .venv/bin/python bench/run.py            # full run, about 10 minutes on 2 cores
    .venv/bin/python bench/run.py --quick    # shorter phases, for a smoke test
    .venv/bin/python bench/run.py --baseline /tmp/main   # and an older tree, side by side

It measures, on real inputs that the tests also use (a photograph resized to a 640x480 JPEG,
5 s of recorded speech as a 16 kHz PCM WAV and encoded as WebM/Opus the way browsers record
it, 30 s of real smart-watch motion at 50 Hz):

1. per-modality latency in process (decode + analyse; p50/p95/p99);
2. end-to-end HTTP latency for one client against a real server started as in production
   (``mindsync migrate`` then ``gunicorn -c gunicorn.conf.py``: one server process and one
   analysis process per core; SQLite, or PostgreSQL with ``--postgres URL``);
3. throughput, latency and **CPU per request** (of the server process, of the analysis
   processes and, with ``--postgres``, of this machine's PostgreSQL processes, from /proc)
   at concurrency 1, 4, 16 and 64, for the full multimodal request,
   each modality alone (``full`` and ``voice`` with the WAV, ``full_webm`` and ``voice_webm``
   with WebM/Opus), and motion in **both** forms: the seed's list of sample objects
   (``motion_list``, what the seed documents) and the columnar one (``motion_columns``);
4. a **floor server** (``bench/floor_app.py``: FastAPI + orjson parse of the same list-form
   motion body + one SQLite insert, nothing else) under the same load in the same run:
   MindSync's throughput as a fraction of the floor's is the headline figure, since absolute
   figures move from run to run on a shared machine;
5. with ``--baseline DIR`` (a checkout of an older commit, e.g. ``git archive main | tar -x
   -C DIR``), that tree's server under the same load, phase by phase, in the same run;
6. the ratio of end-to-end latency to the sum of the fastest component times (what the web,
   JSON and database layers add), resident memory per process, and the time until /health
   is ready.

Results go to ``bench/results/latest.json`` and ``latest.md`` (``latest-postgres.*`` with
``--postgres``). The load generator runs on the same 2 cores as the server, so throughput is
a lower bound, and every figure here includes the load generator's share of the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import av
import httpx2 as httpx
import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_motion import build, load_recordings  # noqa: E402

from mindsync.analysis.motion import MotionRecording  # noqa: E402
from mindsync.analysis.orchestrator import analyze_one  # noqa: E402
from mindsync.analysis.registry import load_analyzers  # noqa: E402
from mindsync.core.config import Settings  # noqa: E402

DATA = ROOT / "tests" / "data"
RESULTS = ROOT / "bench" / "results"
CONCURRENCY = (1, 4, 16, 64)


# --------------------------------------------------------------------------- inputs
def face_jpeg() -> bytes:
    """A real photograph (matplotlib's Grace Hopper sample) as a 640x480 JPEG."""
    image = ImageOps.fit(Image.open(DATA / "face" / "grace_hopper.jpg").convert("RGB"), (640, 480))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def speech_wav(seconds: float = 5.0) -> bytes:
    """The first ``seconds`` of real recorded speech as a 16 kHz mono PCM16 WAV file."""
    with wave.open(str(DATA / "voice" / "librivox_0890.wav"), "rb") as source:
        params = source.getparams()
        frames = source.readframes(int(params.framerate * seconds))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as output:
        output.setparams(params)
        output.writeframes(frames)
    return buffer.getvalue()


def speech_webm(seconds: float = 5.0) -> bytes:
    """5 s of real recorded speech, encoded as WebM/Opus the way MediaRecorder sends it."""
    with av.open(str(DATA / "voice" / "librivox_0890.wav")) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        pcm = []
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                pcm.append(out.to_ndarray().reshape(-1))
    samples = np.concatenate(pcm)
    need = int(48000 * seconds)
    samples = np.tile(samples, need // samples.size + 1)[:need]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm") as output:
        stream = output.add_stream("libopus", rate=48000)
        stream.layout = "mono"
        for start in range(0, samples.size, 960):
            chunk = samples[start : start + 960].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = 48000
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return buffer.getvalue()


def motion_recording() -> MotionRecording:
    """30 s of real smart-watch motion at 50 Hz, in a random orientation with gravity."""
    return build(load_recordings(), 30, 50, True)


def motion_json(recording: MotionRecording) -> dict[str, Any]:
    """The columnar JSON form of a recording."""
    acc, gyro = recording.acceleration, recording.gyroscope
    out: dict[str, Any] = {
        "timestamps": recording.timestamps.round(4).tolist(),
        "acceleration": {k: acc[:, i].round(5).tolist() for i, k in enumerate("xyz")},
    }
    if gyro is not None:
        out["gyroscope"] = {k: gyro[:, i].round(5).tolist() for i, k in enumerate("xyz")}
    return out


def motion_samples_json(recording: MotionRecording) -> list[dict[str, Any]]:
    """The seed's list form of a recording: one ``{timestamp, acceleration, gyroscope}`` object
    per sample."""
    acc, gyro = recording.acceleration.round(5), recording.gyroscope
    rows = gyro.round(5) if gyro is not None else None
    out = []
    for i, t in enumerate(recording.timestamps.round(4).tolist()):
        sample: dict[str, Any] = {
            "timestamp": t,
            "acceleration": dict(zip("xyz", acc[i].tolist(), strict=True)),
        }
        if rows is not None:
            sample["gyroscope"] = dict(zip("xyz", rows[i].tolist(), strict=True))
        out.append(sample)
    return out


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 and mean of ``values`` (milliseconds), rounded."""
    array = np.asarray(values, dtype=float)
    return {
        "n": int(array.size),
        "p50_ms": round(float(np.percentile(array, 50)), 2),
        "p95_ms": round(float(np.percentile(array, 95)), 2),
        "p99_ms": round(float(np.percentile(array, 99)), 2),
        "mean_ms": round(float(array.mean()), 2),
    }


# --------------------------------------------------------------------------- in process
def in_process(inputs: dict[str, Any], runs: int) -> dict[str, dict[str, float]]:
    """Decode + analyse latency of each modality in this process, one thread."""
    registry = load_analyzers(Settings())
    out = {}
    for name, raw in inputs.items():
        modality = name.split("_")[0]  # voice_webm: the voice analyser
        for _ in range(10):
            analyze_one(registry, modality, raw)  # type: ignore[arg-type]
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            analyze_one(registry, modality, raw)  # type: ignore[arg-type]
            times.append((time.perf_counter() - started) * 1000)
        out[name] = percentiles(times)
    return out


# --------------------------------------------------------------------------- server
class Server:
    """``mindsync migrate`` then gunicorn with the production configuration."""

    def __init__(
        self,
        workers: int,
        folder: Path,
        *,
        processes: int,
        database_url: str | None = None,
        root: Path = ROOT,
    ) -> None:
        self.root = root
        self.port = 18000 + secrets.randbelow(2000)
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin = secrets.token_urlsafe(32)
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url or f"sqlite:///{folder / 'bench.db'}",
            "MINDSYNC_ANALYSIS_PROCESSES": str(processes),
            "MINDSYNC_ADMIN_TOKEN": self.admin,
            "MINDSYNC_RATE_LIMIT_PER_MINUTE": "0",
            "MINDSYNC_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(workers),
            "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
            "LOG_LEVEL": "WARNING",
        }
        if root != ROOT:  # another tree's code, with this environment's packages
            self.env["PYTHONPATH"] = str(root / "src")
        self.log = folder / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_seconds = 0.0

    def start(self) -> None:
        bin_dir = Path(sys.executable).parent
        subprocess.run(
            [str(bin_dir / "mindsync"), "migrate"], env=self.env, check=True, capture_output=True
        )
        started = time.monotonic()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(bin_dir / "gunicorn"), "-c", str(self.root / "gunicorn.conf.py")],
                env=self.env,
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready(started, limit_s=120, what="server")

    def _wait_ready(self, started: float, *, limit_s: float, what: str) -> None:
        """Poll ``/health`` until it answers 200 (``ready_seconds`` counts from ``started``)."""
        while time.monotonic() - started < limit_s:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    self.ready_seconds = time.monotonic() - started
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"{what} did not become ready: " + self.log.read_text()[-2000:])

    def rss_mb(self) -> dict[str, list[float]]:
        """Resident memory (MB) of each server process and each analysis process."""
        assert self.process is not None
        out: dict[str, list[float]] = {"server": [], "analysis": []}
        for pid in _descendants(self.process.pid):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if "resource_tracker" in cmdline:
                continue  # multiprocessing's bookkeeping process
            role = "analysis" if "multiprocessing" in cmdline else "server"
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out[role].append(round(int(line.split()[1]) / 1024, 1))
        return out

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system, s) used so far by the server processes and by the analysis
        processes (gunicorn's arbiter, which serves no request, is left out)."""
        assert self.process is not None
        out = {"server": 0.0, "analysis": 0.0}
        for pid in _descendants(self.process.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if b"resource_tracker" in cmdline:
                continue
            role = "analysis" if b"multiprocessing" in cmdline else "server"
            out[role] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return out

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)


class FloorServer(Server):
    """``bench/floor_app.py`` under gunicorn with uvicorn's worker: the floor to compare with."""

    def start(self) -> None:
        self.env["FLOOR_DB"] = str(self.log.parent / "floor.db")
        bin_dir = Path(sys.executable).parent
        started = time.monotonic()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(bin_dir / "gunicorn"),
                    "-k",
                    "uvicorn.workers.UvicornWorker",
                    "-w",
                    "1",
                    "-b",
                    f"127.0.0.1:{self.port}",
                    "--chdir",
                    str(ROOT / "bench"),
                    "floor_app:app",
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready(started, limit_s=60, what="floor server")


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = task / "children"
        for child in children.read_text().split() if children.exists() else []:
            out += [int(child), *_descendants(int(child))]
    return out


async def _load(
    url: str, token: str, body: bytes, concurrency: int, seconds: float
) -> dict[str, Any]:
    """Keep ``concurrency`` requests in flight for ``seconds``; latency and throughput."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60, headers=headers) as c:

        async def worker() -> None:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                try:
                    response = await c.post("/analyze", content=body)
                    status = str(response.status_code)
                except httpx.TransportError as exc:
                    status = type(exc).__name__
                if status == "200":
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors[status] = errors.get(status, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {
        "concurrency": concurrency,
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "errors": errors,
        **(percentiles(latencies) if latencies else {"n": 0}),
    }


class _Schema:
    """A fresh PostgreSQL schema for one benchmark run, dropped afterwards."""

    def __init__(self, base: str) -> None:
        import sqlalchemy as sa
        from sqlalchemy.engine import make_url

        self.name = f"mindsync_bench_{secrets.token_hex(4)}"
        self.admin = sa.create_engine(base)
        with self.admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{self.name}"'))
        self.url = (
            make_url(base)
            .update_query_dict({"options": f"-csearch_path={self.name}"})
            .render_as_string(hide_password=False)
        )

    def drop(self) -> None:
        import sqlalchemy as sa

        with self.admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{self.name}" CASCADE'))
        self.admin.dispose()


KINDS = ("full", "full_webm", "face", "voice", "voice_webm", "motion_list", "motion_columns")


def database_cpu_seconds() -> float:
    """CPU time (user + system, s) used so far by this machine's PostgreSQL server processes
    (``postgres`` in ``/proc``): what the database takes of the cores the benchmark shares.

    Backends that ended meanwhile count too: their time is in the postmaster's children's
    time (``cutime``/``cstime``) once it reaped them.
    """
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text.split(" (", 1)[1].rsplit(")", 1)
        if name == "postgres":
            fields = rest.split()
            total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def _cpu(server: Server) -> dict[str, float]:
    roles = server.cpu_seconds()
    if server.env["DATABASE_URL"].startswith("postgresql"):
        roles["database"] = database_cpu_seconds()
    return roles


def _per_request(row: dict[str, Any], before: dict[str, float], after: dict[str, float]) -> None:
    answered = max(row["n"], 1)
    for role in before:
        row[f"{role}_cpu_ms"] = round((after[role] - before[role]) * 1000 / answered, 2)


def _measured_load(
    server: Server, token: str, body: bytes, concurrency: int, seconds: float
) -> dict[str, Any]:
    """:func:`_load` plus the CPU the server's processes (and PostgreSQL's, when measured)
    spent per answered request (ms)."""
    before = _cpu(server)
    row = asyncio.run(_load(server.url, token, body, concurrency, seconds))
    _per_request(row, before, _cpu(server))
    return row


def _one_client(server: Server, token: str, body: bytes, runs: int) -> dict[str, Any]:
    """Sequential requests from one client: latency, and the server's CPU per request."""
    asyncio.run(_load(server.url, token, body, 1, 1.0))  # warm up
    times = []
    before = _cpu(server)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for _ in range(runs):
            started = time.perf_counter()
            response = client.post("/analyze", content=body, headers=headers)
            response.raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    row: dict[str, Any] = percentiles(times)
    _per_request(row, before, _cpu(server))
    return row


def _user_token(server: Server) -> str:
    """A user who consented to every modality (consent is off by default), and their token."""
    response = httpx.post(
        server.url + "/users",
        json={"name": "bench", "consent": ["face", "voice", "motion"]},
        headers={"Authorization": f"Bearer {server.admin}"},
    )
    response.raise_for_status()
    token: str = response.json()["token"]
    return token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short phases (smoke test)")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--processes", type=int, default=os.cpu_count() or 2, help="analysis processes"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run against this PostgreSQL database (in a fresh schema) instead of SQLite",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="also serve this source tree (an older commit) and measure it phase by phase",
    )
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help=f"requests to measure (of {', '.join(KINDS)})"
    )
    parser.add_argument(
        "--concurrency",
        default=",".join(map(str, CONCURRENCY)),
        help="concurrency levels, comma-separated",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    runs, e2e_runs, seconds = (30, 20, 2.0) if args.quick else (300, 200, 8.0)
    kinds = [k for k in args.kinds.split(",") if k]
    levels = [int(n) for n in args.concurrency.split(",") if n]

    face, wav, webm, motion = face_jpeg(), speech_wav(), speech_webm(), motion_recording()
    face_b64, wav_b64 = base64.b64encode(face).decode(), base64.b64encode(wav).decode()
    webm_b64 = base64.b64encode(webm).decode()
    component = in_process(
        {"face": face_b64, "voice": wav_b64, "voice_webm": webm_b64, "motion": motion}, runs
    )
    print("in process:", json.dumps(component))

    samples = motion_samples_json(motion)
    bodies = {
        "full": {"face_image": face_b64, "audio_data": wav_b64, "motion_data": samples},
        "full_webm": {"face_image": face_b64, "audio_data": webm_b64, "motion_data": samples},
        "face": {"face_image": face_b64},
        "voice": {"audio_data": wav_b64},
        "voice_webm": {"audio_data": webm_b64},
        "motion_list": {"motion_data": samples},
        "motion_columns": {"motion_data": motion_json(motion)},
    }
    encoded = {k: json.dumps(v).encode() for k, v in bodies.items()}
    schemas: list[_Schema] = []
    servers: dict[str, Server] = {}
    with tempfile.TemporaryDirectory(prefix="mindsync-bench-") as tmp:
        try:
            for name, root in (("mindsync", ROOT), ("baseline", args.baseline)):
                if root is None:
                    continue
                folder = Path(tmp) / name
                (folder / "metrics").mkdir(parents=True)
                schema = _Schema(args.postgres) if args.postgres else None
                schemas += [schema] if schema else []
                servers[name] = Server(
                    args.workers,
                    folder,
                    processes=args.processes,
                    database_url=schema.url if schema else None,
                    root=root.resolve(),
                )
                servers[name].start()
            (Path(tmp) / "floor").mkdir()
            floor = FloorServer(1, Path(tmp) / "floor", processes=0)
            floor.start()
            tokens = {name: _user_token(server) for name, server in servers.items()}
            e2e: dict[str, dict[str, Any]] = {name: {} for name in servers}
            for kind in kinds:
                for name, server in servers.items():
                    e2e[name][kind] = _one_client(server, tokens[name], encoded[kind], e2e_runs)
                    print(name, "one client", kind, json.dumps(e2e[name][kind]))
            load: dict[str, dict[str, list[dict[str, Any]]]] = {name: {} for name in servers}
            floor_rows: list[dict[str, Any]] = []
            asyncio.run(_load(floor.url, "", encoded["motion_list"], 1, 1.0))  # warm up
            for kind in kinds:
                for n in levels:
                    if kind == "motion_list":  # the floor, next to the request it is for
                        row = _measured_load(floor, "", encoded["motion_list"], n, seconds)
                        floor_rows.append(row)
                        print("floor", json.dumps(row))
                    for name, server in servers.items():
                        row = _measured_load(server, tokens[name], encoded[kind], n, seconds)
                        load[name].setdefault(kind, []).append(row)
                        print(name, kind, json.dumps(row))
            rss = servers["mindsync"].rss_mb()
        finally:
            for server in servers.values():
                server.stop()
            if "floor" in locals():
                floor.stop()
            for schema in schemas:
                schema.drop()

    fastest = sum(component[m]["p50_ms"] for m in ("face", "voice", "motion"))
    ratios: dict[str, dict[str, float]] = {}
    for name in servers:
        rows = load[name].get("motion_list", [])
        ratios[name] = {
            str(row["concurrency"]): round(
                row["requests_per_s"] / max(f["requests_per_s"], 1e-9), 3
            )
            for row, f in zip(rows, floor_rows, strict=False)
        }
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": _commit(ROOT),
        "baseline": str(args.baseline) if args.baseline else None,
        "inputs": {
            "face": f"640x480 JPEG, {len(face)} bytes",
            "voice": f"5 s 16 kHz PCM16 WAV, {len(wav)} bytes",
            "voice_webm": f"5 s WebM/Opus, {len(webm)} bytes",
            "motion": f"30 s at 50 Hz ({motion.timestamps.size} samples), acc + gyro",
            "motion_list_body_bytes": len(encoded["motion_list"]),
            "motion_columns_body_bytes": len(encoded["motion_columns"]),
            "full_body_bytes": len(encoded["full"]),
        },
        "in_process": component,
        "end_to_end_one_client": e2e["mindsync"],
        "overhead_ratio_full": (
            round(e2e["mindsync"]["full"]["p50_ms"] / fastest, 2) if "full" in kinds else None
        ),
        "load": load["mindsync"],
        "floor": floor_rows,
        "motion_list_over_floor": ratios["mindsync"],
        "baseline_results": (
            {
                "end_to_end_one_client": e2e["baseline"],
                "load": load["baseline"],
                "motion_list_over_floor": ratios["baseline"],
            }
            if "baseline" in servers
            else None
        ),
        "rss_mb": rss,
        "database": "PostgreSQL" if args.postgres else "SQLite",
        "analysis_processes": args.processes,
        "health_ready_seconds": round(servers["mindsync"].ready_seconds, 2),
        "workers": args.workers,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    name = "latest-postgres" if args.postgres else "latest"
    (args.out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"{name}.md").write_text(markdown(report))
    print(markdown(report))


def _commit(root: Path) -> str | None:
    """The checked-out commit of ``root`` (with ``+`` when the tree has changes)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+" if dirty else "")


def _load_rows(
    lines: list[str], label: str, load: dict[str, list[dict[str, Any]]], database: bool
) -> None:
    for kind, rows in load.items():
        for row in rows:
            lines.append(
                f"| {label}{kind} | {row['concurrency']} | {row['requests_per_s']} | "
                f"{row.get('p50_ms', '-')} | {row.get('p95_ms', '-')} | {row.get('p99_ms', '-')} "
                f"| {row['server_cpu_ms']} | {row['analysis_cpu_ms']} "
                + (f"| {row.get('database_cpu_ms', '-')} " if database else "")
                + f"| {sum(row['errors'].values())} |"
            )


def markdown(report: dict[str, Any]) -> str:
    """The tables of docs/performance.md."""
    lines = [
        f"Measured {report['date']} (commit {report['commit']}) on "
        f"{report['machine']['cpus']} cores, Python "
        f"{report['machine']['python']}, {report['workers']} gunicorn worker with "
        f"{report['analysis_processes']} analysis processes, {report['database']}; load "
        "generator on the same machine. Command: `.venv/bin/python bench/run.py"
        + (" --postgres URL" if report["database"] == "PostgreSQL" else "")
        + (" --baseline DIR" if report.get("baseline") else "")
        + "`"
        + (
            f"; rows marked *baseline* come from the tree in `{report['baseline']}`, served "
            "by its own server under the same load, phase by phase."
            if report.get("baseline")
            else "."
        ),
        "",
    ]
    ratios = report["motion_list_over_floor"]
    if ratios:
        lines.append(
            "**Motion in the seed's list form, throughput as a fraction of the floor server's** "
            "(FastAPI + orjson parse of the same body + one SQLite insert, same run): "
            + ", ".join(f"c={c}: **{r}**" for c, r in ratios.items())
        )
        base = report.get("baseline_results")
        if base and base["motion_list_over_floor"]:
            lines[-1] += (
                " (baseline "
                + ", ".join(f"c={c}: {r}" for c, r in base["motion_list_over_floor"].items())
                + ")"
            )
        lines.append("")
    lines += [
        "| in process (decode + analyse, one thread) | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|",
    ]
    for modality, row in report["in_process"].items():
        lines.append(f"| {modality} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} |")
    database = report["database"] == "PostgreSQL"
    db_head, db_rule = (" PostgreSQL CPU ms/req |", "---|") if database else ("", "")
    lines += [
        "",
        "| HTTP, one client | p50 ms | p95 ms | p99 ms | server CPU ms/req | analysis CPU ms/req |"
        + db_head,
        "|---|---|---|---|---|---|" + db_rule,
    ]
    sets = [("", report["end_to_end_one_client"])]
    if report.get("baseline_results"):
        sets.append(("baseline ", report["baseline_results"]["end_to_end_one_client"]))
    for label, table in sets:
        for kind, row in table.items():
            lines.append(
                f"| {label}{kind} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} "
                f"| {row['server_cpu_ms']} | {row['analysis_cpu_ms']} |"
                + (f" {row.get('database_cpu_ms', '-')} |" if database else "")
            )
    lines += [
        "",
        "| load | concurrency | req/s | p50 ms | p95 ms | p99 ms | server CPU ms/req "
        "| analysis CPU ms/req |" + db_head + " errors |",
        "|---|---|---|---|---|---|---|---|" + db_rule + "---|",
    ]
    _load_rows(lines, "", report["load"], database)
    if report["floor"]:
        _load_rows(lines, "floor ", {"motion_list": report["floor"]}, database)
    if report.get("baseline_results"):
        _load_rows(lines, "baseline ", report["baseline_results"]["load"], database)
    lines += [""]
    if report["overhead_ratio_full"] is not None:
        lines.append(
            f"- End-to-end p50 of the full request / sum of the in-process p50s: "
            f"**{report['overhead_ratio_full']}×**"
        )
    lines += [
        f"- Bodies: motion list form {report['inputs']['motion_list_body_bytes']:,} bytes, "
        f"columnar {report['inputs']['motion_columns_body_bytes']:,} bytes, full request "
        f"{report['inputs']['full_body_bytes']:,} bytes",
        f"- Resident memory after the run: server process {report['rss_mb']['server']} MB, "
        f"analysis processes {report['rss_mb']['analysis']} MB",
        f"- `/health` ready {report['health_ready_seconds']} s after gunicorn started",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
