import awkward as ak
import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.graphs import (
    boost_to_pt,
    jet_axis,
    random_mass_rescale,
    rescale_to_mass,
    scale_angles,
    toy_jets,
)


@pytest.fixture(scope="module")
def jets():
    return toy_jets(200, seed=21, n_prongs=2, mass=200.0)


def _fractions(cons, axis):
    return cons.pt / axis.pt[:, None]


def _rank(cons):
    return ak.argsort(cons.pt, axis=1, ascending=False, stable=True)


def test_random_rescale_is_seeded_and_scales_mass(jets):
    ax = jet_axis(jets)
    a = random_mass_rescale(jets, seed=5, low=0.5, high=2.0)
    b = random_mass_rescale(jets, seed=np.random.default_rng(5), low=0.5, high=2.0)
    c = random_mass_rescale(jets, seed=6, low=0.5, high=2.0)
    assert ak.all(a.constituents.eta == b.constituents.eta)
    assert not np.allclose(a.factor, c.factor)
    assert np.all((a.factor >= 0.5) & (a.factor <= 2.0))
    # m' ~ s m (small-angle limit): within 3 % for these R ~ 1 jets
    np.testing.assert_allclose(a.axis.mass / ax.mass, a.factor, rtol=0.03)
    # pT untouched -> pT-fraction ordering unchanged; fractions change by one common factor
    assert ak.all(a.constituents.pt == jets.pt)
    assert ak.all(_rank(a.constituents) == _rank(jets))
    ratio = _fractions(a.constituents, a.axis) / _fractions(jets, ax)
    assert ak.all(abs(ratio - ak.firsts(ratio)) < 1e-12)
    # the jet axis stays about put (angles scaled about it; second-order shifts only)
    assert np.median(np.abs(a.axis.eta - ax.eta)) < 0.02


def test_rescale_to_mass_exact_and_keeps_shape(jets):
    a = rescale_to_mass(jets, 120.0)
    np.testing.assert_allclose(a.axis.mass, 120.0, rtol=1e-4)
    # prong pattern kept: pairwise angular distances all scale by the same per-jet factor
    ax0 = jet_axis(jets)
    d0 = np.hypot(ak.to_numpy(jets.eta[:, 0] - jets.eta[:, 1]), 0) + 0
    d1 = np.hypot(ak.to_numpy(a.constituents.eta[:, 0] - a.constituents.eta[:, 1]), 0)
    np.testing.assert_allclose(d1, d0 * a.factor, rtol=1e-9, atol=1e-12)
    assert np.all(np.abs(a.factor - 120.0 / ax0.mass) < 0.1 * 120.0 / ax0.mass)


def test_scale_angles_wraps_phi():
    c = ak.Array([[{"pt": 1.0, "eta": 0.0, "phi": 3.0}, {"pt": 1.0, "eta": 0.0, "phi": -3.0}]])
    s = scale_angles(c, 0.5, [0.0], [np.pi])
    np.testing.assert_allclose(ak.to_numpy(s.phi[0]), [np.pi - 0.0708, -np.pi + 0.0708], atol=1e-3)
    with pytest.raises(InputError):
        scale_angles(c, -1.0)


def test_boost_keeps_mass_and_sets_pt(jets):
    ax = jet_axis(jets)
    a = boost_to_pt(jets, 2500.0)
    np.testing.assert_allclose(a.axis.pt, 2500.0, rtol=1e-9)
    np.testing.assert_allclose(a.axis.mass, ax.mass, rtol=1e-6)
    np.testing.assert_allclose(a.axis.eta, ax.eta, atol=1e-9)
    # opening angles shrink ~ pT / pT_ref
    w0 = ak.to_numpy(ak.std(jets.eta - ax.eta[:, None], axis=1))
    w1 = ak.to_numpy(ak.std(a.constituents.eta - a.axis.eta[:, None], axis=1))
    np.testing.assert_allclose(np.median(w1 / w0), np.median(ax.pt / 2500.0), rtol=0.05)


def test_bad_arguments(jets):
    with pytest.raises(InputError):
        rescale_to_mass(jets, -5.0)
    with pytest.raises(InputError):
        random_mass_rescale(jets, 0, low=2.0, high=1.0)
    with pytest.raises(InputError):
        boost_to_pt(jets, 0.0)


def test_standardise_fixes_m_over_pt(jets):
    from adsearch.graphs import standardise

    a = standardise(jets, pt_ref=2000.0, m_ref=150.0)
    np.testing.assert_allclose(a.axis.mass, 150.0, rtol=1e-4)
    np.testing.assert_allclose(a.axis.pt, 2000.0, rtol=0.05)  # rescaling moves pT by a few %
    ax = jet_axis(jets)
    assert np.std(a.axis.mass / a.axis.pt) < 0.05 * np.std(ax.mass / ax.pt)


def test_single_constituent_jets_pass_standardise_unchanged():
    import awkward as ak

    from adsearch.graphs.augment import standardise
    from adsearch.graphs.toy import toy_jets

    jets = toy_jets(3, seed=4)
    single = ak.Array([[{"pt": 800.0, "eta": 0.3, "phi": 1.0}]])
    both = ak.concatenate([jets, single])
    a = standardise(both, 1500.0, 100.0)
    assert np.allclose(a.axis.mass[:3], 100.0, rtol=1e-3)
    assert ak.to_list(a.constituents[3]) == pytest.approx(ak.to_list(single[0]))
