"""adsearch.stats.flatten: mjj-flat cuts from score quantile curves fitted outside the SR."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.stats.flatten import MjjQuantileMap

SR, RANGE = (3300.0, 3700.0), (2800.0, 6000.0)


def _sample(n=40000, seed=0):
    rng = np.random.default_rng(seed)
    mjj = 2800.0 + rng.exponential(600.0, n)
    mjj = mjj[mjj < 6000.0]
    score = rng.normal(np.log(mjj / 2800.0) * 3.0, 1.0)  # the score rises with mjj
    return mjj, score


def _eff_by_mjj(mjj, passed, edges=(2800, 3100, 3300, 3700, 4200, 6000)):
    return np.array([passed[(mjj >= a) & (mjj < b)].mean() for a, b in itertools.pairwise(edges)])


def test_cuts_keep_the_same_fraction_at_every_mjj_including_the_unseen_sr():
    mjj, score = _sample()
    qmap = MjjQuantileMap.fit(mjj, score, [0.9, 0.98], SR, RANGE)
    u = qmap.transform(mjj, score)
    for level in (0.9, 0.98):
        eff = _eff_by_mjj(mjj, u > level)
        assert np.all(np.abs(eff - (1 - level)) < 0.25 * (1 - level) + 0.005), eff
    fixed = _eff_by_mjj(mjj, score > np.quantile(score, 0.9))
    assert fixed[-1] > 3 * fixed[0]  # without flattening the cut sculpts strongly


def test_cut_on_the_level_is_the_cut_on_the_curve():
    mjj, score = _sample(seed=1)
    qmap = MjjQuantileMap.fit(mjj, score, [0.9], SR, RANGE)
    u = qmap.transform(mjj, score)
    i = int(np.flatnonzero(np.isclose(qmap.levels, 0.9))[0])
    assert np.array_equal(u > 0.9, score > qmap.thresholds(mjj)[:, i])
    assert np.all((u >= 0) & (u <= 1))
    assert np.all(np.diff(qmap.thresholds(np.array([3000.0, 4000.0])), axis=1) >= 0)


def test_the_signal_region_is_never_seen_and_the_map_round_trips():
    mjj, score = _sample(seed=2)
    planted = score.copy()
    sr = (mjj >= SR[0]) & (mjj < SR[1])
    planted[sr] += 5.0  # a signal-like excess inside the SR changes nothing
    a = MjjQuantileMap.fit(mjj, score, [0.9], SR, RANGE)
    b = MjjQuantileMap.fit(mjj, planted, [0.9], SR, RANGE)
    assert np.array_equal(a.coef, b.coef)
    c = MjjQuantileMap.from_dict(a.to_dict())
    assert np.array_equal(c.transform(mjj, score), a.transform(mjj, score))


def test_too_few_events_is_one_clear_error():
    mjj, score = _sample(n=500, seed=3)
    with pytest.raises(InputError, match=r"mjj flattening: \d+ events outside the signal region"):
        MjjQuantileMap.fit(mjj, score, [0.999], SR, RANGE)
    with pytest.raises(InputError, match="cannot fit degree 3"):
        MjjQuantileMap.fit(mjj, score, [0.9], SR, RANGE, degree=3, n_bins=3)
