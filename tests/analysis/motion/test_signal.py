"""The motion analyser's numerics equal the library functions they stand in for, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from mindsync.analysis.motion.features import percentiles
from mindsync.analysis.motion.signal import (
    _filtfilt,
    _lowpass,
    _sosfilt_rows,
    _sosfilt_rows_public,
    to_canonical,
)
from tests.analysis.motion.test_phone_recordings import EXCERPTS

FILTERS = [(4, 4.5, 50.0), (4, 4.5, 100.0), (4, 2.0, 10.0), (2, 0.3, 10.0)]


def _scipy(order: int, cutoff: float, fs: float, x: np.ndarray) -> np.ndarray:
    sos = signal.butter(order, cutoff, btype="lowpass", fs=fs, output="sos")
    padlen = min(3 * (2 * sos.shape[0] + 1), x.shape[0] - 2)
    result: np.ndarray = signal.sosfiltfilt(sos, x, axis=0, padlen=padlen)
    return result


@pytest.mark.parametrize("n", [4, 5, 9, 26, 27, 28, 301, 1500])
@pytest.mark.parametrize("columns", [1, 3, 6])
def test_the_filter_equals_scipys_sosfiltfilt(n: int, columns: int) -> None:
    rng = np.random.default_rng(n * 10 + columns)
    x = 9.81 + rng.normal(size=(n, columns))
    for order, cutoff, fs in FILTERS:
        expected = _scipy(order, cutoff, fs, x)
        np.testing.assert_array_equal(_filtfilt(_lowpass(order, cutoff, fs), x), expected)


def test_the_filter_equals_scipys_on_real_phone_recordings() -> None:
    with np.load(EXCERPTS) as data:
        recordings = [data[key] for key in sorted(data.files)]
    assert len(recordings) == 24  # twelve excerpts: acceleration and gyroscope
    for x in recordings:
        for order, cutoff, fs in FILTERS:
            np.testing.assert_array_equal(
                _filtfilt(_lowpass(order, cutoff, fs), x), _scipy(order, cutoff, fs, x)
            )


def test_stretches_shorter_than_the_padding_are_filtered_as_scipy_filters_them() -> None:
    for n in (1, 2, 3):
        x = np.arange(3.0 * n).reshape(n, 3)
        for order, cutoff, fs in FILTERS:
            np.testing.assert_array_equal(
                _filtfilt(_lowpass(order, cutoff, fs), x), _scipy(order, cutoff, fs, x)
            )


@pytest.mark.parametrize("m", [1, 2, 3, 10, 99, 100, 128])
def test_the_window_percentiles_equal_numpys(m: int) -> None:
    rng = np.random.default_rng(m)
    for values in (rng.normal(size=(5, m)), rng.random(m), np.repeat(rng.random((3, 1)), m, 1)):
        qs = (0, 10, 50, 90, 100, 33.3)
        for ours, numpys in zip(
            percentiles(values, qs), np.percentile(values, qs, axis=-1), strict=True
        ):
            np.testing.assert_array_equal(ours, numpys)


def test_canonical_segments_are_what_column_by_column_filtering_gives() -> None:
    """The row layout of :func:`to_canonical` changes no value: the reference below is the
    column-by-column pipeline it replaced, with scipy's own ``sosfiltfilt``."""
    with np.load(EXCERPTS) as data:
        keys = sorted(data.files)
        acc, gyro = data[keys[0]].astype(np.float64), data[keys[1]].astype(np.float64)
    n = min(len(acc), len(gyro))
    acc, gyro = acc[:n], gyro[:n]
    t = np.arange(n) / 50.0
    x = np.hstack((acc, gyro))
    native = t[0] + np.arange(int((t[-1] - t[0]) * 50.0) + 1) / 50.0
    x = np.column_stack([np.interp(native, t, x[:, k]) for k in range(6)])
    x = _scipy(4, 4.5, 50.0, x)
    grid = t[0] + np.arange(int(round((t[-1] - t[0]) * 10.0, 6)) + 1) / 10.0
    y = _scipy(4, 4.0, 10.0, np.column_stack([np.interp(grid, native, x[:, k]) for k in range(6)]))
    gravity = _scipy(2, 0.3, 10.0, y[:, :3])
    segment = to_canonical(t, acc, gyro, 50.0)
    np.testing.assert_array_equal(segment.gravity, gravity)
    np.testing.assert_array_equal(segment.dynamic, y[:, :3] - gravity)
    assert segment.gyro is not None
    np.testing.assert_array_equal(segment.gyro, y[:, 3:] - np.median(y[:, 3:], axis=0))


def test_the_public_fallback_filters_rows_as_scipys_kernel() -> None:
    rng = np.random.default_rng(7)
    sos, zi = _lowpass(4, 4.5, 50.0)
    rows = 9.81 + rng.normal(size=(6, 300))
    initial = zi[None] * rows[:, :1, None]
    kernel, public = rows.copy(), rows.copy()
    _sosfilt_rows(sos, kernel, initial.copy())
    _sosfilt_rows_public(sos, public, initial.copy())
    np.testing.assert_array_equal(public, kernel)
