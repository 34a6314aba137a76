"""Train the shipped motion activity model from real recordings, reproducibly.

    PYTHONPATH=src .venv/bin/python tools/motion_train.py [--wheel sktime-1.2.0-py3-none-any.whl]

Data: BasicMotions (UEA archive), 80 ten-second smart-watch recordings at 10 Hz of four
students standing, walking, running and playing badminton; accelerometer (gravity removed)
plus gyroscope. It ships inside the sktime wheel, which this script fetches with
``pip download sktime==1.2.0 --no-deps`` unless ``--wheel`` names a local copy. The .ts files'
SHA-256 are checked. The official split is kept: the model learns from TRAIN (40 recordings)
and is scored once on TEST (40 recordings), so the reported accuracy is the shipped model's.

Augmentation (TRAIN only, fixed seed): random crops of 3.2–10 s, amplitude scaling, sensor
noise, random device orientation, gravity put back by integrating the real gyroscope (what a
phone that includes gravity would have measured), quieter copies of "standing" (a device at
rest on a table), and band-limited upsampling to 20–200 Hz with timestamp jitter so the
model sees every rate path of the runtime pipeline. Features are computed by the runtime
code itself (``mindsync.analysis.motion``).

The model is a standardiser plus multinomial logistic regression (L2, strength chosen by
5-fold cross-validation grouped by recording), fitted with scipy's L-BFGS; no scikit-learn,
no sktime at run time.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from scipy import optimize, signal
from scipy.spatial.transform import Rotation

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from mindsync.analysis.motion import MotionRecording  # noqa: E402
from mindsync.analysis.motion.analyzer import MotionAnalyzer  # noqa: E402
from mindsync.analysis.motion.features import (  # noqa: E402
    ACC_FEATURES,
    GYRO_FEATURES,
    segment_features,
)
from mindsync.analysis.motion.model import MODEL_FORMAT  # noqa: E402
from mindsync.analysis.motion.result import ACTIVITY_CLASSES  # noqa: E402
from mindsync.analysis.motion.signal import STANDARD_GRAVITY, to_canonical  # noqa: E402
from mindsync.core.config import Settings  # noqa: E402

SKTIME_VERSION = "1.2.0"
TS_FILES = {
    "TRAIN": (
        "sktime/datasets/data/BasicMotions/BasicMotions_TRAIN.ts",
        "8dc43cc6306cb679c888c01e26f91772ac4441a916da43bac8b79734a538b9d6",
    ),
    "TEST": (
        "sktime/datasets/data/BasicMotions/BasicMotions_TEST.ts",
        "79213102bc6fca1a398ad98ce1185dff0208fa3d1465e687f48288946b0ff8dc",
    ),
}
LABELS = {"Standing": "still", "Walking": "walking", "Running": "running", "Badminton": "vigorous"}
SEED = 20261124
AUGMENTED_PER_RECORDING = 24
LAMBDAS = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3)
# The dominant frequency and band shares say as much about where the device is worn (a
# wrist swings once per stride, a waist bounces once per step) as about the activity; with
# wrist-only training data they would teach the model the wrist, so they are left out.
MODEL_FEATURES = tuple(
    name for name in ACC_FEATURES if name != "dominant_hz" and not name.startswith("band_")
)
OUT = ROOT / "src" / "mindsync" / "models" / "motion" / "activity.json"


def parse_ts(text: str) -> tuple[np.ndarray, list[str]]:
    """Parse a multivariate, equal-length .ts file: (n, dims, length) values and labels."""
    series, labels, in_data = [], [], False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("@data"):
            in_data = True
            continue
        if not in_data:
            continue
        *dims, label = line.split(":")
        series.append(np.array([[float(v) for v in d.split(",")] for d in dims]))
        labels.append(label)
    return np.stack(series), labels


def read_basicmotions(wheel: Path) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Read and checksum both splits from the sktime wheel."""
    out = {}
    with zipfile.ZipFile(wheel) as archive:
        for split, (member, digest) in TS_FILES.items():
            blob = archive.read(member)
            actual = hashlib.sha256(blob).hexdigest()
            if actual != digest:
                raise SystemExit(f"{member}: sha256 {actual} != expected {digest}")
            out[split] = parse_ts(io.TextIOWrapper(io.BytesIO(blob), encoding="utf-8").read())
    return out


def fetch_wheel(target: Path) -> Path:
    """``pip download sktime==SKTIME_VERSION --no-deps`` into ``target``."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"sktime=={SKTIME_VERSION}",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(target),
            "-q",
        ],
        check=True,
    )
    return next(target.glob(f"sktime-{SKTIME_VERSION}-*.whl"))


def with_gravity(
    acc: np.ndarray, gyro: np.ndarray, fs: float, rng: np.random.Generator
) -> np.ndarray:
    """Add gravity as a device rotating by the measured gyroscope would have sensed it."""
    orientation = Rotation.random(random_state=rng)
    world_g = np.array([0.0, 0.0, STANDARD_GRAVITY])
    out = np.empty_like(acc)
    for k in range(acc.shape[0]):
        out[k] = acc[k] + orientation.inv().apply(world_g)
        orientation = orientation * Rotation.from_rotvec(gyro[k] / fs)
    return out


def augment(
    x: np.ndarray, label: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One augmented copy of a (6, 100) recording: (t, acc, gyro, rate)."""
    acc, gyro = x[:3].T.copy(), x[3:].T.copy()
    length = int(rng.uniform(32, 101))
    start = int(rng.integers(0, 100 - length + 1))
    acc, gyro = acc[start : start + length], gyro[start : start + length]
    scale = float(np.exp(rng.uniform(np.log(0.7), np.log(1.4))))
    if label == "still" and rng.random() < 0.4:
        scale *= float(np.exp(rng.uniform(np.log(0.03), np.log(0.5))))
    acc *= scale
    gyro *= scale * float(np.exp(rng.uniform(np.log(0.85), np.log(1.15))))
    fs = 10.0
    if rng.random() < 0.6:
        up = int(rng.choice([2, 5, 10, 20]))
        acc = signal.resample_poly(acc, up, 1, axis=0)
        gyro = signal.resample_poly(gyro, up, 1, axis=0)
        fs = 10.0 * up
    if rng.random() < 0.5:
        acc = with_gravity(acc, gyro, fs, rng)
    rotation = Rotation.random(random_state=rng)
    acc, gyro = rotation.apply(acc), rotation.apply(gyro)
    acc += rng.normal(0, float(np.exp(rng.uniform(np.log(0.005), np.log(0.05)))), acc.shape)
    gyro += rng.normal(0, float(np.exp(rng.uniform(np.log(0.002), np.log(0.02)))), gyro.shape)
    t = np.arange(acc.shape[0]) / fs
    t[1:-1] += rng.normal(0, 0.02 / fs, t.size - 2)
    return np.sort(t), acc, gyro, fs


def features_of(t: np.ndarray, acc: np.ndarray, gyro: np.ndarray, fs: float) -> np.ndarray:
    """Runtime features (with gyroscope columns) of one stretch, one row per window."""
    return segment_features(to_canonical(t, acc, gyro, fs), use_gyro=True)


def build_training_set(
    series: np.ndarray, labels: list[str], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, class indices and recording groups of the originals plus augmented copies."""
    rows, targets, groups = [], [], []
    t10 = np.arange(series.shape[2]) / 10.0
    for index, (x, raw_label) in enumerate(zip(series, labels, strict=True)):
        label = LABELS[raw_label]
        copies = [(t10, x[:3].T, x[3:].T, 10.0)]
        copies += [augment(x, label, rng) for _ in range(AUGMENTED_PER_RECORDING)]
        for t, acc, gyro, fs in copies:
            feats = features_of(t, acc, gyro, fs)
            rows.append(feats)
            targets += [ACTIVITY_CLASSES.index(label)] * feats.shape[0]
            groups += [index] * feats.shape[0]
    return np.vstack(rows), np.asarray(targets), np.asarray(groups)


def fit_logreg(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression on standardised x: (coef (k, f), intercept (k,))."""
    n, f = x.shape
    k = len(ACTIVITY_CLASSES)
    onehot = np.eye(k)[y]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[: k * f].reshape(k, f), theta[k * f :]
        z = x @ w.T + b
        z -= z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        value = -np.sum(onehot * log_p) / n + 0.5 * lam * np.sum(w**2)
        grad_z = (np.exp(log_p) - onehot) / n
        grad_w = grad_z.T @ x + lam * w
        return value, np.concatenate((grad_w.ravel(), grad_z.sum(axis=0)))

    result = optimize.minimize(
        loss, np.zeros(k * f + k), jac=True, method="L-BFGS-B", options={"maxiter": 2000}
    )
    return result.x[: k * f].reshape(k, f), result.x[k * f :]


def standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (floored so no column divides by zero)."""
    return x.mean(axis=0), np.maximum(x.std(axis=0), 1e-6)


def choose_lambda(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray
) -> tuple[float, dict[str, float]]:
    """The strongest L2 whose 5-fold accuracy is within 1 point of the best (folds grouped by
    original recording): with 40 recordings, the simpler model is the safer bet."""
    rng = np.random.default_rng(SEED)
    unique = rng.permutation(np.unique(groups))
    folds = np.array_split(unique, 5)
    scores = {}
    for lam in LAMBDAS:
        correct = 0
        for fold in folds:
            test = np.isin(groups, fold)
            mean, scale = standardiser(x[~test])
            coef, intercept = fit_logreg((x[~test] - mean) / scale, y[~test], lam)
            predicted = np.argmax(((x[test] - mean) / scale) @ coef.T + intercept, axis=1)
            correct += int(np.sum(predicted == y[test]))
        scores[f"{lam:g}"] = correct / len(y)
    top = max(scores.values())
    best = max(lam for lam in LAMBDAS if scores[f"{lam:g}"] >= top - 0.01)
    return best, scores


def variant(x: np.ndarray, y: np.ndarray, groups: np.ndarray, names: tuple[str, ...]) -> dict:
    """Fit one model variant on the columns of ``names``; returns its JSON form."""
    columns = [(ACC_FEATURES + GYRO_FEATURES).index(name) for name in names]
    xs = x[:, columns]
    lam, cv = choose_lambda(xs, y, groups)
    mean, scale = standardiser(xs)
    coef, intercept = fit_logreg((xs - mean) / scale, y, lam)
    print(f"  {len(names)} features: lambda={lam:g}, grouped 5-fold CV accuracy {cv}")
    return {
        "features": list(names),
        "mean": mean.round(8).tolist(),
        "scale": scale.round(8).tolist(),
        "coef": coef.round(8).tolist(),
        "intercept": intercept.round(8).tolist(),
        "l2": lam,
        "cv_accuracy_by_l2": cv,
    }


def evaluate(model_path: Path, series: np.ndarray, labels: list[str], seed: int) -> dict:
    """Score the written model end to end through MotionAnalyzer under several conditions."""
    analyzer = MotionAnalyzer(Settings(), model_path=model_path)
    analyzer.load()
    rng = np.random.default_rng(seed)
    truth = [LABELS[label] for label in labels]
    report: dict = {}
    for condition in ("10hz", "50hz_gravity_rotated", "100hz_gravity_rotated", "10hz_no_gyro"):
        predicted, levels = [], {c: [] for c in ACTIVITY_CLASSES}
        for x, label in zip(series, truth, strict=True):
            acc, gyro, fs = x[:3].T, x[3:].T, 10.0
            if condition.startswith(("50hz", "100hz")):
                up = 5 if condition.startswith("50hz") else 10
                acc = signal.resample_poly(acc, up, 1, axis=0)
                gyro = signal.resample_poly(gyro, up, 1, axis=0)
                fs = 10.0 * up
                acc = with_gravity(acc, gyro, fs, rng)
                rotation = Rotation.random(random_state=rng)
                acc, gyro = rotation.apply(acc), rotation.apply(gyro)
            t = 1_700_000_000.0 + np.arange(acc.shape[0]) / fs
            recording = MotionRecording(t, acc, None if condition.endswith("no_gyro") else gyro)
            result = analyzer.analyze(analyzer.decode(recording))
            predicted.append(result.activity)
            levels[label].append(result.activity_level)
        confusion = {
            c: {
                p: sum(1 for a, b in zip(truth, predicted, strict=True) if a == c and b == p)
                for p in ACTIVITY_CLASSES
            }
            for c in ACTIVITY_CLASSES
        }
        accuracy = float(np.mean([a == b for a, b in zip(truth, predicted, strict=True)]))
        report[condition] = {
            "accuracy": round(accuracy, 4),
            "confusion": confusion,
            "mean_activity_level": {c: round(float(np.mean(v)), 3) for c, v in levels.items()},
        }
        print(f"  TEST {condition}: accuracy {accuracy:.3f}  confusion {confusion}")
        print(f"    mean activity_level {report[condition]['mean_activity_level']}")
    return report


def main() -> None:
    """Fetch data, train both variants, write the JSON model, score it on the held-out split."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="a local sktime-1.2.0 wheel")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch_wheel(Path(tmp))
        data = read_basicmotions(wheel)
    train_x, train_labels = data["TRAIN"]
    test_x, test_labels = data["TEST"]
    rng = np.random.default_rng(SEED)
    x, y, groups = build_training_set(train_x, train_labels, rng)
    print(f"training rows: {len(y)} windows from {len(train_labels)} recordings")
    model = {
        "format": MODEL_FORMAT,
        "classes": list(ACTIVITY_CLASSES),
        "variants": {
            "acc_gyro": variant(x, y, groups, MODEL_FEATURES + GYRO_FEATURES),
            "acc": variant(x, y, groups, MODEL_FEATURES),
        },
    }
    model["training"] = {
        "data": f"BasicMotions TRAIN split (40 recordings) from sktime=={SKTIME_VERSION}",
        "label_map": LABELS,
        "augmented_copies_per_recording": AUGMENTED_PER_RECORDING,
        "seed": SEED,
        "tool": "tools/motion_train.py",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    report = evaluate(args.out, test_x, test_labels, SEED + 1)
    model["training"]["held_out_test"] = report
    args.out.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} sha256 {digest}")


if __name__ == "__main__":
    main()
