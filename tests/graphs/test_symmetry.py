import awkward as ak
import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.graphs import jet_axis, wrap_phi
from adsearch.graphs.symmetry import (
    SymmetryDraws,
    apply_symmetry,
    augment_symmetry,
    reflect_eta,
    rotate_about_axis,
)


def narrow_jets(n_jets: int = 40, spread: float = 0.1, seed: int = 0) -> ak.Array:
    """Jets of 3-20 constituents, Gaussian (Δη, Δφ) of width ``spread`` about axes that
    include φ near ±π (the wrap), |η| < 2, falling pT."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(3, 21, n_jets)
    jet = np.repeat(np.arange(n_jets), counts)
    pos = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    eta_ax = rng.uniform(-2, 2, n_jets)
    phi_ax = np.where(np.arange(n_jets) % 4 == 0, 3.1, rng.uniform(-np.pi, np.pi, n_jets))
    pt = 500.0 * np.exp(-0.3 * pos) * rng.uniform(0.8, 1.2, len(jet))
    eta = eta_ax[jet] + spread * rng.normal(size=len(jet))
    phi = wrap_phi(phi_ax[jet] + spread * rng.normal(size=len(jet)))
    return ak.unflatten(ak.zip({"pt": pt, "eta": eta, "phi": phi}), counts)


def offsets(c: ak.Array, ax) -> tuple[np.ndarray, np.ndarray]:
    counts = ak.to_numpy(ak.num(c))
    jet = np.repeat(np.arange(len(counts)), counts)
    eta, phi = ak.to_numpy(ak.flatten(c.eta)), ak.to_numpy(ak.flatten(c.phi))
    return eta - ax.eta[jet], wrap_phi(phi - ax.phi[jet])


@pytest.fixture(scope="module")
def jets():
    return narrow_jets()


def test_rotation_keeps_pt_exactly_and_mass_to_small_angle_accuracy(jets):
    ax = jet_axis(jets)
    theta = np.random.default_rng(1).uniform(0, 2 * np.pi, len(jets))
    rot = rotate_about_axis(jets, theta, ax.eta, ax.phi)
    assert ak.all(rot.pt == jets.pt)  # every constituent's pT, bit for bit
    de0, dp0 = offsets(jets, ax)
    de1, dp1 = offsets(rot, ax)
    np.testing.assert_allclose(de1**2 + dp1**2, de0**2 + dp0**2, rtol=1e-10, atol=1e-14)
    new = jet_axis(rot)
    np.testing.assert_allclose(new.mass, ax.mass, rtol=1e-2)
    # the vector sum's pT moves at O(ΔR^2) (Σ pT_i cos Δφ_i): not a Lorentz transformation
    np.testing.assert_allclose(new.pt, ax.pt, rtol=3e-2)
    assert np.array_equal(ak.to_numpy(ak.sum(rot.pt, axis=1)), ak.to_numpy(ak.sum(jets.pt, axis=1)))
    assert np.all((ak.flatten(rot.phi) >= -np.pi) & (ak.flatten(rot.phi) < np.pi))
    back = rotate_about_axis(rot, -theta, ax.eta, ax.phi)
    np.testing.assert_allclose(ak.flatten(back.eta), ak.flatten(jets.eta), atol=1e-12)
    np.testing.assert_allclose(
        wrap_phi(ak.to_numpy(ak.flatten(back.phi - jets.phi))), 0.0, atol=1e-12
    )
    # a quarter turn maps (Δη, Δφ) -> (-Δφ, Δη)
    q = rotate_about_axis(jets, np.pi / 2, ax.eta, ax.phi)
    de2, dp2 = offsets(q, ax)
    np.testing.assert_allclose(de2, -dp0, atol=1e-12)
    np.testing.assert_allclose(dp2, de0, atol=1e-12)


def test_reflection_twice_is_the_identity_and_keeps_the_mass(jets):
    ax = jet_axis(jets)
    flip = np.arange(len(jets)) % 2 == 0
    once = reflect_eta(jets, flip, ax.eta)
    twice = reflect_eta(once, flip, ax.eta)
    np.testing.assert_allclose(ak.flatten(twice.eta), ak.flatten(jets.eta), atol=1e-12)
    assert ak.all(once.phi == jets.phi) and ak.all(once.pt == jets.pt)
    assert ak.all(once.eta[~flip] == jets.eta[~flip])  # jets not flipped: bit for bit
    de0, _ = offsets(jets, ax)
    de1, _ = offsets(once, ax)
    jet = np.repeat(np.arange(len(jets)), ak.to_numpy(ak.num(jets)))
    np.testing.assert_allclose(de1, np.where(flip[jet], -de0, de0), atol=1e-12)
    # m^2 = 2 sum pT_i pT_j (cosh Δη_ij - cos Δφ_ij) depends on |Δη_ij| only: exact
    np.testing.assert_allclose(jet_axis(once).mass, ax.mass, rtol=1e-9)


def test_boost_keeps_mass_and_direction_and_scales_pt_and_angles(jets):
    ax = jet_axis(jets)
    y = np.random.default_rng(2).uniform(-0.3, 0.3, len(jets))
    draws = SymmetryDraws(rapidity=y, angle=None, flip=None)
    c, pt, eta, phi = apply_symmetry(jets, ax.pt, ax.eta, ax.phi, draws)
    np.testing.assert_allclose(jet_axis(c).mass, ax.mass, rtol=1e-9)
    np.testing.assert_allclose(eta, ax.eta, atol=1e-12)
    np.testing.assert_allclose(wrap_phi(phi - ax.phi), 0.0, atol=1e-12)
    # leading order: pT -> e^y pT, angles -> e^-y angles (m / pT ~ 0.1-0.2 here)
    np.testing.assert_allclose(pt / ax.pt, np.exp(y), rtol=2e-2)
    de0, dp0 = offsets(jets, ax)
    de1, dp1 = offsets(c, jet_axis(c))
    jet = np.repeat(np.arange(len(jets)), ak.to_numpy(ak.num(jets)))
    r0, r1 = np.hypot(de0, dp0), np.hypot(de1, dp1)
    per_jet = np.bincount(jet, r1) / np.bincount(jet, r0)
    np.testing.assert_allclose(per_jet, np.exp(-y), rtol=2e-2)


def test_draws_are_seeded_and_ordered():
    a = SymmetryDraws.draw(np.random.default_rng(5), 10, rotate=True, reflect=True, boost=0.2)
    b = SymmetryDraws.draw(np.random.default_rng(5), 10, rotate=True, reflect=True, boost=0.2)
    c = SymmetryDraws.draw(np.random.default_rng(6), 10, rotate=True, reflect=True, boost=0.2)
    assert np.array_equal(a.angle, b.angle) and np.array_equal(a.flip, b.flip)
    assert np.array_equal(a.rapidity, b.rapidity)
    assert not np.array_equal(a.angle, c.angle)
    assert np.all((a.angle >= 0) & (a.angle < 2 * np.pi)) and np.all(np.abs(a.rapidity) <= 0.2)
    off = SymmetryDraws.draw(np.random.default_rng(5), 10)
    assert off.angle is None and off.flip is None and off.rapidity is None
    with pytest.raises(InputError, match="boost"):
        SymmetryDraws.draw(np.random.default_rng(5), 10, boost=0.7)


def test_augment_symmetry_is_deterministic_and_off_is_the_identity(jets):
    ax = jet_axis(jets)
    kw = {"rotate": True, "reflect": True, "boost": 0.1}
    a = augment_symmetry(jets, ax.pt, ax.eta, ax.phi, np.random.default_rng(3), **kw)
    b = augment_symmetry(jets, ax.pt, ax.eta, ax.phi, np.random.default_rng(3), **kw)
    c = augment_symmetry(jets, ax.pt, ax.eta, ax.phi, np.random.default_rng(4), **kw)
    assert ak.all(a[0].eta == b[0].eta) and ak.all(a[0].pt == b[0].pt)
    assert np.array_equal(a[1], b[1])
    assert not ak.all(a[0].eta == c[0].eta)
    np.testing.assert_allclose(jet_axis(a[0]).mass, ax.mass, rtol=1e-2)
    same = augment_symmetry(jets, ax.pt, ax.eta, ax.phi, np.random.default_rng(3))
    assert same[0] is jets and np.array_equal(same[2], ax.eta)


def test_other_fields_and_nested_layouts_are_kept(jets):
    ax = jet_axis(jets)
    extra = ak.with_field(jets, jets.pt * 0 + 7.0, "charge")
    out, *_ = augment_symmetry(
        extra, ax.pt, ax.eta, ax.phi, np.random.default_rng(0), rotate=True, boost=0.1
    )
    assert ak.all(out.charge == 7.0) and ak.all(ak.num(out) == ak.num(jets))
    events = ak.unflatten(jets, np.full(len(jets) // 2, 2))
    nested, *_ = augment_symmetry(
        events, ax.pt, ax.eta, ax.phi, np.random.default_rng(0), rotate=True, boost=0.1
    )
    flat, *_ = augment_symmetry(
        jets, ax.pt, ax.eta, ax.phi, np.random.default_rng(0), rotate=True, boost=0.1
    )
    assert nested.ndim == 3 and ak.all(ak.flatten(nested, axis=1).eta == flat.eta)
