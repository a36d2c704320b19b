"""Physics of the fast detector response on hand-built truth events."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from adsearch.detector import apply_detector, load_card
from adsearch.errors import InputError

CARD = load_card("lhco")
PHOTON, PION, NEUTRON = 22, 211, 2112


def _events(rows: list[list[tuple]]) -> ak.Array:
    """rows of (pt, eta, phi, pid, charge) per event -> truth array."""
    masses = {PHOTON: 0.0, PION: 0.1396, NEUTRON: 0.9396}
    return ak.Array(
        [
            [
                {
                    "pt": pt,
                    "eta": eta,
                    "phi": phi,
                    "mass": masses.get(pid, 0.0),
                    "pid": pid,
                    "charge": q,
                }
                for pt, eta, phi, pid, q in ev
            ]
            for ev in rows
        ],
        with_name=None,
    )


def _repeat(event: list[tuple], n: int) -> ak.Array:
    return _events([event] * n)


def test_output_layout_and_empty_events():
    out = apply_detector(_events([[], [(50.0, 0.1, 0.2, PHOTON, 0.0)], []]), CARD, seed=3)
    assert len(out) == 3
    assert ak.num(out).tolist() == [0, 1, 0]
    assert set(ak.fields(out)) == {"pt", "eta", "phi", "mass"}
    assert ak.all(out.mass == 0)


def test_two_photons_in_one_ecal_tower_merge():
    # ECAL barrel cell (0, 0.0174] x (0, 1 degree]: both photons inside it
    ev = [(30.0, 0.004, 0.004, PHOTON, 0.0), (20.0, 0.013, 0.013, PHOTON, 0.0)]
    out = apply_detector(_repeat(ev, 200), CARD, seed=1)
    assert ak.all(ak.num(out) == 1)
    # one object inside the cell, energy ~ sum (resolution ~2 % at 50 GeV)
    assert ak.all((out.eta > 0) & (out.eta <= 0.0174) & (out.phi > 0) & (out.phi < 0.01746))
    assert np.mean(ak.to_numpy(ak.flatten(out.pt))) == pytest.approx(50.0, rel=0.01)


def test_two_photons_apart_stay_two():
    ev = [(30.0, 0.3, 1.0, PHOTON, 0.0), (20.0, 0.3, 1.1, PHOTON, 0.0)]
    out = apply_detector(_repeat(ev, 100), CARD, seed=2)
    assert ak.all(ak.num(out) == 2)
    pts = np.sort(ak.to_numpy(out.pt), axis=1)
    assert np.mean(pts[:, 0]) == pytest.approx(20.0, rel=0.02)
    assert np.mean(pts[:, 1]) == pytest.approx(30.0, rel=0.02)


def test_charged_hadron_in_tracker_is_its_own_object():
    # a 20 GeV pi+ and a 30 GeV photon 0.007 apart (same HCAL tower): the track keeps its
    # own, exact direction; the photon is a separate ECAL object
    n = 400
    ev = [(20.0, 0.5, 1.0, PION, 1.0), (30.0, 0.505, 1.005, PHOTON, 0.0)]
    out = apply_detector(_repeat(ev, n), CARD, seed=4)
    is_track = (out.eta == 0.5) & (out.phi == 1.0)
    tracked = ak.to_numpy(ak.sum(is_track, axis=1))
    # tracking efficiency of the card: 95 % for pT > 1 GeV, |eta| < 1.5
    assert np.mean(tracked) == pytest.approx(0.95, abs=0.035)
    trk_pt = ak.to_numpy(ak.flatten(out.pt[is_track]))
    assert np.mean(trk_pt) == pytest.approx(20.0, rel=0.02)
    # the photon: its own ECAL object (the HCAL may add a neutral when it fluctuates up
    # by more than 1 sigma over the track, as in Delphes)
    near_photon = (abs(out.eta - 0.505) < 0.0174) & (abs(out.pt - 30.0) < 5.0) & ~is_track
    assert ak.all(ak.sum(near_photon, axis=1) == 1)


def test_charged_hadron_outside_tracker_joins_the_calorimeter():
    # pi+ and neutron in one forward HCAL tower (eta 3.3-3.475, 10 degree phi bins)
    ev = [(10.0, 3.38, 0.05, PION, 1.0), (10.0, 3.40, 0.06, NEUTRON, 0.0)]
    out = apply_detector(_repeat(ev, 300), CARD, seed=5)
    assert ak.all(ak.num(out) == 1)
    eta = ak.to_numpy(ak.flatten(out.eta))
    assert np.all((eta > 3.3) & (eta <= 3.475))
    e_true = 10.0 * np.cosh(3.38) + 10.0 * np.cosh(3.40)
    e_out = ak.to_numpy(ak.flatten(out.pt)) * np.cosh(eta)
    assert np.mean(e_out) == pytest.approx(e_true, rel=0.02)


def test_low_pt_loopers_are_not_tracked():
    # Delphes 3.4.1 evaluates tracking at the calorimeter entry point: a 0.25 GeV pi+ curls
    # (helix diameter 0.44 m < 1.29 m) and leaves the solenoid through the endcap at
    # |eta| > 2.6, so it is never tracked; 5 GeV pions are (95 %)
    rng = np.random.default_rng(3)
    for pt, lo, hi in ((0.25, 0.0, 0.0), (5.0, 0.9, 1.0)):
        eta = rng.uniform(-1.0, 1.0, 400)
        truth = _events([[(pt, float(e), 0.0, PION, 1.0)] for e in eta])
        out = apply_detector(truth, CARD, seed=6)
        tracked = np.mean(ak.to_numpy(ak.sum(out.eta == ak.Array(eta[:, None] * [1.0]), axis=1)))
        assert lo <= tracked <= hi
    card = load_card("lhco")
    card.tracking.at_entry_point = False  # acceptance at the momentum direction instead
    truth = _events([[(0.25, float(e), 0.0, PION, 1.0)] for e in eta])
    out = apply_detector(truth, card, seed=6)
    tracked = np.mean(ak.to_numpy(ak.sum(out.eta == ak.Array(eta[:, None] * [1.0]), axis=1)))
    # 70 % efficiency, less the few loopers whose endcap hit lies beyond |eta| = 5
    assert 0.55 < tracked < 0.72


def test_energy_is_conserved_on_average():
    rng = np.random.default_rng(0)
    n_ev, n_p = 300, 40
    pid = rng.choice([PHOTON, PION, -PION, NEUTRON], size=(n_ev, n_p))
    charge = np.where(pid == PION, 1.0, np.where(pid == -PION, -1.0, 0.0))
    eta = rng.uniform(-2.4, 2.4, size=(n_ev, n_p))
    phi = rng.uniform(-np.pi, np.pi, size=(n_ev, n_p))
    e = rng.uniform(20.0, 200.0, size=(n_ev, n_p))
    pt = e / np.cosh(eta)
    truth = ak.zip(
        {
            "pt": pt,
            "eta": eta,
            "phi": phi,
            "mass": np.zeros_like(pt),
            "pid": pid.astype(np.int32),
            "charge": charge,
        }
    )
    out = apply_detector(truth, CARD, seed=7)
    e_out = ak.to_numpy(ak.sum(out.pt * np.cosh(out.eta), axis=1))
    response = e_out / e.sum(axis=1)
    assert np.mean(response) == pytest.approx(1.0, abs=0.01)
    assert 0.005 < np.std(response) < 0.05  # smeared, but within resolution


def test_same_seed_same_output_other_seed_differs():
    rng = np.random.default_rng(1)
    rows = [
        [
            (
                float(rng.uniform(1, 50)),
                float(rng.uniform(-4, 4)),
                float(rng.uniform(-3, 3)),
                int(p),
                float(q),
            )
            for p, q in zip(*_species(rng, 30), strict=True)
        ]
        for _ in range(20)
    ]
    truth = _events(rows)
    a = apply_detector(truth, CARD, seed=11)
    b = apply_detector(truth, CARD, seed=11)
    c = apply_detector(truth, CARD, seed=12)
    assert ak.to_list(a) == ak.to_list(b)
    assert ak.to_list(a) != ak.to_list(c)


def _species(rng, n):
    pid = rng.choice([PHOTON, PION, -PION, NEUTRON], size=n)
    q = np.where(pid == PION, 1.0, np.where(pid == -PION, -1.0, 0.0))
    return pid, q


def test_towers_only_card_has_no_tracks():
    card = load_card("lhco")
    card.eflow = False
    ev = [(20.0, 0.5, 1.0, PION, 1.0)]
    out = apply_detector(_repeat(ev, 50), card, seed=1)
    assert not ak.any((out.eta == 0.5) & (out.phi == 1.0))
    assert ak.mean(ak.num(out)) > 0.9


def test_bad_input_is_refused():
    lhco_like = ak.Array([[{"pt": 1.0, "eta": 0.0, "phi": 0.0}]])
    with pytest.raises(InputError, match="pid"):
        apply_detector(lhco_like, CARD, seed=1)
    nan = _events([[(float("nan"), 0.0, 0.0, PHOTON, 0.0)]])
    with pytest.raises(InputError, match="pt"):
        apply_detector(nan, CARD, seed=1)
