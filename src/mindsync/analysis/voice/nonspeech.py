"""Is the sound in a clip speech at all? Cues that speech has and tones, beeps and music lack.

Voice-activity detection and a pitch tracker both accept any periodic sound: a beep, a
ringtone, a hummed note, a song. Speech differs in ways that are cheap to measure
(Scheirer & Slaney 1997; Saunders 1996; Houtgast & Steeneken 1985):

* **its spectrum keeps changing.** Formants and pitch move from one syllable to the next, so
  the strongest spectral peak of one 32 ms frame seldom holds most of the frame's power and
  seldom stays on one frequency for long. A tone, a beep or mains hum keeps one dominant peak
  in nearly every frame (:func:`tone_share`).
* **its loudness follows syllables, not a beat.** The onset envelope of speech is
  quasi-periodic at the syllable rate (about 4 Hz) but irregular from one syllable to the
  next: its autocorrelation at lags of 0.25-1.5 s stays low. Music and repeated signals keep
  a beat: the autocorrelation has a clear peak (:func:`beat_strength`).
* **it pauses.** Stops, unvoiced consonants and breaks between words put many frames well
  below the local mean level; music and hum are continuous (:func:`low_energy_fraction`).

Each threshold below was set from measurements on real recordings listed in
``docs/models/voice.md`` (61 speech clips of 31 speakers against 16 music excerpts, 60
game sounds and generated tones) with a margin on the speech side: a clip is refused only
when two independent cues agree, because refusing a clear sentence is worse than scoring a
song.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sfft

from mindsync.analysis.voice.decode import SAMPLE_RATE

N_FFT = 512  # 32 ms at 16 kHz, for the level envelope
HOP = 256
TONE_N_FFT = 1024  # 64 ms: bins of 15.6 Hz, fine enough to see a voice's f0 move
TONE_HOP = 512
# Frames within this many dB of the clip's loudest frame are "loud" (the sound, not the room).
LOUD_RANGE_DB = 25.0
# A frame is tonal when its strongest peak (+-1 bin, Hann main lobe) holds this share of the
# power above 60 Hz. One harmonic of a sung or spoken vowel rarely holds half of it: speech
# has several harmonics of similar strength under its formants.
TONAL_PEAK_SHARE = 0.6
# A steady tone: this share of the loud frames are tonal with their peak within
# TONE_STEADY_ST semitones of one frequency.
STEADY_TONE_SHARE = 0.7
TONE_STEADY_ST = 0.35
# Speech measured at most 0.19 (61 clips, 31 speakers); generated beeps of 20 ms 0.33.
REPEATED_TONE_SHARE = 0.3
# Onset-envelope autocorrelation peak at 0.25-1.5 s above which a sound keeps a beat.
# Speech measured at most 0.33 (61 clips), music at least 0.27 (16 excerpts, median 0.48).
BEAT_MIN = 0.40
# Share of loud frames 6 dB or more below the 1 s local mean: speech measured 0.09-0.46 (median
# 0.24), music 0.00-0.20 (median 0.11).
LOW_ENERGY_MAX_FOR_MUSIC = 0.22
MIN_LOUD_FRAMES = 6
TONE_ROWS = 64  # frames per block of _tone_peaks

NonSpeechKind = Literal["tone", "music"]


@dataclass(frozen=True, slots=True)
class SoundCues:
    """What :func:`sound_cues` measured. Shares are 0-1; ``beat`` is an autocorrelation."""

    tone_share: float
    tone_hz: float | None
    beat: float
    low_energy: float
    loud_frames: int

    def kind(self) -> NonSpeechKind | None:
        """``"tone"``, ``"music"`` or ``None`` (nothing argues against speech)."""
        if self.loud_frames < MIN_LOUD_FRAMES:
            return None
        if self.tone_share >= STEADY_TONE_SHARE:
            return "tone"
        # A short beep repeated at a steady rate (Chromium's fake microphone: 20 ms of 400 Hz
        # every 500 ms) fills few frames alone; its regularity says the rest.
        if self.tone_share >= REPEATED_TONE_SHARE and self.beat >= BEAT_MIN:
            return "tone"
        if self.beat >= BEAT_MIN and self.low_energy <= LOW_ENERGY_MAX_FOR_MUSIC:
            return "music"
        return None


def _frame_power(x: np.ndarray) -> np.ndarray:
    """Mean-removed power of ``x`` in 512-sample frames, hop 256 (shape (frames,))."""
    n = (x.shape[0] - N_FFT) // HOP + 1
    if n <= 0:
        return np.zeros(0)
    return _frame_var(x, N_FFT, HOP, n)


def _frame_var(x: np.ndarray, size: int, hop: int, n: int) -> np.ndarray:
    """Variance of ``n`` frames of ``size`` samples at ``hop`` of ``x``, in float64.

    The signal is converted once and the frames are views of it: converting the frames
    (which overlap) copied each sample twice and cost ten times more, for the same values.
    """
    x64 = x[: (n - 1) * hop + size].astype(np.float64)
    power: np.ndarray = sliding_window_view(x64, size)[::hop].var(axis=1)
    return power


def tone_share(x: np.ndarray) -> tuple[float, float | None]:
    """Share of the loud 64 ms frames of ``x`` held by one steady spectral peak, and its Hz.

    A frame counts when its strongest peak above 60 Hz (+-2 bins of 15.6 Hz) holds
    :data:`TONAL_PEAK_SHARE` of its power and the peak's interpolated frequency lies within
    :data:`TONE_STEADY_ST` of the median over such frames. Speech fails the second test: its
    f0 moves by 0.6 semitones (SD) or more over a clip even in a monotonous voice.
    """
    n = (x.shape[0] - TONE_N_FFT) // TONE_HOP + 1
    if n <= 0:
        return 0.0, None
    frames = sliding_window_view(x, TONE_N_FFT)[::TONE_HOP][:n]
    power = _frame_var(x, TONE_N_FFT, TONE_HOP, n)
    loud = power >= power.max() * 10 ** (-LOUD_RANGE_DB / 10)
    if power.max() <= 0 or not loud.any():
        return 0.0, None
    share, st = _tone_peaks(frames[loud])
    return _steady_tone(share >= TONAL_PEAK_SHARE, st)


def _tone_peaks(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per 64 ms frame (rows of ``frames``): the share of its power above 60 Hz held by the
    strongest peak (+-2 bins) and the peak's interpolated frequency in semitones re 1 Hz.
    Each row depends on its own samples only."""
    if frames.shape[0] <= TONE_ROWS:
        return _tone_peaks_block(frames)
    # Blocks of TONE_ROWS frames keep the spectra in cache.
    parts = [
        _tone_peaks_block(frames[a : a + TONE_ROWS]) for a in range(0, frames.shape[0], TONE_ROWS)
    ]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _tone_peaks_block(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_tone_peaks` of a few frames."""
    # The windowed float32 frames, transformed in float64 by scipy: numpy's float32 FFT
    # is as accurate (errors of 2e-8) but several times slower; scipy's float32 FFT is
    # faster still but less accurate (1e-6), enough to move a frame across a threshold.
    windowed = (frames * _tone_window()).astype(np.float64)
    spec = sfft.rfft(windowed, axis=1)
    s = spec.real**2 + spec.imag**2
    first = 4  # 62.5 Hz: DC offset and sub-audio rumble are not a tone here
    s = s[:, first:]
    total = s.sum(axis=1) + 1e-20
    peak = np.clip(s.argmax(axis=1), 2, s.shape[1] - 3)
    rows = np.arange(s.shape[0])
    lobe = sum(s[rows, peak + k] for k in range(-2, 3))
    a, b, c = (np.log(s[rows, peak + k] + 1e-30) for k in (-1, 0, 1))
    denom = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / denom, 0.0)
    hz = (peak + first + np.clip(shift, -0.5, 0.5)) * SAMPLE_RATE / TONE_N_FFT
    return lobe / total, 12.0 * np.log2(hz)


@functools.lru_cache(maxsize=1)
def _tone_window() -> np.ndarray:
    """The Hann window of :func:`_tone_peaks`, float32 (read-only)."""
    win = np.hanning(TONE_N_FFT).astype(np.float32)
    win.setflags(write=False)
    return win


def _steady_tone(tonal: np.ndarray, st: np.ndarray) -> tuple[float, float | None]:
    """:func:`tone_share`'s answer from the loud frames' tonal flags and peak semitones."""
    if not tonal.any():
        return 0.0, None
    centre = float(np.median(st[tonal]))
    steady = tonal & (np.abs(st - centre) <= TONE_STEADY_ST)
    return float(steady.mean()), float(2 ** (centre / 12.0))


@dataclass(frozen=True, slots=True)
class CueFrames:
    """The per-frame measurements behind :func:`sound_cues`, each of one frame's samples only,
    so that a stream can keep them between ticks (voice/incremental.py).

    ``power``: (n,) mean-removed power of 32 ms frames, hop 16 ms (:func:`_frame_power`);
    ``tone_power``, ``tone_share``, ``tone_st``: (m,) power, strongest-peak share and peak
    semitones of 64 ms frames, hop 32 ms (:func:`_tone_peaks`).
    """

    power: np.ndarray
    tone_power: np.ndarray
    tone_share: np.ndarray
    tone_st: np.ndarray


def cue_frames(x: np.ndarray) -> CueFrames:
    """Every frame's :class:`CueFrames` measurements of ``x`` (shape (N,), 16 kHz)."""
    x = np.asarray(x, dtype=np.float32)
    n = (x.shape[0] - TONE_N_FFT) // TONE_HOP + 1
    if n <= 0:
        empty = np.zeros(0)
        return CueFrames(_frame_power(x), empty, empty, empty)
    frames = sliding_window_view(x, TONE_N_FFT)[::TONE_HOP][:n]
    share, st = _tone_peaks(frames)
    return CueFrames(_frame_power(x), _frame_var(x, TONE_N_FFT, TONE_HOP, n), share, st)


def sound_cues_from_frames(frames: CueFrames) -> SoundCues:
    """:func:`sound_cues` from the clip's :class:`CueFrames` (the same answer)."""
    power = frames.power
    if power.size == 0 or power.max() <= 0:
        return SoundCues(0.0, None, 0.0, 0.0, 0)
    loud = power >= power.max() * 10 ** (-LOUD_RANGE_DB / 10)
    share, hz = 0.0, None
    tone_power = frames.tone_power
    if tone_power.size and tone_power.max() > 0:
        tone_loud = tone_power >= tone_power.max() * 10 ** (-LOUD_RANGE_DB / 10)
        if tone_loud.any():
            share, hz = _steady_tone(
                frames.tone_share[tone_loud] >= TONAL_PEAK_SHARE, frames.tone_st[tone_loud]
            )
    return SoundCues(
        tone_share=share,
        tone_hz=hz,
        beat=beat_strength(power),
        low_energy=low_energy_fraction(power, loud),
        loud_frames=int(loud.sum()),
    )


def beat_strength(power: np.ndarray) -> float:
    """Highest autocorrelation of the onset envelope at lags of 0.25-1.5 s (0 when too short).

    ``power``: frame powers at a hop of 16 ms. Lags past half the clip are not looked at.
    """
    env = np.log(power + 1e-10)
    onset = np.maximum(np.diff(env), 0.0)
    onset -= onset.mean()
    frame_s = HOP / SAMPLE_RATE
    lo, hi = int(0.25 / frame_s), int(1.5 / frame_s)
    hi = min(hi, onset.shape[0] // 2)
    if hi <= lo:
        return 0.0
    spec = np.fft.rfft(onset, 2 * onset.shape[0])
    ac = np.fft.irfft(np.abs(spec) ** 2)[: hi + 1]
    if ac[0] <= 0:
        return 0.0
    return float(np.max(ac[lo : hi + 1]) / ac[0])


def low_energy_fraction(power: np.ndarray, loud: np.ndarray) -> float:
    """Share of ``loud`` frames whose level is 6 dB or more below the 1 s local mean level."""
    rms = np.sqrt(power)
    k = max(1, min(int(1.0 * SAMPLE_RATE / HOP), rms.shape[0]))
    local = np.convolve(rms, np.ones(k) / k, mode="same")
    low = rms < 0.5 * local
    return float(low[loud].mean()) if loud.any() else 0.0


def sound_cues(x: np.ndarray) -> SoundCues:
    """Measure the non-speech cues of ``x`` (shape (N,), 16 kHz float). About 1 ms per second."""
    x = np.asarray(x, dtype=np.float32)
    power = _frame_power(x)
    if power.size == 0 or power.max() <= 0:
        return SoundCues(0.0, None, 0.0, 0.0, 0)
    loud = power >= power.max() * 10 ** (-LOUD_RANGE_DB / 10)
    share, hz = tone_share(x)
    return SoundCues(
        tone_share=share,
        tone_hz=hz,
        beat=beat_strength(power),
        low_energy=low_energy_fraction(power, loud),
        loud_frames=int(loud.sum()),
    )
