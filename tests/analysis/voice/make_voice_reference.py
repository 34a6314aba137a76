"""Write ``voice_reference.json``: what the voice pipeline measured on real recordings.

test_voice_reference.py checks that the pipeline still gives these values, so that making
it faster cannot change its answers unnoticed. Regenerate only when a change of the answers
is intended, with the code whose answers are the reference on the path, e.g. those of
commit bda2f24 (before the speed-ups of issue 18)::

    mkdir -p /tmp/voice-base && git archive bda2f24 | tar -x -C /tmp/voice-base
    PYTHONPATH=/tmp/voice-base/src:. .venv/bin/python tests/analysis/voice/make_voice_reference.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from mindsync.analysis.voice.analyzer import VoiceAnalyzer
from mindsync.analysis.voice.decode import SAMPLE_RATE, DecodedAudio
from mindsync.analysis.voice.features import measure
from mindsync.analysis.voice.nonspeech import sound_cues
from mindsync.analysis.voice.vad import speech_mask
from mindsync.core.config import Settings
from tests.analysis.voice.voice_audio import DATA, load

OUT = Path(__file__).with_name("voice_reference.json")
#: Variations of some clips: level (the VAD's gain), added noise, a cut that starts mid-word.
VARIED = ("librivox_0890.wav", "arctic_a0007.wav", "ami_female_fee078.wav", "emodb_03a01Wa.wav")


def clips() -> dict[str, np.ndarray]:
    """Every shipped WAV as decoded, variations of :data:`VARIED` (seeded, repeatable), a tone."""
    out = {path.name: load(path.name) for path in sorted(DATA.glob("*.wav"))}
    for i, name in enumerate(VARIED):
        x = out[name]
        out[f"{name}:quiet"] = (x * 0.004).astype(np.float32)
        noise = np.random.default_rng(i).standard_normal(x.size) * 0.01
        out[f"{name}:noisy"] = np.clip(x + noise, -1, 1).astype(np.float32)
        out[f"{name}:cut"] = x[int(0.37 * SAMPLE_RATE) + 53 :].copy()
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    out["tone:440"] = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return out


def _num(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def measure_clip(analyzer: VoiceAnalyzer, x: np.ndarray) -> dict[str, Any]:
    """The VAD mask, every measure, the non-speech cues and the result of one clip."""
    vad = speech_mask(x) if x.size and float(np.abs(x).max()) >= 1e-4 else None
    out: dict[str, Any] = {
        "vad": "".join("1" if v else "0" for v in vad) if vad is not None else None
    }
    if vad is not None:
        m = measure(x, vad)
        out["measures"] = {
            "duration_seconds": m.duration_seconds,
            "speech_seconds": m.speech_seconds,
            "voiced_seconds": m.voiced_seconds,
            "speech_fraction": m.speech_fraction,
            "snr_db": _num(m.snr_db),
            "clipping_fraction": m.clipping_fraction,
            "f0_mean_hz": _num(m.f0_mean_hz),
            "features": m.features,
        }
        c = sound_cues(x)
        out["cues"] = {
            "tone_share": c.tone_share,
            "tone_hz": _num(c.tone_hz),
            "beat": c.beat,
            "low_energy": c.low_energy,
            "loud_frames": c.loud_frames,
        }
    result = analyzer.analyze(DecodedAudio(x, "wav", "pcm_s16le", SAMPLE_RATE, 1))
    out["result"] = result.model_dump(mode="json", exclude={"processing_ms"})
    return out


def main() -> None:
    """Measure every clip and write :data:`OUT`."""
    analyzer = VoiceAnalyzer(Settings())
    analyzer.load()
    data = {name: measure_clip(analyzer, x) for name, x in clips().items()}
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
