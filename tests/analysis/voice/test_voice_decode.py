"""Decoding of ``audio_data``: every accepted format, the limits, and bad payloads."""

from __future__ import annotations

import io
import random
import struct
import wave

import numpy as np
import pytest

from mindsync.analysis.errors import InputError, PayloadTooLarge, UnsupportedMediaType
from mindsync.analysis.voice import create_analyzer
from mindsync.analysis.voice.decode import SAMPLE_RATE, decode_audio, sniff_format
from mindsync.core.config import Settings
from tests.analysis.voice.voice_audio import DATA, FORMATS, SPEECH_FILES, b64, encode, load


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """Real read speech (CMU ARCTIC a0007), 4 s at 16 kHz."""
    return load("arctic_a0007.wav")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_format_decodes_to_16k_mono_of_the_same_length(speech: np.ndarray, fmt: str) -> None:
    data = encode(speech, fmt)
    decoded = create_analyzer(Settings()).decode(b64(data))
    assert decoded.samples.dtype == np.float32
    assert decoded.samples.ndim == 1
    # Lossy codecs add priming/padding (AAC about 45 ms): length within 60 ms.
    assert abs(decoded.duration_seconds - speech.size / SAMPLE_RATE) < 0.06
    assert np.all(np.abs(decoded.samples) <= 1.0)


@pytest.mark.parametrize("fmt", ["wav_s16", "wav_s32", "flac"])
def test_lossless_formats_round_trip_sample_exactly(speech: np.ndarray, fmt: str) -> None:
    decoded = decode_audio(encode(speech, fmt), max_seconds=60)
    assert np.max(np.abs(decoded.samples - speech)) < 1e-4


def test_stereo_is_averaged_not_summed(speech: np.ndarray) -> None:
    # The helper writes right = 0.8 * left: the mono mix must be 0.9 * the original.
    decoded = decode_audio(encode(speech, "wav_s24_44k_stereo"), max_seconds=60)
    n = min(decoded.samples.size, speech.size)
    gain = np.dot(decoded.samples[:n], speech[:n]) / np.dot(speech[:n], speech[:n])
    assert gain == pytest.approx(0.9, abs=0.01)


def test_48k_wav_from_a_package_is_resampled(speech: np.ndarray) -> None:
    decoded = decode_audio((DATA / "praatio_bobby_48k.wav").read_bytes(), max_seconds=60)
    assert decoded.source_rate == 48_000
    assert decoded.duration_seconds == pytest.approx(1.1946, abs=0.01)


def test_data_url_prefix_is_accepted(speech: np.ndarray) -> None:
    analyzer = create_analyzer(Settings())
    plain = analyzer.decode(b64(encode(speech, "webm_opus")))
    with_url = analyzer.decode(b64(encode(speech, "webm_opus"), "audio/webm;codecs=opus"))
    assert np.array_equal(plain.samples, with_url.samples)


def test_raw_bytes_are_accepted(speech: np.ndarray) -> None:
    decoded = create_analyzer(Settings()).decode(encode(speech, "ogg_opus"))
    assert decoded.codec == "opus"


def test_encoded_size_limit_gives_413_naming_field_and_limit(speech: np.ndarray) -> None:
    analyzer = create_analyzer(Settings(audio_max_bytes=4096))
    with pytest.raises(PayloadTooLarge) as err:
        analyzer.decode(b64(encode(speech, "wav_s16")))
    assert "audio_data" in err.value.message and "4096" in err.value.message
    with pytest.raises(PayloadTooLarge):
        analyzer.decode(encode(speech, "wav_s16"))


@pytest.mark.parametrize("fmt", ["wav_s16", "flac", "webm_opus_live", "mp3"])
def test_duration_limit_gives_413_naming_field_and_limit(speech: np.ndarray, fmt: str) -> None:
    analyzer = create_analyzer(Settings(audio_max_seconds=2.5))
    with pytest.raises(PayloadTooLarge) as err:
        analyzer.decode(b64(encode(speech, fmt)))
    assert "audio_data" in err.value.message and "2.5 seconds" in err.value.message


def test_compressed_long_silence_is_stopped_at_the_limit() -> None:
    # Ten minutes of silence compress to little FLAC; decoding must stop at the limit.
    silence = np.zeros(SAMPLE_RATE * 600, dtype=np.float32)
    data = encode(silence, "flac")
    assert len(data) < 2_000_000
    with pytest.raises(PayloadTooLarge):
        decode_audio(data, max_seconds=60)


def test_a_wav_header_that_lies_about_its_size_is_a_corrupt_file(speech: np.ndarray) -> None:
    data = bytearray(encode(speech, "wav_s16"))
    data[4:8] = struct.pack("<I", 0xFFFFFFF0)  # RIFF size
    at = data.index(b"data") + 4
    data[at : at + 4] = struct.pack("<I", 0xFFFFFFF0)  # data size: "4 GB"
    with pytest.raises(InputError, match="declares"):
        decode_audio(bytes(data), max_seconds=60)


def test_a_streaming_wav_of_unknown_length_decodes_what_is_there(speech: np.ndarray) -> None:
    data = bytearray(encode(speech, "wav_s16"))
    data[4:8] = struct.pack("<I", 0xFFFFFFFF)  # what FFmpeg writes to a pipe
    at = data.index(b"data") + 4
    data[at : at + 4] = struct.pack("<I", 0xFFFFFFFF)
    decoded = decode_audio(bytes(data), max_seconds=60)
    assert decoded.duration_seconds == pytest.approx(4.0, abs=0.01)


def test_an_absurd_declared_sample_rate_is_refused() -> None:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(2_000_000)
        w.writeframes(b"\0\0" * 20_000)
    with pytest.raises(InputError) as err:
        decode_audio(buf.getvalue(), max_seconds=60)
    assert "audio_data" in err.value.message


@pytest.mark.parametrize(
    "payload",
    [
        b"hello, this is not audio at all" * 10,
        b"\x89PNG\r\n\x1a\n" + bytes(200),
        b"%PDF-1.7\n" + bytes(200),
        b"#EXTM3U\n#EXT-X-VERSION:3\nhttp://127.0.0.1/x.ts\n",
    ],
)
def test_unknown_formats_give_415(payload: bytes) -> None:
    with pytest.raises(UnsupportedMediaType) as err:
        create_analyzer(Settings()).decode(b64(payload))
    assert "audio_data" in err.value.message


def test_bad_base64_and_wrong_types_give_422() -> None:
    analyzer = create_analyzer(Settings())
    for bad in ("@@@not base64@@@", "", 12, None, ["a"]):
        with pytest.raises(InputError) as err:
            analyzer.decode(bad)
        assert "audio_data" in err.value.message


@pytest.mark.parametrize("fmt", ["wav_s16", "webm_opus", "ogg_opus", "mp3", "mp4_aac", "flac"])
def test_truncated_headers_give_an_input_error(speech: np.ndarray, fmt: str) -> None:
    data = encode(speech, fmt)
    with pytest.raises(InputError) as err:
        decode_audio(data[:40], max_seconds=60)
    assert "audio_data" in err.value.message


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_corrupted_payloads_never_raise_anything_but_input_errors(
    speech: np.ndarray, fmt: str
) -> None:
    data = encode(speech[: SAMPLE_RATE * 2], fmt)
    rng = random.Random(fmt)
    for _ in range(60):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 40)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        cut = rng.randrange(len(mutated) // 4, len(mutated) + 1)
        try:
            decoded = decode_audio(bytes(mutated[:cut]), max_seconds=60)
        except InputError:
            continue
        assert decoded.samples.dtype == np.float32
        assert np.all(np.isfinite(decoded.samples))


def test_corrupt_aac_claiming_eight_channels_does_not_crash_the_process() -> None:
    # Found by fuzzing: PyAV's to_ndarray read a dangling ninth plane here and segfaulted.
    with pytest.raises(InputError):
        decode_audio((DATA / "fuzz_aac_8ch_crash.mp4").read_bytes(), max_seconds=60)


def test_magic_byte_sniffing() -> None:
    assert sniff_format(b"RIFF\0\0\0\0WAVEfmt ") == "wav"
    assert sniff_format(b"OggS\0\x02") == "ogg"
    assert sniff_format(b"\x1a\x45\xdf\xa3\x01") == "matroska"
    assert sniff_format(b"\0\0\0\x20ftypM4A ") == "mp4"
    assert sniff_format(b"fLaC\0\0\0\x22") == "flac"
    assert sniff_format(b"ID3\x04\0") == "mp3"
    assert sniff_format(b"\xff\xfb\x90\x00") == "mp3"
    assert sniff_format(b"\xff\xf1\x50\x80") == "aac"
    assert sniff_format(b"\0\0") is None


def test_all_shipped_speech_decodes() -> None:
    for name in SPEECH_FILES:
        assert load(name).size > SAMPLE_RATE // 2


def test_a_wav_header_declaring_hours_it_does_not_hold_is_corrupt(speech: np.ndarray) -> None:
    data = bytearray(encode(speech, "wav_s16"))
    at = data.index(b"data") + 4
    data[at : at + 4] = struct.pack("<I", 16_000 * 2 * 4 * 3600)  # a concrete 4 hours
    with pytest.raises(InputError) as err:
        decode_audio(bytes(data), max_seconds=60)
    assert "audio_data" in err.value.message


def test_a_wav_longer_than_the_limit_is_refused_before_decoding() -> None:
    data = encode(np.zeros(SAMPLE_RATE * 90, dtype=np.float32), "wav_s16")
    with pytest.raises(PayloadTooLarge) as err:
        decode_audio(data, max_seconds=60)
    assert "audio_data" in err.value.message and "60" in err.value.message
