"""Motion JSON parsed where it is analysed: the same arrays as the recording it holds, and
anything not plainly well formed handed back (across a process boundary) for validation."""

from __future__ import annotations

import pickle

import numpy as np
import orjson
import pytest

from mindsync.analysis.errors import InputError
from mindsync.analysis.motion import MotionAnalyzer
from mindsync.analysis.motion.json_input import (
    MotionJSON,
    MotionNeedsValidation,
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
