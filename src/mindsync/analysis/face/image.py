"""Validation and decoding of the ``face_image`` field: base64 → checked, upright RGB image."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from mindsync.analysis.errors import InputError, PayloadTooLarge, UnsupportedMediaType
from mindsync.analysis.payload import decode_base64

logger = logging.getLogger(__name__)

FIELD = "face_image"
# Images are decoded at no more than this long side: faces that the short-range detector
# finds are at least ~1/10 of the frame, so they keep ≥ 120 px, which is more than the
# 64–192 px the models look at. JPEG decodes at a reduced DCT scale, which is much faster.
WORKING_LONG_SIDE = 1280
_SIGNATURES = {
    "JPEG": (b"\xff\xd8\xff",),
    "PNG": (b"\x89PNG\r\n\x1a\n",),
}


@dataclass(frozen=True, slots=True)
class FaceImage:
    """A decoded image ready for analysis.

    ``image``: RGB, EXIF orientation applied, long side ≤ ``WORKING_LONG_SIDE``.
    ``original_size``: (width, height) as stored in the file, before orientation.
    ``scale``: working pixels per original pixel (≤ 1).
    """

    image: Image.Image
    original_size: tuple[int, int]
    scale: float
    format: str


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
        if max(image.size) > WORKING_LONG_SIDE:
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
