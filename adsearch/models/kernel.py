"""Sparse weighted aggregation ``out_i = sum_j w_ji h_j``: the message-passing kernel of GIN.

The scalar edge weights of one batch form one sparse CSR matrix ``A [N, N]`` (row = target
node ``i``, column = source node ``j``), built once per batch and shared by all layers; the
aggregation is the sparse x dense matmul ``A @ h`` with ``h [N, D]``, so no ``E x D`` tensor
is ever formed. Under ONNX export, tracing or ``torch.compile`` / ``torch.export`` it is
replaced by the equivalent gather / ``scatter_add`` (exportable), with the same result.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

__all__ = ["WeightedAdjacency"]


def _exporting() -> bool:
    return bool(
        torch.onnx.is_in_onnx_export()
        or torch.jit.is_tracing()
        or torch.compiler.is_compiling()
        or torch.compiler.is_exporting()
    )


class _SpMM(torch.autograd.Function):
    """``A @ h`` with CSR ``A``; the backward uses the pre-built CSR of ``A^T``.

    torch's own CSR matmul backward transposes ``A`` on every call (~3x the forward cost);
    here both orientations are built once per batch and reused by all layers.
    """

    @staticmethod
    def forward(ctx: Any, a: Tensor, a_t: Tensor, h: Tensor) -> Tensor:  # ctx: as torch's
        # CPU sparse kernels have no bf16/fp16: compute in the matrix dtype, return h's
        ctx.a_t, ctx.dtype = a_t, h.dtype
        with torch.autocast(h.device.type, enabled=False):
            return (a @ h.to(a.dtype)).to(h.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, None, Tensor]:
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
    Shapes: ``edge_index [2, E]`` (row 0 source ``j``, row 1 target ``i``), ``weight [E]``;
    the call maps ``h [N, D] -> [N, D]``. A weight that needs gradients (learned) takes the
    gather/scatter path, whose backward reaches it.
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
            # torch leaves autograd.Function.apply unannotated
            return _SpMM.apply(self.a, self.a_t, h)  # type: ignore[no-untyped-call]
        msg = h.index_select(0, self.src) * self.weight.unsqueeze(-1).to(h.dtype)
        idx = self.dst.unsqueeze(-1).expand_as(msg)
        return torch.zeros_like(h).scatter_add(0, idx, msg)
