"""Validation, sorting, merging and unit handling of raw motion samples."""

from __future__ import annotations

import numpy as np
import pytest

from mindsync.analysis.errors import InputError, PayloadTooLarge
from mindsync.analysis.motion import MotionAnalyzer, MotionRecording, create_analyzer
from mindsync.core.config import Settings

from .conftest import Recording


def _still(n: int = 200, rate: float = 20.0) -> MotionRecording:
    rng = np.random.default_rng(1)
    t = np.arange(n) / rate
    acc = np.array([0.0, 0.0, 9.81]) + rng.normal(0, 0.02, (n, 3))
    return MotionRecording(t, acc, rng.normal(0, 0.005, (n, 3)))


@pytest.mark.parametrize(
    ("where", "value", "words"),
    [
        ("timestamps", np.nan, "timestamp is not a finite number"),
        ("acceleration", np.inf, "acceleration is not a finite number"),
        ("gyroscope", -np.inf, "gyroscope is not a finite number"),
        ("acceleration", 5000.0, "1000 m/s²"),
        ("gyroscope", 250.0, "100 rad/s"),
    ],
)
def test_bad_value_names_the_sample_index_as_sent(
    analyzer: MotionAnalyzer, where: str, value: float, words: str
) -> None:
    rec = _still()
    arrays = {
        "timestamps": rec.timestamps.copy(),
        "acceleration": rec.acceleration.copy(),
        "gyroscope": rec.gyroscope.copy(),
    }
    # reverse the order so that "as sent" and "sorted" indices differ
    arrays = {k: v[::-1].copy() for k, v in arrays.items()}
    if where == "timestamps":
        arrays[where][123] = value
    else:
        arrays[where][123, 1] = value
    with pytest.raises(InputError) as info:
        analyzer.decode(MotionRecording(**arrays))
    assert info.value.field == "motion_data[123]"
    assert "motion_data[123]" in info.value.message
    assert words in info.value.message
    assert not isinstance(info.value, PayloadTooLarge)


def test_first_bad_sample_is_reported(analyzer: MotionAnalyzer) -> None:
    rec = _still()
    acc = rec.acceleration.copy()
    acc[50, 0] = np.nan
    gyro = rec.gyroscope.copy()
    gyro[7, 2] = np.nan
    with pytest.raises(InputError, match=r"motion_data\[7\]: gyroscope"):
        analyzer.decode(MotionRecording(rec.timestamps, acc, gyro))


def test_sample_limit_is_named() -> None:
    analyzer = create_analyzer(Settings(motion_max_samples=100))
    with pytest.raises(PayloadTooLarge) as info:
        analyzer.decode(_still(n=101))
    assert info.value.field == "motion_data"
    assert info.value.limit == 100
    assert "100" in info.value.message and "motion_max_samples" in info.value.message


def test_duration_limit_is_named_in_seconds_after_unit_detection() -> None:
    analyzer = create_analyzer(Settings(motion_max_seconds=5.0))
    ok = _still(n=100, rate=20.0)  # 4.95 s
    analyzer.decode(MotionRecording(ok.timestamps * 1000.0, ok.acceleration, ok.gyroscope))
    with pytest.raises(PayloadTooLarge) as info:
        analyzer.decode(_still(n=120, rate=20.0))
    assert info.value.limit == 5.0
    assert "motion_max_seconds" in info.value.message


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("not samples", "list of motion samples"),
        (MotionRecording(np.zeros(3), np.zeros((3, 2))), "shape"),
        (MotionRecording(np.zeros(3), np.zeros((4, 3))), "one entry per sample"),
        (MotionRecording(np.zeros(3), np.zeros((3, 3)), np.zeros((2, 3))), "one entry per sample"),
        (MotionRecording(np.array(["a", "b"]), np.zeros((2, 3))), "numbers"),
    ],
)
def test_malformed_input_is_an_input_error(
    analyzer: MotionAnalyzer, raw: object, words: str
) -> None:
    with pytest.raises(InputError, match=words) as info:
        analyzer.decode(raw)
    assert info.value.field == "motion_data"


def test_unsorted_and_duplicated_samples_are_sorted_and_merged(
    analyzer: MotionAnalyzer, recordings: list[Recording]
) -> None:
    rec = recordings[25].at(50)
    reference = analyzer.analyze(analyzer.decode(rec))
    rng = np.random.default_rng(3)
    order = rng.permutation(rec.timestamps.size)
    dup = rng.choice(rec.timestamps.size, 40, replace=False)
    t = np.concatenate((rec.timestamps[order], rec.timestamps[dup]))
    acc = np.concatenate((rec.acceleration[order], rec.acceleration[dup]))
    gyro = np.concatenate((rec.gyroscope[order], rec.gyroscope[dup]))
    decoded = analyzer.decode(MotionRecording(t, acc, gyro))
    assert decoded.duplicates_merged == 40
    assert np.all(np.diff(decoded.t) > 0)
    result = analyzer.analyze(decoded)
    assert result.samples == rec.timestamps.size + 40
    assert result.activity == reference.activity
    assert result.activity_probabilities == pytest.approx(reference.activity_probabilities)


def test_duplicates_with_different_values_are_averaged(analyzer: MotionAnalyzer) -> None:
    t = np.array([0.0, 0.1, 0.1, 0.2])
    acc = np.array([[0, 0, 9.0], [0, 0, 9.0], [0, 0, 11.0], [0, 0, 9.0]])
    decoded = analyzer.decode(MotionRecording(t, acc))
    assert decoded.acc[1, 2] == pytest.approx(10.0)
    assert decoded.t.size == 3


@pytest.mark.parametrize(("factor", "unit"), [(1.0, "s"), (1e3, "ms"), (1e6, "us"), (1e9, "ns")])
def test_timestamp_units_are_detected(
    analyzer: MotionAnalyzer, recordings: list[Recording], factor: float, unit: str
) -> None:
    rec = recordings[12].at(100)
    epoch = 1_732_000_000.0
    scaled = MotionRecording((epoch + rec.timestamps) * factor, rec.acceleration, rec.gyroscope)
    result = analyzer.analyze(analyzer.decode(scaled))
    assert result.timestamp_unit == unit
    assert result.sampling_rate_hz == pytest.approx(100.0, rel=1e-3)
    assert result.duration_seconds == pytest.approx(rec.timestamps[-1], rel=1e-3)
    assert result.activity == recordings[12].label
