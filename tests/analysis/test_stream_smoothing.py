"""Smoothing of streamed scores: a dropout keeps the last value, "not applicable" clears it."""

from __future__ import annotations

from mindsync.analysis.stream import Smoother


def test_a_missed_frame_keeps_the_last_smoothed_value() -> None:
    smoother = Smoother(alpha=0.5)
    assert smoother.update("attention", 0.8) == 0.8
    assert smoother.update("attention", None, "no_usable_signal") == 0.8
    assert smoother.update("attention", 0.4) == 0.6


def test_attention_that_does_not_apply_while_walking_is_null_not_stale() -> None:
    smoother = Smoother(alpha=0.5)
    smoother.update("attention", 0.9)
    assert smoother.update("attention", None, "not_applicable_moving") is None
    # Back at the desk: smoothing starts again from the new value, not from before the walk.
    assert smoother.update("attention", 0.3) == 0.3
