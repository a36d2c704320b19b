"""Tests of adsearch.models.layers: GINLayer and EGATLayer (against DGL's EGATConv)."""

import pytest
import torch

from adsearch.graphs import to_dgl, to_pyg
from adsearch.models.kernel import WeightedAdjacency
from adsearch.models.layers import EGATLayer, GINLayer, _dgl_egat_class
from tests.models.nets import small_graphs


@pytest.fixture(scope="module")
def graphs():
    return small_graphs()


def test_gin_layer_formula(graphs):
    torch.manual_seed(0)
    b = to_pyg(graphs)
    w = b.edge_attr[:, 0] * 0.1
    layer = GINLayer(8, bias=True, norm="none").eval()
    with torch.no_grad():
        layer.eps.fill_(0.5)
    h = torch.randn(graphs.n_nodes, 8)
    agg = torch.zeros_like(h).index_add_(0, b.edge_index[1], h[b.edge_index[0]] * w[:, None])
    with torch.no_grad():
        out = layer(h, WeightedAdjacency(b.edge_index, w, graphs.n_nodes))
        ref = torch.relu(layer.mlp(1.5 * h + agg))
    assert out.shape == (graphs.n_nodes, 8)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    assert not GINLayer(8, bias=True, norm="none", train_eps=False).eps.requires_grad


@pytest.mark.parametrize("bias", [True, False])
def test_egat_layer_matches_dgl(graphs, bias):
    torch.manual_seed(0)
    ref = _dgl_egat_class()(8, 4, 3, 2, 2, bias=bias)
    layer = EGATLayer(8, 4, 3, 2, 2, bias=bias)
    layer.load_state_dict(ref.state_dict())  # same parameter names and shapes
    g, b = to_dgl(graphs), to_pyg(graphs)
    h = torch.randn(graphs.n_nodes, 8)
    f = torch.randn(g.num_edges(), 4)
    assert g.num_edges() == b.edge_index.shape[1]
    # the DGL graph and the PyG batch list the same edges (same order) for the same jets
    src, dst = g.edges()
    assert torch.equal(torch.stack([src, dst]), b.edge_index)
    with torch.no_grad():
        h_ref, f_ref = ref(g, h, f)
        h_out, f_out = layer(h, f, b.edge_index)
    assert h_out.shape == (graphs.n_nodes, 2, 3) and f_out.shape == (g.num_edges(), 2, 2)
    torch.testing.assert_close(h_out, h_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(f_out, f_ref, rtol=1e-5, atol=1e-5)
