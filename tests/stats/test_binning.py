import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.stats.binning import Histogram, histogram, log_bins


def test_log_bins_relative_width():
    e = log_bins(2500.0, 6000.0, 0.05)
    r = e[1:] / e[:-1]
    assert np.allclose(r, r[0])
    assert abs(r[0] - 1.05) < 0.005
    assert e[0] == 2500.0 and e[-1] == 6000.0


@pytest.mark.parametrize("args", [(0.0, 10.0, 0.1), (10.0, 5.0, 0.1), (1.0, 2.0, 0.0)])
def test_log_bins_bad(args):
    with pytest.raises(InputError):
        log_bins(*args)


def test_histogram_overflow_and_nan():
    h = histogram([1.0, 2.5, 3.0, 5.0, -1.0], [0.0, 2.0, 3.0])
    assert h.counts.tolist() == [1.0, 2.0]
    assert (h.n_underflow, h.n_overflow) == (1, 1)
    with pytest.raises(InputError, match="NaN"):
        histogram([1.0, np.nan], [0.0, 2.0])


def test_histogram_roundtrip_and_validation():
    h = Histogram([0.0, 1.0, 2.0], [3.0, 4.0])
    assert Histogram.from_dict(h.to_dict()).counts.tolist() == [3.0, 4.0]
    with pytest.raises(InputError, match="increasing"):
        Histogram([0.0, 0.0, 1.0], [1.0, 1.0])
    with pytest.raises(InputError, match="counts"):
        Histogram([0.0, 1.0], [1.0, 2.0])
    with pytest.raises(InputError, match="non-negative"):
        Histogram([0.0, 1.0], [-1.0])
    with pytest.raises(InputError, match="edges"):
        Histogram.from_dict({"counts": [1]}, source="x.json")


def test_window_overlap_counts_the_window_once():
    from adsearch.stats.binning import window_overlap

    e = log_bins(2800.0, 6000.0)
    f = window_overlap(e, (3300.0, 3700.0))
    assert np.all((f >= 0) & (f <= 1)) and f[0] == f[-1] == 0 and f.max() == 1
    assert np.sum(f * np.diff(e)) == pytest.approx(400.0)  # the window's width, once
    assert np.all(window_overlap(e, None) == 0) and window_overlap(e, (0.0, 1e4)).min() == 1
