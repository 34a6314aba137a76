"""MediaRecorder WebM/Opus chunks decoded as they arrive, with one long-lived decoder."""

from __future__ import annotations

import numpy as np
import pytest

from mindsync.analysis.errors import InputError, UnsupportedMediaType
from mindsync.analysis.voice.decode import decode_audio, resample
from mindsync.analysis.voice.webm_stream import WebmOpusStream, _Decimator
from tests.analysis.voice.voice_audio import encode, load

# Both decoders drop the Opus pre-skip; a shift of up to the pre-skip (312 samples at 48 kHz)
# is allowed in case a muxer's CodecDelay and the header disagree (measured: no shift).
MAX_LAG = 312 // 3
# A file decoder trims the last packet's padding to the file's length; a live stream cannot
# know where the recording ends and keeps it: at most one 20 ms Opus frame.
MAX_TAIL = 320
# Past that shift the samples agree to float rounding of the same decoder (measured 2.1e-4).
SAMPLE_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def webm() -> bytes:
    speech = load("librivox_0890.wav")
    return encode(np.tile(speech, 2)[: 16_000 * 8], "webm_opus_live")


def _cluster_chunks(data: bytes) -> list[bytes]:
    """Cut at cluster boundaries, as MediaRecorder's timeslices arrive."""
    cluster = bytes.fromhex("1F43B675")
    starts = [i for i in range(len(data)) if data.startswith(cluster, i)]
    bounds = [0, *starts[1:], len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def _lag(streamed: np.ndarray, whole: np.ndarray) -> int:
    n = min(streamed.size, whole.size) - 2 * MAX_LAG
    errors = [np.abs(streamed[:n] - whole[lag : lag + n]).max() for lag in range(MAX_LAG + 1)]
    return int(np.argmin(errors))


def test_chunks_decode_to_the_audio_of_the_whole_file(webm) -> None:
    whole = decode_audio(webm, max_seconds=60).samples
    decoder = WebmOpusStream()
    parts = [decoder.feed(chunk) for chunk in _cluster_chunks(webm)]
    assert len(parts) >= 4 and all(p.size for p in parts[1:])
    streamed = np.concatenate(parts)
    lag = _lag(streamed, whole)
    n = min(streamed.size, whole.size - lag)
    assert 0 <= streamed.size + lag - whole.size <= MAX_TAIL
    assert np.abs(streamed[:n] - whole[lag : lag + n]).max() < SAMPLE_TOLERANCE


def test_elements_cut_between_chunks_wait_for_the_rest(webm) -> None:
    """Chunks need not end on a cluster: any cut gives the same samples."""
    by_cluster = np.concatenate([WebmOpusStream().feed(webm)])
    decoder = WebmOpusStream()
    by_777 = np.concatenate([decoder.feed(webm[i : i + 777]) for i in range(0, len(webm), 777)])
    np.testing.assert_array_equal(by_777, by_cluster)


def test_the_stateful_resampler_matches_the_file_decoders_resampler() -> None:
    x = np.random.default_rng(0).standard_normal(48_000).astype(np.float32) * 0.1
    decimator = _Decimator()
    streamed = np.concatenate([decimator.feed(x[i : i + 4801]) for i in range(0, x.size, 4801)])
    whole = resample(x, 1, 3)
    assert whole.size - streamed.size <= 6  # the last outputs wait for their inputs
    np.testing.assert_allclose(streamed, whole[: streamed.size], atol=1e-6)


def test_a_stream_that_does_not_start_with_the_webm_header_is_refused(webm) -> None:
    with pytest.raises(UnsupportedMediaType, match="header"):
        WebmOpusStream().feed(_cluster_chunks(webm)[1])


def test_a_corrupt_stream_is_an_input_error(webm) -> None:
    decoder = WebmOpusStream()
    decoder.feed(webm[:200])
    with pytest.raises(InputError):
        decoder.feed(b"\x00" * 64)
