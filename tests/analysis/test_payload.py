"""Base64 payloads decode exactly as the standard library decodes them, faster."""

from __future__ import annotations

import base64
import binascii

import pytest

from mindsync.analysis.errors import InputError, PayloadTooLarge
from mindsync.analysis.payload import decode_base64
from tests.conftest import DATA_DIR

REAL_FILES = (
    sorted(p for p in (DATA_DIR / "face").iterdir() if p.is_file())[:4]
    + sorted(p for p in (DATA_DIR / "voice").iterdir() if p.is_file())[:4]
)


def _stdlib(text: str) -> bytes | None:
    body = "".join(text.split())
    padded = body + "=" * (-len(body) % 4)
    try:
        if "-" in body or "_" in body:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_real_files_decode_to_their_bytes_in_every_spelling(path) -> None:
    raw = path.read_bytes()
    plain = base64.b64encode(raw).decode()
    spellings = {
        "plain": plain,
        "unpadded": plain.rstrip("="),
        "url-safe": base64.urlsafe_b64encode(raw).decode(),
        "data URL": "data:application/octet-stream;base64," + plain,
        "MIME lines": base64.encodebytes(raw).decode(),
    }
    for name, text in spellings.items():
        assert decode_base64(text, field="f", max_bytes=10**8)[1] == raw, name


@pytest.mark.parametrize(
    "text",
    [
        "QUJD",
        "QUJD=",
        "QUJD==",
        "QUI=",
        "QUJ",
        "QUI",
        "Q",
        "QU=",
        "QU==",
        "QUJD*",
        "@@@not-base64@@@",
        "QU@JD-_",
        "QU+J-D",
        "QUJD-_==",
        "Q-J_",
        "-_-_-_-_",
        "QU JD",
        "QUJ-",
        "QU_D",
        "QUJD====",
        "A===",
        "====",
        "QUJD\u00e9",
        "QUJDRA==QUJD",
    ],
)
def test_edge_cases_are_accepted_and_refused_as_the_standard_library_does(text: str) -> None:
    expected = _stdlib(text)
    if expected is None or not expected:
        with pytest.raises(InputError):
            decode_base64(text, field="audio_data", max_bytes=1000)
    else:
        assert decode_base64(text, field="audio_data", max_bytes=1000)[1] == expected


def test_the_limit_is_checked_before_decoding() -> None:
    with pytest.raises(PayloadTooLarge, match="the limit is 10 bytes"):
        decode_base64("QUJD" * 10, field="face_image", max_bytes=10)
