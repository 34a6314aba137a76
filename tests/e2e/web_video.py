"""A fake-camera video for Chromium (``--use-file-for-fake-video-capture``) made from a photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_y4m(
    photo: Path, out: Path, *, width: int = 640, height: int = 480, frames: int = 30, fps: int = 15
) -> Path:
    """Write ``photo``, letterboxed to ``width``×``height``, as a Y4M (4:2:0) clip.

    Each frame drifts by a pixel or two so the stream is a moving picture, as a webcam's is,
    without changing the face. Chromium loops the file.
    """
    image = Image.open(photo).convert("RGB")
    scale = min(width / image.width, height / image.height)
    size = (round(image.width * scale), round(image.height * scale))
    canvas = Image.new("RGB", (width + 8, height + 8), (40, 40, 40))
    canvas.paste(
        image.resize(size, Image.Resampling.LANCZOS),
        ((width + 8 - size[0]) // 2, (height + 8 - size[1]) // 2),
    )
    ycc = np.asarray(canvas.convert("YCbCr"), dtype=np.uint8)  # JPEG (full-range) YCbCr
    with out.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for i in range(frames):
            dx = round(2 * np.sin(2 * np.pi * i / frames)) + 4
            crop = ycc[4 : 4 + height, dx : dx + width]
            y = crop[:, :, 0]
            # 4:2:0: each chroma sample is the mean of a 2×2 block.
            uv = crop[:, :, 1:].reshape(height // 2, 2, width // 2, 2, 2).mean(axis=(1, 3))
            uv = uv.round().astype(np.uint8)
            f.write(b"FRAME\n")
            f.write(np.ascontiguousarray(y).tobytes())
            f.write(np.ascontiguousarray(uv[:, :, 0]).tobytes())
            f.write(np.ascontiguousarray(uv[:, :, 1]).tobytes())
    return out
