"""Motion data still in its JSON text, parsed where it is analysed.

Parsing 1,500 list-form samples into arrays costs about 1.3 ms of CPU holding Python's GIL,
the largest single cost of a motion request in the serving process, whose one event loop
serves every connection. ``POST /analyze`` therefore hands the analysis processes the JSON
text of ``motion_data`` (:class:`MotionJSON`: 223 KB for 1,500 list-form samples, against
84 KB of arrays; a pipe copies it in microseconds) and
:func:`decode_motion_json` parses it there: msgspec checks every value's JSON type as it
parses (a float accepts a JSON integer or float, never ``true`` or a string; unknown fields
are ignored, as the API's Pydantic models do) and numpy builds the arrays: for the list
form msgspec writes the checked samples back out as MessagePack, where every sample is the
same bytes around seven big-endian float64s at fixed offsets, and numpy reads those as
columns (0.7 ms for 1,500 samples, against 1.0 ms reading the values one Python object at a
time).

Anything not plainly well formed (a wrong type or shape, unequal columns, some samples
without a gyroscope) makes it answer ``None``, and the analyser raises
:class:`MotionNeedsValidation`: the serving process then validates the text with the API's
Pydantic models, so every error message (the sample's index, the field, the reason) stays
exactly as precise as it was, and a valid but unusual payload is analysed as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np

from mindsync.analysis.errors import NeedsValidation
from mindsync.analysis.motion.recording import MotionRecording


@dataclass(frozen=True, slots=True)
class MotionJSON:
    """The JSON text of one ``motion_data`` value (either form), not parsed yet.

    ``max_depth`` is how deeply it may nest (the request's limit less the levels around it):
    whoever parses it with a general parser checks that first.
    """

    text: bytes
    max_depth: int


class MotionNeedsValidation(NeedsValidation):
    """Motion JSON that is not plainly well formed: the caller validates it field by field.

    Never a client's answer: the API catches it and validates the text itself.
    """

    code = "motion_needs_validation"


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


_MOTION = msgspec.json.Decoder(list[_Sample] | _Columns)
_SAMPLE_TIME = attrgetter("timestamp")
_SAMPLE_ACCELERATION = attrgetter("acceleration")
_SAMPLE_GYROSCOPE = attrgetter("gyroscope")
_STRUCT_AXES = attrgetter("x", "y", "z")


def _struct_axes(vectors: Any, n: int) -> np.ndarray:
    values = chain.from_iterable(map(_STRUCT_AXES, vectors))
    return np.fromiter(values, dtype=np.float64, count=3 * n).reshape(n, 3)


_PACK = msgspec.msgpack.Encoder()


@dataclass(frozen=True, slots=True)
class _PackedLayout:
    """How MessagePack spells one :class:`_Sample` of one shape (with or without gyroscope):
    ``size`` bytes, of which those at ``fixed`` always equal ``template`` (keys, map headers,
    the float64 markers) and ``floats`` reads the values (big-endian float64)."""

    size: int
    fixed: np.ndarray
    template: np.ndarray
    floats: np.dtype[Any]
    gyroscope: bool


def _packed_layout(sample: _Sample, names: tuple[str, ...]) -> _PackedLayout | None:
    """The layout of ``sample``'s shape, or ``None`` when MessagePack does not spell it as
    expected (every float as 0xcb and eight bytes), and the fast path stays off."""
    template = np.frombuffer(_PACK.encode(sample), dtype=np.uint8)
    markers = np.flatnonzero(template == 0xCB)  # the values are 0.0: no 0xcb among them
    if markers.size != len(names):
        return None
    payload = (markers[:, None] + np.arange(1, 9)).ravel()
    fixed = np.setdiff1d(np.arange(template.size), payload)
    floats = np.dtype(
        {
            "names": list(names),
            "formats": [">f8"] * len(names),
            "offsets": [int(m) + 1 for m in markers],
            "itemsize": template.size,
        }
    )
    return _PackedLayout(template.size, fixed, template[fixed], floats, "gx" in names)


_ZERO = _Axes(0.0, 0.0, 0.0)
_LAYOUTS = tuple(
    layout
    for layout in (
        _packed_layout(_Sample(0.0, _ZERO, _ZERO), ("t", "ax", "ay", "az", "gx", "gy", "gz")),
        _packed_layout(_Sample(0.0, _ZERO, None), ("t", "ax", "ay", "az")),
    )
    if layout is not None
)


def _array_header_bytes(n: int) -> int:
    """Bytes of MessagePack's header of an array of ``n`` items."""
    return 1 if n < 16 else 3 if n < 1 << 16 else 5


def _recording_from_packed(motion: list[_Sample]) -> MotionRecording | None:
    """The recording of non-empty checked samples, read as columns from their MessagePack
    bytes; ``None`` when the samples do not all have one shape (some without gyroscope)."""
    n = len(motion)
    packed = _PACK.encode(motion)
    head = _array_header_bytes(n)
    for layout in _LAYOUTS:
        if len(packed) != head + n * layout.size:
            continue
        raw = np.frombuffer(packed, dtype=np.uint8, offset=head).reshape(n, layout.size)
        if not bool((raw[:, layout.fixed] == layout.template).all()):
            continue
        values = np.frombuffer(packed, dtype=layout.floats, count=n, offset=head)
        acc = np.empty((n, 3))
        acc[:, 0], acc[:, 1], acc[:, 2] = values["ax"], values["ay"], values["az"]
        gyro = None
        if layout.gyroscope:
            gyro = np.empty((n, 3))
            gyro[:, 0], gyro[:, 1], gyro[:, 2] = values["gx"], values["gy"], values["gz"]
        return MotionRecording(
            timestamps=values["t"].astype(np.float64), acceleration=acc, gyroscope=gyro
        )
    return None


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
    packed = _recording_from_packed(motion)
    if packed is not None:
        return packed
    gyroscopes = list(map(_SAMPLE_GYROSCOPE, motion))
    missing = gyroscopes.count(None)
    if 0 < missing < n:
        return None  # some samples without: the precise path decides (as before)
    return MotionRecording(
        timestamps=np.fromiter(map(_SAMPLE_TIME, motion), dtype=np.float64, count=n),
        acceleration=_struct_axes(map(_SAMPLE_ACCELERATION, motion), n),
        gyroscope=None if missing else _struct_axes(gyroscopes, n),
    )


def decode_motion_json(text: bytes | memoryview) -> MotionRecording | None:
    """The recording in ``text`` (the JSON of either motion form), or ``None`` when it is not
    plainly well formed and must be validated field by field.

    Promises: whenever it returns a recording, the API's Pydantic validation of the parsed
    text as ``MotionData`` would have succeeded and given equal arrays (timestamps ``(N,)``,
    acceleration and gyroscope ``(N, 3)``, float64; gyroscope ``None`` when no sample has
    one). Finiteness and the size limits are the motion analyser's ``decode``'s to check, on
    whole arrays (msgspec refuses NaN and infinity, which are not JSON, so they arrive there
    only through the precise path).
    """
    try:
        return _recording_from_structs(_MOTION.decode(text))
    except (msgspec.DecodeError, RecursionError):
        return None  # a type, a shape or malformed JSON: the precise path decides


def motion_from_json(value: MotionJSON) -> MotionRecording:
    """:func:`decode_motion_json` of ``value``; raises :class:`MotionNeedsValidation` where it
    answers ``None``."""
    recording = decode_motion_json(value.text)
    if recording is None:
        raise MotionNeedsValidation(
            "motion_data is not plainly well formed; validate it field by field",
            field="motion_data",
        )
    return recording
