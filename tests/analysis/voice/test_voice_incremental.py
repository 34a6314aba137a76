"""A live stream's voice tick reuses what earlier ticks measured and answers what analysing
its window from scratch answers (real speech, streamed as the web app streams it)."""

from __future__ import annotations

import numpy as np
import pytest

from mindsync.analysis.orchestrator import analyze_one
from mindsync.analysis.registry import AnalyzerRegistry
from mindsync.analysis.stream import StreamBuffers
from mindsync.analysis.voice.analyzer import VoiceAnalyzer
from mindsync.analysis.voice.decode import DecodedAudio
from mindsync.analysis.voice.incremental import CONTEXT_SAMPLES, window_cues, window_frames
from mindsync.analysis.voice.nonspeech import cue_frames, sound_cues, sound_cues_from_frames
from mindsync.analysis.voice.window import CUE_ALIGN, FRAME_HOP, FrameTrack, VoiceWindow
from mindsync.core.config import Settings
from tests.analysis.voice.voice_audio import load

# How far a streamed tick may differ from the same window analysed from scratch. Only the
# pitch features can move: the frames in the window's first 0.1 s, which the from-scratch run
# reads through a cold high-pass filter (voice/incremental.py). Measured on the clips below:
# at most 0.003 st (f0), 0.012 dB (HNR) and 0.0001 (stress); the bounds leave a margin.
PITCH_TOLERANCE = {"f0_mean_st": 0.02, "f0_sd_st": 0.02, "f0_range_st": 0.05, "hnr_db": 0.1}
STRESS_TOLERANCE = 0.005
EXACT = 1e-9  # every other feature and measure: the same arithmetic on the same samples

CHUNK_BYTES = 3200  # 100 ms of 16 kHz PCM16, as the web app sends it
TICK = 5  # chunks per 500 ms tick


@pytest.fixture(scope="module")
def voice() -> VoiceAnalyzer:
    analyzer = VoiceAnalyzer(Settings())
    analyzer.load()
    return analyzer


def _pcm16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def _stream(name: str, seconds: float = 9.0) -> np.ndarray:
    """Real speech long enough for the 4 s window to slide (the clip repeated)."""
    x = load(name)
    return np.tile(x, int(np.ceil(seconds * 16_000 / x.size)))[: int(seconds * 16_000)]


def _compare(streamed, scratch) -> None:
    assert streamed.status == scratch.status, (streamed.reason, scratch.reason)
    assert streamed.reason_code == scratch.reason_code
    assert abs(streamed.speech_seconds - scratch.speech_seconds) <= EXACT
    assert abs(streamed.quality - scratch.quality) <= EXACT
    if scratch.stress_level is None:
        assert streamed.stress_level is None
        return
    assert abs(streamed.stress_level - scratch.stress_level) <= STRESS_TOLERANCE
    assert set(streamed.features) == set(scratch.features)
    for name, value in scratch.features.items():
        bound = PITCH_TOLERANCE.get(name, EXACT)
        assert abs(streamed.features[name] - value) <= bound + 1e-4, name  # 4-decimal rounding


@pytest.mark.parametrize(
    "name", ["librivox_0890.wav", "ami_female_fee078.wav", "emodb_03a01Wa.wav"]
)
def test_every_tick_answers_what_its_window_analysed_from_scratch_answers(voice, name) -> None:
    registry = AnalyzerRegistry({"voice": voice})
    buffers = StreamBuffers()
    pcm = _pcm16(_stream(name))
    ticks = 0
    for i, start in enumerate(range(0, len(pcm) - CHUNK_BYTES + 1, CHUNK_BYTES)):
        buffers.add_pcm(i * 100.0, pcm[start : start + CHUNK_BYTES])
        if (i + 1) % TICK:
            continue
        inputs, _ = buffers.take()
        window: VoiceWindow = inputs["voice"]
        assert window.origin % CUE_ALIGN == 0
        assert window.samples.shape[0] <= 4 * 16_000 + CUE_ALIGN
        streamed = analyze_one(registry, "voice", window)
        buffers.keep_voice_track(streamed._stream_track)
        # From scratch: the window as a WAV file of the same PCM would decode.
        samples = (window.samples / 32768.0).astype(np.float32)
        scratch = voice.analyze(DecodedAudio(samples, "wav", "pcm_s16le", 16_000, 1))
        _compare(streamed, scratch)
        ticks += 1
    assert ticks >= 15
    # The track kept is the last window's settled frames: a tick measures the new audio only.
    track = buffers.voice_track
    assert track is not None and track.end - track.first >= 390


def test_a_tick_measures_only_the_frames_the_track_lacks(voice) -> None:
    x = _stream("librivox_0890.wav", 6.0)
    first = x[: 4 * 16_000]
    frames, track = window_frames(first, 0, None)
    origin = 8_000  # half a second later
    second = x[origin : origin + 4 * 16_000]
    reused, _ = window_frames(second, origin, track)
    fresh, _ = window_frames(second, origin, None)  # from scratch, cold filter at the start
    warm = CONTEXT_SAMPLES // FRAME_HOP  # frames past the from-scratch filter's start-up
    for a, b in zip(reused, fresh, strict=True):
        np.testing.assert_allclose(a[warm:], b[warm:], rtol=1e-4, atol=1e-6, equal_nan=True)
    # The frames the first window settled were copied, not measured again.
    shared = track.end - origin // FRAME_HOP
    assert shared > 300
    np.testing.assert_array_equal(reused[0][:shared], frames[0][origin // FRAME_HOP :][:shared])


def test_a_window_that_does_not_start_on_a_frame_is_refused(voice) -> None:
    with pytest.raises(ValueError, match="multiple"):
        window_frames(np.zeros(16_000, np.float32), 7, None)


@pytest.mark.parametrize("name", ["librivox_0890.wav", "music_funkyrobot.wav"])
def test_the_non_speech_cues_of_a_window_are_those_of_its_frames_kept_between_ticks(name) -> None:
    """Speech and music (whose cues refuse it): the same cues, tick after tick."""
    x = _stream(name, 8.0)
    track = FrameTrack()
    for origin in range(0, 4 * 16_000 + 1, 3 * CUE_ALIGN):
        window = x[origin : origin + 4 * 16_000]
        kept = window_cues(window, origin, track)
        track.cues = (origin, kept)
        whole = cue_frames(window)
        for a, b in zip(
            (kept.power, kept.tone_power, kept.tone_share, kept.tone_st),
            (whole.power, whole.tone_power, whole.tone_share, whole.tone_st),
            strict=True,
        ):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
        assert sound_cues_from_frames(kept) == pytest.approx(sound_cues(window))
