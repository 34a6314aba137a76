"""``WS /ws/analyze``: real-time analysis over sliding windows.

Protocol (see docs/api.md):

- The client's first text message is ``{"type": "start", "token": "...", "user_id": ...,
  "interval_ms": 500}`` (the token may instead come in an ``Authorization`` header).
- Binary messages carry data: 1 byte kind (1 = JPEG face frame, 2 = 16 kHz mono PCM16 audio,
  3 = MediaRecorder WebM/Opus chunk), 8 bytes big-endian float64 client timestamp (ms), then
  the payload. Motion comes as text: ``{"type": "motion", "timestamps": [...],
  "acceleration": {"x": [...], ...}, "gyroscope": {...}}``.
- Every ``interval_ms`` with new data the server sends ``{"type": "result", ...}`` with the
  same fields as ``POST /analyze`` (smoothed), the client timestamps it includes, and how many
  face frames it dropped because they came faster than they could be analysed.
- Only modalities the user consented to are analysed: ``ready`` lists them
  (``modalities_allowed``) and the others (``modalities_skipped``, reason ``no consent
  given``), whose data is dropped unread. With no consent at all the server sends an error
  with code ``consent_required`` and closes the connection (1008).
- ``{"type": "stop"}`` ends the stream; the server stores one session with the aggregate
  (under the user's preferences) and answers ``{"type": "stored", ...}``. An abrupt
  disconnect stores the same aggregate of what was already answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import time
import uuid
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from mindsync.analysis.base import MODALITIES, Modality, ModalityResult
from mindsync.analysis.errors import AnalysisError
from mindsync.analysis.fusion import fuse
from mindsync.analysis.fusion.baseline import baseline_signals
from mindsync.analysis.fusion.recommendations import recommend
from mindsync.analysis.orchestrator import Orchestrator
from mindsync.analysis.stream import (
    Smoother,
    SpeakingTracker,
    StreamAggregate,
    StreamBuffers,
    load_webm_decoder,
)
from mindsync.api import services
from mindsync.api.deps import Access, authenticate, bearer_token
from mindsync.api.errors import ApiError, ConsentRequired, NotFound
from mindsync.api.pending import PendingWork
from mindsync.api.schemas import AnalysisResponse, AssessmentRead, PreferencesRead
from mindsync.storage.repositories.tokens import hash_token
from mindsync.storage.threads import DatabaseThreads

logger = logging.getLogger(__name__)
router = APIRouter()

HEADER = struct.Struct(">Bd")
KIND_FACE, KIND_PCM, KIND_WEBM = 1, 2, 3
START_TIMEOUT_S = 10.0
MAX_TEXT_BYTES = 2 * 1024 * 1024
MAX_MOTION_ROWS = 20_000
PREF_FOR = {"face": "face_enabled", "voice": "audio_enabled", "motion": "motion_enabled"}


def _motion_rows(message: dict[str, Any]) -> np.ndarray:
    """(N, 7) rows t(s), ax, ay, az, gx, gy, gz from a motion message (gyro NaN if absent)."""
    try:
        t = np.asarray(message["timestamps"], dtype=np.float64)
        acc = message["acceleration"]
        columns = [t, *(np.asarray(acc[k], dtype=np.float64) for k in "xyz")]
        gyro = message.get("gyroscope")
        if gyro:
            columns += [np.asarray(gyro[k], dtype=np.float64) for k in "xyz"]
        else:
            columns += [np.full(t.shape, np.nan)] * 3
        rows = np.column_stack(columns)
    except (KeyError, TypeError, ValueError):
        raise ApiError(
            "motion needs timestamps and acceleration {x, y, z} arrays of one length",
            field="motion",
        ) from None
    if rows.shape[0] > MAX_MOTION_ROWS:
        raise ApiError(f"at most {MAX_MOTION_ROWS} motion samples a message", field="motion")
    if not np.isfinite(rows[:, :4]).all():
        raise ApiError("motion holds NaN or infinite values", field="motion")
    return rows


class StreamGate:
    """How many live streams' ticks of this server process analyse at once.

    A tick waits here before it takes its data, so that when the analysis processes are
    busy the streams queue first come, first served with no data in hand, and each result
    reports on the newest data. One semaphore per event loop (a server process has one; a
    test client runs each connection on a loop of its own).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._gates: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Semaphore]] = {}

    def __call__(self) -> asyncio.Semaphore:
        """The running loop's semaphore."""
        loop = asyncio.get_running_loop()
        entry = self._gates.get(id(loop))
        if entry is None or entry[0] is not loop:
            self._gates = {k: v for k, v in self._gates.items() if not v[0].is_closed()}
            entry = self._gates[id(loop)] = (loop, asyncio.Semaphore(self.capacity))
        return entry[1]


class StreamSession:
    """One connection's state: buffers, smoothing, aggregate, and what it may store."""

    def __init__(self, websocket: WebSocket, access: Access, start: dict[str, Any]) -> None:
        app = websocket.app
        self.ws = websocket
        self.settings = app.state.settings
        self.factory = app.state.session_factory
        self.orchestrator: Orchestrator = app.state.orchestrator
        self.rules = app.state.rules
        self.clock = app.state.clock
        self.user_id, self.may_store = access.analysis_subject(start.get("user_id"))
        self.owner_must_exist = access.kind == "user"
        interval = start.get("interval_ms", 500)
        if not isinstance(interval, int | float) or not 100 <= interval <= 10_000:
            raise ApiError("interval_ms must be between 100 and 10000", field="interval_ms")
        self.interval = float(interval) / 1000
        self.session_id = str(uuid.uuid4())
        self.buffers = StreamBuffers(max_frame_bytes=self.settings.face_max_bytes)
        self.smoother = Smoother()
        self.aggregate = StreamAggregate()
        self.speaking = SpeakingTracker()
        self.last_results: dict[Modality, ModalityResult] = {}
        self.prefs: PreferencesRead | None = None
        self.seq = 0
        # Shared by every stream of this server process (see tick_loop).
        self.gate: asyncio.Semaphore = app.state.stream_gate()
        self.started = self.clock()
        self.closed = asyncio.Event()
        self.send_lock = asyncio.Lock()
        # The hash of a user's token: checked every tick, so that a rotation or revocation
        # anywhere ends the stream within a tick and a poll (administrator tokens live in the
        # configuration and end with it).
        self.token_hash: str | None = None
        self.revoked = False

    async def send(self, message: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.ws.send_text(orjson.dumps(message, default=str).decode())

    def allowed(self, modality: str) -> bool:
        return self.prefs is None or bool(getattr(self.prefs, PREF_FOR[modality]))

    async def receive_loop(self) -> None:
        """Put every message in the buffers (cheap); never waits for analysis."""
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                if message.get("bytes") is not None:
                    await self._on_binary(message["bytes"])
                elif message.get("text") is not None:
                    if await self._on_text(message["text"]):
                        return
            except (ApiError, AnalysisError) as exc:
                await self.send(
                    {"type": "error", "code": exc.code, "message": exc.message, "field": exc.field}
                )

    async def _on_binary(self, data: bytes) -> None:
        if len(data) <= HEADER.size:
            raise ApiError("binary messages need a 9-byte header and a payload", field="binary")
        kind, ts = HEADER.unpack_from(data)
        payload = data[HEADER.size :]
        if kind == KIND_FACE:
            if self.allowed("face"):
                self.buffers.add_face(ts, payload)
        elif kind in (KIND_PCM, KIND_WEBM):
            if self.allowed("voice"):
                if kind == KIND_PCM:
                    self.buffers.add_pcm(ts, payload)
                else:
                    # Decoding the chunk's own audio (a few ms a second of audio) leaves the
                    # event loop; the stream's decoder keeps its state between chunks.
                    await run_in_threadpool(self.buffers.add_webm, ts, payload)
        else:
            raise ApiError(f"unknown binary kind {kind}; use 1, 2 or 3", field="binary")

    async def _on_text(self, text: str) -> bool:
        if len(text) > MAX_TEXT_BYTES:
            raise ApiError(f"text messages are limited to {MAX_TEXT_BYTES} bytes", field="text")
        try:
            message = json.loads(text)
        except ValueError:
            raise ApiError("text messages must be JSON", field="text") from None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "motion":
            if self.allowed("motion"):
                self.buffers.add_motion(_motion_rows(message))
            return False
        if kind == "stop":
            return True
        raise ApiError("expected a message of type motion or stop", field="type")

    async def token_still_valid(self) -> bool:
        """False once the stream's token is revoked, rotated, expired or its user erased."""
        if self.token_hash is None:
            return True
        cache = self.ws.app.state.token_cache
        try:
            return await cache.owner(self.token_hash, self.clock()) is not None
        except Exception:  # the database is down: keep streaming, check again next tick
            return True

    async def end_revoked(self) -> None:
        """Close with 1008 ``token_revoked``; nothing of this stream will be stored."""
        self.revoked = True
        self.may_store = False
        self.closed.set()
        with contextlib.suppress(Exception):
            await self.send(
                {
                    "type": "error",
                    "code": "token_revoked",
                    "message": "the token was revoked; nothing of this stream is stored",
                    "field": "token",
                }
            )
            await self.ws.close(code=1008, reason="token_revoked")

    async def tick_loop(self) -> None:
        """Analyse what arrived every interval; a slow analysis delays, never queues, ticks.

        When the analysis processes are busy, the ticks of every stream of this server
        process wait their turn at :attr:`gate` (first come, first served) and take their
        data only once through it: a result then reports on the newest data, not on data
        that aged while its tick waited behind the other streams' analyses.
        """
        while not self.closed.is_set():
            started = time.perf_counter()
            results: dict[Modality, ModalityResult] | None = None
            failure: AnalysisError | None = None
            revoked = False
            async with self.gate:
                if self.closed.is_set():
                    return
                if not await self.token_still_valid():
                    revoked = True
                else:
                    taken = time.perf_counter()
                    inputs, stamps = self.buffers.take()
                    if inputs:
                        try:
                            results = await self.orchestrator.run(inputs)
                            voice = results.get("voice")
                            if voice is not None:
                                # What the voice analysis measured, for the next tick to reuse.
                                self.buffers.keep_voice_track(getattr(voice, "_stream_track", None))
                                with contextlib.suppress(AttributeError, TypeError):
                                    voice._stream_track = None  # type: ignore[attr-defined]
                        except AnalysisError as exc:
                            failure = exc
            # Sending happens outside the gate: a slow client must not hold up other streams.
            if revoked:
                await self.end_revoked()
                return
            if failure is not None:
                await self.send(
                    {
                        "type": "error",
                        "code": failure.code,
                        "message": failure.message,
                        "field": failure.field,
                    }
                )
            elif results is not None:
                await self._publish(results, stamps, time.perf_counter() - taken)
            pause = max(self.interval - (time.perf_counter() - started), 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closed.wait(), pause)

    async def _publish(
        self, results: dict[Modality, ModalityResult], stamps: dict[Modality, float], took: float
    ) -> None:
        results = self.speaking.apply(results, stamps)
        self.last_results.update(results)
        merged = {m: self.last_results[m] for m in MODALITIES if m in self.last_results}
        assessment = fuse(merged)
        scores = {
            "stress_level": self.smoother.update(
                "stress", assessment.stress.value, assessment.stress.reason_code
            ),
            "attention_score": self.smoother.update(
                "attention", assessment.attention.value, assessment.attention.reason_code
            ),
            "overall_score": self.smoother.update(
                "overall", assessment.overall.value, assessment.overall.reason_code
            ),
            "quality_score": self.smoother.update("quality", assessment.quality_score),
        }
        emotion = assessment.emotion_analysis
        self.aggregate.add(scores, emotion.get("emotions") if emotion else None)
        self.seq += 1
        await self.send(
            {
                "type": "result",
                "seq": self.seq,
                "session_id": self.session_id,
                "included": stamps,
                "processing_ms": round(took * 1000, 2),
                **services.rounded(scores),
                "stress_confidence": assessment.stress.confidence,
                "attention_confidence": assessment.attention.confidence,
                "overall_confidence": assessment.overall.confidence,
                "emotion_analysis": services.rounded(emotion),
                "assessment": AssessmentRead.of(assessment).model_dump(mode="json"),
                "modalities": {
                    m: services.rounded(r.model_dump(mode="json")) for m, r in results.items()
                },
                "recommendations": [r.text for r in recommend(self.rules, assessment, merged)],
                "received": {"face": self.buffers.face_received},
                "dropped": {"face": self.buffers.face_dropped},
            }
        )

    def store(self) -> bool:
        """Store one session with the aggregate, if anything was answered and may be kept
        (never after the token was revoked)."""
        if self.aggregate.results == 0 or not self.may_store or self.revoked:
            return False
        if self.prefs is not None and not self.prefs.store_history:
            return False
        merged = {m: self.last_results[m] for m in MODALITIES if m in self.last_results}
        assessment = fuse(merged)
        emotions = self.aggregate.mean_emotions()
        emotion_analysis = None
        if emotions and assessment.emotion_analysis:
            dominant = max(emotions, key=emotions.__getitem__)
            emotion_analysis = {
                **assessment.emotion_analysis,
                "emotions": emotions,
                "dominant_emotion": dominant,
                "confidence": emotions[dominant],
            }
        now = self.clock()
        response = AnalysisResponse(
            session_id=self.session_id,
            user_id=self.user_id,
            timestamp=self.started,
            emotion_analysis=services.rounded(emotion_analysis),
            stress_level=self.aggregate.mean("stress_level"),
            attention_score=self.aggregate.mean("attention_score"),
            overall_score=self.aggregate.mean("overall_score"),
            quality_score=self.aggregate.mean("quality_score"),
            processing_time_ms=0.0,
            assessment=AssessmentRead.of(assessment),
            **services.modality_fields(merged),
            stored=True,
        )
        services.store_analysis(
            self.factory,
            response=response,
            results=merged,
            signals=baseline_signals(assessment, merged),
            duration_seconds=max(0.0, (now - self.started).total_seconds()),
            now=now,
            owner_must_exist=self.owner_must_exist,
            pseudonym_key=self.ws.app.state.settings.pseudonym_key,
        )
        return True


@router.websocket("/ws/analyze")
async def analyze_stream(websocket: WebSocket) -> None:
    """Real-time analysis; see the module docstring and docs/api.md for the protocol."""
    await websocket.accept()
    try:
        start = json.loads(await asyncio.wait_for(websocket.receive_text(), START_TIMEOUT_S))
        if not isinstance(start, dict) or start.get("type") != "start":
            raise ApiError('the first message must be {"type": "start", ...}', field="type")
        token = start.get("token")
        header = websocket.headers.get("authorization")
        access = await run_in_threadpool(
            authenticate, websocket.app, token if isinstance(token, str) else None, header
        )
        session = StreamSession(websocket, access, start)
        if access.kind == "user":
            raw = token if isinstance(token, str) else bearer_token(header)
            session.token_hash = hash_token(raw) if raw else None
        if session.user_id is not None:
            session.prefs = await run_in_threadpool(
                services.load_preferences,
                session.factory,
                user_id=session.user_id,
                settings=session.settings,
            )
            refused = [m for m in MODALITIES if not session.allowed(m)]
            if len(refused) == len(MODALITIES):
                raise services.consent_required_error(refused)
        if session.allowed("voice"):
            await run_in_threadpool(load_webm_decoder)
    except (TimeoutError, ValueError, WebSocketDisconnect) as exc:
        with contextlib.suppress(Exception):
            await websocket.close(
                code=1008, reason=f"no valid start message ({type(exc).__name__})"
            )
        return
    except ApiError as exc:
        error: dict[str, Any] = {
            "type": "error",
            "code": exc.code,
            "message": exc.message,
            "field": exc.field,
        }
        if isinstance(exc, ConsentRequired):
            error["modalities"] = exc.modalities
        with contextlib.suppress(Exception):
            await websocket.send_text(json.dumps(error))
            await websocket.close(code=1008, reason=exc.code)
        return

    await session.send(
        {
            "type": "ready",
            "session_id": session.session_id,
            "interval_ms": round(session.interval * 1000),
            "stored": session.may_store,
            # What this stream analyses; data of the other modalities is dropped unread.
            "modalities_allowed": [m for m in MODALITIES if session.allowed(m)],
            "modalities_skipped": [
                {"modality": m, "reason": services.NO_CONSENT}
                for m in MODALITIES
                if not session.allowed(m)
            ],
        }
    )
    ticker = asyncio.create_task(session.tick_loop())
    clean = False
    try:
        await session.receive_loop()
        clean = not session.revoked
    except WebSocketDisconnect:
        pass
    finally:
        session.closed.set()
        with contextlib.suppress(Exception):
            await ticker
        stored = False
        # Shielded, and known to the app: neither a cancelled connection nor a shutdown may
        # lose what was already answered (the lifespan waits for pending stores).
        pending: PendingWork = websocket.app.state.pending_stores
        threads: DatabaseThreads = websocket.app.state.db_threads
        store = asyncio.ensure_future(threads.write(pending.run, session.store))
        try:
            stored = await asyncio.shield(store)
        except asyncio.CancelledError:
            raise
        except NotFound:
            logger.info("the stream's user was erased meanwhile; nothing was stored")
        except Exception:
            logger.exception("storing the stream's session failed")
        if clean:
            with contextlib.suppress(Exception):
                await session.send(
                    {"type": "stored" if stored else "closed", "session_id": session.session_id}
                )
                await websocket.close()
