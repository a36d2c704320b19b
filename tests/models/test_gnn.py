import numpy as np
import pytest
import torch

from adsearch.graphs import GraphConfig, JetGraphs, build_graphs, to_dgl, to_pyg, toy_jets
from adsearch.models import gnn
from adsearch.models.gnn import (
    EGATBackbone,
    GATv2Backbone,
    GINBackbone,
    WeightedAdjacency,
    build_backbone,
    graph_readout,
    onnx_inputs,
)

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


@pytest.fixture(scope="module")
def graphs():
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
    monkeypatch.setattr(gnn, "_exporting", lambda: True)
    adj2 = WeightedAdjacency(b.edge_index, w.double(), graphs.n_nodes)
    assert not adj2.sparse
    torch.testing.assert_close(adj2(h), dense @ h)


def test_readout_and_registry():
    h = torch.tensor([[1.0, -1.0], [3.0, -3.0], [5.0, 2.0]])
    out = graph_readout(h, torch.tensor([0, 0, 1]), torch.tensor([0, 2, 3]), ("max", "mean"))
    torch.testing.assert_close(out, torch.tensor([[3.0, -1.0, 2.0, -2.0], [5.0, 2.0, 5.0, 2.0]]))
    assert isinstance(build_backbone("gatv2", width=8, layers=1), GATv2Backbone)
    assert isinstance(build_backbone("egat", width=8, layers=1, edge_width=4), EGATBackbone)
    assert GINBackbone.input_kind == "pyg" and EGATBackbone.input_kind == "dgl"
    with pytest.raises(KeyError, match="unknown graph backbone"):
        build_backbone("gcn")
    with pytest.raises(TypeError):
        build_backbone("gin", colour="blue")
    with pytest.raises(ValueError, match="readout"):
        build_backbone("gin", readout="median")


def test_gatv2_default_size():
    n = sum(p.numel() for p in GATv2Backbone().parameters())
    assert 1.2e6 < n < 1.6e6  # Bauckhage (DESY 2025): ~1.3 M parameters


def test_egat_gets_self_loops_when_graphs_have_none():
    g = build_graphs(toy_jets(3, seed=2), config=GraphConfig(self_loops=False))
    net = _make("egat").eval()
    with torch.no_grad():
        out = net(to_dgl(g))
    assert torch.isfinite(out).all()


class _Wrap(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, edge_index, edge_attr, batch, ptr):
        return self.net.forward_tensors(x, edge_index, edge_attr, batch, ptr)


@pytest.mark.parametrize(("key", "dynamo"), [("gin", False), ("gatv2", False), ("gin", True)])
def test_onnx_export_matches_torch(key, dynamo, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    wrap = _Wrap(_make(key)).eval()
    args, names, dynamic = onnx_inputs(to_pyg(build_graphs(toy_jets(4, seed=0))))
    path = tmp_path / f"{key}.onnx"
    if dynamo:
        from torch.export import Dim

        shapes = {
            "x": {0: Dim("nodes")},
            "edge_index": {1: Dim("edges")},
            "edge_attr": {0: Dim("edges")},
            "batch": {0: Dim("nodes")},
            "ptr": {0: Dim("graphs_plus_one")},
        }
        torch.onnx.export(
            wrap,
            args,
            path,
            input_names=list(names),
            dynamic_shapes=shapes,
            dynamo=True,
            verbose=False,
        )
    else:
        torch.onnx.export(
            wrap,
            args,
            path,
            input_names=list(names),
            dynamic_axes=dynamic,
            opset_version=18,
            dynamo=False,
        )
    sess = ort.InferenceSession(str(path))
    wanted = {i.name for i in sess.get_inputs()}
    for n_jets in (1, 3, 9):
        a, _, _ = onnx_inputs(to_pyg(build_graphs(toy_jets(n_jets, seed=n_jets))))
        with torch.no_grad():
            ref = wrap(*a).numpy()
        feed = {k: v.numpy() for k, v in zip(names, a, strict=True) if k in wanted}
        out = sess.run(None, feed)[0]
        assert out.shape == ref.shape
        assert np.abs(out - ref).max() <= 1e-4


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


def test_egat_pyg_backend_onnx(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    wrap = _Wrap(build_backbone("egat", backend="pyg", **SMALL["egat"])).eval()
    args, names, dynamic = onnx_inputs(to_pyg(build_graphs(toy_jets(4, seed=0))))
    path = tmp_path / "egat.onnx"
    torch.onnx.export(
        wrap,
        args,
        path,
        input_names=list(names),
        dynamic_axes=dynamic,
        opset_version=18,
        dynamo=False,
    )
    sess = ort.InferenceSession(str(path))
    wanted = {i.name for i in sess.get_inputs()}
    for n_jets in (1, 5):
        a, _, _ = onnx_inputs(to_pyg(build_graphs(toy_jets(n_jets, seed=n_jets))))
        with torch.no_grad():
            ref = wrap(*a).numpy()
        out = sess.run(None, {k: v.numpy() for k, v in zip(names, a, strict=True) if k in wanted})
        assert np.abs(out[0] - ref).max() <= 1e-4


def test_gin_degree_scale_and_init_keep_bias_free_embeddings_of_order_one():
    from adsearch.graphs import build_graphs, to_pyg, toy_jets
    from adsearch.models.gnn import GINBackbone, edge_weight

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


def test_ptsum_readout_is_the_pt_weighted_sum_and_order_free():
    h = torch.tensor([[1.0, -1.0], [3.0, -3.0], [5.0, 2.0]])
    w = torch.tensor([0.25, 0.75, 1.0])
    out = graph_readout(h, torch.tensor([0, 0, 1]), torch.tensor([0, 2, 3]), ("ptsum",), w)
    torch.testing.assert_close(out, torch.tensor([[2.5, -2.5], [5.0, 2.0]]))
    perm = torch.tensor([1, 0, 2])
    again = graph_readout(
        h[perm], torch.tensor([0, 0, 1]), torch.tensor([0, 2, 3]), ("ptsum",), w[perm]
    )
    torch.testing.assert_close(again, out)
    with pytest.raises(ValueError, match="pT fractions"):
        graph_readout(h, torch.tensor([0, 0, 1]), torch.tensor([0, 2, 3]), ("ptsum",))
    # a soft constituent at the edge moves max pooling, hardly the pT-weighted sum
    gin = build_backbone("gin", width=8, layers=1, readout="ptsum")
    assert gin.readout == ("ptsum",)
