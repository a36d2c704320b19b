import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.stats.regions import MjjWindow, WorkingPoint, select, working_points


@pytest.fixture
def sample():
    rng = np.random.default_rng(0)
    mjj = rng.uniform(2500, 6000, 50000)
    score = rng.random(50000)
    return mjj, score


def test_efficiencies_on_control_region(sample):
    mjj, score = sample
    sr = MjjWindow(3300.0, 3700.0)
    wps = working_points(score, [0.1, 0.01, 0.001], mjj, sr)
    out = ~sr.contains(mjj)
    for wp in wps:
        eff = np.mean(score[out] > wp.threshold)
        assert eff == pytest.approx(wp.efficiency, rel=0.05, abs=2e-4)
        assert wp.n_reference == out.sum()
    assert wps[0].threshold < wps[1].threshold < wps[2].threshold


def test_thresholds_blind_to_signal_region(sample):
    mjj, score = sample
    sr = MjjWindow(3300.0, 3700.0)
    doped = score.copy()
    doped[sr.contains(mjj)] = 1.0 + doped[sr.contains(mjj)]  # anomalous events in the SR only
    a = working_points(score, [0.01], mjj, sr)[0]
    b = working_points(doped, [0.01], mjj, sr)[0]
    assert a.threshold == b.threshold
    # without the window the SR would leak into the threshold
    assert working_points(doped, [0.01])[0].threshold > a.threshold


def test_select_is_a_partition(sample):
    mjj, score = sample
    wp = working_points(score, [0.1])[0]
    sel = select(mjj, score, wp)
    assert sel.signal.size + sel.control.size == mjj.size
    assert np.isclose(sel.signal.size / mjj.size, 0.1, atol=0.005)
    assert select(mjj, score, 0.5).signal.size == np.sum(score > 0.5)
    assert isinstance(select(mjj, score, 0.5).working_point, WorkingPoint)


def test_region_errors(sample):
    _, score = sample
    with pytest.raises(InputError, match="efficiency"):
        working_points(score, [1.5])
    with pytest.raises(InputError, match="reference events"):
        working_points(score[:50], [0.001])
    with pytest.raises(InputError, match="NaN"):
        working_points(np.array([0.1, np.nan]), [0.5])
    with pytest.raises(InputError, match="empty"):
        select(np.array([]), np.array([]), 0.5)
    with pytest.raises(InputError, match="lo < hi"):
        MjjWindow(3700.0, 3300.0)
    with pytest.raises(InputError, match="needs the mjj"):
        working_points(score, [0.1], window=MjjWindow(1.0, 2.0))
