"""Test helpers: the shipped real recordings, encoding into every accepted format with PyAV,
and controlled variations (pitch, tempo, level) with FFmpeg filters through PyAV."""

from __future__ import annotations

import base64
import io
from fractions import Fraction
from pathlib import Path

import av
import av.filter
import numpy as np

from mindsync.analysis.voice.decode import SAMPLE_RATE, decode_audio

DATA = Path(__file__).resolve().parents[2] / "data" / "voice"
SPEECH_FILES = ("arctic_a0007.wav", "librivox_0890.wav", "praatio_bobby_48k.wav", "amfm_sample.wav")

# name -> (container format, codec, codec sample rate, channels, muxer options)
FORMATS: dict[str, tuple[str, str, int, int, dict[str, str]]] = {
    "wav_s16": ("wav", "pcm_s16le", 16_000, 1, {}),
    "wav_s24_44k_stereo": ("wav", "pcm_s24le", 44_100, 2, {}),
    "wav_s32": ("wav", "pcm_s32le", 16_000, 1, {}),
    "wav_f32_48k": ("wav", "pcm_f32le", 48_000, 1, {}),
    "mp3": ("mp3", "libmp3lame", 44_100, 1, {}),
    "ogg_vorbis": ("ogg", "vorbis", 44_100, 2, {}),
    "ogg_opus": ("ogg", "libopus", 48_000, 1, {}),
    "webm_opus": ("webm", "libopus", 48_000, 1, {}),
    # MediaRecorder's streamed WebM: unknown-size clusters, no duration, no cues.
    "webm_opus_live": ("webm", "libopus", 48_000, 2, {"live": "1"}),
    "mp4_aac": ("mp4", "aac", 44_100, 1, {}),
    # Safari's MediaRecorder writes fragmented MP4.
    "mp4_aac_fragmented": ("mp4", "aac", 48_000, 1, {"movflags": "frag_keyframe+empty_moov"}),
    "flac": ("flac", "flac", 16_000, 1, {}),
}


def load(name: str) -> np.ndarray:
    """A shipped recording as 16 kHz mono float32, shape (N,)."""
    return decode_audio((DATA / name).read_bytes(), max_seconds=600).samples


def encode(samples: np.ndarray, fmt: str, *, rate: int = SAMPLE_RATE) -> bytes:
    """Encode mono float32 ``samples`` at ``rate`` into ``fmt`` (a key of :data:`FORMATS`)."""
    container_fmt, codec, codec_rate, channels, options = FORMATS[fmt]
    buf = io.BytesIO()
    layout = "stereo" if channels == 2 else "mono"
    with av.open(buf, mode="w", format=container_fmt, options=options) as out:
        stream = out.add_stream(codec, rate=codec_rate, layout=layout)
        if codec == "vorbis":
            stream.codec_context.options = {"strict": "experimental"}
        data = np.asarray(samples, dtype=np.float32)
        if channels == 2:
            # Left and right differ a little, as with a real stereo microphone.
            planes = np.stack((data, 0.8 * data)).astype(np.float32)
            frame_fmt = "fltp"
        else:
            planes = data[None, :]
            frame_fmt = "flt"
        resampler = av.AudioResampler(
            format=stream.codec_context.format.name, layout=layout, rate=codec_rate
        )
        step = 1024
        for i in range(0, planes.shape[1], step):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(planes[:, i : i + step]), format=frame_fmt, layout=layout
            )
            frame.sample_rate = rate
            frame.pts = None
            for rf in resampler.resample(frame):
                rf.pts = None
                for packet in stream.encode(rf):
                    out.mux(packet)
        for rf in resampler.resample(None):
            rf.pts = None
            for packet in stream.encode(rf):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def b64(data: bytes, mime: str | None = None) -> str:
    """Base64 text of ``data``, as a ``data:`` URL when ``mime`` is given."""
    text = base64.b64encode(data).decode("ascii")
    return f"data:{mime};base64,{text}" if mime else text


def apply_filters(samples: np.ndarray, chain: list[tuple[str, str]]) -> np.ndarray:
    """Run 16 kHz mono ``samples`` through an FFmpeg filter chain; return 16 kHz mono float32.

    Example: ``[("asetrate", "19027"), ("aresample", "16000")]`` raises pitch and tempo by
    three semitones together, like speaking higher and faster.
    """
    graph = av.filter.Graph()
    tb = Fraction(1, SAMPLE_RATE)
    node = graph.add_abuffer(format="flt", sample_rate=SAMPLE_RATE, layout="mono", time_base=tb)
    first = node
    for name, args in [*chain, ("aresample", str(SAMPLE_RATE)), ("aformat", "sample_fmts=flt")]:
        nxt = graph.add(name, args)
        node.link_to(nxt)
        node = nxt
    sink = graph.add("abuffersink")
    node.link_to(sink)
    graph.configure()
    del first
    frame = av.AudioFrame.from_ndarray(
        np.asarray(samples, dtype=np.float32)[None, :], format="flt", layout="mono"
    )
    frame.sample_rate = SAMPLE_RATE
    frame.pts = 0
    frame.time_base = tb
    graph.push(frame)
    graph.push(None)
    chunks = []
    while True:
        try:
            chunks.append(graph.pull().to_ndarray().reshape(-1))
        except (av.BlockingIOError, av.EOFError):
            break
    return np.clip(np.concatenate(chunks), -1.0, 1.0).astype(np.float32)


def semitone_rate(semitones: float) -> str:
    """The ``asetrate`` argument that shifts 16 kHz audio by ``semitones``."""
    return str(round(SAMPLE_RATE * 2 ** (semitones / 12.0)))
