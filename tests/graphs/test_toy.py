"""Toy jets: the mass-matched QCD-like / two-prong pair."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from adsearch.graphs import jet_axis
from adsearch.graphs.toy import toy_jets, toy_substructure_pair
from adsearch.jets import jet_girth, nsubjettiness, tau_ratio
from adsearch.stats.metrics import roc_auc


@pytest.fixture(scope="module")
def pair():
    return toy_substructure_pair(2000, seed=7)


def test_mass_matched_but_substructure_separates(pair):
    b, a = pair
    assert len(b) == len(a) == 2000
    ab, aa = jet_axis(b), jet_axis(a)
    y = np.r_[np.zeros(2000), np.ones(2000)].astype(int)
    assert 0.45 <= roc_auc(y, np.r_[ab.mass, aa.mass]) <= 0.55
    assert np.median(ab.mass) == pytest.approx(np.median(aa.mass), rel=0.05)
    # the two-prong jets are wider at the same mass ...
    girth = np.r_[jet_girth(b, ab.pt, ab.eta, ab.phi), jet_girth(a, aa.pt, aa.eta, aa.phi)]
    assert roc_auc(y, girth) > 0.75
    # ... and have the smaller tau2 / tau1
    tb, ta = nsubjettiness(b, 2), nsubjettiness(a, 2)
    t21 = np.r_[tau_ratio(tb[:, 1], tb[:, 0]), tau_ratio(ta[:, 1], ta[:, 0])]
    assert roc_auc(y, t21) < 0.25


def test_pair_shapes_and_determinism(pair):
    b, a = pair
    for jets in (b, a):
        assert sorted(jets.fields) == ["eta", "phi", "pt"]
        assert ak.all(ak.num(jets) >= 4)
        assert ak.all(jets.pt[:, :-1] >= jets.pt[:, 1:])
        assert ak.all(np.abs(jets.phi) <= np.pi)
        assert np.allclose(jet_axis(jets).pt, 1400.0, rtol=0.05)
    b2, a2 = toy_substructure_pair(2000, seed=7)
    assert ak.array_equal(b, b2) and ak.array_equal(a, a2)
    b3, _ = toy_substructure_pair(2000, seed=8)
    assert not ak.array_equal(b, b3)


def test_toy_jets_still_sorted():
    j = toy_jets(5, seed=0, n_prongs=2)
    assert len(j) == 5 and ak.all(j.pt[:, :-1] >= j.pt[:, 1:])
