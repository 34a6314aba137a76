"""A live stream's audio window and what was already measured in it (numpy only).

The server process keeps, per stream, the last seconds of 16 kHz audio and a
:class:`FrameTrack`: the per-frame pitch measurements (YIN, 10 ms frames) of the audio it has
already sent for analysis, and each voiced run's jitter/shimmer share. A tick sends both with
the window (:class:`VoiceWindow`) to whichever analysis process is free; that process
measures only the frames the track lacks, summarises the window, and returns the updated
track with the result. So the state lives in the server process, where it costs a copy, and
the work runs in the pool, where any process can do it: nothing is pinned to one process and
a restarted pool loses nothing.

This module imports no decoder and no scipy: the server process uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: 10 ms analysis frames at 16 kHz (``features.HOP``): window origins are multiples of it,
#: so that a frame measured on one tick is the same frame on the next.
FRAME_HOP = 160
#: Window origins a multiple of this apart share the non-speech cues' frame grids too (32 and
#: 64 ms frames at hops of 256 and 512 samples: lcm(160, 512) = 2560, 160 ms).
CUE_ALIGN = 2560


@dataclass
class FrameTrack:
    """Settled per-frame YIN results of a stream, by absolute frame index.

    ``first``: absolute index (absolute sample / :data:`FRAME_HOP`) of the first frame held;
    ``aperiodicity``, ``f0``, ``corr``: float64 arrays of one length, as
    ``features.yin_frames`` returns them. ``pulses``: the jitter/shimmer share of each voiced
    run by absolute position and f0 track (``features._perturbation``).
    """

    first: int = 0
    aperiodicity: np.ndarray = field(default_factory=lambda: np.zeros(0))
    f0: np.ndarray = field(default_factory=lambda: np.zeros(0))
    corr: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pulses: dict[tuple[int, int, bytes], tuple[float, float, int, float, float, int]] = field(
        default_factory=dict
    )
    #: (absolute origin, nonspeech.CueFrames) of the last window: the non-speech cues' frames.
    cues: tuple[int, Any] | None = None

    @property
    def end(self) -> int:
        """One past the absolute index of the last frame held."""
        return self.first + int(self.aperiodicity.shape[0])


@dataclass
class VoiceWindow:
    """The audio a stream's tick analyses: ``samples`` (int16 PCM, shape (N,), 16 kHz mono)
    starting at absolute sample ``origin`` (a multiple of :data:`FRAME_HOP`), the decoder
    that produced them, and the stream's :class:`FrameTrack` (None at first)."""

    samples: np.ndarray
    origin: int
    codec: str
    track: FrameTrack | None = None
