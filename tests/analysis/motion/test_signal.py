"""The motion analyser's zero-phase filter is scipy's ``sosfiltfilt``, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from mindsync.analysis.motion.signal import _filtfilt, _lowpass
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
