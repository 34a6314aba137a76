"""Motion data from a parsed JSON body straight into numpy arrays, at C speed.

Validating the seed's list form with Pydantic means 1,500 nested objects checked one by one:
about 40 ms of server CPU for 30 s at 50 Hz, twenty times what parsing the body costs. Here
each field is pulled out of every sample at once (``map`` with ``itemgetter``, which runs in
C), the JSON type of every value is checked at once (``set(map(type, ...))``: only ``int``
and ``float`` pass, so ``true`` and ``"1.5"`` do not), and numpy builds the arrays.

Anything this fast path does not recognise as well formed makes it answer ``None``; the
caller then validates with the Pydantic models as before, so every error message (the
sample's index, the field, the reason) stays exactly as precise as it was. Finiteness and
the size limits are checked where they always were, by the motion analyser's ``decode``,
on whole arrays.

:func:`decode_analysis_body` goes one step further for ``POST /analyze``: msgspec parses
the body's motion data straight into typed structs (checking every value's JSON type in C
as it parses), so the 6,000 dicts of a list-form recording are never built and never
walked again; the other fields are parsed by orjson as before. It, too, answers ``None``
for anything not plainly well formed.
"""

from __future__ import annotations

from itertools import chain, repeat
from operator import attrgetter, itemgetter
from typing import Any

import msgspec
import numpy as np
import orjson

from mindsync.analysis.motion.recording import MotionRecording

#: The Python types a JSON number parses to (``bool`` is a type of its own, so it is left out).
_NUMBER_TYPES = frozenset({int, float})
_TIMESTAMP = itemgetter("timestamp")
_ACCELERATION = itemgetter("acceleration")
_AXES = itemgetter("x", "y", "z")


def _all_numbers(values: Any) -> bool:
    """Whether every item of ``values`` is a JSON number (an ``int`` or a ``float``)."""
    return set(map(type, values)) <= _NUMBER_TYPES


def _all_dicts(values: list[Any]) -> bool:
    return set(map(type, values)) == {dict}


def _axes(vectors: list[Any]) -> np.ndarray | None:
    """(N, 3) float64 from N ``{x, y, z}`` objects, or ``None`` if any is not one of numbers."""
    if not _all_dicts(vectors):
        return None
    # One flat list of every value (KeyError when an axis is missing), walked twice in C.
    values = list(chain.from_iterable(map(_AXES, vectors)))
    if not _all_numbers(values):
        return None
    return np.fromiter(values, dtype=np.float64, count=len(values)).reshape(-1, 3)


def _from_samples(data: list[Any]) -> MotionRecording | None:
    if not data or not _all_dicts(data):
        return None
    timestamps = list(map(_TIMESTAMP, data))
    if not _all_numbers(timestamps):
        return None
    acceleration = _axes(list(map(_ACCELERATION, data)))
    if acceleration is None:
        return None
    gyroscopes = list(map(dict.get, data, repeat("gyroscope")))
    gyroscope = None
    missing = gyroscopes.count(None)
    if missing < len(gyroscopes):
        if missing:
            return None  # some samples without: the precise path decides (as before)
        gyroscope = _axes(gyroscopes)
        if gyroscope is None:
            return None
    return MotionRecording(
        timestamps=np.fromiter(timestamps, dtype=np.float64, count=len(timestamps)),
        acceleration=acceleration,
        gyroscope=gyroscope,
    )


def _column_block(block: Any, n: int) -> np.ndarray | None:
    """(n, 3) float64 from ``{x: [...], y: [...], z: [...]}``, or ``None`` if it is not that."""
    if type(block) is not dict:
        return None
    columns = _AXES(block)
    for column in columns:
        if type(column) is not list or len(column) != n or not _all_numbers(column):
            return None
    return np.array(columns, dtype=np.float64).T.copy()


def _from_columns(data: dict[str, Any]) -> MotionRecording | None:
    timestamps = data.get("timestamps")
    if type(timestamps) is not list or not _all_numbers(timestamps):
        return None
    n = len(timestamps)
    acceleration = _column_block(data.get("acceleration"), n)
    if acceleration is None:
        return None
    gyroscope = None
    if data.get("gyroscope") is not None:
        gyroscope = _column_block(data["gyroscope"], n)
        if gyroscope is None:
            return None
    return MotionRecording(
        timestamps=np.array(timestamps, dtype=np.float64),
        acceleration=acceleration,
        gyroscope=gyroscope,
    )


def fast_motion_recording(value: Any) -> MotionRecording | None:
    """The recording held by ``value`` (either motion form, as parsed from JSON), or ``None``
    when ``value`` is not plainly well formed and must be validated field by field.

    Promises: whenever it returns a recording, Pydantic's validation of ``value`` as
    ``MotionData`` would have succeeded, and converting that result gives equal arrays
    (timestamps ``(N,)``, acceleration and gyroscope ``(N, 3)``, float64; gyroscope ``None``
    when no sample has one). NaN and infinities pass through, as they do there: the
    analyser's ``decode`` names their index.
    """
    try:
        if type(value) is list:
            return _from_samples(value)
        if type(value) is dict:
            return _from_columns(value)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None  # a missing field, a wrong shape, an int too large for a double
    return None


# --------------------------------------------------------------- the whole body, msgspec
# Field types follow the Pydantic models of ``api/schemas.py``: a float accepts a JSON
# integer or float, never ``true`` or a string; unknown fields are ignored, as there.
class _Axes(msgspec.Struct, gc=False):
    x: float
    y: float
    z: float


class _Sample(msgspec.Struct, gc=False):
    timestamp: float
    acceleration: _Axes
    gyroscope: _Axes | None = None


class _AxisColumns(msgspec.Struct, gc=False):
    x: list[float]
    y: list[float]
    z: list[float]


class _Columns(msgspec.Struct, gc=False):
    timestamps: list[float]
    acceleration: _AxisColumns
    gyroscope: _AxisColumns | None = None


_TOP_LEVEL = msgspec.json.Decoder(dict[str, msgspec.Raw])
_MOTION = msgspec.json.Decoder(list[_Sample] | _Columns)
_SAMPLE_TIME = attrgetter("timestamp")
_SAMPLE_ACCELERATION = attrgetter("acceleration")
_SAMPLE_GYROSCOPE = attrgetter("gyroscope")
_STRUCT_AXES = attrgetter("x", "y", "z")


def _struct_axes(vectors: Any, n: int) -> np.ndarray:
    values = chain.from_iterable(map(_STRUCT_AXES, vectors))
    return np.fromiter(values, dtype=np.float64, count=3 * n).reshape(n, 3)


def _recording_from_structs(motion: list[_Sample] | _Columns) -> MotionRecording | None:
    if isinstance(motion, _Columns):
        n = len(motion.timestamps)
        blocks = [motion.acceleration]
        if motion.gyroscope is not None:
            blocks.append(motion.gyroscope)
        if any(len(axis) != n for block in blocks for axis in _STRUCT_AXES(block)):
            return None  # unequal lengths: Pydantic says which
        arrays = [np.array(_STRUCT_AXES(block), dtype=np.float64).T.copy() for block in blocks]
        return MotionRecording(
            timestamps=np.array(motion.timestamps, dtype=np.float64),
            acceleration=arrays[0],
            gyroscope=arrays[1] if len(arrays) > 1 else None,
        )
    n = len(motion)
    if not n:
        return None
    gyroscopes = list(map(_SAMPLE_GYROSCOPE, motion))
    missing = gyroscopes.count(None)
    if 0 < missing < n:
        return None  # some samples without: the precise path decides (as before)
    return MotionRecording(
        timestamps=np.fromiter(map(_SAMPLE_TIME, motion), dtype=np.float64, count=n),
        acceleration=_struct_axes(map(_SAMPLE_ACCELERATION, motion), n),
        gyroscope=None if missing else _struct_axes(gyroscopes, n),
    )


def decode_analysis_body(body: bytes) -> dict[str, Any] | None:
    """The JSON object of an ``/analyze`` body with ``motion_data`` (when present and not
    null) already converted to a :class:`MotionRecording`, or ``None`` when the body is not
    plainly a well-formed object with well-formed motion data.

    Promises: whenever it answers, ``orjson.loads(body)`` succeeds and gives the same
    object except for ``motion_data``, and :func:`fast_motion_recording` of that motion
    data gives equal arrays; so validation sees exactly what it would have seen.
    """
    if not body.isascii():  # msgspec does not check the UTF-8 of what it skips; orjson would
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    try:
        fields = _TOP_LEVEL.decode(body)
        raw_motion = fields.pop("motion_data", None)
        recording = None
        if raw_motion is not None and bytes(memoryview(raw_motion)[:5]) != b"null":
            recording = _recording_from_structs(_MOTION.decode(raw_motion))
            if recording is None:
                return None
        parsed: dict[str, Any] = {
            name: orjson.loads(memoryview(raw)) for name, raw in fields.items()
        }
    except (msgspec.DecodeError, orjson.JSONDecodeError):
        return None  # a type, a shape, NaN or malformed JSON: the precise path decides
    if raw_motion is not None:
        parsed["motion_data"] = recording
    return parsed
