"""The voice result types: light to import, so that a process which only receives results
(the API server, from its analysis processes) needs no decoder."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from mindsync.analysis.base import ModalityResult
from mindsync.analysis.voice.scoring import Driver


class VoiceQuality(BaseModel):
    """What the audio quality is made of. ``snr_db`` is ``None`` when no speech was found."""

    model_config = ConfigDict(extra="forbid")

    snr_db: float | None = Field(description="Speech-to-background power ratio, dB.")
    clipping_fraction: float = Field(ge=0.0, le=1.0, description="Samples at full scale.")
    speech_fraction: float = Field(ge=0.0, le=1.0, description="Share of the clip with speech.")
    speech_seconds: float = Field(ge=0.0, description="Seconds of speech found.")
    duration_seconds: float = Field(ge=0.0, description="Length of the clip, seconds.")
    speech_level_dbfs: float | None = Field(
        default=None, description="Mean level of the speech frames, dBFS; null without speech."
    )
    level_factor: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="How loud the speech was for analysis: 1 at -35 dBFS and above, 0.5 at "
        "-45 dBFS (quiet: analysed, with lower quality), near 0 at -55 dBFS.",
    )


class VoiceResult(ModalityResult):
    """Derived result of one voice clip; no audio, no transcript, nothing to re-identify."""

    stress_level: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Vocal arousal/stress, 0-1; null without speech."
    )
    reference: Literal["population", "personal"] | None = Field(
        default=None, description="What the features were compared with."
    )
    drivers: list[Driver] = Field(
        default_factory=list, description="The features that moved the estimate most."
    )
    features: dict[str, float] | None = Field(
        default=None, description="Acoustic features of the speech (see docs/models/voice.md)."
    )
    f0_mean_hz: float | None = Field(
        default=None,
        ge=0.0,
        description="Mean pitch of the voiced speech, Hz; null without voicing.",
    )
    speech_seconds: float = Field(ge=0.0, description="Seconds of speech found.")
    voiced_seconds: float = Field(ge=0.0, description="Seconds of voiced (pitched) speech.")
    speech_fraction: float = Field(
        ge=0.0, le=1.0, description="Share of the clip with speech, 0-1."
    )
    duration_seconds: float = Field(ge=0.0, description="Length of the clip, seconds.")
    audio_quality: VoiceQuality = Field(description="What the audio quality is made of.")
    codec: str | None = Field(default=None, description="Decoder that read the clip.")
    # A stream's updated FrameTrack (analysis/voice/window.py), carried back to the server
    # process with the result (pickled with it; never serialised to JSON).
    _stream_track: Any = PrivateAttr(default=None)
