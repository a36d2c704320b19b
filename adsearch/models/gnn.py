"""Graph backbones on jet constituent graphs: GIN and GATv2 (PyG), EGAT (DGL), and a registry.

Every backbone maps a batch of jet graphs to one embedding per jet, ``forward(inputs) ->
Tensor [B, out_dim]``, and says which batch type it eats in the class attribute
``input_kind`` (``"pyg"``: a ``torch_geometric`` batch from :func:`adsearch.graphs.to_pyg`;
``"dgl"``: a batched ``DGLGraph`` from :func:`adsearch.graphs.to_dgl`). Architecture (A.
D'Avanzo for ATLAS, EuCAIFCon 2025): input MLP (``mlp_layers`` = 3) -> ``layers`` = 5
message-passing layers of width 128 -> graph readout (``"sum"``, ``"mean"``, ``"max"`` or a
``"+"``-joined concatenation such as ``"max+mean+sum"``) -> output MLP (3 layers).

``bias=False`` removes every additive parameter (Linear biases, normalisation shifts, the
attention biases), as DeepSVDD requires (Ruff et al. 2018: with a bias the network can map
every input onto the centre). Activations are ReLU (unbounded); normalisation is
``BatchNorm1d`` with ``affine=bias`` (Ruff et al. use affine-free batch norm).

GIN aggregation and why it is sparse
------------------------------------
``GINBackbone(conv="sparse")`` (default) computes, per layer,

    h_i' = MLP((1 + eps) h_i + sum_j w_ji h_j),     w_ji = edge_scale / Delta R_ji

with the scalar edge weights as one sparse CSR matrix built once per batch and shared by all
layers (self-loops carry weight ``edge_scale * self_loop_value`` = 0: the ``(1 + eps) h_i``
term is the self term). The aggregation is a sparse x dense matmul: no ``E x width`` tensor
is ever formed, so the cost is that of the node MLPs. ``conv="gine"`` is PyG's ``GINEConv``
(message ReLU(h_j + Lin(e_ji)), a learned edge embedding) for comparison: it materialises
several ``E x width`` tensors per layer and is ~5-10x slower at ~25 edges per node
(benchmarks/bench_graphs.py measures both). Under ONNX export or ``torch.export`` the
sparse matmul is replaced by the equivalent gather / ``scatter_add`` (exportable), with the
same result.

EGAT with DGL kernels cannot be exported to ONNX (the exporters fail on DGL's C++ kernels
or freeze message passing into constants);
``EGATBackbone(backend="pyg")`` computes the same layer in plain torch (same parameters,
so a DGL-trained state dict loads into it) and exports.
"""

from __future__ import annotations

import abc
import warnings
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from adsearch.models.norm import InputNorm

__all__ = [
    "BACKBONES",
    "MLP",
    "EGATBackbone",
    "EGATLayer",
    "GATv2Backbone",
    "GINBackbone",
    "build_backbone",
    "degree_normalise",
    "edge_weight",
    "graph_readout",
    "onnx_inputs",
    "parse_readout",
]

_READOUTS = ("sum", "mean", "max", "ptsum")


class MLP(nn.Sequential):
    """``layers`` Linear layers with ReLU between them (and after the last if ``final_act``)."""

    def __init__(
        self,
        in_dim: int,
        width: int,
        out_dim: int,
        layers: int = 3,
        bias: bool = True,
        final_act: bool = False,
    ) -> None:
        if layers < 1:
            raise ValueError("MLP needs at least one layer")
        dims = [in_dim] + [width] * (layers - 1) + [out_dim]
        mods: list[nn.Module] = []
        for i in range(layers):
            mods.append(nn.Linear(dims[i], dims[i + 1], bias=bias))
            if i < layers - 1 or final_act:
                mods.append(nn.ReLU())
        super().__init__(*mods)


def parse_readout(readout: str | Sequence[str]) -> tuple[str, ...]:
    """``"max+mean+add"`` / ``["max", "mean"]`` -> ``("max", "mean", "sum")`` (add = sum).

    >>> parse_readout("max+mean+add")
    ('max', 'mean', 'sum')
    """
    parts = readout.split("+") if isinstance(readout, str) else list(readout)
    out = tuple("sum" if p.strip() == "add" else p.strip() for p in parts)
    bad = [p for p in out if p not in _READOUTS]
    if not out or bad:
        raise ValueError(
            f"unknown readout {readout!r} (allowed: sum/add, mean, max, ptsum, joined by +)"
        )
    return out


def graph_readout(
    h: Tensor, batch: Tensor, ptr: Tensor, how: Sequence[str], weight: Tensor | None = None
) -> Tensor:
    """Pool node features ``h [N, D]`` per graph -> ``[B, D * len(how)]``.

    ``batch [N]`` is the graph of each node and ``ptr [B + 1]`` the node offsets (B is read
    from its length, so ONNX export keeps it dynamic). Written with ``scatter_add`` and
    ``scatter_reduce(amax, include_self=True)`` on a -inf start, which both export to ONNX.
    ``"ptsum"`` is the energy-flow readout ``sum_i z_i h_i`` with ``z_i = weight [N]`` the
    constituent pT fractions (Komiske, Metodiev, Thaler, "Energy Flow Networks", JHEP 01
    (2019) 121): an infrared-safe pool whose sums of angular functions carry the jet's mass
    and girth, which max/mean pools over constituents see only through the softest particles.

    >>> h = torch.tensor([[1.0], [3.0], [5.0]])
    >>> graph_readout(h, torch.tensor([0, 0, 1]), torch.tensor([0, 2, 3]), ("sum", "mean", "max"))
    tensor([[4., 2., 3.],
            [5., 5., 5.]])
    """
    n_graphs = ptr.shape[0] - 1
    idx = batch.unsqueeze(-1).expand_as(h)
    outs = []
    total = None
    for kind in how:
        if kind in ("sum", "mean") and total is None:
            total = h.new_zeros((n_graphs, h.shape[1])).scatter_add(0, idx, h)
        if kind == "ptsum":
            if weight is None:
                raise ValueError("readout 'ptsum' needs the constituent pT fractions")
            wh = h * weight.to(h.dtype).unsqueeze(-1)
            outs.append(h.new_zeros((n_graphs, h.shape[1])).scatter_add(0, idx, wh))
        elif kind == "sum":
            outs.append(total)
        elif kind == "mean":
            count = (ptr[1:] - ptr[:-1]).clamp(min=1).to(h.dtype).unsqueeze(-1)
            outs.append(total / count)
        else:
            start = h.new_full((n_graphs, h.shape[1]), float("-inf"))
            outs.append(start.scatter_reduce(0, idx, h, reduce="amax", include_self=True))
    return outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)


def _exporting() -> bool:
    return bool(
        torch.onnx.is_in_onnx_export()
        or torch.jit.is_tracing()
        or torch.compiler.is_compiling()
        or torch.compiler.is_exporting()
    )


def _norm_kind(kind: str | None, bias: bool) -> str:
    """``None`` -> batch norm with biases, none without (DeepSVDD: the mean subtraction of a
    normalisation layer acts as the bias term the objective must not have)."""
    if kind is None:
        return "batch" if bias else "none"
    return kind


#: scalar edge weights of :func:`edge_weight`
EDGE_WEIGHTS = ("gauss", "inv_dr")


def edge_weight(attr: Tensor, kind: str, scale: float) -> Tensor:
    """Scalar edge weight from the edge feature 1/Delta R (0 on self-loops).

    ``"gauss"``: ``exp(-Delta R^2 / (2 scale^2))``, bounded in [0, 1) and 0 on self-loops;
    ``"inv_dr"``: ``scale / Delta R``, the raw 1/Delta R (up to 100 at the Delta R clamp).

    >>> [round(v, 4) for v in edge_weight(torch.tensor([0.0, 10.0, 5.0]), "gauss", 0.1).tolist()]
    [0.0, 0.6065, 0.1353]
    """
    _check_edge_weight(kind)
    if kind == "inv_dr":
        return attr * scale
    dr = 1.0 / attr.clamp(min=1e-6)
    return torch.where(attr > 0, torch.exp(-0.5 * (dr / scale) ** 2), torch.zeros_like(attr))


def _check_edge_weight(kind: str) -> None:
    if kind not in EDGE_WEIGHTS:
        raise ValueError(f"unknown edge_weight {kind!r} (allowed: {', '.join(EDGE_WEIGHTS)})")


def _edge_input(edge_attr: Tensor, kind: str, scale: float) -> Tensor:
    """Edge features with column 0 (1/Delta R) replaced by its bounded weight."""
    w = edge_weight(edge_attr[:, :1], kind, scale)
    return w if edge_attr.shape[1] == 1 else torch.cat([w, edge_attr[:, 1:]], dim=1)


def degree_normalise(
    edge_index: Tensor, weight: Tensor, num_nodes: int, kind: str = "mean"
) -> Tensor:
    """Normalised edge weights: aggregated messages stay bounded however busy the jet.

    ``"mean"``: ``w_ji / (1 + d_i)``; ``"sym"``: ``w_ji / sqrt((1 + d_i)(1 + d_j))`` (the
    symmetric normalisation of Kipf & Welling's GCN), with ``d_i = sum_k w_ki`` the weighted
    in-degree. ``sym`` keeps part of the local density (a node in a dense core still collects
    more than an isolated one), ``mean`` none of it.

    >>> ei, w = torch.tensor([[0, 1], [2, 2]]), torch.tensor([1.0, 2.0])
    >>> degree_normalise(ei, w, 3).tolist(), degree_normalise(ei, w, 3, "sym").tolist()
    ([0.25, 0.5], [0.5, 1.0])
    """
    dst = edge_index[1]
    deg = weight.new_zeros(num_nodes).scatter_add(0, dst, weight)
    if kind == "mean":
        return weight / (1.0 + deg.index_select(0, dst))
    if kind == "sym":
        d1 = 1.0 + deg
        return weight / torch.sqrt(d1.index_select(0, dst) * d1.index_select(0, edge_index[0]))
    raise ValueError(f"unknown degree normalisation {kind!r} (allowed: mean, sym)")


def _he_init(module: nn.Module) -> None:
    """He (Kaiming) normal initialisation of every Linear weight, for ReLU networks.

    torch's default Linear initialisation shrinks the activations by ~0.4 per ReLU layer;
    through the ~12 linear layers of a GIN that is a factor ~1e-5, and without normalisation
    layers (DeepSVDD) the embeddings and the loss (~1e-9) become so small that Adam's
    epsilon damps the updates. He initialisation keeps the activation scale through depth.
    """
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")


def _norm(width: int, kind: str, bias: bool) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(width, affine=bias)
    if kind == "layer":
        return nn.LayerNorm(width, elementwise_affine=bias, bias=bias)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r} (allowed: batch, layer, none)")


# ------------------------------------------------------------------------------------------
# sparse weighted aggregation


class _SpMM(torch.autograd.Function):
    """``A @ h`` with CSR ``A``; the backward uses the pre-built CSR of ``A^T``.

    torch's own CSR matmul backward transposes ``A`` on every call (~3x the forward cost);
    here both orientations are built once per batch and reused by all layers.
    """

    @staticmethod
    def forward(ctx, a: Tensor, a_t: Tensor, h: Tensor) -> Tensor:
        # CPU sparse kernels have no bf16/fp16: compute in the matrix dtype, return h's
        ctx.a_t, ctx.dtype = a_t, h.dtype
        with torch.autocast(h.device.type, enabled=False):
            return (a @ h.to(a.dtype)).to(h.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        with torch.autocast(grad.device.type, enabled=False):
            return None, None, (ctx.a_t @ grad.to(ctx.a_t.dtype)).to(ctx.dtype)


def _csr(rows: Tensor, cols: Tensor, vals: Tensor, n: int, is_sorted: bool) -> Tensor:
    if not is_sorted:
        order = torch.argsort(rows, stable=True)
        rows, cols, vals = rows[order], cols[order], vals[order]
    crow = torch.zeros(n + 1, dtype=torch.int64, device=rows.device)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=n), 0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
        return torch.sparse_csr_tensor(crow, cols, vals, (n, n), check_invariants=False)


class WeightedAdjacency:
    """Aggregation ``out_i = sum_j w_ji h_j`` over edges ``j -> i`` of one batch.

    Eager mode: sparse CSR matmul (``A`` and ``A^T`` built once, reused by every layer).
    Export / tracing / compile: gather + ``scatter_add`` (same numbers, exportable).
    """

    def __init__(self, edge_index: Tensor, weight: Tensor, num_nodes: int | Tensor) -> None:
        self.src, self.dst = edge_index[0], edge_index[1]
        self.weight = weight
        self.sparse = not _exporting()
        if self.sparse:
            n = int(num_nodes)
            w = weight.detach() if not weight.requires_grad else weight
            by_dst = bool((self.dst[1:] >= self.dst[:-1]).all()) if self.dst.numel() else True
            self.a = _csr(self.dst, self.src, w, n, by_dst)
            self.a_t = _csr(self.src, self.dst, w, n, False)

    def __call__(self, h: Tensor) -> Tensor:
        if self.sparse and not self.weight.requires_grad:
            return _SpMM.apply(self.a, self.a_t, h)
        msg = h.index_select(0, self.src) * self.weight.unsqueeze(-1).to(h.dtype)
        idx = self.dst.unsqueeze(-1).expand_as(msg)
        return torch.zeros_like(h).scatter_add(0, idx, msg)


# ------------------------------------------------------------------------------------------
# backbones


def _unpack_pyg(data) -> tuple[Tensor, Tensor, Tensor | None, Tensor, Tensor]:
    x, edge_index = data.x, data.edge_index
    edge_attr = getattr(data, "edge_attr", None)
    batch = getattr(data, "batch", None)
    ptr = getattr(data, "ptr", None)
    if batch is None:
        batch = torch.zeros(x.shape[0], dtype=torch.int64, device=x.device)
    if ptr is None:
        counts = torch.bincount(batch)
        ptr = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
    return x, edge_index, edge_attr, batch, ptr


class _PygBackbone(nn.Module, abc.ABC):
    input_kind = "pyg"
    onnx_input_names = ("x", "edge_index", "edge_attr", "batch", "ptr")

    def forward(self, data) -> Tensor:
        return self.forward_tensors(*_unpack_pyg(data))

    @abc.abstractmethod
    def forward_tensors(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor, ptr: Tensor
    ) -> Tensor:
        """One embedding per jet from the flat graph tensors (ONNX-exportable entry point)."""


class GINLayer(nn.Module):
    """``h' = ReLU(MLP((1 + eps) h + aggregate(h)))`` with a 2-layer MLP and batch norm."""

    def __init__(self, width: int, bias: bool, norm: str, train_eps: bool = True) -> None:
        super().__init__()
        # eps multiplies h (it is not an additive term), so it stays in bias-free mode
        self.eps = nn.Parameter(torch.zeros(1), requires_grad=train_eps)
        self.mlp = nn.Sequential(
            nn.Linear(width, width, bias=bias),
            _norm(width, norm, bias),
            nn.ReLU(),
            nn.Linear(width, width, bias=bias),
        )
        self.out_norm = _norm(width, norm, bias)

    def forward(self, h: Tensor, aggregate) -> Tensor:
        return torch.relu(self.out_norm(self.mlp((1 + self.eps) * h + aggregate(h))))


class GINBackbone(_PygBackbone):
    """GIN on jet graphs (see module docstring): MLP -> ``layers`` x GIN -> readout -> MLP.

    Parameters
    ----------
    in_dim, edge_dim : int
        Node / edge feature sizes (3 and 1 for :func:`adsearch.graphs.build_graphs`).
    width : int
        Hidden width (128).
    layers, mlp_layers : int
        Message-passing layers (5); layers of the input and output MLPs (3).
    readout : str
        ``"sum"``, ``"mean"``, ``"max"`` or a ``+``-joined concatenation.
    out_dim : int or None
        Embedding size (default ``width``).
    bias : bool
        False removes every additive parameter (DeepSVDD).
    conv : {"sparse", "gine"}
        Scalar-weight sparse aggregation (fast, default) or PyG ``GINEConv``.
    edge_scale : float
        Edge weight = ``edge_scale * edge_attr[:, 0]`` in sparse mode (0.2: the radius-graph
        cut, so neighbours weigh 0.2 / Delta R in [1, 20]); further edge columns (e.g. the
        ParT pair features) are used by ``conv="gine"`` only.
    norm : {"batch", "layer", "none"} or None
        Normalisation in the GIN MLPs; None: batch norm with biases, none without (DeepSVDD).
    aggr : {"scaled", "sum", "mean", "sym"}
        ``"scaled"`` (default): ``sum_j w_ji h_j / <d>`` with the bounded weights and ``<d>``
        (``degree_scale``) the mean weighted degree of the training jets, fitted by the
        trainer (:meth:`fit_degree`): a typical node's aggregate is of the size of ``h``, a
        node in a dense core collects more, and five layers do not compound the neighbour
        count. ``"sum"``: the raw ``sum_j w_ji h_j`` (neighbours outweigh the node itself ~10
        to 1 and the scale compounds with depth). ``"mean"``: ``sum_j w_ji h_j / (1 + d_i)``;
        ``"sym"``: ``w_ji / sqrt((1 + d_i)(1 + d_j))`` (:func:`degree_normalise`). Measured
        for GIN DeepSVDD (max readout, width 32) on the mass-matched toy of
        :func:`adsearch.graphs.toy.toy_substructure_pair`: AUC 0.88 (scaled), 0.71 (sum),
        0.64 (mean), 0.66 (sym); the AUCs on the generated LHCO-like sample are on the
        docs' benchmarks page.
    edge_weight : {"gauss", "inv_dr"}
        Scalar edge weight, see :func:`edge_weight`: the bounded Gaussian kernel of Delta R
        (default, width ``edge_scale``) or the raw ``edge_scale / Delta R``.
    log_columns : sequence of int
        Node features standardised as logarithms by :attr:`input_norm`
        (:class:`~adsearch.models.norm.InputNorm`, fitted by the trainer).

    Every layer computes ``h_i' = ReLU(N(MLP((1 + eps) h_i + A(h)_i)))`` with ``A`` the
    aggregation above; shapes ``x [n_nodes, in_dim] -> [n_jets, out_dim]``.

    >>> from adsearch.graphs import build_graphs, to_pyg, toy_jets
    >>> net = GINBackbone(width=16, layers=2, bias=False)
    >>> net(to_pyg(build_graphs(toy_jets(3, seed=0)))).shape
    torch.Size([3, 16])
    """

    def __init__(
        self,
        in_dim: int = 3,
        edge_dim: int = 1,
        width: int = 128,
        layers: int = 5,
        mlp_layers: int = 3,
        readout: str | Sequence[str] = "mean",
        out_dim: int | None = None,
        bias: bool = True,
        conv: str = "sparse",
        edge_scale: float = 0.1,
        norm: str | None = None,
        train_eps: bool = True,
        aggr: str = "scaled",
        edge_weight: str = "gauss",
        log_columns: Sequence[int] = (),
    ) -> None:
        super().__init__()
        if conv not in ("sparse", "gine"):
            raise ValueError(f"unknown conv {conv!r} (allowed: sparse, gine)")
        if aggr not in ("scaled", "sum", "mean", "sym"):
            raise ValueError(f"unknown aggr {aggr!r} (allowed: scaled, sum, mean, sym)")
        _check_edge_weight(edge_weight)
        norm = _norm_kind(norm, bias)
        self.readout = parse_readout(readout)
        self.conv = conv
        self.aggr = aggr
        self.edge_weight = edge_weight
        self.edge_scale = float(edge_scale)
        self.out_dim = out_dim or width
        self.input_norm = InputNorm(in_dim, log_columns)
        # aggr "scaled": the weights are divided by the mean weighted degree of the training
        # jets (a fitted constant, like the input standardisation), so each layer's aggregate
        # is of the size of h for a typical node while busier nodes still collect more
        self.register_buffer("degree_scale", torch.ones(()))
        self.input_mlp = MLP(in_dim, width, width, mlp_layers, bias=bias, final_act=True)
        if conv == "sparse":
            self.layers = nn.ModuleList(
                GINLayer(width, bias, norm, train_eps) for _ in range(layers)
            )
        else:
            from torch_geometric.nn import GINEConv

            self.layers = nn.ModuleList()
            for _ in range(layers):
                mlp = nn.Sequential(
                    nn.Linear(width, width, bias=bias),
                    _norm(width, norm, bias),
                    nn.ReLU(),
                    nn.Linear(width, width, bias=bias),
                    _norm(width, norm, bias),
                    nn.ReLU(),
                )
                layer = GINEConv(
                    mlp,
                    train_eps=train_eps,
                    edge_dim=edge_dim,
                    aggr="add" if aggr in ("sum", "scaled") else "mean",
                )
                layer.lin = nn.Linear(edge_dim, width, bias=bias)  # PyG's has a bias
                self.layers.append(layer)
        self.output_mlp = MLP(width * len(self.readout), width, self.out_dim, mlp_layers, bias)
        _he_init(self)

    @torch.no_grad()
    def fit_degree(self, edge_index: Tensor, edge_attr: Tensor, num_nodes: int) -> None:
        """Set ``degree_scale`` to the mean weighted in-degree of the nodes of a batch of
        training graphs (used by ``aggr="scaled"``; called by the trainer beside the input
        norm)."""
        w = edge_weight(edge_attr[:, 0].double(), self.edge_weight, self.edge_scale)
        deg = w.new_zeros(num_nodes).scatter_add(0, edge_index[1], w)
        self.degree_scale.fill_(max(float(deg.mean()), 1e-3))

    def forward_tensors(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor, ptr: Tensor
    ) -> Tensor:
        h = self.input_mlp(self.input_norm(x))
        if self.conv == "sparse":
            w = edge_weight(edge_attr[:, 0], self.edge_weight, self.edge_scale)
            if self.aggr == "scaled":
                w = w / self.degree_scale.to(w.dtype)
            elif self.aggr != "sum":
                w = degree_normalise(edge_index, w, x.shape[0], self.aggr)
            agg = WeightedAdjacency(edge_index, w, x.shape[0])
            for layer in self.layers:
                h = layer(h, agg)
        else:
            e = _edge_input(edge_attr, self.edge_weight, self.edge_scale)
            for layer in self.layers:
                h = layer(h, edge_index, e)
        return self.output_mlp(graph_readout(h, batch, ptr, self.readout, x[:, 0]))


class GATv2Backbone(_PygBackbone):
    """GATv2 tagger-style backbone: 2 heads, hidden 256, max+mean+add pooling.

    As the calorimeter-shower GNN of L. Bauckhage, "Graphing the Dark Sector", DESY 2025.

    Linear input embedding -> ``layers`` x GATv2Conv(width, heads, heads averaged, edge
    features 1/Delta R used in the attention) with ReLU -> readout -> MLP. The defaults
    (4 layers, width 256) have ~1.4 M parameters, like Bauckhage's ~1.3 M. Graphs must
    already carry self-loops (``GraphConfig.self_loops``, the default); none are added here.

    >>> from adsearch.graphs import build_graphs, to_pyg, toy_jets
    >>> net = GATv2Backbone(width=16, layers=1)
    >>> net(to_pyg(build_graphs(toy_jets(2, seed=0)))).shape
    torch.Size([2, 16])
    """

    def __init__(
        self,
        in_dim: int = 3,
        edge_dim: int = 1,
        width: int = 256,
        layers: int = 4,
        mlp_layers: int = 2,
        readout: str | Sequence[str] = "max+mean+sum",
        out_dim: int | None = None,
        bias: bool = True,
        heads: int = 2,
        edge_scale: float = 0.1,
        edge_weight: str = "gauss",
        log_columns: Sequence[int] = (),
    ) -> None:
        super().__init__()
        from torch_geometric.nn import GATv2Conv

        self.readout = parse_readout(readout)
        self.edge_scale = float(edge_scale)
        self.edge_weight = edge_weight
        _check_edge_weight(edge_weight)
        self.out_dim = out_dim or width
        self.input_norm = InputNorm(in_dim, log_columns)
        self.input_lin = nn.Linear(in_dim, width, bias=bias)
        self.convs = nn.ModuleList(
            GATv2Conv(
                width,
                width,
                heads=heads,
                concat=False,
                edge_dim=edge_dim,
                add_self_loops=False,
                bias=bias,
            )
            for _ in range(layers)
        )
        self.output_mlp = MLP(width * len(self.readout), width, self.out_dim, mlp_layers, bias)

    def forward_tensors(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor, ptr: Tensor
    ) -> Tensor:
        h = torch.relu(self.input_lin(self.input_norm(x)))
        e = _edge_input(edge_attr, self.edge_weight, self.edge_scale)
        for conv in self.convs:
            h = torch.relu(conv(h, edge_index, e))
        return self.output_mlp(graph_readout(h, batch, ptr, self.readout, x[:, 0]))


class EGATLayer(nn.Module):
    """Pure-torch EGAT layer, numerically the same as DGL's ``EGATConv`` (same parameters).

    ``f_ij' = LeakyReLU(W_i h_i + W_j h_j + W_f f_ij [+ b])`` per edge j -> i (the source
    term on the source node, as DGL), attention ``softmax_j(attn . f_ij')`` per head over the
    incoming edges of i, ``h_i' = sum_j a_ij W h_j``. Parameter names and shapes match
    ``dgl.nn.EGATConv``, so state dicts load either way. Exportable to ONNX (gather,
    PyG softmax, ``scatter_add``); materialises ``E x heads x out_node`` messages, so it is
    slower than DGL's fused kernels for training.
    """

    def __init__(
        self,
        in_node: int,
        in_edge: int,
        out_node: int,
        out_edge: int,
        heads: int,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self._heads, self._out_node, self._out_edge = heads, out_node, out_edge
        self.fc_node_src = nn.Linear(in_node, out_node * heads, bias=False)
        self.fc_ni = nn.Linear(in_node, out_edge * heads, bias=False)
        self.fc_nj = nn.Linear(in_node, out_edge * heads, bias=False)
        self.fc_fij = nn.Linear(in_edge, out_edge * heads, bias=False)
        self.attn = nn.Parameter(torch.empty(1, heads, out_edge))
        if bias:
            self.bias = nn.Parameter(torch.zeros(heads * out_edge))
        else:
            self.register_parameter("bias", None)
        gain = nn.init.calculate_gain("relu")
        for w in (self.fc_node_src.weight, self.fc_ni.weight, self.fc_nj.weight):
            nn.init.xavier_normal_(w, gain=gain)
        nn.init.xavier_normal_(self.fc_fij.weight, gain=gain)
        nn.init.xavier_normal_(self.attn, gain=gain)

    def forward(self, h: Tensor, f: Tensor, edge_index: Tensor) -> tuple[Tensor, Tensor]:
        from torch_geometric.utils import softmax

        src, dst = edge_index[0], edge_index[1]
        f_out = self.fc_ni(h).index_select(0, src) + self.fc_nj(h).index_select(0, dst)
        f_out = f_out + self.fc_fij(f)
        if self.bias is not None:
            f_out = f_out + self.bias
        f_out = nn.functional.leaky_relu(f_out).view(-1, self._heads, self._out_edge)
        logits = (f_out * self.attn).sum(-1)  # [E, H]
        a = softmax(logits, dst, num_nodes=h.shape[0])
        hs = self.fc_node_src(h).view(-1, self._heads, self._out_node)
        msg = hs.index_select(0, src) * a.unsqueeze(-1)
        idx = dst.view(-1, 1, 1).expand_as(msg)
        out = msg.new_zeros((h.shape[0], self._heads, self._out_node)).scatter_add(0, idx, msg)
        return out, f_out


class EGATBackbone(nn.Module):
    """EGAT: node and edge features both updated layer to layer (D'Avanzo (ATLAS), EuCAIFCon 2025).

    Input MLPs embed nodes (``in_dim`` -> ``width``) and edges (``edge_dim`` ->
    ``edge_width``, from ``edge_scale`` / Delta R) -> ``layers`` x EGAT(``heads`` heads of
    ``width / heads`` node and ``edge_width / heads`` edge features, heads concatenated),
    each followed by batch norm + ReLU on nodes (edges leave the layer LeakyReLU'd) ->
    readout -> MLP. Needs self-loops in the graph (:func:`adsearch.graphs.to_dgl` ensures
    them; :func:`~adsearch.graphs.build_graphs` adds them by default).

    ``backend="dgl"`` (default; ``input_kind`` "dgl") uses DGL's ``EGATConv`` with its fused
    kernels; it cannot be exported to ONNX. ``backend="pyg"`` (``input_kind`` "pyg") runs
    :class:`EGATLayer` in plain torch on a PyG batch: same parameters and numbers (load a
    DGL-trained state dict into it), ONNX-exportable, and usable where DGL is not installed.

    >>> from adsearch.graphs import build_graphs, to_dgl, toy_jets
    >>> net = EGATBackbone(width=16, layers=1, heads=2, edge_width=4)
    >>> net(to_dgl(build_graphs(toy_jets(2, seed=0)))).shape
    torch.Size([2, 16])
    """

    input_kind = "dgl"
    onnx_input_names = _PygBackbone.onnx_input_names

    def __init__(
        self,
        in_dim: int = 3,
        edge_dim: int = 1,
        width: int = 128,
        layers: int = 5,
        mlp_layers: int = 3,
        readout: str | Sequence[str] = "mean",
        out_dim: int | None = None,
        bias: bool = True,
        heads: int = 4,
        edge_width: int = 16,
        edge_scale: float = 0.1,
        norm: str | None = None,
        backend: str = "dgl",
        edge_weight: str = "gauss",
        log_columns: Sequence[int] = (),
    ) -> None:
        super().__init__()
        norm = _norm_kind(norm, bias)
        if backend not in ("dgl", "pyg"):
            raise ValueError(f"unknown backend {backend!r} (allowed: dgl, pyg)")
        if width % heads or edge_width % heads:
            raise ValueError(
                f"width ({width}) and edge_width ({edge_width}) must be divisible by heads"
                f" ({heads})"
            )
        self.backend = backend
        self.input_kind = backend
        self.readout = parse_readout(readout)
        self.edge_scale = float(edge_scale)
        self.edge_weight = edge_weight
        _check_edge_weight(edge_weight)
        self.out_dim = out_dim or width
        self.input_norm = InputNorm(in_dim, log_columns)
        self.input_mlp = MLP(in_dim, width, width, mlp_layers, bias=bias, final_act=True)
        self.edge_mlp = MLP(edge_dim, edge_width, edge_width, 2, bias=bias, final_act=True)
        conv = _dgl_egat_class() if backend == "dgl" else EGATLayer
        self.convs = nn.ModuleList(
            conv(width, edge_width, width // heads, edge_width // heads, heads, bias=bias)
            for _ in range(layers)
        )
        self.norms = nn.ModuleList(_norm(width, norm, bias) for _ in range(layers))
        self.output_mlp = MLP(width * len(self.readout), width, self.out_dim, mlp_layers, bias)

    def forward(self, inputs) -> Tensor:
        if self.backend == "pyg":
            return self.forward_tensors(*_unpack_pyg(inputs))
        g = inputs
        x, w = g.ndata["x"], g.edata["w"]
        n_nodes = g.batch_num_nodes()
        ptr = torch.cat([n_nodes.new_zeros(1), torch.cumsum(n_nodes, 0)])
        batch = torch.repeat_interleave(torch.arange(len(n_nodes), device=x.device), n_nodes)
        h = self.input_mlp(self.input_norm(x))
        f = self.edge_mlp(_edge_input(w, self.edge_weight, self.edge_scale))
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h, f = conv(g, h, f)
            h = torch.relu(norm(h.flatten(1)))
            f = f.flatten(1)
        return self.output_mlp(graph_readout(h, batch, ptr, self.readout, x[:, 0]))

    def forward_tensors(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor, ptr: Tensor
    ) -> Tensor:
        """PyG-style tensors (``backend="pyg"`` only; this is the ONNX export entry)."""
        if self.backend != "pyg":
            raise RuntimeError("forward_tensors needs EGATBackbone(backend='pyg')")
        h = self.input_mlp(self.input_norm(x))
        f = self.edge_mlp(_edge_input(edge_attr, self.edge_weight, self.edge_scale))
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h, f = conv(h, f, edge_index)
            h = torch.relu(norm(h.flatten(1)))
            f = f.flatten(1)
        return self.output_mlp(graph_readout(h, batch, ptr, self.readout, x[:, 0]))


def _dgl_egat_class() -> type[nn.Module]:
    from adsearch._dgl import dgl  # noqa: F401  (the shim must run before dgl.nn)

    # isort: split
    from dgl.nn import EGATConv

    class _EGATConv(EGATConv):
        # DGL 2.1's reset_parameters fills self.bias unconditionally and crashes with
        # bias=False; same initialisation otherwise
        def reset_parameters(self) -> None:
            gain = nn.init.calculate_gain("relu")
            for w in (self.fc_node_src.weight, self.fc_ni.weight, self.fc_fij.weight):
                nn.init.xavier_normal_(w, gain=gain)
            nn.init.xavier_normal_(self.fc_nj.weight, gain=gain)
            nn.init.xavier_normal_(self.attn, gain=gain)
            if self.bias is not None:
                nn.init.constant_(self.bias, 0)

    return _EGATConv


BACKBONES = {"gin": GINBackbone, "egat": EGATBackbone, "gatv2": GATv2Backbone}


def build_backbone(name: str, **cfg) -> nn.Module:
    """Backbone by name (``"gin"``, ``"egat"``, ``"gatv2"``) with keyword options.

    Unknown names raise ``KeyError``; unknown options ``TypeError`` (from the constructor).

    >>> build_backbone("gin", width=8, layers=1).input_kind
    'pyg'
    """
    try:
        cls = BACKBONES[name]
    except KeyError:
        raise KeyError(
            f"unknown graph backbone {name!r} (allowed: {', '.join(BACKBONES)})"
        ) from None
    return cls(**cfg)


def onnx_inputs(data) -> tuple[tuple[Tensor, ...], tuple[str, ...], dict[str, dict[int, str]]]:
    """Tensors, input names and dynamic axes to export a PyG backbone with ``torch.onnx``.

    Use with a wrapper whose ``forward(x, edge_index, edge_attr, batch, ptr)`` calls
    ``backbone.forward_tensors``; every axis that depends on the batch is dynamic.
    """
    args = _unpack_pyg(data)
    names = _PygBackbone.onnx_input_names
    dynamic = {
        "x": {0: "nodes"},
        "edge_index": {1: "edges"},
        "edge_attr": {0: "edges"},
        "batch": {0: "nodes"},
        "ptr": {0: "graphs_plus_one"},
    }
    return args, names, dynamic
