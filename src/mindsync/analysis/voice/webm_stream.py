"""Decoding MediaRecorder's WebM/Opus chunks as they arrive, keeping the decoder's state.

MediaRecorder sends one WebM file in pieces: the first chunk holds the EBML header, the
track description (with the Opus header) and the first cluster; every later chunk holds the
next clusters. A piece after the first cannot be decoded alone, so the stream used to
prepend the first chunk to the last few and decode all of them again on every tick.

:class:`WebmOpusStream` instead reads the Matroska elements once, as bytes arrive (a small
EBML reader: masters are entered, leaves read whole; an element cut between two chunks waits
for the rest), hands each Opus packet to one long-lived decoder (PyAV), and resamples
48 kHz to 16 kHz with a stateful polyphase filter. Each chunk costs the decoding of its own
audio only.

Differences from decoding the whole file with :func:`~mindsync.analysis.voice.decode.decode_audio`:
the samples agree within 1e-3 (measured 2e-4: the same decoder, resampled in pieces), the
last :data:`FILTER_HALF` input samples (0.3 ms) wait for the next chunk, and the encoder's
padding of the last packet, which a file decoder trims to the file's length, is kept (a live
stream has no known end). tests/analysis/voice/test_webm_stream.py compares them.
"""

from __future__ import annotations

import math

import av
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from mindsync.analysis.errors import InputError, UnsupportedMediaType

# The server process decodes these chunks: nothing here imports scipy (voice/decode.py does,
# and scipy.signal alone took a second to import, on the event loop's first WebM chunk).
SAMPLE_RATE = 16_000  # voice.decode.SAMPLE_RATE
FIELD = "audio"
OPUS_RATE = 48_000
DOWN = OPUS_RATE // SAMPLE_RATE


def _taps(down: int) -> np.ndarray:
    """``voice.decode._antialias(1, down)`` with numpy only: ``scipy.signal.firwin(10 * down
    + 1, 1 / down, window=("kaiser", 5.0))``, a Kaiser-windowed sinc scaled to unit DC gain."""
    n = 10 * down + 1
    m = np.arange(n) - (n - 1) / 2
    h: np.ndarray = np.sinc(m / down) / down * np.kaiser(n, 5.0)
    taps: np.ndarray = h / h.sum()
    return taps


TAPS = _taps(DOWN)
FILTER_HALF = (TAPS.shape[0] - 1) // 2
PLANAR_FLOAT = frozenset({"fltp", "dblp"})
# Masters entered rather than skipped: EBML readers in browsers write Segment and Cluster
# with "unknown size", which only entering (not skipping) can follow.
SEGMENT, CLUSTER, TRACKS, TRACK_ENTRY, BLOCK_GROUP = (
    0x18538067,
    0x1F43B675,
    0x1654AE6B,
    0xAE,
    0xA0,
)
MASTERS = frozenset({SEGMENT, CLUSTER, TRACKS, TRACK_ENTRY, BLOCK_GROUP})
EBML_HEADER = 0x1A45DFA3
TRACK_NUMBER, CODEC_ID, CODEC_PRIVATE = 0xD7, 0x86, 0x63A2
SIMPLE_BLOCK, BLOCK = 0xA3, 0xA1
# A leaf larger than this is not MediaRecorder audio (a 1 s Opus cluster is a few KB).
MAX_ELEMENT_BYTES = 1 << 20


def _vint(buf: bytearray | bytes, pos: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``pos``: (value, length), or None if cut off.

    ``keep_marker``: element IDs keep their length marker; sizes drop it. A size of all ones
    ("unknown") is returned as -1.
    """
    if pos >= len(buf):
        return None
    first = buf[pos]
    if first == 0:
        raise InputError(f"{FIELD}: the WebM stream is corrupt (bad EBML number)", field=FIELD)
    length = 8 - first.bit_length() + 1
    if pos + length > len(buf):
        return None
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    for b in buf[pos + 1 : pos + length]:
        value = (value << 8) | b
    if not keep_marker and value == (1 << (7 * length)) - 1:
        return -1, length
    return value, length


class _Decimator:
    """48 kHz -> 16 kHz with the filter :func:`~mindsync.analysis.voice.decode.resample`
    uses, output sample ``n`` aligned on input sample ``3n`` as ``resample_poly`` aligns it."""

    def __init__(self) -> None:
        self._buf = np.zeros(FILTER_HALF, dtype=np.float64)  # zeros before the first sample
        self._base = -FILTER_HALF  # absolute input index of _buf[0]
        self._next = 0  # next output index

    def feed(self, x: np.ndarray) -> np.ndarray:
        """Append 48 kHz samples; return every 16 kHz sample they complete (float32)."""
        self._buf = np.concatenate((self._buf, x.astype(np.float64)))
        total = self._base + self._buf.shape[0]  # absolute index one past the last input
        last = (total - 1 - FILTER_HALF) // DOWN  # last output whose inputs have all arrived
        if last < self._next:
            return np.zeros(0, dtype=np.float32)
        start = DOWN * self._next - FILTER_HALF - self._base
        windows = sliding_window_view(self._buf[start:], TAPS.shape[0])[::DOWN]
        out: np.ndarray = windows[: last - self._next + 1] @ TAPS[::-1]
        self._next = last + 1
        drop = DOWN * self._next - FILTER_HALF - self._base
        self._buf = self._buf[drop:]
        self._base += drop
        return out.astype(np.float32)


class WebmOpusStream:
    """Feed MediaRecorder WebM/Opus chunks in order; get 16 kHz mono float32 audio back."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._entries: list[dict[int, bytes | int]] = []
        self._track: int | None = None
        self._decoder: av.AudioCodecContext | None = None
        self._decimator = _Decimator()
        self._started = False

    def feed(self, chunk: bytes) -> np.ndarray:
        """Parse and decode ``chunk``; returns the new 16 kHz samples (possibly none).

        Raises :class:`UnsupportedMediaType` when the stream is not WebM with an Opus track,
        :class:`InputError` when it is corrupt.
        """
        if not self._started:
            if chunk[:4] != b"\x1a\x45\xdf\xa3":
                raise UnsupportedMediaType(
                    f"{FIELD}: kind 3 chunks must be MediaRecorder WebM/Opus, starting with "
                    "the chunk that holds the WebM header",
                    field=FIELD,
                )
            self._started = True
        self._buf += chunk
        packets = self._parse()
        if not packets:
            return np.zeros(0, dtype=np.float32)
        pcm = self._decode(packets)
        return self._decimator.feed(pcm) if pcm.size else np.zeros(0, dtype=np.float32)

    def _parse(self) -> list[bytes]:
        buf, pos, packets = self._buf, 0, []
        while True:
            head = _vint(buf, pos, keep_marker=True)
            if head is None:
                break
            ident, id_len = head
            sized = _vint(buf, pos + id_len, keep_marker=False)
            if sized is None:
                break
            size, size_len = sized
            body = pos + id_len + size_len
            if ident in MASTERS:
                if ident == TRACK_ENTRY:
                    self._entries.append({})
                pos = body
                continue
            if size < 0 or size > MAX_ELEMENT_BYTES:
                raise InputError(
                    f"{FIELD}: the WebM stream is corrupt (an element of unknown or "
                    f"excessive size)",
                    field=FIELD,
                )
            if body + size > len(buf):
                break  # the rest comes in the next chunk
            data = bytes(buf[body : body + size])
            pos = body + size
            if ident in (TRACK_NUMBER, CODEC_ID, CODEC_PRIVATE) and self._entries:
                value: bytes | int = int.from_bytes(data, "big") if ident == TRACK_NUMBER else data
                self._entries[-1][ident] = value
            elif ident in (SIMPLE_BLOCK, BLOCK):
                packet = self._block(data)
                if packet is not None:
                    packets.append(packet)
        del buf[:pos]
        return packets

    def _block(self, data: bytes) -> bytes | None:
        """The Opus packet of a (Simple)Block of the Opus track, or None for other tracks."""
        number = _vint(data, 0, keep_marker=False)
        if number is None or len(data) < number[1] + 3:
            raise InputError(f"{FIELD}: the WebM stream is corrupt (short block)", field=FIELD)
        track, n_len = number
        if self._track is None:
            self._open()
        if track != self._track:
            return None
        flags = data[n_len + 2]
        if flags & 0x06:
            raise UnsupportedMediaType(
                f"{FIELD}: laced WebM blocks are not supported; send MediaRecorder's output",
                field=FIELD,
            )
        return data[n_len + 3 :]

    def _open(self) -> None:
        for entry in self._entries:
            if entry.get(CODEC_ID) == b"A_OPUS":
                number = entry.get(TRACK_NUMBER)
                private = entry.get(CODEC_PRIVATE)
                if not isinstance(number, int) or not isinstance(private, bytes):
                    break
                if len(private) < 19 or private[:8] != b"OpusHead":
                    break
                decoder = av.CodecContext.create("opus", "r")
                assert isinstance(decoder, av.AudioCodecContext)
                decoder.extradata = private
                self._decoder = decoder
                self._track = number
                return
        raise UnsupportedMediaType(f"{FIELD}: the WebM stream has no Opus audio track", field=FIELD)

    def _decode(self, packets: list[bytes]) -> np.ndarray:
        assert self._decoder is not None
        arrays: list[np.ndarray] = []
        try:
            for payload in packets:
                for frame in self._decoder.decode(av.Packet(payload)):
                    if int(frame.sample_rate) != OPUS_RATE:
                        raise InputError(f"{FIELD}: Opus must decode at 48 kHz", field=FIELD)
                    arrays.append(_frame_mono(frame))
        except (av.FFmpegError, ValueError) as exc:
            raise InputError(
                f"{FIELD}: an Opus packet of the WebM stream could not be decoded", field=FIELD
            ) from exc
        if not arrays:
            return np.zeros(0, dtype=np.float32)
        pcm = np.concatenate(arrays)
        if not np.all(np.isfinite(pcm)):
            pcm = np.nan_to_num(pcm, nan=0.0, posinf=1.0, neginf=-1.0)
        clipped: np.ndarray = np.clip(pcm, -1.0, 1.0)
        return clipped


def _frame_mono(frame: av.AudioFrame) -> np.ndarray:
    """A decoded Opus frame as mono float32 (channels averaged, as voice/decode.py does).

    Reads exactly the planes the layout names and ``frame.samples`` values of each (not
    ``to_ndarray``: see ``voice.decode._frame_array``). FFmpeg's Opus decoder gives float.
    """
    name = frame.format.name
    n = int(frame.samples)
    channels = len(frame.layout.channels)
    if name in PLANAR_FLOAT:
        dtype = np.float32 if name == "fltp" else np.float64
        if len(frame.planes) < channels:
            raise ValueError("fewer planes than channels")
        data = np.stack(
            [
                np.frombuffer(memoryview(frame.planes[i]), dtype=dtype, count=n)
                for i in range(channels)
            ]
        )
    elif name in ("flt", "dbl"):
        dtype = np.float32 if name == "flt" else np.float64
        data = np.frombuffer(memoryview(frame.planes[0]), dtype=dtype, count=n * channels)
        data = data.reshape(-1, max(channels, 1)).T
    else:
        raise InputError(f"{FIELD}: the Opus decoder gave {name} samples", field=FIELD)
    mono: np.ndarray = (
        data.mean(axis=0, dtype=np.float32) if data.shape[0] > 1 else data[0].astype(np.float32)
    )
    return mono


assert math.gcd(OPUS_RATE, SAMPLE_RATE) == SAMPLE_RATE
