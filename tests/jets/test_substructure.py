"""Jet girth against hand computations."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.jets.substructure import jet_girth


def _c(pt, eta, phi):
    return {"pt": pt, "eta": eta, "phi": phi}


def test_girth_of_two_constituent_jet_by_hand():
    # constituents at (0.3, 0) and (0, -0.4) from the axis: dR = 0.3 and 0.4
    jets = ak.Array([[_c(60.0, 1.3, 0.5), _c(40.0, 1.0, 0.1)]])
    g = jet_girth(jets, np.array([100.0]), np.array([1.0]), np.array([0.5]))
    assert g.tolist() == pytest.approx([(60 * 0.3 + 40 * 0.4) / 100])


def test_girth_wraps_phi_and_handles_many_jets():
    # axis at phi = pi - 0.05, constituent at phi = -pi + 0.05: dphi = 0.1 (not 2 pi - 0.1)
    jets = ak.Array(
        [
            [_c(50.0, 0.0, -np.pi + 0.05)],
            [],
            [_c(10.0, 2.0, 0.0), _c(10.0, 2.0, 0.0), _c(20.0, 1.5, 0.0)],
        ]
    )
    g = jet_girth(
        jets, np.array([50.0, 1.0, 40.0]), np.array([0.0, 0.0, 1.5]), np.array([np.pi - 0.05, 0, 0])
    )
    assert g.tolist() == pytest.approx([0.1, 0.0, (10 * 0.5 + 10 * 0.5) / 40])


def test_girth_events_layout_and_two_prong_larger():
    # events * 2 jets: same pT, narrow (1-prong) vs split (2-prong) jet
    one = [_c(100.0, 0.0, 0.0), _c(1.0, 0.05, 0.0)]
    two = [_c(50.0, 0.2, 0.0), _c(50.0, -0.2, 0.0)]
    ev = ak.Array([[one, two]])
    g = jet_girth(ev, np.array([[101.0, 100.0]]), np.zeros((1, 2)), np.zeros((1, 2)))
    assert g.shape == (2,)
    assert g[0] == pytest.approx(0.05 / 101) and g[1] == pytest.approx(0.2)


def test_girth_rejects_bad_inputs():
    jets = ak.Array([[_c(1.0, 0.0, 0.0)]])
    with pytest.raises(InputError, match="jet_pt: has 2 entries for 1 jets"):
        jet_girth(jets, np.ones(2), np.zeros(1), np.zeros(1))
    with pytest.raises(InputError, match="non-positive"):
        jet_girth(jets, np.zeros(1), np.zeros(1), np.zeros(1))
    with pytest.raises(InputError, match="missing field"):
        jet_girth(ak.Array([[{"pt": 1.0}]]), np.ones(1), np.zeros(1), np.zeros(1))
    with pytest.raises(InputError, match="NaN"):
        jet_girth(ak.Array([[_c(np.nan, 0.0, 0.0)]]), np.ones(1), np.zeros(1), np.zeros(1))
