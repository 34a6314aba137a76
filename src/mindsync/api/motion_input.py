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

:func:`decode_analysis_body` goes further for ``POST /analyze``: msgspec splits the body
into its top-level fields without parsing them, ``motion_data`` stays JSON text
(:class:`~mindsync.analysis.motion.json_input.MotionJSON`) that the analysis process parses
straight into arrays, and the other fields are parsed by orjson as before. The serving
process, whose one event loop serves every connection, never walks the samples; when the
analysis process finds them not plainly well formed, the route validates them here, field
by field (:func:`validate_motion_json`). It, too, answers ``None`` for a body not plainly
well formed.
"""

from __future__ import annotations

from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import msgspec
import numpy as np
import orjson

from mindsync.analysis.motion.json_input import MotionJSON
from mindsync.analysis.motion.recording import MotionRecording
from mindsync.api.errors import JSONTooDeep
from mindsync.api.middleware import json_depth

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
_TOP_LEVEL = msgspec.json.Decoder(dict[str, msgspec.Raw])


def _opens(raw: msgspec.Raw) -> bool:
    """Whether a raw JSON value is an array or an object (msgspec strips the whitespace)."""
    return bytes(memoryview(raw)[:1]) in (b"[", b"{")


def decode_analysis_body(body: bytes, *, max_depth: int | None = None) -> dict[str, Any] | None:
    """The JSON object of an ``/analyze`` body with ``motion_data`` (when present and not
    null) left as its JSON text (:class:`MotionJSON`, parsed in the analysis process), or
    ``None`` when the body is not plainly a well-formed object.

    Promises: whenever it answers, ``orjson.loads(body)`` succeeds and gives the same object
    except for ``motion_data``, whose text parses to the same value. With ``max_depth``, it
    also raises :class:`JSONTooDeep` when a field other than ``motion_data`` nests deeper
    than that (the body's object counts as one level); ``motion_data``'s text carries the
    depth it may have, for whoever parses it with a general parser
    (:func:`mindsync.analysis.motion.json_input.decode_motion_json` accepts no deeper one).
    """
    if not body.isascii():  # msgspec does not check the UTF-8 of what it skips; orjson would
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    try:
        fields = _TOP_LEVEL.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None  # malformed JSON, not an object, or deep nesting: the precise path decides
    raw_motion = fields.pop("motion_data", None)
    if max_depth is not None:
        # Only an array or an object nests (a 300 KB base64 string need not be walked).
        deepest = max((json_depth(bytes(raw)) for raw in fields.values() if _opens(raw)), default=0)
        if 1 + deepest > max_depth:
            raise JSONTooDeep(max_depth)
    try:
        parsed: dict[str, Any] = {
            name: orjson.loads(memoryview(raw)) for name, raw in fields.items()
        }
    except orjson.JSONDecodeError:
        return None  # NaN or a number beyond a double: the precise path decides
    if raw_motion is not None:
        text = bytes(memoryview(raw_motion))
        limit = (max_depth if max_depth is not None else 1 << 30) - 1
        parsed["motion_data"] = None if text == b"null" else MotionJSON(text, limit)
    return parsed
