"""The voice analyser: audio payload -> speech features -> explainable stress estimate."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mindsync.analysis.base import Analyzer
from mindsync.analysis.errors import InputError, ModelLoadError, PayloadTooLarge
from mindsync.analysis.payload import decode_base64
from mindsync.analysis.voice.decode import FIELD, SAMPLE_RATE, DecodedAudio, decode_audio
from mindsync.analysis.voice.features import SpeechMeasures, measure
from mindsync.analysis.voice.incremental import window_cues, window_frames
from mindsync.analysis.voice.nonspeech import SoundCues, sound_cues, sound_cues_from_frames
from mindsync.analysis.voice.result import VoiceQuality, VoiceResult
from mindsync.analysis.voice.scoring import FeatureReference, reference_trust, score_stress
from mindsync.analysis.voice.vad import FRAME_LEN, speech_mask
from mindsync.analysis.voice.window import FRAME_HOP, FrameTrack, VoiceWindow
from mindsync.core.config import Settings

logger = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "voice"
REFERENCE_FILE = "population_reference.json"

MIN_DURATION_SECONDS = 0.5
SILENCE_PEAK = 1e-4  # -80 dBFS: digital silence or a muted microphone
MIN_SPEECH_SECONDS = 0.75
MIN_VOICED_SECONDS = 0.25
# Less speech than this is "no speech heard" rather than "too little speech".
NO_SPEECH_SECONDS = 0.2
NO_SIGNAL_MAX_QUALITY = 0.2
# Speech level (mean dBFS of speech frames) for the quality's level factor: full at
# LEVEL_FULL_DBFS (a close or well-gained microphone), half at -45 dBFS, floor at
# LEVEL_ZERO_DBFS, where typical laptop-microphone and room noise (-60 to -70 dBFS) leave
# about 10 dB of SNR and the weak parts of speech drown.
LEVEL_FULL_DBFS = -35.0
LEVEL_ZERO_DBFS = -55.0
# Confidence is capped by how well the reference can stand for this speaker: the shipped
# population is small and mixes speakers; a personal baseline grows more trusted with use.


def _ramp(value: float, lo: float, hi: float) -> float:
    """0 at ``lo``, 1 at ``hi``, linear between."""
    if hi == lo:
        return 1.0 if value >= hi else 0.0
    return min(1.0, max(0.0, (value - lo) / (hi - lo)))


def level_factor(m: SpeechMeasures) -> float:
    """0-1: how loud the speech was (1 from -35 dBFS, 0.5 at -45, 0 at -55 and below)."""
    level = m.features.get("loudness_dbfs")
    if level is None:
        return 0.0
    return round(_ramp(level, LEVEL_ZERO_DBFS, LEVEL_FULL_DBFS), 4)


def audio_quality(m: SpeechMeasures) -> float:
    """Combine SNR, clipping, speech amount, speech fraction and level into one 0-1 quality.

    A geometric mean, so that one bad factor pulls it down without zeroing it alone: quiet
    speech is analysed with a lower quality, not refused.
    """
    parts = [
        _ramp(m.snr_db if m.snr_db is not None else -10.0, 5.0, 25.0),
        1.0 - _ramp(m.clipping_fraction, 0.0, 0.05),
        _ramp(m.speech_seconds, 0.0, 3.0),
        _ramp(m.speech_fraction, 0.0, 0.3),
        level_factor(m),
    ]
    logs = [math.log(max(p, 0.01)) for p in parts]
    return round(math.exp(sum(logs) / len(logs)), 4)


@dataclass(frozen=True, slots=True)
class StreamAudio(DecodedAudio):
    """A live stream's window: :class:`DecodedAudio` plus the absolute index of its first
    sample and what earlier ticks measured (see ``voice/window.py``)."""

    origin: int = 0
    track: FrameTrack | None = None


class VoiceAnalyzer(Analyzer[DecodedAudio, VoiceResult]):
    """Decodes ``audio_data``, finds speech, measures it and scores vocal stress.

    Thread-safe: the only shared state is the immutable population reference.
    """

    modality = "voice"

    def __init__(self, settings: Settings, *, model_dir: Path | None = None) -> None:
        self._max_bytes = settings.audio_max_bytes
        self._max_seconds = settings.audio_max_seconds
        self._model_dir = model_dir or MODEL_DIR
        self._reference: FeatureReference | None = None

    @property
    def reference(self) -> FeatureReference:
        """The population reference; raises :class:`ModelLoadError` before :meth:`load`."""
        if self._reference is None:
            raise ModelLoadError("the voice analyser was used before load()")
        return self._reference

    def load(self) -> None:
        """Read the shipped population reference (JSON statistics, no weights)."""
        path = self._model_dir / REFERENCE_FILE
        try:
            ref = FeatureReference.load(path)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"voice reference {path.name} is missing or invalid") from exc
        if ref.source != "population" or not ref.stats:
            raise ModelLoadError(f"voice reference {path.name} holds no population statistics")
        self._reference = ref
        logger.info("voice population reference: %d recordings, %d features", ref.n, len(ref.stats))

    def warmup(self) -> None:
        """Run the whole pipeline once on a synthetic vowel (FFT plans, lazy imports)."""
        t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
        tone = 0.1 * np.sign(np.sin(2 * np.pi * 120 * t)) * np.hanning(t.size)
        self.analyze(DecodedAudio(tone.astype(np.float32), "synthetic", "none", SAMPLE_RATE, 1))
        # A live stream's first tick takes the incremental path: warm it too (two windows,
        # the second reusing the first's frames).
        pcm = np.round(np.tile(tone, 5) * 32767).astype(np.int16)
        first = self.analyze(self.decode(VoiceWindow(pcm[: 4 * SAMPLE_RATE], 0, "none")))
        self.analyze(self.decode(VoiceWindow(pcm[8000:], 8000, "none", first._stream_track)))

    def decode(self, raw: Any) -> DecodedAudio:
        """Base64 (or a ``data:audio/...;base64,`` URL) or bytes -> 16 kHz mono float32.

        413 past ``audio_max_bytes`` or ``audio_max_seconds``; 415 for formats other than
        WAV, MP3, OGG, WebM, MP4/AAC and FLAC; 422 for corrupt payloads.
        """
        if isinstance(raw, VoiceWindow):
            return self._stream_window(raw)
        if isinstance(raw, bytes | bytearray):
            if len(raw) > self._max_bytes:
                raise PayloadTooLarge(
                    f"{FIELD} is {len(raw)} bytes; the limit is {self._max_bytes} bytes",
                    field=FIELD,
                    limit=self._max_bytes,
                )
            data = bytes(raw)
        elif isinstance(raw, str):
            _, data = decode_base64(raw, field=FIELD, max_bytes=self._max_bytes)
        else:
            raise InputError(f"{FIELD} must be a base64 string", field=FIELD)
        return decode_audio(data, max_seconds=self._max_seconds)

    def _stream_window(self, window: VoiceWindow) -> StreamAudio:
        """A live stream's window (16 kHz mono int16, see ``voice/window.py``), converted as
        WAV decoding converts PCM16."""
        pcm = np.asarray(window.samples)
        if pcm.ndim != 1 or pcm.dtype != np.int16 or window.origin % FRAME_HOP:
            raise InputError(f"{FIELD}: a stream window must be 16 kHz mono int16", field=FIELD)
        samples = (pcm / 32768.0).astype(np.float32)
        if samples.shape[0] > self._max_seconds * SAMPLE_RATE:
            raise PayloadTooLarge(
                f"{FIELD} is longer than the limit of {self._max_seconds:g} seconds",
                field=FIELD,
                limit=self._max_seconds,
            )
        return StreamAudio(
            samples=samples,
            container="stream",
            codec=window.codec,
            source_rate=SAMPLE_RATE,
            source_channels=1,
            origin=window.origin,
            track=window.track,
        )

    def analyze(self, data: DecodedAudio) -> VoiceResult:
        """Measure the speech in ``data`` and score it against the population reference.

        Returns ``status="no_signal"`` (no estimate, low quality, a reason) for clips that
        are too short, silent, or hold too little voiced speech (noise, music without voice).
        """
        return self.analyze_with(data, self.reference)

    def analyze_with(self, data: DecodedAudio, reference: FeatureReference) -> VoiceResult:
        """Like :meth:`analyze`, against a given reference (e.g. a user's own baseline)."""
        x = data.samples
        duration = data.duration_seconds
        peak = float(np.abs(x).max()) if x.size else 0.0
        if peak >= SILENCE_PEAK:
            vad = speech_mask(x)
        else:
            vad = np.zeros(x.shape[0] // FRAME_LEN, dtype=bool)
        track: FrameTrack | None = None
        if isinstance(data, StreamAudio):
            # Only the frames the stream has not measured yet are measured (incremental.py).
            frames, track = window_frames(x, data.origin, data.track)
            m = measure(x, vad, frames=frames, pulse_cache=track.pulses, origin=data.origin)
            cue_frames = window_cues(x, data.origin, data.track)
            track.cues = (data.origin, cue_frames)
            cues = sound_cues_from_frames(cue_frames) if peak >= SILENCE_PEAK else None
        else:
            m = measure(x, vad)
            cues = sound_cues(x) if peak >= SILENCE_PEAK else None
        result = self._result(data, reference, duration, peak, m, cues)
        result._stream_track = track
        return result

    def _result(
        self,
        data: DecodedAudio,
        reference: FeatureReference,
        duration: float,
        peak: float,
        m: SpeechMeasures,
        cues: SoundCues | None,
    ) -> VoiceResult:
        quality = audio_quality(m)
        level = m.features.get("loudness_dbfs")
        qual = VoiceQuality(
            snr_db=None if m.snr_db is None else round(m.snr_db, 2),
            clipping_fraction=round(m.clipping_fraction, 6),
            speech_fraction=round(m.speech_fraction, 4),
            speech_seconds=round(m.speech_seconds, 3),
            duration_seconds=round(duration, 3),
            speech_level_dbfs=None if level is None else round(level, 2),
            level_factor=level_factor(m),
        )
        common: dict[str, Any] = {
            "speech_seconds": qual.speech_seconds,
            "voiced_seconds": round(m.voiced_seconds, 3),
            "speech_fraction": qual.speech_fraction,
            "duration_seconds": qual.duration_seconds,
            "audio_quality": qual,
            "codec": data.codec,
        }
        refusal = self._no_signal_reason(duration, peak, m, cues)
        if refusal is None:
            estimate = score_stress(m.features, reference)
            if estimate.level is None:
                refusal = (
                    "too_few_features",
                    "too few voice features could be measured in this recording",
                )
        if refusal is not None:
            code, reason = refusal
            return VoiceResult(
                status="no_signal",
                reason=reason,
                reason_code=code,
                quality=min(quality, NO_SIGNAL_MAX_QUALITY),
                confidence=None,
                features=None,
                **common,
            )
        confidence = quality * estimate.coverage * reference_trust(reference)
        return VoiceResult(
            status="ok",
            quality=quality,
            confidence=round(min(1.0, confidence), 4),
            stress_level=round(float(estimate.level), 4),  # type: ignore[arg-type]
            reference=estimate.reference,
            drivers=estimate.drivers,
            features={k: round(v, 4) for k, v in m.features.items()},
            f0_mean_hz=None if m.f0_mean_hz is None else round(m.f0_mean_hz, 2),
            **common,
        )

    @staticmethod
    def _no_signal_reason(
        duration: float, peak: float, m: SpeechMeasures, cues: SoundCues | None
    ) -> tuple[str, str] | None:
        """``(reason_code, reason)`` when the clip holds no analysable speech, else ``None``.

        Codes (documented in docs/models/voice.md): ``too_short``, ``silent``,
        ``not_speech_tone``, ``not_speech_music``, ``no_speech``.
        """
        if duration < MIN_DURATION_SECONDS:
            return (
                "too_short",
                f"the recording is {duration:.2f} s long; at least {MIN_DURATION_SECONDS} s needed",
            )
        if peak < SILENCE_PEAK or cues is None:
            return "silent", "the recording is silent"
        kind = cues.kind()
        if kind == "tone":
            where = f" near {cues.tone_hz:.0f} Hz" if cues.tone_hz else ""
            return (
                "not_speech_tone",
                f"no speech: the sound is a steady tone, beep or hum{where}",
            )
        if kind == "music":
            return (
                "not_speech_music",
                "no speech: the sound is music or another non-speech sound with a steady beat",
            )
        if m.speech_seconds < NO_SPEECH_SECONDS:
            return "no_speech", "no speech was heard in the recording"
        if m.speech_seconds < MIN_SPEECH_SECONDS:
            return (
                "too_short",
                f"only {m.speech_seconds:.2f} s of speech was detected; "
                f"at least {MIN_SPEECH_SECONDS} s is needed",
            )
        if m.voiced_seconds < MIN_VOICED_SECONDS:
            return "no_speech", "no voiced speech was found (noise or unvoiced sound only)"
        return None

    def describe(self) -> dict[str, Any]:
        """Analyser name, pipeline and reference facts for ``/health``."""
        ref = self._reference
        return {
            "analyzer": type(self).__name__,
            "pipeline": "PyAV decode -> tone/music check -> level-normalised WebRTC VAD -> "
            "YIN f0 + prosody/voice-quality features",
            "reference": None
            if ref is None
            else {"source": ref.source, "n": ref.n, "features": len(ref.stats)},
        }


def create_analyzer(settings: Settings) -> VoiceAnalyzer:
    """Construct the voice analyser (cheap; call ``load()`` before use)."""
    return VoiceAnalyzer(settings)
