"""N-subjettiness: fastjet-contrib via fastjet's njettiness vs a slow, explicit reference."""

import awkward as ak
import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.jets import nsubjettiness, tau_ratio

# ----------------------------------------------------------------- slow reference (per jet)


def _rap_phi(p4):
    px, py, pz, e = p4.T
    return 0.5 * np.log((e + pz) / (e - pz)), np.arctan2(py, px)


def _dr2(y1, phi1, y2, phi2):
    dphi = np.abs(phi1 - phi2) % (2 * np.pi)
    dphi = np.where(dphi > np.pi, 2 * np.pi - dphi, dphi)
    return (y1 - y2) ** 2 + dphi**2


def _exclusive_kt_axes(p4, n):
    """Exclusive kT jets, E-scheme: merge the pair of smallest min(pT_i², pT_j²) ΔR² until n
    remain (fastjet-contrib uses R = 1000, so a beam merge never happens)."""
    objs = list(p4)
    while len(objs) > n:
        a = np.array(objs)
        pt2 = a[:, 0] ** 2 + a[:, 1] ** 2
        y, phi = _rap_phi(a)
        best = (np.inf, 0, 0)
        for i in range(len(a)):
            for j in range(i + 1, len(a)):
                d = min(pt2[i], pt2[j]) * _dr2(y[i], phi[i], y[j], phi[j])
                if d < best[0]:
                    best = (d, i, j)
        _, i, j = best
        objs = [o for k, o in enumerate(objs) if k not in (i, j)] + [objs[i] + objs[j]]
    return np.array(objs)


def tau_reference(pt, eta, phi, n, r0=1.0, one_pass=True, accuracy=1e-4, max_iter=1000):
    """tau_N (beta = 1, normalised by sum pT * R0) of one massless-constituent jet.

    Axes: exclusive kT; with ``one_pass``, moved by the beta = 1 minimisation of
    fastjet-contrib's OnePass axes (each axis -> the pT/ΔR-weighted mean (y, phi) of the
    particles closest to it, ΔR regularised by ``accuracy``, until the mean axis shift is
    below ``accuracy``).
    """
    if len(pt) <= n:
        return 0.0
    p4 = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], 1)
    ay, aphi = _rap_phi(_exclusive_kt_axes(p4, n))
    y = eta  # massless constituents
    if one_pass:
        for _ in range(max_iter):
            d2 = _dr2(y[:, None], phi[:, None], ay[None], aphi[None])
            nearest = np.argmin(d2, axis=1)
            new_y, new_phi = ay.copy(), aphi.copy()
            for k in range(n):
                m = nearest == k
                if m.any():
                    w = pt[m] / np.sqrt(accuracy**2 + d2[m, k])
                    dp = phi[m] - aphi[k]
                    ph = phi[m] - 2 * np.pi * (dp > np.pi) + 2 * np.pi * (dp < -np.pi)
                    new_y[k] = np.sum(w * y[m]) / np.sum(w)
                    new_phi[k] = np.sum(w * ph) / np.sum(w)
            shift = np.mean(np.sqrt(_dr2(new_y, new_phi, ay, aphi)))
            ay, aphi = new_y, new_phi
            if shift <= accuracy:
                break
    d2 = _dr2(y[:, None], phi[:, None], ay[None], aphi[None])
    return float(np.sum(pt * np.sqrt(d2.min(axis=1))) / (np.sum(pt) * r0))


# ------------------------------------------------------------------------------ helpers


def _jets(*jets):
    return ak.zip(
        {
            "pt": ak.Array([j[0].tolist() for j in jets]),
            "eta": ak.Array([j[1].tolist() for j in jets]),
            "phi": ak.Array([j[2].tolist() for j in jets]),
        }
    )


def _random_jet(rng, n, phi0=3.0):
    """A jet of n massless particles, around phi0 (3.0 crosses the +-pi seam)."""
    pt = rng.exponential(20.0, n) + 0.5
    eta = rng.normal(0.3, 0.3, n)
    phi = np.angle(np.exp(1j * rng.normal(phi0, 0.3, n)))
    return pt, eta, phi


def _prong_jet(rng, centres, n_per=15, spread=0.02):
    """Hard, narrow clusters at (eta, phi) ``centres`` plus a little soft radiation."""
    parts = []
    for eta0, phi0 in centres:
        pt = rng.uniform(20, 60, n_per)
        parts.append((pt, rng.normal(eta0, spread, n_per), rng.normal(phi0, spread, n_per)))
    soft = rng.uniform(0.1, 0.5, 10)
    parts.append((soft, rng.uniform(-0.6, 0.6, 10), rng.uniform(-0.6, 0.6, 10)))
    return tuple(np.concatenate(x) for x in zip(*parts, strict=True))


# -------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("axes", ["KT_Axes", "OnePass_KT_Axes"])
def test_agrees_with_slow_reference(axes):
    rng = np.random.default_rng(11)
    jets = [_random_jet(rng, n) for n in (1, 2, 3, 4, 7, 25, 45)]
    jets.append(_random_jet(rng, 30, phi0=0.0))
    got = nsubjettiness(_jets(*jets), n_max=3, axes=axes)
    assert got.shape == (len(jets), 3)
    want = np.array(
        [[tau_reference(*j, n, one_pass=axes != "KT_Axes") for n in (1, 2, 3)] for j in jets]
    )
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-14)
    # the one-pass minimisation matters: KT and OnePass axes give different taus
    if axes == "OnePass_KT_Axes":
        kt = nsubjettiness(_jets(*jets), n_max=3, axes="KT_Axes")
        assert np.all(got[4:] <= kt[4:] + 1e-12) and np.any(got[4:] < kt[4:] - 1e-4)


def test_normalisation_radius_and_beta():
    rng = np.random.default_rng(5)
    jet = _random_jet(rng, 20)
    t1 = nsubjettiness(_jets(jet), r=1.0)
    t08 = nsubjettiness(_jets(jet), r=0.8)
    np.testing.assert_allclose(t08, t1 / 0.8, rtol=1e-12)  # denominator sum pT * R0
    # beta = 2 weights by ΔR²: a different number
    assert not np.allclose(nsubjettiness(_jets(jet), beta=2.0), t1)


def test_two_prong_has_low_tau21_and_three_prong_low_tau32():
    rng = np.random.default_rng(3)
    one = _prong_jet(rng, [(0.0, 0.0)], n_per=40, spread=0.15)
    two = _prong_jet(rng, [(0.0, -0.25), (0.05, 0.25)])
    three = _prong_jet(rng, [(0.0, -0.3), (0.3, 0.2), (-0.3, 0.2)])
    t = nsubjettiness(_jets(one, two, three))
    tau21 = tau_ratio(t[:, 1], t[:, 0])
    tau32 = tau_ratio(t[:, 2], t[:, 1])
    assert tau21[1] < 0.2 and tau21[0] > 0.5 and tau21[1] < 0.3 * tau21[0]
    assert tau32[2] < 0.3 and tau32[1] > 0.5
    assert tau21[2] > tau32[2]  # three prongs: a third axis helps more than a second


def test_few_constituent_conventions():
    # <= N constituents -> tau_N = 0 (fastjet-contrib); order of constituents irrelevant
    j1 = (np.array([50.0]), np.array([0.2]), np.array([1.0]))
    j2 = (np.array([30.0, 10.0]), np.array([0.0, 0.3]), np.array([0.0, 0.4]))
    j2r = tuple(a[::-1] for a in j2)
    t = nsubjettiness(_jets(j1, j2, j2r))
    assert t[0].tolist() == [0.0, 0.0, 0.0]
    assert t[1, 0] > 0 and t[1, 1:].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(t[1], t[2], rtol=1e-12)
    # tau1 of two particles with the kT (E-scheme) axis and the one-pass refinement
    np.testing.assert_allclose(t[1, 0], tau_reference(*j2, 1), rtol=1e-9)
    assert tau_ratio(t[:, 1], t[:, 0]).tolist() == [1.0, 0.0, 0.0]
    assert nsubjettiness(_jets(j1)[:0]).shape == (0, 3)


def test_massive_constituents_use_rapidity():
    rng = np.random.default_rng(2)
    pt, eta, phi = _random_jet(rng, 10)
    massless = nsubjettiness(_jets((pt, eta, phi)))
    heavy = nsubjettiness(
        ak.zip({"pt": [pt.tolist()], "eta": [eta.tolist()], "phi": [phi.tolist()],
                "mass": [(0.3 * pt).tolist()]})
    )  # fmt: skip
    assert np.all(np.isfinite(heavy)) and not np.allclose(heavy, massless)


def test_bad_arguments_raise_input_error():
    jets = _jets(_random_jet(np.random.default_rng(0), 5))
    with pytest.raises(InputError, match="unknown axes"):
        nsubjettiness(jets, axes="Kt_Axes")
    with pytest.raises(InputError, match="n_max"):
        nsubjettiness(jets, n_max=0)
    with pytest.raises(InputError, match="r must be"):
        nsubjettiness(jets, r=-1.0)
    with pytest.raises(InputError, match="expected jets"):
        nsubjettiness(ak.Array([[1.0, 2.0]]))
