"""Event features: kinematics, bookkeeping of dropped events, and physics on Pythia events."""

import awkward as ak
import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.io.events import Events, make_particles
from adsearch.jets import COLUMNS, LHCO_COLUMNS, UNLABELLED, Features, compute_features


def _p4(pt, eta, phi):
    pt, eta, phi = map(np.asarray, (pt, eta, phi))
    return np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)])


def _mass(p4):
    e, px, py, pz = p4
    return np.sqrt(e**2 - px**2 - py**2 - pz**2)


def test_mjj_and_jet_kinematics_exact_for_known_four_momenta():
    # jet A: two massless particles around phi = 0; jet B: two around phi = pi, eta 0.5
    a = ([600.0, 300.0], [0.1, -0.1], [0.05, -0.15])
    b = ([500.0, 350.0], [0.5, 0.7], [3.0, -3.1])
    ev = Events(make_particles([a[0] + b[0]], [a[1] + b[1]], [a[2] + b[2]]), np.array([1]), "toy")
    f = compute_features(ev, r=1.0)
    pa, pb = _p4(*a).sum(axis=1), _p4(*b).sum(axis=1)
    t = {k: v[0] for k, v in f.table.items()}
    assert t["mjj"] == pytest.approx(_mass(pa + pb), rel=1e-12)
    assert t["mj1"] == pytest.approx(_mass(pa), rel=1e-10)  # A has the larger pT
    assert t["mj2"] == pytest.approx(_mass(pb), rel=1e-10)
    assert (t["pxj1"], t["pyj1"], t["pzj1"]) == pytest.approx(tuple(pa[1:]), rel=1e-12)
    assert (t["pxj2"], t["pyj2"], t["pzj2"]) == pytest.approx(tuple(pb[1:]), rel=1e-12)
    assert t["ptj1"] == pytest.approx(np.hypot(pa[1], pa[2]), rel=1e-12)
    assert t["ptj1"] > t["ptj2"]
    assert t["label"] == 1.0 and t["event_index"] == 0
    # two constituents per jet: tau1 > 0, tau2 = tau3 = 0, tau21 = 0, tau32 = 0/0 := 1
    assert t["tau1j1"] > 0 and t["tau2j1"] == 0 and t["tau21j1"] == 0 and t["tau32j1"] == 1
    assert f.constituents.pt.tolist() == [[[600.0, 300.0], [500.0, 350.0]]]
    assert tuple(f.table) == COLUMNS and COLUMNS[:15] == LHCO_COLUMNS
    assert f.constituents.fields == ["pt", "eta", "phi"]


def test_events_with_fewer_than_two_jets_are_counted_not_lost(caplog):
    two = ([400.0, 300.0], [0.0, 0.2], [0.0, 3.0])
    one = ([400.0, 10.0], [0.0, 2.0], [0.0, 2.0])  # second "jet" below 20 GeV
    single = ([100.0, 15.0], [1.0, 1.0], [1.0, 1.05])  # one jet: 2 particles
    rows = [two, one, two, single, two]
    ev = Events(
        make_particles([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]),
        np.array([0, 1, 1, 0, 0]),
        "toy.h5",
    )
    with caplog.at_level("WARNING"):
        f = compute_features(ev, first_index=1000)
    assert (f.n_input, f.n_fewer_than_two_jets, len(f)) == (5, 2, 3)
    assert f.table["event_index"].tolist() == [1000, 1002, 1004]
    assert f.table["label"].tolist() == [0.0, 1.0, 0.0]
    assert "2 of 5 events have fewer than two" in caplog.text and "toy.h5" in caplog.text
    # one-constituent jets are kept and counted; their tau ratios are 1 by definition
    assert f.n_single_constituent_jets == 6
    assert np.all(f.table["tau1j1"] == 0) and np.all(f.table["tau21j1"] == 1.0)


def test_unlabelled_events_get_label_minus_one_and_meta():
    ev = Events(make_particles([[400.0, 300.0]], [[0.0, 0.2]], [[0.0, 3.0]]), None, "bb.h5")
    f = compute_features(ev, r=0.8, min_pt=50.0)
    assert f.table["label"].tolist() == [UNLABELLED] and not f.labelled
    assert "label" not in f.lhco_frame().columns
    assert f.meta["r"] == 0.8 and f.meta["min_pt"] == 50.0 and f.meta["source"] == "bb.h5"
    assert f.meta["nsubjettiness"]["axes"] == "OnePass_KT_Axes"


def test_empty_input_and_bad_arguments():
    empty = Events(make_particles([], [], []), None)
    f = compute_features(empty)
    assert len(f) == 0 and f.n_input == 0 and tuple(f.table) == COLUMNS
    ev = Events(make_particles([[400.0, 300.0]], [[0.0, 0.2]], [[0.0, 3.0]]))
    with pytest.raises(InputError, match="n_jets"):
        compute_features(ev, n_jets=3)
    with pytest.raises(InputError, match="radius"):
        compute_features(ev, r=0.0)
    with pytest.raises(InputError, match="inconsistent"):
        Features(f.table, f.constituents, n_input=3, n_fewer_than_two_jets=0)


def test_concatenate_adds_counters_and_keeps_order():
    ev = Events(make_particles([[400.0, 300.0]] * 3, [[0.0, 0.2]] * 3, [[0.0, 3.0]] * 3))
    a = compute_features(Events(ev.particles[:2]), first_index=0)
    b = compute_features(Events(ev.particles[2:]), first_index=2)
    c = Features.concatenate([a, b])
    assert len(c) == 3 and c.n_input == 3
    assert c.table["event_index"].tolist() == [0, 1, 2]
    assert ak.num(c.constituents, axis=2).tolist() == [[1, 1]] * 3


@pytest.mark.slow
def test_physics_wprime_vs_qcd_truth_level():
    """~200 W' -> X(500) Y(100) and ~100 QCD events at truth level (adsearch.generate)."""
    from adsearch.generate import generate

    sig = compute_features(generate("wprime-2prong", 200, seed=4, detector="none", progress=False))
    bkg = compute_features(generate("qcd", 100, seed=4, detector="none", progress=False))
    assert sig.n_fewer_than_two_jets == 0 and len(sig) == 200
    s, q = sig.table, bkg.table
    assert np.median(s["mjj"]) == pytest.approx(3500, rel=0.05)
    heavy = s["mj1"] >= s["mj2"]
    m_heavy = np.where(heavy, s["mj1"], s["mj2"])
    m_light = np.where(heavy, s["mj2"], s["mj1"])
    assert np.median(m_heavy) == pytest.approx(500, rel=0.08)
    assert np.median(m_light) == pytest.approx(100, rel=0.15)
    # 2-prong signal jets: lower tau21 than QCD jets (both jets, medians)
    for k in (1, 2):
        assert np.median(s[f"tau21j{k}"]) < np.median(q[f"tau21j{k}"]) - 0.2

    # the resonance peaks in the standard signal region; QCD's falling spectrum does not
    def in_sr(t):
        return np.mean((t["mjj"] > 3300) & (t["mjj"] < 3700))

    assert in_sr(s) > 0.5 and in_sr(q) < 0.3
    assert set(np.unique(s["label"])) == {1.0} and set(np.unique(q["label"])) == {0.0}
