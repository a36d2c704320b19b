import awkward as ak
import numpy as np
import torch

from adsearch.graphs import GraphConfig, build_graphs, to_dense, to_dgl, to_pyg, toy_jets


def test_pyg_and_dgl_have_the_same_edges():
    g = build_graphs(toy_jets(7, seed=1, mean_constituents=25))
    b = to_pyg(g)
    d = to_dgl(g)
    src, dst = d.edges()
    assert torch.equal(src, b.edge_index[0]) and torch.equal(dst, b.edge_index[1])
    assert torch.equal(d.edata["w"], b.edge_attr) and torch.equal(d.ndata["x"], b.x)
    assert d.batch_size == b.num_graphs == 7
    assert d.batch_num_nodes().tolist() == g.num_nodes_per_jet.tolist()
    assert torch.equal(b.batch, torch.from_numpy(g.batch))
    assert b.ptr.tolist() == g.node_ptr.tolist()
    # unbatching gives the per-jet graphs with local node ids
    parts = __import__("adsearch._dgl", fromlist=["dgl"]).dgl.unbatch(d)
    assert [p.num_edges() for p in parts] == g.num_edges_per_jet.tolist()


def test_dgl_adds_self_loops_when_missing():
    g = build_graphs(toy_jets(4, seed=2), config=GraphConfig(self_loops=False))
    d = to_dgl(g)
    assert d.num_edges() == g.n_edges + g.n_nodes
    assert bool((d.in_degrees() > 0).all())
    src, dst = d.edges()
    loops = src == dst
    assert int(loops.sum()) == g.n_nodes
    assert torch.all(d.edata["w"][loops] == 0.0)
    assert d.batch_num_edges().tolist() == (g.num_edges_per_jet + g.num_nodes_per_jet).tolist()


def test_dense_matches_graph_nodes_and_padding():
    cons = toy_jets(5, seed=3, mean_constituents=12)
    g = build_graphs(cons, config=GraphConfig(max_constituents=8))
    x, mask = to_dense(cons, max_n=10)
    assert x.shape == (5, 10, 3) and mask.dtype == bool
    n = np.minimum(ak.to_numpy(ak.num(cons)), 10)
    assert mask.sum(1).tolist() == n.tolist()
    for j in range(5):  # same features, same (pT-descending) order as the capped graph
        k = g.node_ptr[j + 1] - g.node_ptr[j]
        np.testing.assert_allclose(x[j, :k], g.x[g.node_ptr[j] : g.node_ptr[j + 1]], rtol=1e-6)
    assert np.all(x[~mask] == 0)
    # more padding changes nothing in the real slots
    x2, mask2 = to_dense(cons, max_n=40)
    np.testing.assert_array_equal(x2[:, :10][mask], x[mask])
    assert mask2[:, 10:].sum() == mask2.sum() - mask.sum()
