"""Views of :class:`~adsearch.graphs.build.JetGraphs` for the model libraries.

- :func:`to_pyg`: a batched ``torch_geometric.data.Batch`` (x, edge_index, edge_attr, batch,
  ptr), zero-copy from the numpy arrays where dtypes allow;
- :func:`to_dgl`: one batched ``DGLGraph`` (``ndata["x"]``, ``edata["w"]``, batch sizes set,
  self-loops guaranteed since EGAT needs them) built from the same arrays, no per-graph
  objects;
- :func:`to_dense`: padded ``[B, N, 3]`` node features and a ``[B, N]`` mask (the fully
  connected view a transformer uses), same node features and top-N-by-pT cap as the graphs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import awkward as ak
import numpy as np
import torch
from numpy.typing import ArrayLike

from adsearch.errors import InputError
from adsearch.graphs.build import (
    NODE_FEATURES,
    JetGraphs,
    _jet_energy,
    constituents_and_axes,
    node_features,
)

if TYPE_CHECKING:  # neither ships type information: both are Any to mypy
    import dgl
    from torch_geometric.data import Batch

__all__ = ["to_dense", "to_dgl", "to_pyg"]


def to_pyg(graphs: JetGraphs) -> Batch:
    """Batched PyG data of all jets in ``graphs``.

    >>> from adsearch.graphs.toy import toy_jets
    >>> from adsearch.graphs.build import build_graphs
    >>> b = to_pyg(build_graphs(toy_jets(4, seed=0)))
    >>> b.num_graphs, b.x.shape[1], b.edge_attr.shape[1], b.x.dtype
    (4, 3, 1, torch.float32)
    """
    from torch_geometric.data import Batch

    x = torch.from_numpy(np.ascontiguousarray(graphs.x))
    edge_index = torch.from_numpy(np.ascontiguousarray(graphs.edge_index))
    edge_attr = torch.from_numpy(np.ascontiguousarray(graphs.edge_attr))
    ptr = torch.from_numpy(np.ascontiguousarray(graphs.node_ptr))
    batch = torch.repeat_interleave(
        torch.arange(graphs.n_jets), torch.from_numpy(graphs.num_nodes_per_jet)
    )
    out = Batch(x=x, edge_index=edge_index, edge_attr=edge_attr, batch=batch, ptr=ptr)
    # what Batch.from_data_list would record, so PyG utilities (to_data_list, ...) work
    out._num_graphs = graphs.n_jets
    return out


def to_dgl(graphs: JetGraphs) -> dgl.DGLGraph:
    """One batched DGL graph of all jets: ``ndata["x"]`` [N, 3], ``edata["w"]`` [E, 1].

    Edges are the same (source, target) pairs in the same order as :func:`to_pyg`. When the
    graphs were built without self-loops, self-loops with ``config.self_loop_value`` are
    appended (EGAT raises on nodes without in-edges).

    >>> from adsearch.graphs.toy import toy_jets
    >>> from adsearch.graphs.build import build_graphs
    >>> g = to_dgl(build_graphs(toy_jets(3, seed=0)))
    >>> g.batch_size, tuple(g.ndata["x"].shape[1:]), tuple(g.edata["w"].shape[1:])
    (3, (3,), (1,))
    """
    from adsearch._dgl import dgl

    src = torch.from_numpy(np.ascontiguousarray(graphs.edge_index[0]))
    dst = torch.from_numpy(np.ascontiguousarray(graphs.edge_index[1]))
    w = torch.from_numpy(np.ascontiguousarray(graphs.edge_attr))
    n_edges = torch.from_numpy(graphs.num_edges_per_jet)
    if not graphs.config.self_loops:
        loops = torch.arange(graphs.n_nodes)
        src = torch.cat([src, loops])
        dst = torch.cat([dst, loops])
        w = torch.cat(
            [w, torch.full((graphs.n_nodes, 1), graphs.config.self_loop_value, dtype=w.dtype)]
        )
        # self-loops go after all edges: per-jet edge counts still sum right, but edges of a
        # jet are no longer contiguous, which DGL's unbatch would need: reorder by jet
        jet_of_node = torch.from_numpy(graphs.batch)
        order = torch.argsort(jet_of_node[dst], stable=True)
        src, dst, w = src[order], dst[order], w[order]
        n_edges = n_edges + torch.from_numpy(graphs.num_nodes_per_jet)
    g = dgl.graph((src, dst), num_nodes=graphs.n_nodes)
    g.ndata["x"] = torch.from_numpy(np.ascontiguousarray(graphs.x))
    g.edata["w"] = w
    g.set_batch_num_nodes(torch.from_numpy(graphs.num_nodes_per_jet))
    g.set_batch_num_edges(n_edges)
    return g


def to_dense(
    constituents: ak.Array,
    jet_pt: ArrayLike | None = None,
    jet_eta: ArrayLike | None = None,
    jet_phi: ArrayLike | None = None,
    max_n: int = 150,
    features: str = "basic",
) -> tuple[np.ndarray, np.ndarray]:
    """Padded node features for transformers: ``(x [B, max_n, 3] float32, mask [B, max_n])``.

    Features are those of :func:`~adsearch.graphs.build.build_graphs` (``features`` names a
    set of :data:`~adsearch.graphs.build.NODE_FEATURES`; "basic": pT fraction, eta and
    wrapped phi relative to the jet axis); each jet keeps its ``max_n`` highest-pT
    constituents in decreasing pT order; padded slots are zero with ``mask`` False.

    >>> import awkward as ak
    >>> c = ak.Array([[{"pt": 1.0, "eta": 0.1, "phi": 0.0}, {"pt": 3.0, "eta": 0.0, "phi": 0.0}]])
    >>> x, m = to_dense(c, [4.0], [0.0], [0.0], max_n=3)
    >>> x[0, :, 0].tolist(), m.tolist()
    ([0.75, 0.25, 0.0], [[True, True, False]])
    """
    if max_n < 1:
        raise InputError(f"to_dense: max_n must be >= 1, got {max_n}")
    counts, pt, eta, phi, jpt, jeta, jphi = constituents_and_axes(
        constituents, jet_pt, jet_eta, jet_phi, "to_dense"
    )
    n_jets = len(counts)
    jet = np.repeat(np.arange(n_jets, dtype=np.int64), counts)
    order = np.lexsort((-pt, jet))  # decreasing pT inside every jet
    ptr = np.zeros(n_jets + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    rank = np.arange(len(pt), dtype=np.int64) - ptr[jet]
    keep = rank < max_n
    src = order[keep]
    j, r = jet[keep], rank[keep]
    if features not in NODE_FEATURES:
        raise InputError(f"to_dense: unknown node features {features!r}")
    ejet = _jet_energy(counts, pt, eta) if features != "basic" else None
    x = np.zeros((n_jets, max_n, len(NODE_FEATURES[features])), dtype=np.float32)
    x[j, r] = node_features(pt[src], eta[src], phi[src], j, jpt, jeta, jphi, ejet, features)
    mask = np.zeros((n_jets, max_n), dtype=bool)
    mask[j, r] = True
    return x, mask
