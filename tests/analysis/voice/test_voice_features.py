"""Acoustic features: correct on signals with known answers, plausible on real speech, and the
same (within stated tolerances) whatever format the same recording arrives in."""

from __future__ import annotations

import numpy as np
import pytest

from mindsync.analysis.voice.decode import SAMPLE_RATE, decode_audio
from mindsync.analysis.voice.features import FEATURE_NAMES, SpeechMeasures, measure, track_f0
from mindsync.analysis.voice.vad import speech_mask
from tests.analysis.voice.voice_audio import FORMATS, SPEECH_FILES, encode, load

# How far a feature may move between the WAV original and any lossy/lossless re-encoding
# (MP3, Vorbis, Opus, AAC at FFmpeg's default bitrates; stereo written as L, 0.8 L which
# lowers the mono level by 0.9 dB). Measured worst cases on the four shipped clips were about
# half of these; the f0, HNR and shimmer figures were widened (f0 SD 0.2 -> 0.35, mean 0.3 ->
# 0.35, range 0.6 -> 1.0, HNR 0.75 -> 1.0, shimmer 1.5 -> 2.0) when weak voiced frames next to
# clear ones started to count (issue 14): quiet and breathy frames move most under lossy codecs.
TOLERANCE: dict[str, float] = {
    "f0_mean_st": 0.35,
    "f0_sd_st": 0.35,
    "f0_range_st": 1.0,
    "jitter_local_pct": 2.0,
    "shimmer_local_pct": 2.0,
    "hnr_db": 1.0,
    "loudness_dbfs": 1.75,
    "loudness_sd_db": 1.0,
    "articulation_rate_sps": 0.6,
    "speech_rate_sps": 0.9,
    "pause_fraction": 0.1,
    "alpha_ratio_db": 1.0,
    "hammarberg_db": 1.0,
}
SPEECH_SECONDS_TOLERANCE = 0.15


def run(samples: np.ndarray) -> SpeechMeasures:
    """VAD plus features, as the analyser runs them."""
    return measure(samples, speech_mask(samples))


def glottal_vowel(
    f0: float, seconds: float = 2.0, jitter: float = 0.0, seed: int = 0
) -> np.ndarray:
    """A vowel-like signal: an impulse train at ``f0`` (period jitter as a fraction, Gaussian)
    through two formant resonators, with a smooth onset and offset."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    pulses = np.zeros(n)
    t = 0.0
    while t < n:
        pulses[int(t)] = 1.0
        t += SAMPLE_RATE / f0 * (1.0 + jitter * rng.standard_normal())
    x = pulses
    for freq, bw in ((700.0, 110.0), (1200.0, 120.0)):
        r = np.exp(-np.pi * bw / SAMPLE_RATE)
        theta = 2 * np.pi * freq / SAMPLE_RATE
        x = lfilter([1.0 - r], [1.0, -2 * r * np.cos(theta), r * r], x)
    x *= np.hanning(n) ** 0.2
    x = 0.3 * x / np.max(np.abs(x))
    # A little noise floor, as every microphone has.
    return (x + 1e-3 * rng.standard_normal(n)).astype(np.float32)


@pytest.mark.parametrize("f0", [85.0, 120.0, 210.0, 320.0])
def test_f0_of_a_synthetic_vowel_is_exact(f0: float) -> None:
    x = glottal_vowel(f0)
    track, _ = track_f0(x, np.ones(x.size // 160, dtype=bool))
    voiced = track[np.isfinite(track)]
    assert voiced.size > 100
    assert np.median(voiced) == pytest.approx(f0, rel=0.01)


def test_jitter_follows_period_perturbation() -> None:
    # 160 Hz is exactly 100 samples: the steady train has no quantisation jitter of its own.
    steady = run(glottal_vowel(160.0, jitter=0.0)).features["jitter_local_pct"]
    shaky = run(glottal_vowel(160.0, jitter=0.02)).features["jitter_local_pct"]
    assert steady < 0.5
    assert shaky > steady + 1.0


def test_hnr_drops_when_noise_is_added() -> None:
    clean = glottal_vowel(150.0)
    noisy = clean + 0.05 * np.random.default_rng(1).standard_normal(clean.size).astype(np.float32)
    assert run(clean).features["hnr_db"] > run(noisy).features["hnr_db"] + 3.0


def test_real_speech_gives_plausible_values() -> None:
    male = run(load("arctic_a0007.wav"))
    higher = run(load("amfm_sample.wav"))
    assert male.f0_mean_hz is not None and 85 < male.f0_mean_hz < 160
    assert higher.f0_mean_hz is not None and 170 < higher.f0_mean_hz < 270
    for m in (male, higher):
        assert set(m.features) == set(FEATURE_NAMES)
        f = m.features
        assert 0.5 < f["jitter_local_pct"] < 8
        assert 2 < f["shimmer_local_pct"] < 20
        assert 3 < f["hnr_db"] < 25
        assert -50 < f["loudness_dbfs"] < -5
        assert 1.0 < f["articulation_rate_sps"] < 8.0
        assert 0 < f["f0_range_st"] < 24
    # The audiobook sentence has pauses between its phrases.
    assert run(load("librivox_0890.wav")).features["pause_fraction"] > 0
    assert 0.6 < male.speech_fraction <= 1.0
    assert male.snr_db is not None and male.snr_db > 15


@pytest.mark.parametrize("name", SPEECH_FILES)
def test_features_agree_across_every_format(name: str) -> None:
    original = load(name)
    reference = run(original)
    for fmt in FORMATS:
        got = run(decode_audio(encode(original, fmt), max_seconds=60).samples)
        assert abs(got.speech_seconds - reference.speech_seconds) <= SPEECH_SECONDS_TOLERANCE, fmt
        for feature, tol in TOLERANCE.items():
            assert feature in got.features, (fmt, feature)
            diff = got.features[feature] - reference.features[feature]
            assert abs(diff) <= tol, f"{fmt}: {feature} moved by {diff:+.3f} (tolerance {tol})"
        # Pause counts may differ by one pause as a 30 ms VAD frame flips at a boundary.
        span_min = reference.speech_seconds / 60.0
        one_pause = 1.0 / span_min if span_min else 0.0
        assert abs(got.features["pauses_per_min"] - reference.features["pauses_per_min"]) <= (
            one_pause + 1e-6
        ), fmt


def test_clipping_is_measured() -> None:
    x = load("arctic_a0007.wav")
    clipped = np.clip(x * 20.0, -1.0, 1.0)
    assert run(x).clipping_fraction < 0.001
    assert run(clipped).clipping_fraction > 0.05


def test_snr_falls_with_background_noise() -> None:
    x = load("librivox_0890.wav")
    rng = np.random.default_rng(3)
    noisy = x + 0.02 * rng.standard_normal(x.size).astype(np.float32)
    clean_snr, noisy_snr = run(x).snr_db, run(noisy).snr_db
    assert clean_snr is not None and noisy_snr is not None
    assert noisy_snr < clean_snr - 5
