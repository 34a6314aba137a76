"""The WAV fast path of decode.py gives what the PyAV path gives: the same samples, facts
and errors, on the shipped recordings and on controlled variations of their headers."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from mindsync.analysis.errors import InputError
from mindsync.analysis.voice import decode
from mindsync.analysis.voice.decode import DecodedAudio, decode_audio
from tests.analysis.voice.voice_audio import DATA, encode, load

GUID_TAIL = bytes.fromhex("00001000800000aa00389b71")


def wav(
    frames: bytes,
    *,
    tag: int = 1,
    channels: int = 1,
    rate: int = 16_000,
    bits: int = 16,
    extensible: bool = False,
    valid_bits: int | None = None,
    mask: int | None = None,
    before: bytes = b"",
    after: bytes = b"",
    data_size: int | None = None,
    fmt_extra: bytes = b"",
) -> bytes:
    """A RIFF/WAVE file around ``frames`` with the header fields given."""
    block = channels * bits // 8
    fmt = struct.pack(
        "<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * block, block, bits
    )
    if extensible:
        valid = bits if valid_bits is None else valid_bits
        fmt += struct.pack("<HHI", 22, valid, (1 << channels) - 1 if mask is None else mask)
        fmt += struct.pack("<I", tag) + GUID_TAIL
    fmt += fmt_extra
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt + b"\0" * (len(fmt) & 1) + before
    size = len(frames) if data_size is None else data_size
    body += b"data" + struct.pack("<I", size) + frames + after
    return b"RIFF" + struct.pack("<I", len(body)) + body


def outcome(data: bytes, *, fast: bool, max_seconds: float) -> DecodedAudio | tuple[str, str]:
    """What ``decode_audio`` gives: the audio, or the error's class and message."""
    saved = decode._decode_plain_wav
    if not fast:
        decode._decode_plain_wav = lambda *_, **__: None  # type: ignore[assignment]
    try:
        return decode_audio(data, max_seconds=max_seconds)
    except InputError as err:
        return type(err).__name__, err.message
    finally:
        decode._decode_plain_wav = saved


def assert_same(data: bytes, *, max_seconds: float = 60, expect_fast: bool | None = None) -> None:
    """The fast path and PyAV agree on ``data``: equal arrays and facts, or the same error."""
    ref = outcome(data, fast=False, max_seconds=max_seconds)
    got = outcome(data, fast=True, max_seconds=max_seconds)
    if isinstance(ref, tuple) or isinstance(got, tuple):
        assert got == ref
    else:
        assert (got.container, got.codec, got.source_rate, got.source_channels) == (
            ref.container,
            ref.codec,
            ref.source_rate,
            ref.source_channels,
        )
        assert got.samples.dtype == ref.samples.dtype == np.float32
        # The same conversion of the same integers: equal to the bit, not only within 1e-7.
        np.testing.assert_array_equal(got.samples, ref.samples)
        assert got.samples.flags.writeable and got.samples.flags.c_contiguous
    if expect_fast is not None:
        try:
            took_fast = decode._decode_plain_wav(data, max_seconds=max_seconds) is not None
        except InputError:
            took_fast = True
        assert took_fast == expect_fast


@pytest.mark.parametrize("path", sorted(DATA.glob("*.wav")), ids=lambda p: p.name)
def test_every_shipped_recording_decodes_as_with_pyav(path: object) -> None:
    assert_same(path.read_bytes(), max_seconds=600, expect_fast=True)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """3 s of real read speech, float32 at 16 kHz."""
    return load("librivox_0890.wav")[: 3 * 16_000]


@pytest.fixture(scope="module")
def s16(speech: np.ndarray) -> np.ndarray:
    return (speech * 32767).astype("<i2")


@pytest.fixture(scope="module")
def s32(speech: np.ndarray) -> np.ndarray:
    return (speech.astype(np.float64) * 0.99 * 2**31).astype("<i4")


@pytest.mark.parametrize("fmt", ["wav_s16", "wav_s24_44k_stereo", "wav_s32", "wav_f32_48k"])
def test_wavs_written_by_ffmpeg_decode_as_with_pyav(speech: np.ndarray, fmt: str) -> None:
    # FFmpeg's muxer adds a LIST/INFO chunk naming itself.
    assert_same(encode(speech, fmt), expect_fast=True)


def test_pcm_variants_decode_as_with_pyav(
    speech: np.ndarray, s16: np.ndarray, s32: np.ndarray
) -> None:
    stereo = np.stack([s16, (s16 * 0.8).astype("<i2")], axis=1)
    s24 = s32.view(np.uint8).reshape(-1, 4)[:, 1:].copy()
    cases = {
        "s16": wav(s16.tobytes()),
        "s16 stereo": wav(stereo.tobytes(), channels=2),
        "s16 6 channels": wav(np.repeat(s16[:, None], 6, axis=1).tobytes(), channels=6),
        "s16 8 channels 44.1k": wav(np.tile(s16, 8).tobytes(), channels=8, rate=44_100),
        "s24": wav(s24.tobytes(), bits=24),
        "s24 stereo 44.1k": wav(
            np.repeat(s24, 2, axis=0).tobytes(), bits=24, channels=2, rate=44_100
        ),
        "s32": wav(s32.tobytes(), bits=32),
        "u8 8k": wav((speech * 127 + 128).astype("u1").tobytes(), bits=8, rate=8000),
        "f32 48k": wav(speech.astype("<f4").tobytes(), tag=3, bits=32, rate=48_000),
        "f32 loud": wav((speech * 3).astype("<f4").tobytes(), tag=3, bits=32),
        "f64 stereo 22.05k": wav(
            np.repeat(speech.astype("<f8"), 2).tobytes(), tag=3, bits=64, channels=2, rate=22_050
        ),
        "extensible s16 stereo": wav(stereo.tobytes(), channels=2, extensible=True),
        "extensible f32": wav(speech.astype("<f4").tobytes(), tag=3, bits=32, extensible=True),
        "fmt of 18 bytes": wav(s16.tobytes(), fmt_extra=b"\0\0"),
        "odd chunk before data": wav(s16.tobytes(), before=b"JUNK\x05\0\0\0abcde\0"),
        "LIST chunk": wav(s16.tobytes(), before=b"LIST\x04\0\0\0INFO"),
        "LIST chunk after data": wav(
            s16.tobytes(), after=b"LIST\x12\0\0\0INFOISFT\x06\0\0\0Lavf6\0"
        ),
        "chunk after data": wav(s16.tobytes(), after=b"JUNK\x04\0\0\0abcd"),
        "data size 0 (unknown)": wav(s16.tobytes(), data_size=0),
        "data size 0xFFFFFFFF (unknown)": wav(s16.tobytes(), data_size=0xFFFFFFFF),
        "one sample": wav(s16[:1].tobytes()),
    }
    for name, data in cases.items():
        try:
            assert_same(data, expect_fast=True)
        except AssertionError as err:
            raise AssertionError(name) from err


def test_non_finite_floats_are_replaced_as_with_pyav(speech: np.ndarray) -> None:
    bad = speech.astype("<f4")
    bad[100], bad[200], bad[300] = np.nan, np.inf, -np.inf
    assert_same(wav(bad.tobytes(), tag=3, bits=32), expect_fast=True)


def test_unusual_files_take_the_pyav_path_with_its_answers(
    s16: np.ndarray, s32: np.ndarray
) -> None:
    stereo = np.repeat(s16, 2)
    s24 = s32.view(np.uint8).reshape(-1, 4)[:, 1:].copy()
    spdif = s16.copy()
    spdif[1000:1004] = np.frombuffer(b"\x72\xf8\x1f\x4e" * 2, dtype="<i2")
    cases = {
        "truncated data chunk": wav(s16.tobytes()[:-1000], data_size=s16.size * 2),
        "odd-sized data": wav(s16.tobytes() + b"\1"),
        "unknown size, partial frame": wav(s16.tobytes() + b"\1", data_size=0xFFFFFFFF),
        "odd chunk without its pad byte": wav(s16.tobytes(), before=b"JUNK\x05\0\0\0abcde"),
        "LIST chunk too short after data": wav(s16.tobytes(), after=b"LIST\x02\0\0\0IN"),
        "32-bit PCM with extra format data (FFmpeg: half floats)": wav(
            s32.tobytes(), bits=32, fmt_extra=b"\2\0\1\0"
        ),
        "extensible 20 valid bits": wav(s24.tobytes(), bits=24, extensible=True, valid_bits=20),
        "extensible without channel mask": wav(
            stereo.tobytes(), channels=2, extensible=True, mask=0
        ),
        "extensible mask of 3 for 2 channels": wav(
            stereo.tobytes(), channels=2, extensible=True, mask=7
        ),
        "12 bits": wav(s16.tobytes(), bits=12),
        "ADPCM": wav(s16.tobytes(), tag=2),
        "S/PDIF sync words": wav(spdif.tobytes()),
        "nine channels": wav(np.repeat(s16[:900], 9).tobytes(), channels=9),
        "400 kHz": wav(s16.tobytes(), rate=400_000),
        "no samples": wav(b""),
    }
    for name, data in cases.items():
        try:
            assert_same(data, expect_fast=False)
        except AssertionError as err:
            raise AssertionError(name) from err


def test_duration_limit_is_the_same(s16: np.ndarray) -> None:
    over = wav(s16[: int(16_000 * 2.26)].tobytes())
    under = wav(s16[: int(16_000 * 2.24)].tobytes())
    assert_same(over, max_seconds=2.0, expect_fast=True)
    assert_same(under, max_seconds=2.0, expect_fast=True)
    assert isinstance(outcome(over, fast=True, max_seconds=2.0), tuple)
    assert_same(wav(np.tile(s16, 30).tobytes()), max_seconds=60)
