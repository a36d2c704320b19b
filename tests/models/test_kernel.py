"""Tests of adsearch.models.kernel: the sparse weighted aggregation."""

import pytest
import torch

from adsearch.graphs import build_graphs, to_pyg, toy_jets
from adsearch.models import kernel
from adsearch.models.kernel import WeightedAdjacency
from tests.models.nets import small_graphs


@pytest.fixture(scope="module")
def graphs():
    return small_graphs()


def test_sparse_and_scatter_aggregation_agree(graphs, monkeypatch):
    b = to_pyg(graphs)
    w = b.edge_attr[:, 0] * 0.2
    h = torch.randn(graphs.n_nodes, 5, dtype=torch.float64, requires_grad=True)
    adj = WeightedAdjacency(b.edge_index, w.double(), graphs.n_nodes)
    assert adj.sparse
    dense = torch.zeros(graphs.n_nodes, graphs.n_nodes, dtype=torch.float64)
    dense[b.edge_index[1], b.edge_index[0]] = w.double()
    torch.testing.assert_close(adj(h), dense @ h)
    # gradient through the custom sparse matmul (uses the transposed CSR), on a small graph
    small = build_graphs(toy_jets(2, seed=3, mean_constituents=6))
    bs = to_pyg(small)
    adj_s = WeightedAdjacency(bs.edge_index, bs.edge_attr[:, 0].double(), small.n_nodes)
    hs = torch.randn(small.n_nodes, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: adj_s(t), (hs,))
    monkeypatch.setattr(kernel, "_exporting", lambda: True)
    adj2 = WeightedAdjacency(b.edge_index, w.double(), graphs.n_nodes)
    assert not adj2.sparse
    torch.testing.assert_close(adj2(h), dense @ h)
