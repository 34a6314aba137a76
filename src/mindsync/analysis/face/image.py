"""Validation and decoding of the ``face_image`` field: base64 → checked, upright RGB image."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageOps

from mindsync.analysis.errors import InputError, PayloadTooLarge, UnsupportedMediaType
from mindsync.analysis.payload import decode_base64

logger = logging.getLogger(__name__)

FIELD = "face_image"
# JPEGs are decoded at the smallest DCT scale (1, 1/2, 1/4, 1/8) that keeps at least this
# long side, which is much faster than a full decode; other formats are reduced to it. A face
# at 5 % of the frame keeps ≥ 64 px. Every model looks at a fixed-size crop (64–192 px), so
# the working size only decides what the smallest faces keep.
WORKING_LONG_SIDE = 1280
# Images up to this long side (a draft-decoded JPEG lands between 1280 and 2560) are not
# resampled again: resizing a 1920×1080 frame to 1280 px cost more than its whole face
# analysis (bench/bench_face.py), and the detectors and crops read any size at the same cost.
MAX_WORKING_SIDE = 2 * WORKING_LONG_SIDE
_SIGNATURES = {
    "JPEG": (b"\xff\xd8\xff",),
    "PNG": (b"\x89PNG\r\n\x1a\n",),
}


@dataclass(frozen=True, slots=True)
class FaceImage:
    """A decoded image ready for analysis.

    ``image``: RGB, EXIF orientation applied, long side ≤ ``MAX_WORKING_SIDE``.
    ``original_size``: (width, height) as stored in the file, before orientation.
    ``scale``: working pixels per original pixel (≤ 1).
    ``focus``: the point (x, y), as fractions 0–1 of the upright image's width and height,
    of the face the client wants analysed; ``None``: the largest face.
    """

    image: Image.Image
    original_size: tuple[int, int]
    scale: float
    format: str
    focus: tuple[float, float] | None = None


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit or 32-bit grey (PNG ``I;16``, ``I``) scaled to 8-bit ``L``; Pillow would clip."""
    pixels = np.asarray(image, dtype=np.float32)
    top = 65535.0 if image.mode.startswith("I;16") else max(float(pixels.max()), 255.0)
    return Image.fromarray(np.clip(pixels * (255.0 / top), 0, 255).astype(np.uint8), mode="L")


def sniff_format(data: bytes) -> str | None:
    """ "JPEG", "PNG" or "WEBP" from the file's magic bytes, else ``None``."""
    for fmt, signatures in _SIGNATURES.items():
        if data.startswith(signatures):
            return fmt
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def parse_focus(value: object) -> tuple[float, float]:
    """A focus point: two finite numbers in [0, 1] (x, y as fractions of width and height).

    Raises :class:`InputError` naming ``face_focus`` otherwise.
    """
    if isinstance(value, dict):
        value = (value.get("x"), value.get("y"))
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and all(0.0 <= float(v) <= 1.0 for v in value)
    ):
        return float(value[0]), float(value[1])
    raise InputError(
        "face_focus must be {x, y} with each between 0 and 1 (fractions of the image's "
        "width and height)",
        field="face_focus",
    )


def decode_face_input(raw: object, *, max_bytes: int, max_pixels: int) -> FaceImage:
    """Decode ``face_image``, alone (a string) or with a focus point.

    ``raw`` is the base64 string, or a mapping ``{"image": <base64>, "focus": {x, y}}``
    (the API builds it from ``face_image`` and ``face_focus``).
    """
    if isinstance(raw, dict):
        focus = raw.get("focus")
        decoded = decode_face_image(raw.get("image"), max_bytes=max_bytes, max_pixels=max_pixels)
        if focus is None:
            return decoded
        return replace(decoded, focus=parse_focus(focus))
    return decode_face_image(raw, max_bytes=max_bytes, max_pixels=max_pixels)


def decode_face_image(raw: object, *, max_bytes: int, max_pixels: int) -> FaceImage:
    """Decode a base64 (or ``data:`` URL) JPEG/PNG/WebP within the configured limits.

    Order of checks, cheapest first: encoded size (413), format by magic bytes (415),
    declared pixel count from the header (413, before any pixel is decoded), then the
    full decode (422 when corrupt or truncated).
    """
    _, data = decode_base64(raw, field=FIELD, max_bytes=max_bytes)  # type: ignore[arg-type]
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedMediaType(f"{FIELD} must be a JPEG, PNG or WebP image", field=FIELD)
    try:
        opened = Image.open(io.BytesIO(data), formats=[fmt])
        width, height = opened.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PayloadTooLarge(
            f"{FIELD} has more pixels than the limit of {max_pixels} pixels",
            field=FIELD,
            limit=max_pixels,
        ) from None
    except Exception as exc:  # Pillow raises many types for hostile headers
        logger.debug("face image header rejected: %s", type(exc).__name__)
        raise InputError(f"{FIELD} is not a readable {fmt} image", field=FIELD) from None
    if width < 1 or height < 1:
        raise InputError(f"{FIELD} has no pixels", field=FIELD)
    if width * height > max_pixels:
        raise PayloadTooLarge(
            f"{FIELD} is {width}x{height} = {width * height} pixels; "
            f"the limit is {max_pixels} pixels",
            field=FIELD,
            limit=max_pixels,
        )
    try:
        long_side = max(width, height)
        if fmt == "JPEG" and long_side > WORKING_LONG_SIDE:
            # Decode at 1/2, 1/4 or 1/8 scale directly from the DCT coefficients.
            ratio = WORKING_LONG_SIDE / long_side
            opened.draft("RGB", (max(1, int(width * ratio)), max(1, int(height * ratio))))
        ImageOps.exif_transpose(opened, in_place=True)
        image: Image.Image = opened
        if image.mode.startswith("I") or image.mode == "F":
            image = _to_8bit(image)
        image = image.convert("RGB") if image.mode != "RGB" else image
        image.load()
        if max(image.size) > MAX_WORKING_SIDE:
            image.thumbnail((WORKING_LONG_SIDE, WORKING_LONG_SIDE), Image.Resampling.BILINEAR)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PayloadTooLarge(
            f"{FIELD} has more pixels than the limit of {max_pixels} pixels",
            field=FIELD,
            limit=max_pixels,
        ) from None
    except Exception as exc:  # truncated data, broken EXIF, bad chunks …
        logger.debug("face image decode failed: %s", type(exc).__name__)
        raise InputError(f"{FIELD} is corrupt or truncated", field=FIELD) from None
    scale = max(image.size) / long_side
    return FaceImage(image=image, original_size=(width, height), scale=scale, format=fmt)
