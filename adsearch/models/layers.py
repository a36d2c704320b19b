"""Message-passing layers: :class:`GINLayer` (sparse GIN) and :class:`EGATLayer` (pure-torch EGAT).

A layer maps node features ``h [N, D]`` (and, for EGAT, edge features ``f [E, D_e]``) to new
ones of the same number of nodes; the backbones of :mod:`adsearch.models.backbones` stack
them. ``_dgl_egat_class`` returns DGL's ``EGATConv`` (fixed for ``bias=False``), which
:class:`EGATLayer` reproduces parameter for parameter.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from adsearch.models.kernel import WeightedAdjacency
from adsearch.models.mlp import _norm

__all__ = ["EGATLayer", "GINLayer"]


class GINLayer(nn.Module):
    """GIN layer ``h_i' = ReLU(N(MLP((1 + eps) h_i + A(h)_i)))`` on ``h [N, width] -> [N, width]``.

    ``A`` is the weighted aggregation ``A(h)_i = sum_j w_ji h_j`` of
    :class:`~adsearch.models.kernel.WeightedAdjacency`, built once per batch by the backbone;
    MLP is ``Linear -> N -> ReLU -> Linear`` and ``N`` the normalisation ``norm``.
    ``eps`` (learned if ``train_eps``) weighs the node's own features (Xu et al., "How
    Powerful are Graph Neural Networks?", ICLR 2019).
    """

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

    def forward(self, h: Tensor, aggregate: WeightedAdjacency) -> Tensor:
        return torch.relu(self.out_norm(self.mlp((1 + self.eps) * h + aggregate(h))))


class EGATLayer(nn.Module):
    """Pure-torch EGAT layer, numerically the same as DGL's ``EGATConv`` (same parameters).

    ``f_ij' = LeakyReLU(W_i h_i + W_j h_j + W_f f_ij [+ b])`` per edge j -> i (the source
    term on the source node, as DGL), attention ``softmax_j(attn . f_ij')`` per head over the
    incoming edges of i, ``h_i' = sum_j a_ij W h_j``. Parameter names and shapes match
    ``dgl.nn.EGATConv``, so state dicts load either way. Exportable to ONNX (gather,
    PyG softmax, ``scatter_add``); materialises ``E x heads x out_node`` messages, so it is
    slower than DGL's fused kernels for training.

    Shapes: ``h [N, in_node]``, ``f [E, in_edge]``, ``edge_index [2, E]`` ->
    ``(h' [N, heads, out_node], f' [E, heads, out_edge])``.
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


def _dgl_egat_class() -> type[nn.Module]:
    from adsearch._dgl import dgl  # noqa: F401  (the shim must run before dgl.nn)

    # isort: split
    from dgl.nn import EGATConv

    class _EGATConv(EGATConv):  # type: ignore[misc]  # dgl ships no types: EGATConv is Any
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
