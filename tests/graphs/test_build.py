import awkward as ak
import numpy as np
import pytest

from adsearch.errors import ConfigError, InputError
from adsearch.graphs import GraphConfig, build_graphs, jet_axis, toy_jets, wrap_phi


def _jets(rows):
    return ak.Array([[{"pt": p, "eta": e, "phi": f} for p, e, f in jet] for jet in rows])


def _brute_force(cons, axis, cfg):
    """Reference edges {(jet, src, tgt): 1/dR} with a per-jet Python loop in float64."""
    out = {}
    counts, _pt, eta, phi = (
        ak.num(cons).to_numpy(),
        ak.flatten(cons.pt).to_numpy(),
        ak.flatten(cons.eta).to_numpy(),
        ak.flatten(cons.phi).to_numpy(),
    )
    start = 0
    for j, n in enumerate(counts):
        e = eta[start : start + n] - axis.eta[j]
        f = wrap_phi(phi[start : start + n] - axis.phi[j])
        for i in range(n):
            dr = np.hypot(e - e[i], wrap_phi(f - f[i]))
            if cfg.edges == "radius":
                nbrs = [s for s in range(n) if s != i and dr[s] < cfg.radius]
            elif cfg.edges == "full":
                nbrs = [s for s in range(n) if s != i]
            else:
                cand = sorted((dr[s], s) for s in range(n) if s != i)
                nbrs = [s for _, s in cand[: cfg.k]]
            for s in nbrs:
                out[(j, s, i)] = 1.0 / max(dr[s], cfg.min_dr)
            if cfg.self_loops:
                out[(j, i, i)] = cfg.self_loop_value
        start += n
    return out


def _as_dict(g):
    jet = np.repeat(np.arange(g.n_jets), g.num_edges_per_jet)
    base = g.node_ptr[jet]
    return {
        (int(j), int(s - b), int(t - b)): float(w)
        for j, s, t, b, w in zip(jet, *g.edge_index, base, g.edge_attr[:, 0], strict=True)
    }


def test_hand_made_jet_features():
    # jet axis at phi = pi - 0.05; one constituent across the +-pi boundary
    cons = _jets([[(60.0, 0.0, 3.1), (30.0, 0.1, -3.1), (10.0, 0.5, 3.0)]])
    g = build_graphs(cons, [100.0], [0.0], [np.pi - 0.05], GraphConfig(max_constituents=None))
    np.testing.assert_allclose(g.x[:, 0], [0.6, 0.3, 0.1], rtol=1e-6)
    np.testing.assert_allclose(g.x[:, 0].sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(g.x[:, 1], [0.0, 0.1, 0.5], atol=1e-6)
    dphi1 = -3.1 + 2 * np.pi - (np.pi - 0.05)  # wrapped: small and positive
    np.testing.assert_allclose(
        g.x[:, 2], [3.1 - np.pi + 0.05, dphi1, 3.0 - np.pi + 0.05], atol=1e-6
    )
    assert np.all(np.abs(g.x[:, 2]) < 0.2)
    # constituents 0 and 1 are Delta R = hypot(0.1, 2 pi - 6.2) = 0.130 apart; 2 is far
    dr01 = np.hypot(0.1, 2 * np.pi - 6.2)
    edges = _as_dict(g)
    assert set(edges) == {(0, 0, 0), (0, 1, 1), (0, 2, 2), (0, 0, 1), (0, 1, 0)}
    assert edges[(0, 0, 1)] == pytest.approx(1 / dr01, rel=1e-5)
    assert edges[(0, 1, 0)] == pytest.approx(1 / dr01, rel=1e-5)
    assert edges[(0, 2, 2)] == 0.0  # self-loop value
    # sorted by target, then source
    key = g.edge_index[1] * 10 + g.edge_index[0]
    assert np.all(np.diff(key) > 0)


def test_coincident_particles_are_finite():
    cons = _jets([[(5.0, 0.2, 0.3), (4.0, 0.2, 0.3), (1.0, 0.2, 0.3)]])
    g = build_graphs(cons, [10.0], [0.2], [0.3], GraphConfig(min_dr=0.01))
    assert np.all(np.isfinite(g.edge_attr))
    off = g.edge_index[0] != g.edge_index[1]
    np.testing.assert_allclose(g.edge_attr[off, 0], 100.0)
    assert g.n_edges == 9


@pytest.mark.parametrize(
    "cfg",
    [
        GraphConfig(),
        GraphConfig(self_loops=False, self_loop_value=1.0),
        GraphConfig(edges="knn", k=4),
        GraphConfig(edges="full", self_loops=False),
        GraphConfig(max_constituents=None, radius=0.3),
    ],
    ids=["radius", "radius-noloops", "knn", "full", "nocap"],
)
def test_edges_match_brute_force(cfg):
    # mixed sizes (2 .. ~25), jets near phi = +-pi, several jets of equal size
    cons = toy_jets(40, seed=3, mean_constituents=10.0, spread=0.15)
    ax = jet_axis(cons)
    g = build_graphs(cons, ax.pt, ax.eta, ax.phi, cfg)
    ref = _brute_force(cons, ax, cfg)
    got = _as_dict(g)
    assert set(got) == set(ref)  # continuous toy coordinates: no distance ties for kNN
    keys = sorted(ref)
    np.testing.assert_allclose([got[k] for k in keys], [ref[k] for k in keys], rtol=1e-4)
    # per jet: edges contiguous and inside the jet's node range
    jet = np.repeat(np.arange(g.n_jets), g.num_edges_per_jet)
    for row in g.edge_index:
        assert np.all(row >= g.node_ptr[jet]) and np.all(row < g.node_ptr[jet + 1])


def test_constituent_cap_keeps_hardest():
    cons = _jets([[(1.0, 0.0, 0.0), (5.0, 0.01, 0.0), (3.0, 0.02, 0.0)], [(2.0, 0.0, 0.0)]])
    g = build_graphs(cons, [9.0, 2.0], [0.0, 0.0], [0.0, 0.0], GraphConfig(max_constituents=2))
    assert g.num_nodes_per_jet.tolist() == [2, 1]
    np.testing.assert_allclose(g.x[:, 0], [5 / 9, 3 / 9, 1.0], rtol=1e-6)
    assert g.n_edges == 4 + 1


def test_jet_axis_and_default_axis():
    cons = toy_jets(5, seed=1)
    ax = jet_axis(cons)
    g1 = build_graphs(cons)
    g2 = build_graphs(cons, ax.pt, ax.eta, ax.phi)
    np.testing.assert_array_equal(g1.x, g2.x)
    # pT-fractions of the full (uncapped) jet sum to 1 within the vector-sum effect (< 2 %)
    g = build_graphs(cons, config=GraphConfig(max_constituents=None))
    sums = np.add.reduceat(g.x[:, 0], g.node_ptr[:-1])
    assert np.all((sums > 1.0) & (sums < 1.02))


def test_events_times_jets_layout():
    cons = toy_jets(6, seed=2)
    ax = jet_axis(cons)
    ev = ak.unflatten(cons, [2, 2, 2])
    g = build_graphs(ev, ax.pt.reshape(3, 2), ax.eta.reshape(3, 2), ax.phi.reshape(3, 2))
    g_ref = build_graphs(cons, ax.pt, ax.eta, ax.phi)
    np.testing.assert_array_equal(g.edge_index, g_ref.edge_index)


def test_slicing_and_take():
    cons = toy_jets(12, seed=4, mean_constituents=15)
    g = build_graphs(cons)
    part = g[3:7]
    ref = build_graphs(cons[3:7])
    np.testing.assert_array_equal(part.edge_index, ref.edge_index)
    np.testing.assert_array_equal(part.x, ref.x)
    np.testing.assert_array_equal(part.edge_ptr, ref.edge_ptr)
    idx = np.array([9, 0, 9, 5])
    t = g.take(idx)
    ref = build_graphs(cons[idx])
    np.testing.assert_array_equal(t.edge_index, ref.edge_index)
    np.testing.assert_array_equal(t.edge_attr, ref.edge_attr)
    assert g[5:5].n_jets == 0


def test_bad_inputs():
    cons = _jets([[(1.0, 0.0, 0.0)], [(1.0, np.nan, 0.0)]])
    with pytest.raises(InputError, match="constituents.eta"):
        build_graphs(cons, [1.0, 1.0], [0.0, 0.0], [0.0, 0.0])
    good = _jets([[(1.0, 0.0, 0.0)]])
    with pytest.raises(InputError, match="jet_pt"):
        build_graphs(good, [1.0, 2.0], [0.0, 0.0], [0.0, 0.0])
    with pytest.raises(InputError, match="jet_pt"):
        build_graphs(good, [0.0], [0.0], [0.0])
    with pytest.raises(InputError, match="no constituents"):
        build_graphs(ak.Array([[], [{"pt": 1.0, "eta": 0.0, "phi": 0.0}]]), [1, 1], [0, 0], [0, 0])
    with pytest.raises(ConfigError, match="graphs.edges"):
        build_graphs(good, config=GraphConfig(edges="delaunay"))
    with pytest.raises(ConfigError, match="self_loop_value"):
        build_graphs(good, config=GraphConfig(self_loop_value=float("inf")))


def test_threads_give_identical_graphs():
    cons = toy_jets(60, seed=5, mean_constituents=20)
    g1 = build_graphs(cons)
    g2 = build_graphs(cons, threads=2)
    np.testing.assert_array_equal(g1.edge_index, g2.edge_index)
    np.testing.assert_array_equal(g1.edge_attr, g2.edge_attr)


def test_part_pair_features():
    cons = toy_jets(6, seed=9, mean_constituents=15)
    base = build_graphs(cons)
    g = build_graphs(cons, config=GraphConfig(edge_features="inv_dr+part"))
    assert g.edge_attr.shape == (g.n_edges, 5)
    np.testing.assert_array_equal(g.edge_attr[:, 0], base.edge_attr[:, 0])
    np.testing.assert_array_equal(g.edge_index, base.edge_index)
    assert np.all(np.isfinite(g.edge_attr))
    loops = g.edge_index[0] == g.edge_index[1]
    assert np.all(g.edge_attr[loops, 1:] == 0)
    # reference for one non-loop edge, float64
    e = int(np.flatnonzero(~loops)[0])
    s, t = g.edge_index[:, e]
    xs, xt = g.x[s].astype(float), g.x[t].astype(float)
    dr = np.hypot(xs[1] - xt[1], wrap_phi(xs[2] - xt[2]))
    lo = min(xs[0], xt[0])
    m2 = 2 * xs[0] * xt[0] * (np.cosh(xs[1] - xt[1]) - np.cos(xs[2] - xt[2]))
    ref = [np.log(lo * dr), np.log(lo / (xs[0] + xt[0])), np.log(dr), np.log(m2)]
    np.testing.assert_allclose(g.edge_attr[e, 1:], ref, rtol=1e-4)
    # ln Delta R and 1/Delta R agree
    np.testing.assert_allclose(np.exp(-g.edge_attr[~loops, 3]), g.edge_attr[~loops, 0], rtol=1e-4)
