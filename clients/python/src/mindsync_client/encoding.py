"""Turning what an app has (paths, bytes, PIL images, numpy arrays, pandas frames) into the
API's request fields. numpy, pandas and Pillow are used when given, never imported here."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MOTION_COLUMNS = ("timestamp", "ax", "ay", "az", "gx", "gy", "gz")


def _bytes(value: Any, what: str) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str | os.PathLike):
        return Path(value).read_bytes()
    if hasattr(value, "read"):
        return bytes(value.read())
    raise TypeError(f"{what}: give a path, bytes or a binary file, not {type(value).__name__}")


def encode_image(image: Any) -> str:
    """Base64 of an image: a path, bytes, a PIL image, or an (H, W, 3) uint8 RGB array."""
    if hasattr(image, "save") and hasattr(image, "mode"):  # PIL.Image.Image
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=90)
        return base64.b64encode(buffer.getvalue()).decode()
    if hasattr(image, "shape") and hasattr(image, "dtype"):  # numpy array
        from PIL import Image  # only needed for arrays

        return encode_image(Image.fromarray(image))
    return base64.b64encode(_bytes(image, "face")).decode()


def encode_audio(audio: Any) -> str:
    """Base64 of an audio file (WAV, MP3, OGG, WebM/Opus, MP4/AAC, FLAC): a path or bytes."""
    return base64.b64encode(_bytes(audio, "audio")).decode()


def _columns(rows: Sequence[Sequence[float]]) -> dict[str, Any]:
    if not rows or len(rows[0]) not in (4, 7):
        raise ValueError("motion rows need 4 (t, ax, ay, az) or 7 (… gx, gy, gz) values")
    cols = list(zip(*rows, strict=True))
    out: dict[str, Any] = {
        "timestamps": [float(v) for v in cols[0]],
        "acceleration": {k: [float(v) for v in cols[i]] for i, k in enumerate("xyz", 1)},
    }
    if len(cols) == 7:
        out["gyroscope"] = {k: [float(v) for v in cols[i]] for i, k in enumerate("xyz", 4)}
    return out


def encode_motion(motion: Any) -> Any:
    """``motion_data`` in the API's compact columnar form, or as given when it already is one.

    Accepts: a list of the seed's sample objects (sent as they are); the columnar mapping
    (``timestamps``, ``acceleration``, ``gyroscope``); a pandas DataFrame with columns
    timestamp, ax, ay, az[, gx, gy, gz]; an (N, 4) or (N, 7) array or list of rows.
    """
    if isinstance(motion, Mapping):
        return dict(motion)
    if hasattr(motion, "columns") and hasattr(motion, "to_numpy"):  # pandas DataFrame
        names = [str(c).lower() for c in motion.columns]
        wanted = [c for c in MOTION_COLUMNS if c in names]
        if wanted[:4] != list(MOTION_COLUMNS[:4]):
            raise ValueError("a motion DataFrame needs columns timestamp, ax, ay, az")
        frame = motion.set_axis(names, axis=1)[wanted[:7] if len(wanted) == 7 else wanted[:4]]
        return _columns(frame.to_numpy().tolist())
    if hasattr(motion, "tolist"):  # numpy array
        return _columns(motion.tolist())
    if isinstance(motion, Sequence) and motion and isinstance(motion[0], Mapping):
        return list(motion)
    if isinstance(motion, Sequence):
        return _columns(list(motion))
    raise TypeError(f"motion: unsupported type {type(motion).__name__}")
