"""The fast path for motion payloads gives exactly what field-by-field validation gives, and
leaves every malformed payload to it, so that its errors stay as precise as before."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import orjson
import pytest
from pydantic import TypeAdapter, ValidationError

from mindsync.analysis.motion.json_input import MotionJSON, decode_motion_json
from mindsync.api.errors import JSONTooDeep
from mindsync.api.motion_input import decode_analysis_body, fast_motion_recording
from mindsync.api.schemas import MotionColumns, MotionSample
from mindsync.api.services import motion_recording
from tests.api.fakes import fake_registry
from tests.conftest import make_client

SLOW_SAMPLES = TypeAdapter(list[MotionSample])


def _real_motion(n: int = 300) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Real smart-watch motion (BasicMotions, as the motion tests use it) in both forms."""
    from tests.analysis.motion.conftest import DATA, _parse_ts

    real = _parse_ts(DATA / "BasicMotions_TEST.ts")
    acc = np.concatenate([r.acc for r in real])[:n]
    gyro = np.concatenate([r.gyro for r in real])[:n]
    t = np.arange(acc.shape[0]) / 10.0
    samples = [
        {
            "timestamp": float(t[i]),
            "acceleration": dict(zip("xyz", map(float, acc[i]), strict=True)),
            "gyroscope": dict(zip("xyz", map(float, gyro[i]), strict=True)),
        }
        for i in range(t.size)
    ]
    columns = {
        "timestamps": t.tolist(),
        "acceleration": {k: acc[:, i].tolist() for i, k in enumerate("xyz")},
        "gyroscope": {k: gyro[:, i].tolist() for i, k in enumerate("xyz")},
    }
    return samples, columns


def _same(a: Any, b: Any) -> None:
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    np.testing.assert_array_equal(a.acceleration, b.acceleration)
    if a.gyroscope is None or b.gyroscope is None:
        assert a.gyroscope is None and b.gyroscope is None
    else:
        np.testing.assert_array_equal(a.gyroscope, b.gyroscope)
    assert a.acceleration.shape == b.acceleration.shape == (a.timestamps.size, 3)
    assert a.acceleration.dtype == np.float64


def test_both_forms_give_the_arrays_field_by_field_validation_gives() -> None:
    samples, columns = _real_motion()
    _same(fast_motion_recording(samples), motion_recording(SLOW_SAMPLES.validate_python(samples)))
    _same(fast_motion_recording(columns), motion_recording(MotionColumns.model_validate(columns)))


def test_integers_nan_and_missing_gyroscopes_are_as_before() -> None:
    samples, columns = _real_motion(20)
    samples[2]["acceleration"]["x"] = 1
    samples[3]["acceleration"]["y"] = float("nan")  # the analyser's decode names its index
    no_gyro = [{k: v for k, v in s.items() if k != "gyroscope"} for s in samples]
    for payload in (samples, no_gyro):
        fast, slow = fast_motion_recording(payload), SLOW_SAMPLES.validate_python(payload)
        _same(fast, motion_recording(slow))
    del columns["gyroscope"]
    _same(fast_motion_recording(columns), motion_recording(MotionColumns.model_validate(columns)))


def _breakages() -> list[tuple[str, Any]]:
    samples, columns = _real_motion(20)
    cases: list[tuple[str, Any]] = []

    def sample_case(name: str, change: Any) -> None:
        payload = copy.deepcopy(samples)
        change(payload)
        cases.append((name, payload))

    def column_case(name: str, change: Any) -> None:
        payload = copy.deepcopy(columns)
        change(payload)
        cases.append((name, payload))

    sample_case("boolean", lambda p: p[3]["acceleration"].__setitem__("x", True))
    sample_case("string", lambda p: p[3]["gyroscope"].__setitem__("z", "1.5"))
    sample_case("string timestamp", lambda p: p[5].__setitem__("timestamp", "5"))
    sample_case("missing axis", lambda p: p[4]["acceleration"].pop("y"))
    sample_case("missing acceleration", lambda p: p[7].pop("acceleration"))
    sample_case("list for an object", lambda p: p[1].__setitem__("acceleration", [1, 2, 3]))
    sample_case("not an object", lambda p: p.__setitem__(6, 4.0))
    sample_case("null axis", lambda p: p[2]["acceleration"].__setitem__("z", None))
    sample_case("some gyroscopes", lambda p: p[0].pop("gyroscope"))
    column_case("boolean column", lambda p: p["acceleration"]["x"].__setitem__(3, False))
    column_case("string timestamp", lambda p: p["timestamps"].__setitem__(0, "0"))
    column_case("short column", lambda p: p["acceleration"]["z"].pop())
    column_case("short gyroscope", lambda p: p["gyroscope"]["y"].pop())
    column_case("no acceleration", lambda p: p.pop("acceleration"))
    cases.append(("a string", "not samples"))
    cases.append(("an empty list", []))
    return cases


@pytest.mark.parametrize(("name", "payload"), _breakages(), ids=[c[0] for c in _breakages()])
def test_anything_not_plainly_well_formed_is_left_to_field_by_field_validation(
    name: str, payload: Any
) -> None:
    assert fast_motion_recording(payload) is None, name


@pytest.fixture
def client(settings, clock):
    with make_client(settings, fake_registry(), clock) as c:
        yield c


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            lambda p: p[3]["acceleration"].__setitem__("x", True),
            "motion_data[3].acceleration.x",
            "number",
        ),
        (
            lambda p: p[8]["gyroscope"].__setitem__("z", "0.5"),
            "motion_data[8].gyroscope.z",
            "number",
        ),
        (lambda p: p[4]["acceleration"].pop("y"), "motion_data[4].acceleration.y", "required"),
        (lambda p: p[11].__setitem__("timestamp", False), "motion_data[11].timestamp", "number"),
    ],
)
def test_errors_in_the_list_form_name_the_sample_and_the_field(
    client, change, field, words
) -> None:
    samples, _ = _real_motion(20)
    change(samples)
    response = client.post("/analyze", json={"motion_data": samples})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field, error
    assert words in error["message"].lower(), error


def test_a_list_form_request_is_analysed(client) -> None:
    samples, _ = _real_motion(200)
    response = client.post("/analyze", json={"motion_data": samples})
    assert response.status_code == 200, response.text
    assert response.json()["modalities_used"] == ["motion"]


def test_the_python_models_still_refuse_what_the_fast_path_refuses() -> None:
    samples, _ = _real_motion(5)
    samples[1]["acceleration"]["x"] = True
    with pytest.raises(ValidationError):
        SLOW_SAMPLES.validate_python(samples)


# ------------------------------------------------------ the whole /analyze body (msgspec)
def _body_fields() -> dict[str, Any]:
    return {
        "user_id": "ana",
        "session_id": "7d0c9c3e-2f4b-4c55-9a55-3b2f2f9f8a11",
        "face_image": "data:image/jpeg;base64,/9j/4AAQSkZJRg==",
        "audio_data": "UklGRiQAAABXQVZF" * 50,
        "duration_seconds": 12.5,
        "face_focus": {"x": 0.5, "y": 0.25},
        "timestamp": "2026-12-01T10:00:00Z",
        "something_unknown": [1, {"a": None}],
    }


def _motion_text(decoded: dict[str, Any]) -> MotionJSON:
    """The motion data a decoded body carries: JSON text for the analysis process."""
    motion = decoded.pop("motion_data")
    assert isinstance(motion, MotionJSON)
    return motion


@pytest.mark.parametrize("form", ["samples", "columns"])
def test_the_body_decoder_gives_what_orjson_and_the_fast_path_give(form: str) -> None:
    samples, columns = _real_motion()
    motion = samples if form == "samples" else columns
    samples[5]["timestamp"] = 1  # an integer is a number too
    samples[6]["acceleration"]["y"] = -0.0
    body = orjson.dumps({**_body_fields(), "motion_data": motion})
    decoded = decode_analysis_body(body, max_depth=32)
    assert decoded is not None
    expected = orjson.loads(body)
    expected_motion = fast_motion_recording(expected.pop("motion_data"))
    text = _motion_text(decoded)
    assert orjson.loads(text.text) == orjson.loads(orjson.dumps(motion))
    assert text.max_depth == 31  # the body's object is one level
    _same(decode_motion_json(text.text), expected_motion)
    assert decoded == expected


def test_the_body_decoder_reads_every_double_as_orjson_does() -> None:
    rng = np.random.default_rng(18)
    bits = rng.integers(0, 2**64, size=3_000, dtype=np.uint64).view(np.float64)
    values = np.concatenate(
        [
            bits[np.isfinite(bits)],
            rng.normal(0, 9.81, 3_000),
            [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1 / 3],
        ]
    )
    n = values.size // 7
    rows = values[: n * 7].reshape(n, 7)
    samples = [
        {
            "timestamp": float(r[0]),
            "acceleration": {"x": float(r[1]), "y": float(r[2]), "z": float(r[3])},
            "gyroscope": {"x": float(r[4]), "y": float(r[5]), "z": float(r[6])},
        }
        for r in rows
    ]
    text = json.dumps({"motion_data": samples}).encode()  # Python's repr, not orjson's
    decoded = decode_analysis_body(text)
    assert decoded is not None
    _same(
        decode_motion_json(_motion_text(decoded).text),
        fast_motion_recording(orjson.loads(text)["motion_data"]),
    )


@pytest.mark.parametrize(
    "fields",
    [{"face_image": "abc", "user_id": "ana"}, {"motion_data": None, "audio_data": "UklG"}, {}],
    ids=["no motion", "null motion", "empty"],
)
def test_a_body_without_motion_data_is_parsed_as_orjson_parses_it(fields: dict[str, Any]) -> None:
    body = orjson.dumps(fields)
    assert decode_analysis_body(body) == orjson.loads(body) == fields


def _body_breakages() -> list[tuple[str, bytes]]:
    cases = [(f"motion: {name}", orjson.dumps({"motion_data": p})) for name, p in _breakages()]
    samples, _ = _real_motion(20)
    huge = copy.deepcopy(samples)
    huge[3]["acceleration"]["x"] = "HUGE"
    nan = json.dumps({"motion_data": samples[:3] + [{**samples[3], "timestamp": float("nan")}]})
    cases += [
        ("NaN in the motion", nan.encode()),
        (
            "NaN elsewhere",
            json.dumps({"duration_seconds": float("nan"), "motion_data": samples}).encode(),
        ),
        ("malformed", orjson.dumps({"motion_data": samples})[:-1]),
        ("a list", orjson.dumps([{"motion_data": samples}])),
        ("not UTF-8", b'{"user_id": "\xff", "motion_data": ' + orjson.dumps(samples) + b"}"),
        (
            "not UTF-8 in an unknown key of a sample",
            orjson.dumps({"motion_data": samples}).replace(
                b'"timestamp"', b'"n\xff":1,"timestamp"', 1
            ),
        ),
        ("a huge number", orjson.dumps({"motion_data": huge}).replace(b'"HUGE"', b"1e999")),
        ("deep nesting", b'{"motion_data": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"),
    ]
    return cases


@pytest.mark.parametrize(("name", "body"), _body_breakages(), ids=[c[0] for c in _body_breakages()])
def test_a_body_not_plainly_well_formed_is_left_to_the_precise_path(name: str, body: bytes) -> None:
    """Either the body goes to the precise path whole, or its motion text does, from the
    analysis process (where :func:`decode_motion_json` answers ``None``)."""
    decoded = decode_analysis_body(body)
    assert decoded is None or decode_motion_json(_motion_text(decoded).text) is None, name


def test_repeated_keys_and_whitespace_read_as_orjson_reads_them() -> None:
    body = (
        b' { "motion_data" : [ {"timestamp": 1, "timestamp": 2, "acceleration":'
        b' {"x": 1, "y": 2, "z": 3, "x": 9}}, {"timestamp": 3, "acceleration":'
        b' {"x": 1, "y": 2, "z": 3}} ] , "user_id": "a", "user_id": "b" } '
    )
    decoded = decode_analysis_body(body)
    assert decoded is not None
    expected = orjson.loads(body)
    _same(
        decode_motion_json(_motion_text(decoded).text),
        fast_motion_recording(expected.pop("motion_data")),
    )
    assert decoded == expected == {"user_id": "b"}


def test_the_other_fields_are_held_to_the_depth_limit() -> None:
    samples, _ = _real_motion(5)
    deep = {"motion_data": samples, "x": [[[[[1]]]]]}  # the body's object, then five levels
    assert decode_analysis_body(orjson.dumps(deep), max_depth=6) is not None
    with pytest.raises(JSONTooDeep):
        decode_analysis_body(orjson.dumps(deep), max_depth=5)


def test_motion_a_sample_short_of_a_gyroscope_is_analysed_after_validation(client) -> None:
    """Valid but not plain: the analysis process hands it back, the server validates it and
    it is analysed (every sample without a gyroscope then, as before)."""
    samples, _ = _real_motion(200)
    samples[10].pop("gyroscope")
    response = client.post("/analyze", json={"motion_data": samples})
    assert response.status_code == 200, response.text
    assert response.json()["modalities_used"] == ["motion"]


def test_unusual_motion_next_to_face_and_voice_is_the_only_thing_analysed_again(
    settings, clock
) -> None:
    from tests.api.test_analyze import AUDIO, FACE

    registry = fake_registry()
    samples, _ = _real_motion(200)
    samples[10].pop("gyroscope")
    with make_client(settings, registry, clock) as c:
        response = c.post(
            "/analyze", json={"face_image": FACE, "audio_data": AUDIO, "motion_data": samples}
        )
    assert response.status_code == 200, response.text
    assert response.json()["modalities_used"] == ["face", "voice", "motion"]
    decoded = {name: a.decoded for name, a in registry.analyzers.items()}  # type: ignore[attr-defined]
    assert decoded == {"face": 1, "voice": 1, "motion": 2}, decoded


def test_motion_nested_past_the_limit_is_refused_naming_it(client) -> None:
    """Deep, but not so deep that the top-level split gives up: the analysis process
    hands it back and the server's check on its text refuses it."""
    body = b'{"motion_data": ' + b"[" * 40 + b"]" * 40 + b"}"
    response = client.post("/analyze", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "json_too_deep" and "32" in error["message"], error
