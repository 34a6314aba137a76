"""Sliding windows, smoothing and aggregation for real-time streams (no I/O, no framework).

A stream receives face frames, audio chunks and motion samples faster or slower than it is
analysed. :class:`StreamBuffers` keeps only what the next analysis needs: the newest face
frame (older unanalysed frames are dropped and counted), the last seconds of audio and of
motion. :class:`Smoother` damps frame-to-frame jitter of the fused scores and
:class:`StreamAggregate` keeps the running means that a finished stream stores.
"""

from __future__ import annotations

import base64
import io
import threading
import wave
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mindsync.analysis.base import Modality
from mindsync.analysis.errors import InputError, PayloadTooLarge
from mindsync.analysis.motion.recording import MotionRecording
from mindsync.analysis.voice.window import CUE_ALIGN, FrameTrack, VoiceWindow

PCM_RATE = 16_000


def pcm16_to_wav(pcm: bytes, rate: int = PCM_RATE) -> bytes:
    """Mono 16-bit little-endian PCM wrapped in a WAV container."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return out.getvalue()


def float_to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] as int16 (rounded; the ring and the pipe carry half the bytes)."""
    pcm: np.ndarray = np.round(np.clip(samples, -1.0, 32767 / 32768) * 32768.0).astype(np.int16)
    return pcm


@dataclass
class StreamBuffers:
    """What has arrived and not yet been analysed, per modality. Thread-safe.

    Audio (PCM16, or WebM/Opus decoded and stored as 16-bit) goes into one 16 kHz int16 ring,
    of which each tick analyses
    the last ``audio_window_s`` seconds (starting on a 10 ms frame of the stream), together
    with ``voice_track``: what earlier ticks already measured (see voice/window.py). The
    tick's caller stores the track the analysis returns with :meth:`keep_voice_track`.
    """

    audio_window_s: float = 4.0
    motion_window_s: float = 10.0
    max_frame_bytes: int = 8 * 1024 * 1024
    face_frame: tuple[float, bytes] | None = None
    face_received: int = 0
    face_dropped: int = 0
    audio_chunks: deque[np.ndarray] = field(default_factory=deque)  # int16
    audio_held: int = 0  # samples in audio_chunks
    audio_total: int = 0  # samples received since the stream started
    audio_codec: str = "pcm_s16le"
    audio_new: bool = False
    audio_last_ts: float | None = None
    voice_track: FrameTrack | None = None
    webm: Any = None  # a voice.webm_stream.WebmOpusStream once the first WebM chunk arrived
    motion: deque[np.ndarray] = field(default_factory=deque)  # (n, 7) float64 blocks
    motion_new: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_face(self, ts: float, jpeg: bytes) -> None:
        """Keep ``jpeg`` as the newest frame; an unanalysed older frame is dropped."""
        if len(jpeg) > self.max_frame_bytes:
            raise PayloadTooLarge(
                f"face frame is {len(jpeg)} bytes; the limit is {self.max_frame_bytes}",
                field="face_frame",
                limit=self.max_frame_bytes,
            )
        with self._lock:
            self.face_received += 1
            if self.face_frame is not None:
                self.face_dropped += 1
            self.face_frame = (ts, jpeg)

    def add_pcm(self, ts: float, pcm: bytes) -> None:
        """Append 16 kHz mono PCM16; keep the last ``audio_window_s`` seconds."""
        if len(pcm) % 2:
            raise InputError("PCM16 audio chunks must have an even number of bytes", field="audio")
        self._add_audio(ts, np.frombuffer(pcm, dtype="<i2").astype(np.int16), "pcm_s16le")

    def add_webm(self, ts: float, chunk: bytes) -> None:
        """Decode the next MediaRecorder WebM/Opus chunk (the first holds the header) with
        the stream's long-lived decoder and append its audio. Costs the chunk's own audio only
        (about 2 ms per second of audio): call it off the event loop."""
        # PyAV (no scipy) loads with the first stream that may send audio: see
        # load_webm_decoder. A server that never streams audio never imports a decoder.
        from mindsync.analysis.voice.webm_stream import WebmOpusStream

        with self._lock:
            if self.webm is None:
                self.webm = WebmOpusStream()
            decoder = self.webm
        samples = decoder.feed(chunk)
        self._add_audio(ts, float_to_pcm16(samples), "opus")

    def _add_audio(self, ts: float, samples: np.ndarray, codec: str) -> None:
        keep = int(self.audio_window_s * PCM_RATE) + CUE_ALIGN
        with self._lock:
            if samples.size:
                self.audio_chunks.append(samples)
                self.audio_held += samples.shape[0]
                self.audio_total += samples.shape[0]
                while self.audio_held - self.audio_chunks[0].shape[0] >= keep:
                    self.audio_held -= self.audio_chunks.popleft().shape[0]
            self.audio_codec = codec
            self.audio_new = True
            self.audio_last_ts = ts

    def audio_window(self) -> VoiceWindow | None:
        """At least the last ``audio_window_s`` seconds (up to 160 ms more: the window starts
        where the stream's analysis frames line up, a multiple of ``CUE_ALIGN`` samples), with
        the stream's voice track; None before any audio. The caller holds the lock."""
        if not self.audio_held:
            return None
        held = np.concatenate(self.audio_chunks) if len(self.audio_chunks) > 1 else None
        if held is None:
            held = self.audio_chunks[0]
        held_origin = self.audio_total - self.audio_held
        wanted = int(self.audio_window_s * PCM_RATE)
        origin = max(0, self.audio_total - wanted) // CUE_ALIGN * CUE_ALIGN
        if origin < held_origin:  # only while the stream is younger than the window
            origin = -(-held_origin // CUE_ALIGN) * CUE_ALIGN
        samples = held[origin - held_origin :]
        # One array from now on, starting at the window: the next join copies less.
        self.audio_chunks.clear()
        self.audio_chunks.append(samples)
        self.audio_held = samples.shape[0]
        return VoiceWindow(
            samples=samples, origin=origin, codec=self.audio_codec, track=self.voice_track
        )

    def keep_voice_track(self, track: FrameTrack | None) -> None:
        """Keep what the last voice analysis measured, for the next tick to reuse."""
        if track is not None:
            with self._lock:
                self.voice_track = track

    def add_motion(self, rows: np.ndarray) -> None:
        """Append samples (N, 7): t, ax, ay, az, gx, gy, gz (gyro NaN when absent); keep
        those within ``motion_window_s`` of the newest."""
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
        with self._lock:
            if rows.shape[0]:
                self.motion.append(rows)
            if not self.motion:
                return
            oldest = self.motion[-1][-1, 0] - self.motion_window_s
            while self.motion and self.motion[0][-1, 0] < oldest:
                self.motion.popleft()  # whole blocks first, then the rows of the first
            if self.motion and self.motion[0][0, 0] < oldest:
                self.motion[0] = self.motion[0][self.motion[0][:, 0] >= oldest]
            self.motion_new = True

    def take(self) -> tuple[dict[Modality, Any], dict[Modality, float]]:
        """The inputs of the next analysis and the newest client timestamp of each.

        A face frame is taken once; audio and motion are sliding windows, analysed again
        only when something new arrived (else the last result stands).
        """
        inputs: dict[Modality, Any] = {}
        stamps: dict[Modality, float] = {}
        with self._lock:
            if self.face_frame is not None:
                ts, jpeg = self.face_frame
                self.face_frame = None
                inputs["face"] = base64.b64encode(jpeg).decode()
                stamps["face"] = ts
            if self.audio_new:
                self.audio_new = False
                window = self.audio_window()
                if window is not None:
                    inputs["voice"] = window
                    stamps["voice"] = self.audio_last_ts or 0.0
            held = sum(block.shape[0] for block in self.motion)
            if self.motion_new and held >= 2:
                self.motion_new = False
                rows = np.concatenate(self.motion) if len(self.motion) > 1 else self.motion[0]
                self.motion.clear()
                self.motion.append(rows)
                gyro = rows[:, 4:7]
                inputs["motion"] = MotionRecording(
                    timestamps=rows[:, 0],
                    acceleration=rows[:, 1:4],
                    gyroscope=None if np.isnan(gyro).any() else gyro,
                )
                stamps["motion"] = float(rows[-1, 0])
        return inputs, stamps


#: Null-score reasons that say the score does not apply now (not that a frame was missed):
#: the smoothed value is dropped with them, so a walking user never sees a stale attention.
NOT_APPLICABLE_CODES = frozenset({"not_applicable_moving"})


@dataclass
class Smoother:
    """Exponential smoothing of each fused score.

    A ``None`` from a passing dropout keeps the last value; a ``None`` whose reason says the
    score does not apply (:data:`NOT_APPLICABLE_CODES`) clears it, and smoothing starts again
    from the next value.
    """

    alpha: float = 0.4
    values: dict[str, float] = field(default_factory=dict)

    def update(
        self, name: str, value: float | None, reason_code: str | None = None
    ) -> float | None:
        """The smoothed value after ``value`` (the last one, or ``None``, when it is ``None``)."""
        if value is None:
            if reason_code in NOT_APPLICABLE_CODES:
                self.values.pop(name, None)
                return None
            return self.values.get(name)
        previous = self.values.get(name)
        smoothed = value if previous is None else previous + self.alpha * (value - previous)
        self.values[name] = smoothed
        return round(smoothed, 4)


@dataclass
class StreamAggregate:
    """Running means of what a stream's results said, for the one session it stores."""

    results: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    emotions: dict[str, float] = field(default_factory=dict)
    emotion_frames: int = 0
    last: dict[str, Any] = field(default_factory=dict)

    def add(self, scores: dict[str, float | None], emotions: dict[str, float] | None) -> None:
        """Fold one result in."""
        self.results += 1
        for name, value in scores.items():
            if value is not None:
                self.sums[name] = self.sums.get(name, 0.0) + value
                self.counts[name] = self.counts.get(name, 0) + 1
        if emotions:
            self.emotion_frames += 1
            for label, p in emotions.items():
                self.emotions[label] = self.emotions.get(label, 0.0) + p

    def mean(self, name: str) -> float | None:
        """Mean of one score over the results that had it."""
        n = self.counts.get(name, 0)
        return round(self.sums[name] / n, 4) if n else None

    def mean_emotions(self) -> dict[str, float] | None:
        """Mean expression probabilities over the frames with a face."""
        if not self.emotion_frames:
            return None
        return {k: round(v / self.emotion_frames, 4) for k, v in self.emotions.items()}


# Lip motion: the range of ``mouth_open`` over the last frames. Speech opens and closes the
# mouth several times a second (syllables at 4-5 Hz), so frames analysed every 0.5 s land on
# different mouth shapes. Measured (docs/models/face.md): over 2.5 s windows of a real
# speaking face sampled at 2 Hz ("carphone", 120 frames; 60 windows of 5 frames) the range
# is 0.2 or more in 90 % of windows (5th percentile 0.18). A still face perturbed as a
# webcam would (±3 px, ±3 % scale, noise, JPEG q80; 7 real faces, 12 frames each) varied by
# 0.00-0.06 on faces over 180 px and by up to 0.16 on smaller ones: between the two limits
# the lips are neither clearly moving nor clearly still.
LIP_MOTION_RANGE = 0.2
LIP_STILL_RANGE = 0.05
LIP_WINDOW_S = 2.5  # frames older than this (client time) are forgotten
LIP_MIN_FRAMES = 3
VOICE_FRESH_S = 5.0  # a voice verdict older than this no longer says what is heard now
# When speech explains the mouth, an open-mouth expression class (angry, fear, surprise) is
# read with half the confidence the single frame gave it (the frame's own mouth discount
# stays; this is for the frames where the speaking mouth happened to be closed too).
SPEAKING_CONFIDENCE = 0.5
OPEN_MOUTH_CLASSES = frozenset({"angry", "fear", "surprise"})
# Voice reason codes (docs/models/voice.md) that mean "no speech is heard".
NO_SPEECH_CODES = frozenset({"silent", "no_speech", "not_speech_tone", "not_speech_music"})


@dataclass
class SpeakingTracker:
    """Decides, across a stream's frames, whether the face is speaking.

    A face is speaking when its lips move (``mouth_open`` varies by at least
    ``LIP_MOTION_RANGE`` over the last ``LIP_WINDOW_S`` seconds, ≥ ``LIP_MIN_FRAMES`` frames)
    while the voice modality hears speech (its latest result, at most ``VOICE_FRESH_S`` old,
    has status "ok"). ``speaking`` is False when the lips are still (vary by at most
    ``LIP_STILL_RANGE``) or the voice hears no speech (a ``NO_SPEECH_CODES`` reason), and
    None while either is unknown.
    """

    mouth: deque[tuple[float, float]] = field(default_factory=deque)
    voice_speech: bool | None = None
    voice_at: float | None = None

    def apply(
        self, results: dict[Modality, Any], stamps: dict[Modality, float]
    ) -> dict[Modality, Any]:
        """``results`` with the face result's ``speaking`` (and confidence) set.

        ``stamps``: client timestamps in milliseconds, as the stream receives them.
        """
        voice = results.get("voice")
        if voice is not None:
            if voice.status == "ok":
                self.voice_speech = True
            elif getattr(voice, "reason_code", None) in NO_SPEECH_CODES:
                self.voice_speech = False
            else:  # too short, too few features, unknown: the voice cannot tell
                self.voice_speech = None
            self.voice_at = stamps.get("voice", 0.0) / 1000.0
        face = results.get("face")
        if face is None or getattr(face, "mouth_open", None) is None:
            return results
        now = stamps.get("face", 0.0) / 1000.0
        self.mouth.append((now, float(face.mouth_open)))
        while self.mouth and (self.mouth[0][0] < now - LIP_WINDOW_S or self.mouth[0][0] > now):
            self.mouth.popleft()
        speaking = self._speaking(now)
        update: dict[str, Any] = {"speaking": speaking}
        if speaking and face.confidence is not None and face.dominant_emotion in OPEN_MOUTH_CLASSES:
            update["confidence"] = round(face.confidence * SPEAKING_CONFIDENCE, 4)
        return {**results, "face": face.model_copy(update=update)}

    def _speaking(self, now: float) -> bool | None:
        values = [m for _, m in self.mouth]
        moving: bool | None = None
        if len(values) >= LIP_MIN_FRAMES:
            spread = max(values) - min(values)
            if spread >= LIP_MOTION_RANGE:
                moving = True
            elif spread <= LIP_STILL_RANGE:
                moving = False
        hears: bool | None = self.voice_speech
        if self.voice_at is not None and abs(now - self.voice_at) > VOICE_FRESH_S:
            hears = None
        if moving is False or hears is False:
            return False
        if moving and hears:
            return True
        return None


def load_webm_decoder() -> None:
    """Import the WebM/Opus stream decoder (PyAV, about 0.15 s) ahead of the first chunk.

    Called off the event loop when a stream that may send audio starts: imported on the
    first chunk instead, it held the GIL while that stream's first tick waited.
    """
    import mindsync.analysis.voice.webm_stream  # noqa: F401
