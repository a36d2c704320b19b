"""Graph backbones on jet constituent graphs: :class:`GraphBackbone` and GIN, GATv2, EGAT.

Every backbone maps a batch of jet graphs to one embedding per jet, ``forward(inputs) ->
Tensor [B, out_dim]``, and says which batch type it eats in the class attribute
``input_kind`` (``"pyg"``: a ``torch_geometric`` batch from :func:`adsearch.graphs.to_pyg`;
``"dgl"``: a batched ``DGLGraph`` from :func:`adsearch.graphs.to_dgl`).
:class:`GraphBackbone` owns the common path, input standardisation -> node embedding ->
the layer loop -> graph readout -> output MLP; a subclass builds its modules and defines
the embedding, the per-batch edge state and one layer step.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from adsearch.models.edges import _check_edge_weight, _edge_input, degree_normalise, edge_weight
from adsearch.models.kernel import WeightedAdjacency
from adsearch.models.layers import EGATLayer, GINLayer, _dgl_egat_class
from adsearch.models.mlp import MLP, _he_init, _norm, _norm_kind
from adsearch.models.norm import InputNorm
from adsearch.models.readout import graph_readout, parse_readout

if TYPE_CHECKING:  # neither ships type information: both are Any to mypy
    import dgl
    from torch_geometric.data import Batch

__all__ = ["EGATBackbone", "GATv2Backbone", "GINBackbone", "GraphBackbone"]


def _unpack_pyg(data: Any) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """``(x, edge_index, edge_attr, batch, ptr)`` of a PyG batch (or one graph)."""
    x, edge_index = data.x, data.edge_index
    edge_attr = getattr(data, "edge_attr", None)
    if edge_attr is None:  # every graph backbone weighs its edges by their features
        raise ValueError("graph backbones need edge features: the batch has no edge_attr")
    batch = getattr(data, "batch", None)
    ptr = getattr(data, "ptr", None)
    if batch is None:
        batch = torch.zeros(x.shape[0], dtype=torch.int64, device=x.device)
    if ptr is None:
        counts = torch.bincount(batch)
        ptr = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
    return x, edge_index, edge_attr, batch, ptr


class GraphBackbone(nn.Module, abc.ABC):
    """Base class of the graph backbones; it owns the layer loop.

    For node features ``x [N, in_dim]`` of ``B`` jets (``batch [N]``, offsets ``ptr [B + 1]``)
    and edges ``edge_index [2, E]`` with features ``edge_attr [E, edge_dim]``::

        h^0     = embed(InputNorm(x))                      [N, width]
        c       = edge_context(x, edge_index, edge_attr)   built once, shared by the layers
        h^(l+1), c = step(l, h^l, c)                        l = 0 .. num_layers - 1
        z       = output_mlp(readout(h^L, x[:, 0]))        [B, out_dim]

    with ``readout`` the pooling of :func:`~adsearch.models.readout.graph_readout` (column 0
    of ``x``, the constituent pT fraction, weighs ``"ptsum"``). ``__init__`` sets the common
    options (``readout``, ``edge_weight``, ``edge_scale``, ``out_dim``) and the input
    standardisation ``input_norm`` (:class:`~adsearch.models.norm.InputNorm`, fitted by the
    trainer); a subclass then builds its embedding and layers, sets ``num_layers``, and
    ends with :meth:`_build_output_mlp` (the modules are created in this order, so a fixed
    seed gives fixed initial weights).

    :meth:`forward_tensors` takes the flat tensors (the ONNX inputs ``onnx_input_names``);
    :meth:`forward` unpacks a PyG batch into them. A DGL backbone overrides :meth:`forward`
    and calls :meth:`propagate` with the ``DGLGraph`` in place of ``edge_index``.
    """

    input_kind = "pyg"
    onnx_input_names = ("x", "edge_index", "edge_attr", "batch", "ptr")
    num_layers: int

    def __init__(
        self,
        in_dim: int,
        width: int,
        readout: str | Sequence[str],
        out_dim: int | None,
        edge_weight: str,
        edge_scale: float,
        log_columns: Sequence[int],
    ) -> None:
        super().__init__()
        _check_edge_weight(edge_weight)
        self.readout = parse_readout(readout)
        self.edge_weight = edge_weight
        self.edge_scale = float(edge_scale)
        self.out_dim = out_dim or width
        self.input_norm = InputNorm(in_dim, log_columns)

    def _build_output_mlp(self, width: int, mlp_layers: int, bias: bool) -> None:
        """The output MLP ``[B, width * len(readout)] -> [B, out_dim]`` (build it last)."""
        self.output_mlp = MLP(width * len(self.readout), width, self.out_dim, mlp_layers, bias)

    @abc.abstractmethod
    def embed(self, x: Tensor) -> Tensor:
        """Node embedding ``[N, in_dim] -> [N, width]`` of the standardised features."""

    @abc.abstractmethod
    def edge_context(self, x: Tensor, edge_index: Any, edge_attr: Tensor) -> Any:
        """Per-batch edge state passed through the layers (edge weights, features, ...)."""

    @abc.abstractmethod
    def step(self, i: int, h: Tensor, ctx: Any) -> tuple[Tensor, Any]:
        """Layer ``i``: ``h [N, width] -> [N, width]``, and the edge state for layer ``i + 1``."""

    def propagate(
        self, x: Tensor, edge_index: Any, edge_attr: Tensor, batch: Tensor, ptr: Tensor
    ) -> Tensor:
        """Embedding, edge state, the ``num_layers`` steps, readout: ``-> [B, out_dim]``.

        ``edge_index [2, E]`` is, for a DGL backbone, the ``DGLGraph`` instead.
        """
        h = self.embed(self.input_norm(x))
        ctx = self.edge_context(x, edge_index, edge_attr)
        for i in range(self.num_layers):
            h, ctx = self.step(i, h, ctx)
        return self.output_mlp(graph_readout(h, batch, ptr, self.readout, x[:, 0]))

    def forward_tensors(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor, ptr: Tensor
    ) -> Tensor:
        """One embedding per jet from the flat graph tensors (ONNX-exportable entry point)."""
        return self.propagate(x, edge_index, edge_attr, batch, ptr)

    def forward(self, data: Batch) -> Tensor:
        return self.forward_tensors(*_unpack_pyg(data))


class GINBackbone(GraphBackbone):
    """GIN on jet graphs: MLP -> ``layers`` x :class:`~.layers.GINLayer` -> readout -> MLP.

    Architecture (A. D'Avanzo for ATLAS, EuCAIFCon 2025): input MLP (``mlp_layers`` = 3) ->
    ``layers`` = 5 message-passing layers of width 128 -> graph readout -> output MLP.
    ``conv="sparse"`` (default) computes, per layer,

        h_i' = ReLU(N(MLP((1 + eps) h_i + sum_j w_ji h_j))),     w_ji = w(Delta R_ji)

    with the scalar edge weights (:func:`~adsearch.models.edges.edge_weight`, 0 on
    self-loops: the ``(1 + eps) h_i`` term is the self term) as one sparse CSR matrix built
    once per batch and shared by all layers (:class:`~adsearch.models.kernel.WeightedAdjacency`):
    no ``E x width`` tensor is ever formed, so the cost is that of the node MLPs.
    ``conv="gine"`` is PyG's ``GINEConv`` (message ReLU(h_j + Lin(e_ji)), a learned edge
    embedding) for comparison: it materialises several ``E x width`` tensors per layer and
    is ~5-10x slower at ~25 edges per node (benchmarks/bench_graphs.py measures both).

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

    degree_scale: Tensor  # a buffer (``register_buffer`` in ``__init__``)

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
        if conv not in ("sparse", "gine"):
            raise ValueError(f"unknown conv {conv!r} (allowed: sparse, gine)")
        if aggr not in ("scaled", "sum", "mean", "sym"):
            raise ValueError(f"unknown aggr {aggr!r} (allowed: scaled, sum, mean, sym)")
        super().__init__(in_dim, width, readout, out_dim, edge_weight, edge_scale, log_columns)
        norm = _norm_kind(norm, bias)
        self.conv = conv
        self.aggr = aggr
        self.num_layers = layers
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
        self._build_output_mlp(width, mlp_layers, bias)
        _he_init(self)

    @torch.no_grad()
    def fit_degree(self, edge_index: Tensor, edge_attr: Tensor, num_nodes: int) -> None:
        """Set ``degree_scale`` to the mean weighted in-degree of the nodes of a batch of
        training graphs (used by ``aggr="scaled"``; called by the trainer beside the input
        norm)."""
        w = edge_weight(edge_attr[:, 0].double(), self.edge_weight, self.edge_scale)
        deg = w.new_zeros(num_nodes).scatter_add(0, edge_index[1], w)
        self.degree_scale.fill_(max(float(deg.mean()), 1e-3))

    def embed(self, x: Tensor) -> Tensor:
        return self.input_mlp(x)

    def edge_context(
        self, x: Tensor, edge_index: Any, edge_attr: Tensor
    ) -> WeightedAdjacency | tuple[Tensor, Tensor]:
        """The sparse aggregation (``conv="sparse"``) or ``(edge_index, edge features)``."""
        if self.conv != "sparse":
            return edge_index, _edge_input(edge_attr, self.edge_weight, self.edge_scale)
        w = edge_weight(edge_attr[:, 0], self.edge_weight, self.edge_scale)
        if self.aggr == "scaled":
            w = w / self.degree_scale.to(w.dtype)
        elif self.aggr != "sum":
            w = degree_normalise(edge_index, w, x.shape[0], self.aggr)
        return WeightedAdjacency(edge_index, w, x.shape[0])

    def step(self, i: int, h: Tensor, ctx: Any) -> tuple[Tensor, Any]:
        layer = self.layers[i]
        if self.conv == "sparse":
            return layer(h, ctx), ctx
        return layer(h, *ctx), ctx


class GATv2Backbone(GraphBackbone):
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
        from torch_geometric.nn import GATv2Conv

        super().__init__(in_dim, width, readout, out_dim, edge_weight, edge_scale, log_columns)
        self.num_layers = layers
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
        self._build_output_mlp(width, mlp_layers, bias)

    def embed(self, x: Tensor) -> Tensor:
        return torch.relu(self.input_lin(x))

    def edge_context(self, x: Tensor, edge_index: Any, edge_attr: Tensor) -> Any:  # noqa: ARG002
        """``(edge_index, edge features)`` with column 0 the bounded edge weight."""
        return edge_index, _edge_input(edge_attr, self.edge_weight, self.edge_scale)

    def step(self, i: int, h: Tensor, ctx: Any) -> tuple[Tensor, Any]:
        return torch.relu(self.convs[i](h, *ctx)), ctx


class EGATBackbone(GraphBackbone):
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
        norm = _norm_kind(norm, bias)
        if backend not in ("dgl", "pyg"):
            raise ValueError(f"unknown backend {backend!r} (allowed: dgl, pyg)")
        if width % heads or edge_width % heads:
            raise ValueError(
                f"width ({width}) and edge_width ({edge_width}) must be divisible by heads"
                f" ({heads})"
            )
        super().__init__(in_dim, width, readout, out_dim, edge_weight, edge_scale, log_columns)
        self.backend = backend
        self.input_kind = backend
        self.num_layers = layers
        self.input_mlp = MLP(in_dim, width, width, mlp_layers, bias=bias, final_act=True)
        self.edge_mlp = MLP(edge_dim, edge_width, edge_width, 2, bias=bias, final_act=True)
        conv = _dgl_egat_class() if backend == "dgl" else EGATLayer
        self.convs = nn.ModuleList(
            conv(width, edge_width, width // heads, edge_width // heads, heads, bias=bias)
            for _ in range(layers)
        )
        self.norms = nn.ModuleList(_norm(width, norm, bias) for _ in range(layers))
        self._build_output_mlp(width, mlp_layers, bias)

    def forward(self, inputs: Batch | dgl.DGLGraph) -> Tensor:
        if self.backend == "pyg":
            return super().forward(inputs)
        g = inputs
        x = g.ndata["x"]
        n_nodes = g.batch_num_nodes()
        ptr = torch.cat([n_nodes.new_zeros(1), torch.cumsum(n_nodes, 0)])
        batch = torch.repeat_interleave(torch.arange(len(n_nodes), device=x.device), n_nodes)
        return self.propagate(x, g, g.edata["w"], batch, ptr)

    def forward_tensors(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor, ptr: Tensor
    ) -> Tensor:
        """PyG-style tensors (``backend="pyg"`` only; this is the ONNX export entry)."""
        if self.backend != "pyg":
            raise RuntimeError("forward_tensors needs EGATBackbone(backend='pyg')")
        return super().forward_tensors(x, edge_index, edge_attr, batch, ptr)

    def embed(self, x: Tensor) -> Tensor:
        return self.input_mlp(x)

    def edge_context(self, x: Tensor, edge_index: Any, edge_attr: Tensor) -> Any:  # noqa: ARG002
        """``(edge_index or DGLGraph, embedded edge features [E, edge_width])``."""
        return edge_index, self.edge_mlp(_edge_input(edge_attr, self.edge_weight, self.edge_scale))

    def step(self, i: int, h: Tensor, ctx: Any) -> tuple[Tensor, Any]:
        """EGAT layer ``i`` + normalisation + ReLU on the nodes; the edges carry ``f'``."""
        graph, f = ctx
        if self.backend == "dgl":
            h, f = self.convs[i](graph, h, f)
        else:
            h, f = self.convs[i](h, f, graph)
        return torch.relu(self.norms[i](h.flatten(1))), (graph, f.flatten(1))
