"""The bad-input table: hostile or broken payloads through the real analysers.

Each gets a 4xx whose message names the field (and the limit, for limits), and none leaves
anything stored.
"""

from __future__ import annotations

import base64
import io
import json
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.api.test_analyze import count
from tests.conftest import DATA_DIR, give_consent, make_client


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def bomb_png(width: int = 14_000, height: int = 14_000) -> bytes:
    """A small PNG whose header declares a huge image (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 64, 9)  # only a few rows: it is a lie
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def truncated_jpeg() -> bytes:
    data = (DATA_DIR / "face" / "grace_hopper.jpg").read_bytes()
    return data[: len(data) // 3]


def gif_as_jpeg() -> str:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 100, 50)).save(out, "GIF")
    return "data:image/jpeg;base64," + b64(out.getvalue())


def wav_claiming_hours() -> bytes:
    """A WAV header that declares four hours of 16 kHz audio, followed by one second."""
    rate, seconds = 16_000, 4 * 3600
    data_bytes = rate * 2 * seconds
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    header += b"data" + struct.pack("<I", data_bytes)
    return header + np.zeros(rate, np.int16).tobytes()


def motion_with_nan(n: int) -> dict:
    t = np.arange(n) / 50.0
    x = np.full(n, 0.1)
    x[n // 2] = np.nan
    return {
        "timestamps": t.tolist(),
        "acceleration": {"x": x.tolist(), "y": [0.0] * n, "z": [9.8] * n},
    }


CASES = [
    ("decompression-bomb PNG", {"face_image": b64(bomb_png())}, 413, "face_image", "25000000"),
    ("truncated JPEG", {"face_image": b64(truncated_jpeg())}, 422, "face_image", None),
    ("GIF pretending to be JPEG", {"face_image": gif_as_jpeg()}, 415, "face_image", None),
    # A header that declares more than the file holds is corrupt, whatever it declares.
    ("WAV declaring hours", {"audio_data": b64(wav_claiming_hours())}, 422, "audio_data", None),
    (
        "MP3 of random bytes",
        {"audio_data": b64(b"ID3" + os.urandom(20_000))},
        None,
        "audio_data",
        None,
    ),
    (
        "broken base64",
        {"face_image": "data:image/png;base64,@@@not-base64@@@"},
        422,
        "face_image",
        None,
    ),
]


@pytest.fixture
def client(settings, clock, real_registry):
    with make_client(settings, real_registry, clock) as c:
        give_consent(c, "victim")
        yield c


@pytest.mark.parametrize(
    ("name", "payload", "status", "field", "limit"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input_gets_a_clear_4xx_and_stores_nothing(
    client, db_engine, name, payload, status, field, limit
) -> None:
    response = client.post("/analyze", json={"user_id": "victim", **payload})
    assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
    if status is not None:
        assert response.status_code == status, (name, response.text)
    error = response.json()["error"]
    assert error["field"] == field, (name, error)
    assert field in error["message"], (name, error)
    if limit is not None:
        assert limit in error["message"].replace(",", ""), (name, error)
    assert count(db_engine, "sessions") == 0
    assert count(db_engine, "analysis_metrics") == 0


def test_100000_motion_samples_with_a_nan_are_refused_naming_the_limit(client, db_engine) -> None:
    response = client.post(
        "/analyze",
        content=json.dumps({"user_id": "victim", "motion_data": motion_with_nan(100_000)}),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["field"].startswith("motion_data")
    assert "60000" in error["message"].replace(",", "")
    assert count(db_engine, "sessions") == 0


def test_a_number_past_double_range_is_named_by_its_index(client, db_engine) -> None:
    motion = motion_with_nan(200)
    body = json.dumps({"user_id": "victim", "motion_data": motion}).replace("NaN", "1e999")
    response = client.post("/analyze", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "motion_data[100]"
    assert count(db_engine, "sessions") == 0


def test_a_nan_inside_the_limits_is_named_by_its_index(client, db_engine) -> None:
    response = client.post(
        "/analyze",
        content=json.dumps({"user_id": "victim", "motion_data": motion_with_nan(1000)}),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "motion_data[500]"
    assert count(db_engine, "sessions") == 0


def test_json_that_is_not_utf8_is_a_422_naming_the_body(settings, clock) -> None:
    from tests.api.fakes import fake_registry
    from tests.conftest import make_client

    with make_client(settings, fake_registry(), clock) as c:
        for path, body in (
            ("/analyze", b'{"audio_data": "\xff\xfe"}'),
            ("/preferences", b'{"user_id": "\xc3\x28"}'),
        ):
            response = c.post(path, content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 422, response.text
            assert response.json()["error"]["field"] == "body"
            assert "UTF-8" in response.json()["error"]["message"]
