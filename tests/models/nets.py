"""Small graph backbones and jet graphs shared by the tests of the graph-network modules."""

import numpy as np
import torch

from adsearch.graphs import JetGraphs, build_graphs, to_dgl, to_pyg, toy_jets
from adsearch.models.gnn import build_backbone

__all__ = ["SMALL", "_Wrap", "_inputs", "_make", "_permute_nodes", "small_graphs"]

SMALL = {
    "gin": {"width": 16, "layers": 2, "mlp_layers": 2},
    "gin-gine": {"width": 16, "layers": 2, "mlp_layers": 2, "conv": "gine"},
    "egat": {"width": 16, "layers": 2, "mlp_layers": 2, "heads": 2, "edge_width": 4},
    "gatv2": {"width": 16, "layers": 2, "readout": "max+mean+add"},
}


def _make(key, bias=True):
    torch.manual_seed(0)
    return build_backbone(key.split("-")[0], bias=bias, **SMALL[key])


def _inputs(net, graphs: JetGraphs):
    return to_dgl(graphs) if net.input_kind == "dgl" else to_pyg(graphs)


def small_graphs() -> JetGraphs:
    return build_graphs(toy_jets(6, seed=11, mean_constituents=20))


def _permute_nodes(g: JetGraphs, seed: int) -> JetGraphs:
    """Shuffle node order inside every jet (relabel edges; edge order shuffled too)."""
    rng = np.random.default_rng(seed)
    new_of_old = np.empty(g.n_nodes, dtype=np.int64)
    for j in range(g.n_jets):  # test-side reference, a loop is fine here
        a, b = g.node_ptr[j], g.node_ptr[j + 1]
        new_of_old[a:b] = a + rng.permutation(b - a)
    x = np.empty_like(g.x)
    x[new_of_old] = g.x
    ei = new_of_old[g.edge_index]
    eperm = np.concatenate(
        [
            g.edge_ptr[j] + rng.permutation(g.edge_ptr[j + 1] - g.edge_ptr[j])
            for j in range(g.n_jets)
        ]
    )
    return JetGraphs(x, ei[:, eperm], g.edge_attr[eperm], g.node_ptr, g.edge_ptr, g.config)


class _Wrap(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, edge_index, edge_attr, batch, ptr):
        return self.net.forward_tensors(x, edge_index, edge_attr, batch, ptr)
