"""Truth-level checks of the signal cards on the Pythia event record, and particle extraction.

For every W' signal: the W' (id 34) peaks at m_wprime, X (id 24) and Y (id 23) at their
masses, and the last copy of X and of Y decays to 2 (2-prong) or 3 (3-prong) quarks with the
charge of the mother. Visible final-state extraction: no neutrinos, charges from Pythia.
"""

import awkward as ak
import numpy as np
import pytest

from adsearch.generate.processes import get_process
from adsearch.generate.truth import ChargeTable, make_pythia, truth_particles


def _last_copy_decays(batch, rid, pd):
    """Per event: (mass, sorted daughter ids, charge balance) of the last copy of |id| rid.

    A small Python loop over the resonance entries only (test helper, a few hundred events).
    """
    out = []
    for ev in ak.to_list(batch["prt"][["id", "daughter1", "daughter2", "m"]]):
        for e in ev:
            if abs(e["id"]) != rid:
                continue
            d1, d2 = e["daughter1"], e["daughter2"]
            dids = [ev[j]["id"] for j in range(d1, max(d1, d2) + 1)]
            if any(abs(i) == rid for i in dids):
                continue  # not the last copy (shower recoil copies)
            balance = sum(pd.charge(i) for i in dids) - pd.charge(e["id"])
            out.append((e["m"], tuple(sorted(abs(i) for i in dids)), balance))
    return out


@pytest.fixture(scope="module", params=["wprime-2prong", "wprime-3prong"])
def signal_batch(request):
    cfg = get_process(request.param, m_x=400.0)  # non-default X mass: masses configurable
    pythia = make_pythia(cfg.pythia_settings(), 12345)
    return cfg, pythia, pythia.nextBatch(150)


def test_signal_card_at_truth_level(signal_batch):
    cfg, pythia, batch = signal_batch
    pd = pythia.particleData
    prt = batch["prt"]
    mw = ak.to_numpy(ak.flatten(prt["m"][abs(prt["id"]) == 34]))
    # W' line shape: peak at m_wprime, plus the known low-mass tail (parton luminosity)
    assert np.median(mw) == pytest.approx(cfg.m_wprime, rel=0.03)
    for rid, mass, window in ((24, cfg.m_x, cfg.x_mass_window), (23, cfg.m_y, cfg.y_mass_window)):
        decays = _last_copy_decays(batch, rid, pd)
        assert len(decays) == len(batch)  # exactly one X and one Y per event
        masses = np.array([d[0] for d in decays])
        assert np.median(masses) == pytest.approx(mass, rel=0.02)
        assert masses.min() >= window[0] and masses.max() <= window[1]
        for _, dids, balance in decays:
            assert len(dids) == cfg.prongs
            assert all(1 <= q <= 5 for q in dids)  # quarks (d, u, s, c, b)
            assert balance == pytest.approx(0.0)  # charge conserved
        if cfg.prongs == 3:  # the configured triplets: X -> u u d, Y -> d d u
            assert {d[1] for d in decays} == ({(1, 2, 2)} if rid == 24 else {(1, 1, 2)})


def test_truth_particles_are_visible_final_state(signal_batch):
    _, pythia, batch = signal_batch
    truth = truth_particles(batch, ChargeTable(pythia.particleData))
    assert truth.fields == ["pt", "eta", "phi", "mass", "pid", "charge"]
    assert str(ak.type(truth.pid)).endswith("int32")
    final = batch["prt"][batch["prt"]["status"] > 0]
    aid = abs(final["id"])
    is_nu = (aid == 12) | (aid == 14) | (aid == 16)
    n_dropped = ak.to_numpy(ak.num(final) - ak.sum(is_nu, axis=1) - ak.num(truth))
    assert (n_dropped >= 0).all() and n_dropped.sum() <= 2  # only rare pT = 0 photons go
    assert not ak.any(np.isin(abs(ak.flatten(truth.pid)), [12, 14, 16]))
    # charge conservation: two protons in, every charged final-state particle is visible
    np.testing.assert_allclose(ak.to_numpy(ak.sum(truth.charge, axis=1)), 2.0, atol=1e-9)
    # kinematics agree with Pythia's four-vectors: visible + neutrino pz = total pz
    pz_visible = ak.sum(truth.pt * np.sinh(truth.eta), axis=1)
    pz_nu = ak.sum(final["p"]["pz"][is_nu], axis=1)
    pz_all = ak.sum(final["p"]["pz"], axis=1)
    np.testing.assert_allclose(ak.to_numpy(pz_visible + pz_nu), ak.to_numpy(pz_all), atol=1e-6)


def test_charge_table():
    table = ChargeTable(make_pythia(["Print:quiet = on"], 1, init=False).particleData)
    pid = np.array([[211, -321], [2212, 3312]])
    np.testing.assert_array_equal(table(pid), [[1.0, -1.0], [1.0, -1.0]])
    np.testing.assert_array_equal(table(np.array([22, 211])), [0.0, 1.0])  # cache grows
