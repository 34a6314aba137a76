"""The live stream, ``WS /ws/analyze``: binary frames (1 byte kind, big-endian float64
client timestamp in ms, payload), motion as JSON text, results as JSON text."""

from __future__ import annotations

import json
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from mindsync_client.encoding import encode_motion
from mindsync_client.errors import error_from

HEADER = struct.Struct(">Bd")
KIND_JPEG, KIND_PCM16, KIND_WEBM = 1, 2, 3


def frame(kind: int, payload: bytes, timestamp_ms: float | None = None) -> bytes:
    """One binary message: kind byte, big-endian float64 timestamp (ms), payload."""
    stamp = time.time() * 1000 if timestamp_ms is None else timestamp_ms
    return HEADER.pack(kind, stamp) + payload


class Stream:
    """One live analysis. Send data with ``send_*``; iterate for results; ``stop()`` ends it
    and the iteration then stops after the server's ``stored`` message (in ``stored``)."""

    def __init__(
        self, base_url: str, token: str | None, *, user_id: str | None, interval_ms: int
    ) -> None:
        self.url = base_url.replace("http", "ws", 1) + "/ws/analyze"
        self.start = {"type": "start", "token": token, "interval_ms": interval_ms}
        if user_id is not None:
            self.start["user_id"] = user_id
        self.ready: dict[str, Any] = {}
        self.stored: dict[str, Any] | None = None
        self.errors: list[dict[str, Any]] = []
        self._ws: ClientConnection | None = None

    async def __aenter__(self) -> Stream:
        self._ws = await connect(self.url, max_size=4 * 1024 * 1024)
        await self._ws.send(json.dumps(self.start))
        message = json.loads(await self._ws.recv())
        if message.get("type") != "ready":
            await self._ws.close()
            raise error_from(
                403 if message.get("code") == "consent_required" else 401,
                {"error": message},
                {},
            )
        self.ready = message
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()

    @property
    def ws(self) -> ClientConnection:
        """The open connection."""
        if self._ws is None:
            raise RuntimeError("use the stream as 'async with client.stream() as s'")
        return self._ws

    async def send_frame(self, jpeg: bytes, timestamp_ms: float | None = None) -> None:
        """A JPEG camera frame."""
        await self.ws.send(frame(KIND_JPEG, jpeg, timestamp_ms))

    async def send_pcm(self, pcm16: bytes, timestamp_ms: float | None = None) -> None:
        """16 kHz mono little-endian int16 audio samples (any chunk length)."""
        await self.ws.send(frame(KIND_PCM16, pcm16, timestamp_ms))

    async def send_webm(self, chunk: bytes, timestamp_ms: float | None = None) -> None:
        """A MediaRecorder WebM/Opus chunk (the first one carries the header)."""
        await self.ws.send(frame(KIND_WEBM, chunk, timestamp_ms))

    async def send_motion(self, motion: Any) -> None:
        """Motion samples in any form :func:`encode_motion` accepts (sent columnar)."""
        data = encode_motion(motion)
        if isinstance(data, list):  # the seed's objects: columnar on the stream
            data = encode_motion(
                [
                    (s["timestamp"], *(s["acceleration"][k] for k in "xyz"))
                    + tuple(s["gyroscope"][k] for k in "xyz" if s.get("gyroscope"))
                    for s in data
                ]
            )
        await self.ws.send(json.dumps({"type": "motion", **data}))

    async def stop(self) -> None:
        """Ask the server to store the session and end the stream."""
        await self.ws.send(json.dumps({"type": "stop"}))

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        async for raw in self.ws:
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "result":
                yield message
            elif kind == "stored":
                self.stored = message
                return
            elif kind == "error":
                self.errors.append(message)
