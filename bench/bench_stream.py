"""Real-time streaming benchmark for ``WS /ws/analyze``.

    .venv/bin/python bench/bench_stream.py [--seconds 15] [--max-connections 16]

Each simulated client sends what the web app sends: 10 face frames a second (a real
photograph as a 640x480 JPEG), 100 ms chunks of 16 kHz PCM16 speech, and 50 Hz motion every
500 ms. The latency of a result is the time from the arrival of the newest face frame it
includes (its client timestamp, same machine clock) to the result's arrival. The server runs
as in production (gunicorn.conf.py: one server process, one analysis process per core,
SQLite); the clients run on the same 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import struct
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import httpx2 as httpx  # noqa: E402
from run import Server, face_jpeg, percentiles  # noqa: E402

HEADER = struct.Struct(">Bd")


def speech_pcm() -> bytes:
    """Real recorded speech as 16 kHz mono PCM16 (the CMU ARCTIC clip the tests use)."""
    with wave.open(str(ROOT / "tests" / "data" / "voice" / "arctic_a0007.wav")) as wav:
        assert wav.getframerate() == 16_000 and wav.getsampwidth() == 2
        return wav.readframes(wav.getnframes())


async def client(url: str, token: str, seconds: float, frame: bytes, pcm: bytes) -> list[float]:
    """One streaming client; returns its result latencies in ms."""
    latencies: list[float] = []
    async with websockets.connect(url, max_size=2**24) as ws:
        await ws.send(json.dumps({"type": "start", "token": token, "interval_ms": 500}))
        json.loads(await ws.recv())
        stop = time.time() + seconds

        async def sender() -> None:
            tick = 0
            offset = 0
            while time.time() < stop:
                now_ms = time.time() * 1000
                await ws.send(HEADER.pack(1, now_ms) + frame)
                chunk = pcm[offset : offset + 3200]
                offset = (offset + 3200) % (len(pcm) - 3200)
                await ws.send(HEADER.pack(2, now_ms) + chunk)
                if tick % 5 == 0:
                    t = time.time() + np.arange(25) / 50
                    await ws.send(
                        json.dumps(
                            {
                                "type": "motion",
                                "timestamps": t.tolist(),
                                "acceleration": {
                                    "x": (0.2 * np.sin(t * 11)).tolist(),
                                    "y": [0.1] * 25,
                                    "z": (9.8 + 0.3 * np.sin(t * 7)).tolist(),
                                },
                            }
                        )
                    )
                tick += 1
                await asyncio.sleep(0.1)
            await ws.send(json.dumps({"type": "stop"}))

        async def receiver() -> None:
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "result" and "face" in message["included"]:
                    latencies.append(time.time() * 1000 - message["included"]["face"])
                if message["type"] in ("stored", "closed"):
                    return

        await asyncio.gather(sender(), receiver())
    return latencies


async def run_level(url: str, token: str, n: int, seconds: float, frame: bytes, pcm: bytes):
    results = await asyncio.gather(*(client(url, token, seconds, frame, pcm) for _ in range(n)))
    return [x for r in results for x in r]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--max-connections", type=int, default=16)
    args = parser.parse_args()
    frame, pcm = face_jpeg(), speech_pcm()
    with tempfile.TemporaryDirectory(prefix="mindsync-stream-") as tmp:
        folder = Path(tmp)
        (folder / "metrics").mkdir()
        server = Server(1, folder, processes=os.cpu_count() or 2)
        server.start()
        try:
            token = httpx.post(
                server.url + "/users",
                json={"name": "stream bench", "consent": ["face", "voice", "motion"]},
                headers={"Authorization": f"Bearer {server.admin}"},
            ).json()["token"]
            url = server.url.replace("http", "ws") + "/ws/analyze"
            levels = {}
            n = 1
            while n <= args.max_connections:
                latencies = asyncio.run(run_level(url, token, n, args.seconds, frame, pcm))
                levels[n] = percentiles(latencies) if latencies else {"n": 0}
                print(n, "connections:", json.dumps(levels[n]), flush=True)
                if not latencies or levels[n]["p95_ms"] > 500:
                    break
                n *= 2
        finally:
            server.stop()
    held = [k for k, v in levels.items() if v.get("p95_ms", 1e9) <= 500]
    report = {"levels": levels, "max_connections_p95_under_500ms": max(held) if held else 0}
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "stream.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
