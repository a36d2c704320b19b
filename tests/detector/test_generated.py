"""The detector response on real Pythia events: far fewer objects, signal peaks kept."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from adsearch.detector import apply_detector, load_card

pytest.importorskip("pythia8mc")


def _truth(process: str, n: int, seed: int) -> ak.Array:
    from adsearch.generate.processes import get_process
    from adsearch.generate.truth import ChargeTable, make_pythia, truth_particles

    pythia = make_pythia(get_process(process).pythia_settings(), seed)
    return truth_particles(pythia.nextBatch(n), ChargeTable(pythia.particleData))


def test_qcd_has_far_fewer_objects_than_truth():
    truth = _truth("qcd", 30, seed=3)
    det = apply_detector(truth, load_card("lhco"), seed=3)
    n_truth = ak.to_numpy(ak.num(truth))
    n_det = ak.to_numpy(ak.num(det))
    assert np.all(n_det < n_truth)
    # Delphes-like particle flow: ~2-3x fewer objects (real LHCO: 166 per QCD event)
    assert 0.25 < np.median(n_det / n_truth) < 0.6

    # and the visible energy in the central region is kept within resolution
    def e_central(a):
        return ak.to_numpy(ak.sum((a.pt * np.cosh(a.eta))[abs(a.eta) < 2.5], axis=1))

    assert np.median(e_central(det) / e_central(truth)) == pytest.approx(1.0, abs=0.05)


def test_wprime_keeps_its_mjj_and_jet_mass_peaks():
    from adsearch.jets.cluster import cluster

    truth = _truth("wprime-2prong", 150, seed=5)
    det = apply_detector(truth, load_card("lhco"), seed=5)
    c = cluster(det, r=1.0, min_pt=20.0)
    jets = c.jets[ak.num(c.jets) >= 2][:, :2]
    jets = jets[(jets.pt[:, 0] > 1200.0) & (abs(jets.eta[:, 0]) < 2.5)]
    assert len(jets) > 80
    mjj = ak.to_numpy((jets[:, 0] + jets[:, 1]).mass)
    m = np.sort(ak.to_numpy(jets.mass), axis=1)
    in_sr = (mjj > 3300) & (mjj < 3700)
    assert np.mean(in_sr) > 0.4
    assert np.median(mjj) == pytest.approx(3466.0, rel=0.03)
    assert np.median(m[:, 1]) == pytest.approx(497.0, rel=0.06)  # X -> qq
    assert np.median(m[:, 0]) == pytest.approx(109.0, rel=0.12)  # Y -> qq
