"""The stress estimate: it moves the right way on real speech, refuses what is not speech, and
its scoring function is pure and explainable."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from mindsync.analysis.errors import ModelLoadError
from mindsync.analysis.registry import load_analyzers
from mindsync.analysis.voice import (
    FEATURE_NAMES,
    STRESS_WEIGHTS,
    FeatureReference,
    VoiceAnalyzer,
    VoiceResult,
    create_analyzer,
    score_stress,
)
from mindsync.analysis.voice.decode import SAMPLE_RATE, DecodedAudio
from mindsync.analysis.voice.scoring import weights_for
from mindsync.core.config import Settings
from tests.analysis.voice.voice_audio import apply_filters, b64, encode, load, semitone_rate

# The clips long enough to stay over the minimum amount of speech when sped up.
LONG_CLIPS = ("arctic_a0007.wav", "librivox_0890.wav", "praatio_bobby_48k.wav")
PITCH_UP = [("asetrate", semitone_rate(3)), ("aresample", str(SAMPLE_RATE))]


@pytest.fixture(scope="module")
def analyzer() -> VoiceAnalyzer:
    a = create_analyzer(Settings())
    a.load()
    a.warmup()
    return a


def audio(x: np.ndarray) -> DecodedAudio:
    return DecodedAudio(np.asarray(x, dtype=np.float32), "test", "test", SAMPLE_RATE, 1)


def analyze(analyzer: VoiceAnalyzer, x: np.ndarray) -> VoiceResult:
    return analyzer.analyze(audio(x))


@pytest.mark.parametrize("name", LONG_CLIPS)
def test_real_speech_gets_an_explained_estimate(analyzer: VoiceAnalyzer, name: str) -> None:
    r = analyze(analyzer, load(name))
    assert r.status == "ok" and r.reason is None
    assert r.stress_level is not None and 0.0 < r.stress_level < 1.0
    assert r.reference == "population"
    assert r.confidence is not None and 0.0 < r.confidence <= 0.6
    assert r.quality > 0.6
    assert r.features is not None and set(r.features) == set(FEATURE_NAMES)
    assert 1 <= len(r.drivers) <= 3
    assert all(d.name in STRESS_WEIGHTS for d in r.drivers)
    contributions = [abs(d.contribution) for d in r.drivers]
    assert contributions == sorted(contributions, reverse=True)


@pytest.mark.parametrize("name", LONG_CLIPS)
def test_higher_faster_louder_scores_higher(analyzer: VoiceAnalyzer, name: str) -> None:
    x = load(name)
    # asetrate raises pitch and tempo together (3 semitones = 19 % faster), volume adds 6 dB.
    aroused = apply_filters(x, [*PITCH_UP, ("volume", "6dB")])
    base, high = analyze(analyzer, x), analyze(analyzer, aroused)
    assert base.stress_level is not None and high.stress_level is not None
    assert high.stress_level > base.stress_level + 0.05
    assert high.features is not None and base.features is not None
    assert high.features["f0_mean_st"] == pytest.approx(base.features["f0_mean_st"] + 3, abs=0.5)
    assert high.features["loudness_dbfs"] > base.features["loudness_dbfs"] + 4.5


@pytest.mark.parametrize(
    ("chain", "feature"),
    [
        ([*PITCH_UP, ("atempo", f"{2 ** (-3 / 12):.6f}")], "f0_mean_st"),  # pitch only
        ([("atempo", "1.25")], "articulation_rate_sps"),  # tempo only, pitch kept
        ([("volume", "6dB")], "loudness_dbfs"),  # level only
    ],
)
@pytest.mark.parametrize("name", LONG_CLIPS)
def test_each_arousal_cue_alone_raises_its_feature_and_the_personal_score(
    analyzer: VoiceAnalyzer, name: str, chain: list[tuple[str, str]], feature: str
) -> None:
    x = load(name)
    base, varied = analyze(analyzer, x), analyze(analyzer, apply_filters(x, chain))
    assert base.features is not None and varied.features is not None
    assert varied.features[feature] > base.features[feature]
    # Against the speaker's own baseline (same voice, same microphone) every cue counts.
    personal = FeatureReference.from_samples(
        [base.features, analyze(analyzer, apply_filters(x, [("volume", "-1dB")])).features or {}],
        source="personal",
    )
    high, low = score_stress(varied.features, personal), score_stress(base.features, personal)
    assert high.level is not None and low.level is not None
    assert high.level > low.level


def test_level_alone_does_not_move_the_population_score(analyzer: VoiceAnalyzer) -> None:
    # Microphone gain is not vocal effort: against the population the score ignores dBFS.
    x = load("librivox_0890.wav")
    base, louder = analyze(analyzer, x), analyze(analyzer, apply_filters(x, [("volume", "6dB")]))
    assert base.stress_level is not None and louder.stress_level is not None
    assert louder.stress_level == pytest.approx(base.stress_level, abs=0.03)


def test_lower_slower_quieter_scores_lower(analyzer: VoiceAnalyzer) -> None:
    x = load("librivox_0890.wav")
    calm = apply_filters(
        x, [("asetrate", semitone_rate(-2)), ("aresample", str(SAMPLE_RATE)), ("volume", "-6dB")]
    )
    base, low = analyze(analyzer, x), analyze(analyzer, calm)
    assert low.stress_level is not None and base.stress_level is not None
    assert low.stress_level < base.stress_level - 0.03


def no_signal(r: VoiceResult) -> None:
    assert r.status == "no_signal"
    assert r.stress_level is None and r.confidence is None and r.features is None
    assert r.reference is None and r.drivers == []
    assert r.reason
    assert r.quality <= 0.2


def test_digital_silence_is_no_signal(analyzer: VoiceAnalyzer) -> None:
    r = analyze(analyzer, np.zeros(SAMPLE_RATE * 5, dtype=np.float32))
    no_signal(r)
    assert "silent" in (r.reason or "")


@pytest.mark.parametrize("level", [0.003, 0.05, 0.3])
def test_white_noise_is_no_signal(analyzer: VoiceAnalyzer, level: float) -> None:
    noise = level * np.random.default_rng(7).standard_normal(SAMPLE_RATE * 5)
    no_signal(analyze(analyzer, np.clip(noise, -1, 1)))


def test_brown_noise_is_no_signal(analyzer: VoiceAnalyzer) -> None:
    walk = np.cumsum(np.random.default_rng(8).standard_normal(SAMPLE_RATE * 5))
    walk -= np.convolve(walk, np.ones(801) / 801, mode="same")  # keep it centred
    no_signal(analyze(analyzer, 0.3 * walk / np.abs(walk).max()))


def test_quiet_room_tone_is_no_signal(analyzer: VoiceAnalyzer) -> None:
    x = load("arctic_a0007.wav")
    # The first 150 ms of the recording before the speaker starts, looped to 5 s.
    tone = np.tile(x[: int(0.15 * SAMPLE_RATE)], 34)
    no_signal(analyze(analyzer, tone))


def test_too_short_is_no_signal(analyzer: VoiceAnalyzer) -> None:
    r = analyze(analyzer, load("arctic_a0007.wav")[: int(0.4 * SAMPLE_RATE)])
    no_signal(r)


def test_speech_in_heavy_noise_has_lower_quality(analyzer: VoiceAnalyzer) -> None:
    x = load("librivox_0890.wav")
    noisy = x + 0.03 * np.random.default_rng(9).standard_normal(x.size).astype(np.float32)
    clean_r, noisy_r = analyze(analyzer, x), analyze(analyzer, noisy)
    assert noisy_r.quality < clean_r.quality
    assert noisy_r.audio_quality.snr_db is not None and clean_r.audio_quality.snr_db is not None
    assert noisy_r.audio_quality.snr_db < clean_r.audio_quality.snr_db


def test_clipped_speech_has_lower_quality(analyzer: VoiceAnalyzer) -> None:
    x = load("arctic_a0007.wav")
    r = analyze(analyzer, np.clip(x * 30.0, -1.0, 1.0))
    assert r.audio_quality.clipping_fraction > 0.05
    assert r.quality < analyze(analyzer, x).quality / 2


def test_result_holds_no_raw_audio(analyzer: VoiceAnalyzer) -> None:
    r = analyzer.analyze(analyzer.decode(b64(encode(load("arctic_a0007.wav"), "webm_opus"))))
    body = r.model_dump_json()
    assert len(body) < 3000
    top = set(json.loads(body))
    assert top == set(VoiceResult.model_fields)
    assert r.codec == "opus"


def test_analyze_is_thread_safe(analyzer: VoiceAnalyzer) -> None:
    clips = [load(n) for n in LONG_CLIPS] * 4
    sequential = [analyze(analyzer, c).model_dump() for c in clips]
    with ThreadPoolExecutor(max_workers=6) as pool:
        parallel = [r.model_dump() for r in pool.map(lambda c: analyze(analyzer, c), clips)]
    assert parallel == sequential


def test_registry_loads_the_voice_analyser() -> None:
    registry = load_analyzers(Settings(), modalities=("voice",))
    assert registry.unavailable == {}
    voice = registry.get("voice")
    assert isinstance(voice, VoiceAnalyzer)
    facts = registry.describe()["voice"]
    assert facts["loaded"] is True and facts["reference"]["n"] >= 20


def test_missing_reference_fails_load_not_import(tmp_path: Path) -> None:
    a = VoiceAnalyzer(Settings(), model_dir=tmp_path)
    with pytest.raises(ModelLoadError):
        a.load()
    with pytest.raises(ModelLoadError):
        a.analyze(audio(load("arctic_a0007.wav")))


# --- the pure scoring function ---------------------------------------------------------


def test_score_is_one_half_at_the_reference_mean(analyzer: VoiceAnalyzer) -> None:
    ref = analyzer.reference
    at_mean = {k: s.mean for k, s in ref.stats.items()}
    est = score_stress(at_mean, ref)
    assert est.level == pytest.approx(0.5)
    assert est.coverage == pytest.approx(1.0)


def test_score_is_monotonic_in_each_weighted_feature(analyzer: VoiceAnalyzer) -> None:
    ref = analyzer.reference
    at_mean = {k: s.mean for k, s in ref.stats.items()}
    for name, (sign, _) in weights_for("population").items():
        levels = []
        for z in (-2.0, -1.0, 0.0, 1.0, 2.0):
            f = dict(at_mean)
            f[name] = ref.stats[name].mean + z * max(ref.stats[name].sd, 1e-3) * 2
            level = score_stress(f, ref).level
            assert level is not None
            levels.append(level)
        assert levels == sorted(levels, reverse=sign < 0), name
        assert levels[0] != levels[-1], name


def test_personal_reference_rescores_the_same_features(analyzer: VoiceAnalyzer) -> None:
    # A user's baseline: derived features of their own earlier sessions (here one real
    # recording at three levels stands in for three sessions of the same speaker).
    x = load("librivox_0890.wav")
    sessions = [analyze(analyzer, x).features]
    for gain in ("-2dB", "2dB"):
        sessions.append(analyze(analyzer, apply_filters(x, [("volume", gain)])).features)
    personal = FeatureReference.from_samples(
        [s for s in sessions if s is not None], source="personal"
    )
    assert personal.n == 3
    raised = analyze(analyzer, apply_filters(x, [*PITCH_UP, ("volume", "6dB")])).features
    assert raised is not None
    est = score_stress(raised, personal)
    assert est.reference == "personal"
    assert est.level is not None and est.level > 0.7
    base = score_stress(sessions[0] or {}, personal)
    assert base.level is not None and base.level < est.level


def test_too_few_features_give_no_level(analyzer: VoiceAnalyzer) -> None:
    est = score_stress({"f0_mean_st": 30.0}, analyzer.reference)
    assert est.level is None
    assert est.coverage < 0.5


def test_reference_round_trips_through_json(analyzer: VoiceAnalyzer, tmp_path: Path) -> None:
    path = tmp_path / "ref.json"
    analyzer.reference.dump(path)
    assert FeatureReference.load(path) == analyzer.reference
    with pytest.raises(ValueError):
        FeatureReference.from_samples([], source="personal")
