"""Tests of adsearch.models.backbones: GraphBackbone and the GIN, GATv2, EGAT backbones."""

import numpy as np
import pytest
import torch

from adsearch.graphs import GraphConfig, build_graphs, to_dgl, to_pyg, toy_jets
from adsearch.models.backbones import GraphBackbone
from adsearch.models.gnn import GATv2Backbone, GINBackbone, build_backbone
from tests.models.nets import SMALL, _inputs, _make, _permute_nodes, small_graphs


@pytest.fixture(scope="module")
def graphs():
    return small_graphs()


@pytest.mark.parametrize("key", list(SMALL))
def test_forward_backward(key, graphs):
    net = _make(key)
    out = net(_inputs(net, graphs))
    assert out.shape == (graphs.n_jets, 16)
    assert torch.isfinite(out).all()
    out.pow(2).sum().backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


@pytest.mark.parametrize("key", list(SMALL))
def test_permutation_invariance(key, graphs):
    net = _make(key).eval()
    with torch.no_grad():
        ref = net(_inputs(net, graphs))
        out = net(_inputs(net, _permute_nodes(graphs, seed=1)))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("key", list(SMALL))
def test_no_bias_mode(key, graphs):
    net = _make(key, bias=False)
    names = [n for n, _ in net.named_parameters()]
    assert not [n for n in names if "bias" in n.split(".")[-1]], names
    assert net(_inputs(net, graphs)).shape[0] == graphs.n_jets
    with_bias = _make(key, bias=True)
    assert any(n.endswith("bias") for n, _ in with_bias.named_parameters())


def test_jets_are_independent(graphs):
    # a jet's embedding does not depend on the other jets of the batch (eval mode)
    for key in ("gin", "egat", "gatv2"):
        net = _make(key).eval()
        with torch.no_grad():
            full = net(_inputs(net, graphs))
            part = net(_inputs(net, graphs[2:4]))
        torch.testing.assert_close(part, full[2:4], rtol=1e-5, atol=1e-5)


def test_gatv2_default_size():
    n = sum(p.numel() for p in GATv2Backbone().parameters())
    assert 1.2e6 < n < 1.6e6  # Bauckhage (DESY 2025): ~1.3 M parameters


def test_egat_gets_self_loops_when_graphs_have_none():
    g = build_graphs(toy_jets(3, seed=2), config=GraphConfig(self_loops=False))
    net = _make("egat").eval()
    with torch.no_grad():
        out = net(to_dgl(g))
    assert torch.isfinite(out).all()


def test_gin_under_bf16_autocast(graphs):
    net = _make("gin")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(to_pyg(graphs))
    out.float().sum().backward()
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()
    with torch.no_grad():
        ref = net(to_pyg(graphs))
    assert torch.allclose(out.float(), ref, rtol=0.1, atol=0.1)


def test_embedding_invariant_to_constituent_order_end_to_end():
    # shuffle the constituents of every jet in the awkward input, rebuild the graphs
    import awkward as ak

    cons = toy_jets(4, seed=8, mean_constituents=15)
    rng = np.random.default_rng(0)
    counts = ak.num(cons).to_numpy()
    perm = np.concatenate([rng.permutation(n) for n in counts])  # local indices per jet
    shuffled = cons[ak.unflatten(perm, counts)]
    assert not ak.all(shuffled.pt == cons.pt)
    for key in ("gin", "egat", "gatv2"):
        net = _make(key).eval()
        with torch.no_grad():
            a = net(_inputs(net, build_graphs(cons)))
            b = net(_inputs(net, build_graphs(shuffled)))
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_backbones_with_part_edge_features():
    g = build_graphs(toy_jets(3, seed=4), config=GraphConfig(edge_features="inv_dr+part"))
    for key in ("gin", "gin-gine", "egat", "gatv2"):
        torch.manual_seed(0)
        net = build_backbone(key.split("-")[0], edge_dim=5, **SMALL[key])
        out = net(_inputs(net, g))
        assert out.shape == (3, 16) and torch.isfinite(out).all()


def test_egat_pyg_backend_matches_dgl(graphs):
    dgl_net = _make("egat").eval()
    torch.manual_seed(1)
    pyg_net = build_backbone("egat", backend="pyg", **SMALL["egat"]).eval()
    assert pyg_net.input_kind == "pyg" and dgl_net.input_kind == "dgl"
    pyg_net.load_state_dict(dgl_net.state_dict())  # same parameter names and shapes
    with torch.no_grad():
        a = dgl_net(to_dgl(graphs))
        b = pyg_net(to_pyg(graphs))
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    names = [n for n, _ in build_backbone("egat", backend="pyg", bias=False).named_parameters()]
    assert not [n for n in names if n.endswith("bias")]


def test_gin_degree_scale_and_init_keep_bias_free_embeddings_of_order_one():
    from adsearch.graphs import build_graphs, to_pyg, toy_jets
    from adsearch.models.gnn import edge_weight

    torch.manual_seed(0)
    batch = to_pyg(build_graphs(toy_jets(64, seed=3)))
    net = GINBackbone(width=32, layers=5, bias=False, readout="max").eval()
    net.fit_degree(batch.edge_index, batch.edge_attr, batch.x.shape[0])
    w = edge_weight(batch.edge_attr[:, 0].double(), "gauss", 0.1)
    deg = torch.zeros(batch.x.shape[0], dtype=torch.float64).scatter_add(0, batch.edge_index[1], w)
    assert abs(float(net.degree_scale) - float(deg.mean())) < 1e-4
    assert float(net.degree_scale) > 1.0  # toy jets have several close neighbours per node
    with torch.no_grad():
        z = net(batch)
    # five bias-free layers neither blow the scale up (raw sums) nor shrink it to ~1e-5
    assert 1e-2 < float(z.std()) < 1e2


#: state-dict names of saved models (one layer, one MLP layer): they must not change
STATE_DICT_NAMES = {
    "gin": "degree_scale input_mlp.0.weight input_mlp.0.bias layers.0.eps layers.0.mlp.0.weight"
    " layers.0.mlp.0.bias layers.0.mlp.1.weight layers.0.mlp.1.bias layers.0.mlp.1.running_mean"
    " layers.0.mlp.1.running_var layers.0.mlp.1.num_batches_tracked layers.0.mlp.3.weight"
    " layers.0.mlp.3.bias layers.0.out_norm.weight layers.0.out_norm.bias"
    " layers.0.out_norm.running_mean layers.0.out_norm.running_var"
    " layers.0.out_norm.num_batches_tracked output_mlp.0.weight output_mlp.0.bias",
    "gatv2": "input_lin.weight input_lin.bias convs.0.att convs.0.bias convs.0.lin_l.weight"
    " convs.0.lin_l.bias convs.0.lin_r.weight convs.0.lin_r.bias convs.0.lin_edge.weight"
    " output_mlp.0.weight output_mlp.0.bias",
    "egat": "input_mlp.0.weight input_mlp.0.bias edge_mlp.0.weight edge_mlp.0.bias"
    " edge_mlp.2.weight edge_mlp.2.bias convs.0.attn convs.0.bias convs.0.fc_node_src.weight"
    " convs.0.fc_ni.weight convs.0.fc_nj.weight convs.0.fc_fij.weight norms.0.weight"
    " norms.0.bias norms.0.running_mean norms.0.running_var norms.0.num_batches_tracked"
    " output_mlp.0.weight output_mlp.0.bias",
}


@pytest.mark.parametrize("name", list(STATE_DICT_NAMES))
def test_state_dict_names_are_stable(name):
    opts = {"heads": 2, "edge_width": 4} if name == "egat" else {}
    net = build_backbone(name, width=8, layers=1, mlp_layers=1, **opts)
    names = [n for n in net.state_dict() if not n.startswith("input_norm.")]
    assert names == STATE_DICT_NAMES[name].split()
    assert isinstance(net, GraphBackbone) and net.num_layers == 1


def test_graph_backbone_owns_the_layer_loop(graphs):
    with pytest.raises(TypeError, match="abstract"):
        GraphBackbone(3, 8, "max", None, "gauss", 0.1, ())  # type: ignore[abstract]

    class Counting(GraphBackbone):
        def __init__(self):
            super().__init__(3, 4, "sum+max", None, "gauss", 0.1, ())
            self.num_layers = 3
            self.lin = torch.nn.Linear(3, 4)
            self._build_output_mlp(4, 1, True)

        def embed(self, x):
            return self.lin(x)

        def edge_context(self, x, edge_index, edge_attr):  # noqa: ARG002
            self.seen = []
            return edge_index.shape[1]

        def step(self, i, h, ctx):
            self.seen.append((i, ctx))
            return h + 1, ctx

    net = Counting()
    data = to_pyg(graphs)
    out = net(data)
    n_edges = data.edge_index.shape[1]
    assert net.seen == [(0, n_edges), (1, n_edges), (2, n_edges)]
    assert out.shape == (graphs.n_jets, 4)
    assert net.output_mlp[0].in_features == 8  # width x two pools


def test_egat_forward_tensors_needs_the_pyg_backend():
    net = _make("egat")
    args = to_pyg(build_graphs(toy_jets(2, seed=0)))
    with pytest.raises(RuntimeError, match="backend='pyg'"):
        net.forward_tensors(args.x, args.edge_index, args.edge_attr, args.batch, args.ptr)
