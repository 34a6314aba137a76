"""Score the shipped motion model once on what it never saw: UCI HAPT's nine test volunteers.

    PYTHONPATH=src .venv/bin/python tools/motion_evaluate.py [--model PATH] [--json out.json]

Each labelled run of a test volunteer (2, 4, 9, 10, 12, 13, 18, 20, 24) is cut into
non-overlapping 10 s excerpts, and every excerpt is analysed end to end by
``MotionAnalyzer`` under several conditions: 50 Hz as recorded (g, gravity, the waist
orientation), resampled to 10 and 100 Hz, a random orientation, gravity removed, m/s²
instead of g, accelerometer only. Reported per condition:

* six-class precision/recall (walk / upstairs / downstairs / sit / stand / lie), from the
  internal activity head and, for still excerpts, the posture head's top class even below
  the reporting threshold (that is the figure comparable with published baselines);
* the public answer: ``activity`` (still / walking, stairs count as walking), the share of
  still excerpts placed ``on_person_stationary``, and the precision and coverage of the
  posture the API actually reports (only above the confidence threshold);
* the unit read (``g`` / ``m/s2`` / none).

Also: synthetic devices at rest (``not_on_person`` recall, a controlled variation with its
own seed) and BasicMotions TEST (40 smart-watch recordings; running and vigorous).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tools"))

from motion_build_data import DEFAULT_CACHE, TEST_USERS, load_recordings  # noqa: E402
from motion_train import (  # noqa: E402
    HAPT,
    desk_device,
    labelled_runs,
    remove_gravity,
    resample,
)

from mindsync.analysis.motion import MotionRecording  # noqa: E402
from mindsync.analysis.motion.analyzer import MotionAnalyzer  # noqa: E402
from mindsync.analysis.motion.model import DEFAULT_MODEL_PATH, HEAD_CLASSES  # noqa: E402
from mindsync.analysis.motion.pipeline import Extraction, extract  # noqa: E402
from mindsync.analysis.motion.signal import STANDARD_GRAVITY  # noqa: E402
from mindsync.core.config import Settings  # noqa: E402

SEED = 77
EXCERPT = 500  # samples at 50 Hz
SIX = ("walking", "upstairs", "downstairs", "sitting", "standing", "lying")
#: name -> (rate Hz, random orientation, gravity kept, unit, gyroscope)
CONDITIONS: dict[str, tuple[int, bool, bool, str, bool]] = {
    "50 Hz as recorded (g)": (50, False, True, "g", True),
    "10 Hz": (10, False, True, "g", True),
    "100 Hz": (100, False, True, "g", True),
    "50 Hz, random orientation": (50, True, True, "g", True),
    "50 Hz, random orientation, m/s²": (50, True, True, "m/s2", True),
    "50 Hz, random orientation, gravity removed": (50, True, False, "m/s2", True),
    "10 Hz, random orientation, gravity removed, g": (10, True, False, "g", True),
    "50 Hz, accelerometer only": (50, False, True, "g", False),
    "100 Hz, random orientation, accelerometer only": (100, True, True, "m/s2", False),
}


def excerpts(recordings: list[dict]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(six-class label, acc g (500, 3), gyro (500, 3)) of every 10 s test excerpt."""
    out = []
    for label, rec, a, b in labelled_runs(recordings, TEST_USERS):
        for start in range(a, b - EXCERPT + 1, EXCERPT):
            out.append(
                (
                    HAPT[label],
                    rec["acc"][start : start + EXCERPT],
                    rec["gyro"][start : start + EXCERPT],
                )
            )
    return out


def render(
    acc_g: np.ndarray, gyro: np.ndarray, condition: tuple, rng: np.random.Generator
) -> MotionRecording:
    """One excerpt under one condition."""
    rate, rotate, gravity, unit, use_gyro = condition
    acc = resample(acc_g * STANDARD_GRAVITY, 50.0, rate)
    rot = resample(gyro, 50.0, rate)
    if not gravity:
        acc = remove_gravity(acc, rate)
    if rotate:
        rotation = Rotation.random(random_state=rng)
        acc, rot = rotation.apply(acc), rotation.apply(rot)
    if unit == "g":
        acc = acc / STANDARD_GRAVITY
    t = 1_700_000_000.0 + np.arange(acc.shape[0]) / rate
    return MotionRecording(t, acc, rot if use_gyro else None)


def six_class(analyzer: MotionAnalyzer, found: Extraction, use_gyro: bool) -> str:
    """The internal six-class answer (posture forced, below the reporting threshold too)."""
    model = analyzer._model  # noqa: SLF001 - an evaluation tool may look inside
    assert model is not None
    heads = model.with_gyro if use_gyro else model.acc_only
    internal = heads["activity"].predict_proba(found.windows).mean(axis=0)
    name = HEAD_CLASSES["activity"][int(np.argmax(internal))]
    if name in ("walking", "upstairs", "downstairs"):
        return name
    if name != "still":
        return name
    posture = heads["posture"].predict_proba(found.windows).mean(axis=0)
    return HEAD_CLASSES["posture"][int(np.argmax(posture))]


def per_class(truth: list[str], predicted: list[str], classes: tuple[str, ...]) -> dict[str, Any]:
    """Precision, recall and support per class, plus accuracy."""
    out: dict[str, Any] = {}
    for c in classes:
        tp = sum(1 for a, b in zip(truth, predicted, strict=True) if a == c and b == c)
        n_pred = sum(1 for b in predicted if b == c)
        n_true = sum(1 for a in truth if a == c)
        out[c] = {
            "precision": round(tp / n_pred, 3) if n_pred else None,
            "recall": round(tp / n_true, 3) if n_true else None,
            "support": n_true,
        }
    out["accuracy"] = round(
        float(np.mean([a == b for a, b in zip(truth, predicted, strict=True)])), 4
    )
    return out


def evaluate(model_path: Path, cache: Path) -> dict[str, Any]:
    """Every figure of docs/models/motion.md's accuracy section."""
    analyzer = MotionAnalyzer(Settings(), model_path=model_path)
    analyzer.load()
    items = excerpts(load_recordings(cache))
    report: dict[str, Any] = {"excerpts": dict(Counter(label for label, _, _ in items))}
    for name, condition in CONDITIONS.items():
        rng = np.random.default_rng(SEED)
        truth, six, public, placement, posture, units = [], [], [], [], [], []
        for label, acc, gyro in items:
            rec = render(acc, gyro, condition, rng)
            decoded = analyzer.decode(rec)
            result = analyzer.analyze(decoded)
            found = extract(decoded)
            assert isinstance(found, Extraction)
            truth.append(label)
            six.append(six_class(analyzer, found, condition[4]))
            public.append(result.activity)
            placement.append(result.placement)
            posture.append(result.posture)
            units.append(result.acceleration_unit)
        moving = [t in ("walking", "upstairs", "downstairs") for t in truth]
        public_truth = ["walking" if m else "still" for m in moving]
        still_idx = [i for i, m in enumerate(moving) if not m]
        reported = [i for i in still_idx if posture[i] is not None]
        report[name] = {
            "six_class": per_class(truth, six, SIX),
            "public_activity": per_class(public_truth, public, ("still", "walking")),
            "still_on_person_stationary": round(
                float(np.mean([placement[i] == "on_person_stationary" for i in still_idx])), 4
            ),
            "still_not_on_person": round(
                float(np.mean([placement[i] == "not_on_person" for i in still_idx])), 4
            ),
            "posture_reported_share": round(len(reported) / max(len(still_idx), 1), 4),
            "posture_reported_precision": (
                round(float(np.mean([posture[i] == truth[i] for i in reported])), 4)
                if reported
                else None
            ),
            "units": dict(Counter(str(u) for u in units)),
        }
        six_acc = report[name]["six_class"]["accuracy"]
        pub_acc = report[name]["public_activity"]["accuracy"]
        figures = report[name]
        print(  # noqa: T201
            f"{name:<50} six {six_acc:.3f}  public {pub_acc:.3f}  "
            f"on-person {figures['still_on_person_stationary']:.3f}  posture "
            f"{figures['posture_reported_share']:.2f}/{figures['posture_reported_precision']}"
        )
    rng = np.random.default_rng(SEED + 1)
    desk = []
    for _ in range(200):
        rec = desk_device(rng, float(rng.uniform(10.0, 30.0)))
        for gyro in (True, False):
            r = rec if gyro else MotionRecording(rec.timestamps, rec.acceleration, None)
            result = analyzer.analyze(analyzer.decode(r))
            desk.append((gyro, result.placement, result.activity))
    report["synthetic_devices_at_rest"] = {
        "with_gyro_not_on_person": round(
            float(np.mean([p == "not_on_person" for g, p, _ in desk if g])), 4
        ),
        "acc_only_not_on_person": round(
            float(np.mean([p == "not_on_person" for g, p, _ in desk if not g])), 4
        ),
        "still": round(float(np.mean([a == "still" for _, _, a in desk])), 4),
    }
    print(f"devices at rest: {report['synthetic_devices_at_rest']}")  # noqa: T201
    report["basicmotions_test"] = basicmotions(analyzer)
    print(f"BasicMotions TEST: {report['basicmotions_test']}")  # noqa: T201
    return report


def basicmotions(analyzer: MotionAnalyzer) -> dict[str, Any]:
    """Public activity accuracy on the 40 held-out BasicMotions recordings (10 Hz, as sent)."""
    labels = {
        "Standing": "still",
        "Walking": "walking",
        "Running": "running",
        "Badminton": "vigorous",
    }
    truth, predicted, in_data = [], [], False
    path = ROOT / "tests" / "data" / "motion" / "BasicMotions_TEST.ts"
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if in_data and line:
            *dims, label = line.split(":")
            values = np.array([[float(v) for v in d.split(",")] for d in dims])
            t = np.arange(values.shape[1]) / 10.0
            result = analyzer.analyze(
                analyzer.decode(MotionRecording(t, values[:3].T, values[3:].T))
            )
            truth.append(labels[label])
            predicted.append(result.activity)
        in_data = in_data or line.lower().startswith("@data")
    return per_class(truth, predicted, ("still", "walking", "running", "vigorous"))


def markdown(report: dict[str, Any]) -> str:
    """The accuracy tables of docs/models/motion.md."""
    lines = [
        "| condition | six-class accuracy | still/walking accuracy | still → on person "
        "| posture reported (share / precision) | unit read |",
        "|---|---|---|---|---|---|",
    ]
    for name in CONDITIONS:
        r = report[name]
        precision = r["posture_reported_precision"]
        shown = "–" if precision is None else f"{precision:.2f}"
        units = ", ".join(f"{k}: {v}" for k, v in r["units"].items())
        lines.append(
            f"| {name} | {r['six_class']['accuracy']:.3f} | "
            f"{r['public_activity']['accuracy']:.3f} | {r['still_on_person_stationary']:.3f} | "
            f"{r['posture_reported_share']:.2f} / {shown} | {units} |"
        )
    lines += ["", "Per class, precision / recall (six classes, posture forced):", ""]
    lines.append("| condition | " + " | ".join(SIX) + " |")
    lines.append("|---|" + "---|" * len(SIX))
    for name in CONDITIONS:
        six = report[name]["six_class"]
        cells = [f"{six[c]['precision']:.2f} / {six[c]['recall']:.2f}" for c in SIX]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Public activity, precision / recall:", ""]
    lines.append("| condition | still | walking (incl. stairs) |")
    lines.append("|---|---|---|")
    for name in CONDITIONS:
        pub = report[name]["public_activity"]
        cells = [
            f"{pub[c]['precision']:.3f} / {pub[c]['recall']:.3f}" for c in ("still", "walking")
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Evaluate and print; optionally write the JSON report and the markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    report = evaluate(args.model, args.cache)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(markdown(report), encoding="utf-8")


if __name__ == "__main__":
    main()
