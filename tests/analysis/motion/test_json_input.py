"""Motion JSON parsed where it is analysed: the same arrays as the recording it holds, and
anything not plainly well formed handed back (across a process boundary) for validation."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import orjson
import pytest

from mindsync.analysis.errors import InputError
from mindsync.analysis.motion import MotionAnalyzer
from mindsync.analysis.motion.json_input import (
    _LAYOUTS,
    _MOTION,
    MotionJSON,
    MotionNeedsValidation,
    _recording_from_packed,
    _Sample,
    decode_motion_json,
)

from .conftest import Recording


def _samples(recording: Recording) -> list[dict[str, object]]:
    t = np.arange(recording.acc.shape[0]) / 10.0
    return [
        {
            "timestamp": float(t[i]),
            "acceleration": dict(zip("xyz", map(float, recording.acc[i]), strict=True)),
            "gyroscope": dict(zip("xyz", map(float, recording.gyro[i]), strict=True)),
        }
        for i in range(t.size)
    ]


def test_real_recordings_decode_to_their_arrays_in_both_forms(
    recordings: list[Recording], analyzer: MotionAnalyzer
) -> None:
    for recording in recordings[:8]:
        samples = _samples(recording)
        columns = {
            "timestamps": [s["timestamp"] for s in samples],
            "acceleration": {k: recording.acc[:, i].tolist() for i, k in enumerate("xyz")},
            "gyroscope": {k: recording.gyro[:, i].tolist() for i, k in enumerate("xyz")},
        }
        for payload in (samples, columns):
            decoded = decode_motion_json(orjson.dumps(payload))
            assert decoded is not None
            np.testing.assert_array_equal(decoded.acceleration, recording.acc)
            np.testing.assert_array_equal(decoded.gyroscope, recording.gyro)
            assert decoded.timestamps.shape == (recording.acc.shape[0],)
        # The analyser takes the text as it takes the recording.
        text = MotionJSON(orjson.dumps(samples), max_depth=31)
        from_text = analyzer.analyze(analyzer.decode(text))
        from_arrays = analyzer.analyze(analyzer.decode(decode_motion_json(text.text)))
        assert from_text.model_dump(exclude={"processing_ms"}) == from_arrays.model_dump(
            exclude={"processing_ms"}
        )


@pytest.mark.parametrize(
    "text",
    [
        b'[{"timestamp": true, "acceleration": {"x": 1, "y": 2, "z": 3}}]',
        b'[{"timestamp": 1, "acceleration": {"x": "1", "y": 2, "z": 3}}]',
        b'[{"timestamp": 1, "acceleration": {"x": 1, "y": 2}}]',
        b'[{"timestamp": 1, "acceleration": {"x": 1, "y": 2, "z": 3}, "gyroscope": '
        b'{"x": 1, "y": 2, "z": 3}}, {"timestamp": 2, "acceleration": {"x": 1, "y": 2, "z": 3}}]',
        b'{"timestamps": [1, 2], "acceleration": {"x": [1, 2], "y": [1], "z": [1, 2]}}',
        b"[]",
        b'"walking"',
        b"[" * 5_000 + b"]" * 5_000,
        b'[{"timestamp": 1e999, "acceleration": {"x": 1, "y": 2, "z": 3}}]',
    ],
    ids=[
        "boolean",
        "string",
        "missing axis",
        "some gyroscopes",
        "unequal",
        "empty",
        "a string",
        "deep",
        "beyond a double",
    ],
)
def test_anything_not_plainly_well_formed_is_handed_back(
    text: bytes, analyzer: MotionAnalyzer
) -> None:
    assert decode_motion_json(text) is None
    with pytest.raises(MotionNeedsValidation) as raised:
        analyzer.decode(MotionJSON(text, max_depth=31))
    # It crosses from an analysis process to the server as itself.
    back = pickle.loads(pickle.dumps(raised.value))
    assert type(back) is MotionNeedsValidation and isinstance(back, InputError)
    assert back.field == "motion_data" and back.message == raised.value.message


def _reference(samples: list[_Sample]) -> tuple[list[float], list[list[float]], list[list[float]]]:
    """The parsed values one Python object at a time: what the columns must hold."""

    def axes(v: Any) -> list[float]:
        return [v.x, v.y, v.z]

    gyro = [axes(s.gyroscope) for s in samples if s.gyroscope is not None]
    return [s.timestamp for s in samples], [axes(s.acceleration) for s in samples], gyro


@pytest.mark.parametrize("n", [1, 15, 16, 17, 1500])
@pytest.mark.parametrize("gyroscope", [True, False])
def test_the_columns_read_from_messagepack_are_the_parsed_values(n: int, gyroscope: bool) -> None:
    # Both shapes of sample have a fixed MessagePack spelling with this msgspec: the fast
    # path is on (a msgspec that spelled them otherwise would turn it off, not misread).
    assert len(_LAYOUTS) == 2
    rng = np.random.default_rng(n)
    spellings = [
        lambda v: repr(float(v)),
        lambda v: str(int(v * 1e6)),  # an integer
        lambda v: f"{v:.17e}",  # an exponent
        lambda v: "-0",  # negative zero, as a JSON integer
        lambda v: f"{v * 1e300:.3e}",  # large
        lambda v: "123456789012345678901234567890",  # beyond int64
    ]
    parts = []
    for i in range(n):
        value = [spellings[(i + k) % len(spellings)](rng.normal()) for k in range(7)]
        acc = f'"acceleration": {{"z": {value[3]}, "x":{value[1]} , "y": {value[2]}}}'
        gyro = f', "gyroscope": {{"x": {value[4]}, "y": {value[5]}, "z": {value[6]}}}'
        extra = ', "note": {"nested": [1, {"x": "y"}]}' if i % 3 == 0 else ""
        head = f'"timestamp": {value[0]}'
        fields = [acc, head] if i % 2 else [head, acc]
        parts.append("{" + ", ".join(fields) + (gyro if gyroscope else "") + extra + "}")
    text = ("[\n  " + ",\n  ".join(parts) + "\n]").encode()
    samples = _MOTION.decode(text)
    recording = _recording_from_packed(samples)
    assert recording is not None
    t, acc, gyro = _reference(samples)
    np.testing.assert_array_equal(recording.timestamps, np.array(t))
    np.testing.assert_array_equal(recording.acceleration, np.array(acc))
    if gyroscope:
        assert recording.gyroscope is not None
        np.testing.assert_array_equal(recording.gyroscope, np.array(gyro))
    else:
        assert recording.gyroscope is None
    for array in (recording.timestamps, recording.acceleration, recording.gyroscope):
        assert array is None or (array.dtype == np.float64 and array.dtype.isnative)


def test_samples_of_two_shapes_are_not_read_as_columns() -> None:
    with_gyro = (
        '{"timestamp": 1, "acceleration": {"x": 1, "y": 2, "z": 3}, '
        '"gyroscope": {"x": 1, "y": 2, "z": 3}}'
    )
    without = '{"timestamp": 2, "acceleration": {"x": 1, "y": 2, "z": 3}}'
    for order in ([with_gyro, without], [without, with_gyro]):
        assert (
            _recording_from_packed(_MOTION.decode(("[" + ",".join(order) + "]").encode())) is None
        )
