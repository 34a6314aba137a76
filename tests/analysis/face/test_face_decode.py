"""``face_image`` decoding: formats, limits and hostile payloads, on real photographs."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mindsync.analysis.errors import InputError, PayloadTooLarge, UnsupportedMediaType
from mindsync.analysis.face.image import (
    MAX_WORKING_SIDE,
    WORKING_LONG_SIDE,
    decode_face_image,
    sniff_format,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "face"
LIMITS = {"max_bytes": 8 * 1024 * 1024, "max_pixels": 25_000_000}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width``×``height`` but holds no pixel data (a few dozen bytes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return Image.open(DATA / "astronaut.png").convert("RGB")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_accepts_jpeg_png_webp(astronaut: Image.Image, fmt: str) -> None:
    decoded = decode_face_image(_b64(_encode(astronaut, fmt)), **LIMITS)
    assert decoded.format == fmt
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == astronaut.size


def test_accepts_data_url_prefix() -> None:
    data = (DATA / "grace_hopper.jpg").read_bytes()
    decoded = decode_face_image("data:image/jpeg;base64," + _b64(data), **LIMITS)
    assert decoded.image.size == (512, 600)


def test_applies_exif_orientation(astronaut: Image.Image) -> None:
    # Pixels stored turned 90° anticlockwise, EXIF orientation 6 says "rotate 90° CW to show".
    stored = astronaut.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = decode_face_image(_b64(_encode(stored, "JPEG", exif=exif)), **LIMITS)
    upright = np.asarray(decoded.image, dtype=np.float32)
    assert np.abs(upright - np.asarray(astronaut, dtype=np.float32)).mean() < 6  # JPEG loss only
    assert np.abs(upright - np.asarray(stored, dtype=np.float32)).mean() > 30


def test_large_jpeg_is_decoded_at_working_size(astronaut: Image.Image) -> None:
    big = astronaut.resize((4000, 4000), Image.Resampling.BILINEAR)
    decoded = decode_face_image(_b64(_encode(big, "JPEG", quality=80)), **LIMITS)
    # Decoded at half scale straight from the DCT (2000 px), not resampled again.
    assert WORKING_LONG_SIDE <= max(decoded.image.size) <= MAX_WORKING_SIDE
    assert decoded.original_size == (4000, 4000)
    assert decoded.scale == pytest.approx(max(decoded.image.size) / 4000)


def test_too_many_bytes_names_field_and_limit() -> None:
    data = (DATA / "grace_hopper.jpg").read_bytes()
    with pytest.raises(PayloadTooLarge) as info:
        decode_face_image(_b64(data), max_bytes=10_000, max_pixels=25_000_000)
    assert "face_image" in info.value.message and "10000" in info.value.message
    assert info.value.limit == 10_000


def test_too_many_pixels_is_refused_from_the_header() -> None:
    header = _png_header(6000, 5000)  # 30 MP declared in 57 bytes
    with pytest.raises(PayloadTooLarge) as info:
        decode_face_image(_b64(header), **LIMITS)
    assert "face_image" in info.value.message and "25000000" in info.value.message


@pytest.mark.parametrize("side", [12_000, 20_000])  # Pillow warns above 89 MP, raises above 179
def test_decompression_bomb_is_413_not_500(side: int) -> None:
    with pytest.raises(PayloadTooLarge) as info:
        decode_face_image(_b64(_png_header(side, side)), **LIMITS)
    assert info.value.field == "face_image"


def test_pixel_limit_from_settings_applies_to_real_photo() -> None:
    data = (DATA / "astronaut.png").read_bytes()
    with pytest.raises(PayloadTooLarge) as info:
        decode_face_image(_b64(data), max_bytes=8 * 1024 * 1024, max_pixels=100_000)
    assert "512x512" in info.value.message and "100000" in info.value.message


@pytest.mark.parametrize(
    "payload",
    [
        b"hello, this is plain text and not an image at all",
        b"GIF89a" + b"\x00" * 64,
        b"BM" + b"\x00" * 64,
        b"%PDF-1.7\n" + b"\x00" * 64,
    ],
)
def test_other_formats_are_415(payload: bytes) -> None:
    with pytest.raises(UnsupportedMediaType) as info:
        decode_face_image(_b64(payload), **LIMITS)
    assert "face_image" in info.value.message


def test_real_gif_is_415(astronaut: Image.Image) -> None:
    with pytest.raises(UnsupportedMediaType):
        decode_face_image(_b64(_encode(astronaut, "GIF")), **LIMITS)


def test_truncated_jpeg_is_422() -> None:
    data = (DATA / "grace_hopper.jpg").read_bytes()
    with pytest.raises(InputError) as info:
        decode_face_image(_b64(data[: len(data) // 2]), **LIMITS)
    assert not isinstance(info.value, PayloadTooLarge | UnsupportedMediaType)
    assert "face_image" in info.value.message


def test_corrupt_png_body_is_422() -> None:
    data = bytearray((DATA / "astronaut.png").read_bytes())
    data[200:4000] = bytes(3800)  # zero out compressed pixel data (breaks the zlib stream)
    with pytest.raises(InputError) as info:
        decode_face_image(_b64(bytes(data)), **LIMITS)
    assert not isinstance(info.value, PayloadTooLarge | UnsupportedMediaType)


def test_png_signature_with_garbage_is_422() -> None:
    with pytest.raises(InputError) as info:
        decode_face_image(_b64(b"\x89PNG\r\n\x1a\n" + b"\xff" * 100), **LIMITS)
    assert not isinstance(info.value, PayloadTooLarge | UnsupportedMediaType)


@pytest.mark.parametrize("raw", ["", "   ", "not base64 at all!", 12345, None])
def test_bad_base64_or_type_is_422(raw: object) -> None:
    with pytest.raises(InputError) as info:
        decode_face_image(raw, **LIMITS)
    assert "face_image" in info.value.message


def test_sniff_format() -> None:
    assert sniff_format((DATA / "grace_hopper.jpg").read_bytes()) == "JPEG"
    assert sniff_format((DATA / "astronaut.png").read_bytes()) == "PNG"
    assert sniff_format(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "WEBP"
    assert sniff_format(b"RIFF\x00\x00\x00\x00WAVEfmt ") is None
