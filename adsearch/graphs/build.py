"""Constituent graphs of jets: nodes, edges and edge features as flat (CSR-like) arrays.

Every jet becomes one graph. Nodes are the jet's constituents with features

    x = [pT / pT_jet,  eta - eta_jet,  wrap(phi - phi_jet)]            (float32)

where ``wrap`` maps to [-pi, pi) and (pT_jet, eta_jet, phi_jet) is the jet axis given by the
caller (the clustered jet; :func:`jet_axis` computes it from the constituents when missing).
Edges connect constituents of the same jet:

- ``"radius"`` (default): every ordered pair with Delta R < ``radius`` (0.2), as in
  D'Avanzo (ATLAS), EuCAIFCon 2025;
- ``"knn"``: each node receives edges from its ``k`` (16) nearest neighbours in Delta R;
- ``"full"``: all ordered pairs (the fully connected view a transformer sees).

The edge feature is 1/Delta R with Delta R clamped below at ``min_dr`` (0.01, about the
finest calorimeter cell size: smaller separations are not resolved by the detector, and
coincident particles stay finite, 1/Delta R <= 100). Self-loops (on by default; EGAT needs
them) carry the fixed feature ``self_loop_value`` = 0, which no real edge can have
(1/Delta R > 0), so models can tell "self" from "neighbour" in every edge mode.

Edges are stored with ``edge_index[0]`` = source, ``edge_index[1]`` = target (messages flow
source -> target, PyG's default), grouped by jet and sorted by (target, source) inside a jet,
i.e. globally sorted by target: the layout of a CSR adjacency by destination, which sparse
aggregation uses directly.

Construction is vectorised: jets are grouped by their (capped) number of constituents and
each group's pairwise Delta R is one dense ``[jets, n, n]`` numpy block; the only Python loop
runs over distinct jet sizes and memory blocks, never over jets.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal, NamedTuple

import awkward as ak
import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from adsearch.errors import ConfigError, InputError

__all__ = [
    "LOG_FEATURES",
    "NODE_FEATURES",
    "GraphConfig",
    "JetAxis",
    "JetGraphs",
    "build_graphs",
    "flat_constituents",
    "jet_axis",
    "node_features",
    "part_features",
    "wrap_phi",
]

EdgeMode = Literal["radius", "knn", "full"]

#: node feature sets: column names per set (the first three are shared by all sets, and
#: edge construction and the pair features read Delta eta, Delta phi from columns 1 and 2)
NODE_FEATURES: dict[str, tuple[str, ...]] = {
    "basic": ("pt_frac", "deta", "dphi"),
    "part": ("pt_frac", "deta", "dphi", "pt", "e", "e_frac", "dr"),
}
#: features that a model's input standardisation takes the logarithm of
LOG_FEATURES = frozenset({"pt_frac", "pt", "e", "e_frac"})

#: pairwise elements (jets * n * n) evaluated per numpy block; ~4 M float32 = 16 MB each
_BLOCK_PAIRS = 1_000_000


def wrap_phi(dphi: np.ndarray) -> np.ndarray:
    """Wrap azimuthal differences into [-pi, pi).

    >>> wrap_phi(np.array([3.5, -3.5, 0.1])).round(4).tolist()
    [-2.7832, 2.7832, 0.1]
    """
    return np.mod(dphi + np.pi, 2.0 * np.pi) - np.pi


@dataclass
class GraphConfig:
    """How jets become graphs (strict YAML section ``graphs``).

    Attributes
    ----------
    edges : {"radius", "knn", "full"}
        Edge construction (see module docstring).
    radius : float
        Delta R cut of the radius graph (D'Avanzo (ATLAS), EuCAIFCon 2025: 0.2).
    k : int
        Neighbours per node of the kNN graph (fewer in jets with <= k constituents).
    max_constituents : int or None
        Keep only the ``max_constituents`` highest-pT constituents of each jet (None: all).
        Default 150: the two leading jets of real LHCO events have 56 constituents on
        average, 8 % have more than 100 and 1 % more than 146 (measured on 1000 real R&D
        events, benchmarks/bench_graphs.py), so 150 keeps ~99 % of jets whole while bounding
        the quadratic pair cost and edge count of the rare very busy jet. The dropped
        constituents are the softest; pT fractions stay relative to the full jet pT.
    self_loops : bool
        Add an edge i -> i for every node (required by EGAT).
    self_loop_value : float
        Edge feature of self-loops (finite; 0 is outside the range of 1/Delta R).
    min_dr : float
        Delta R is clamped to at least this value before taking 1/Delta R.
    edge_features : {"inv_dr", "inv_dr+part"}
        ``"inv_dr"``: edge_attr = [1/Delta R]. ``"inv_dr+part"``: [1/Delta R, ln kT, ln z,
        ln Delta R, ln m^2] with the Particle Transformer pair features (Qu & Gouskos 2022)
        from the node features, i.e. in units of the jet pT: kT = min(x_i, x_j) Delta R,
        z = min / (x_i + x_j), m^2 = 2 x_i x_j (cosh Delta eta - cos Delta phi) with x the
        pT fractions (massless constituents); Delta R clamped at ``min_dr``, logarithm
        arguments at 1e-12; self-loops get 0 in the four extra columns.
    node_features : {"basic", "part"}
        ``"basic"``: [pT/pT_jet, Delta eta, Delta phi]. ``"part"``: the seven inputs of the
        Particle Transformer (Qu, Li & Qian 2022) as raw numbers, [pT/pT_jet, Delta eta,
        Delta phi, pT, E, E/E_jet, Delta R] (GeV; E_jet = the summed energy of all the jet's
        constituents, before the cap). Models take the logarithm of the pT- and energy-like
        columns (:data:`LOG_FEATURES`) and standardise every column with shift/scale fitted on
        the training jets (:class:`adsearch.models.norm.InputNorm`).
    frame : {"none", "principal"}
        ``"principal"``: models see every jet in a common frame
        (:func:`adsearch.graphs.frame.principal_frame`: centred on the pT centroid, principal
        axis along eta, flipped so the hardest half sits on one side). Applied by the
        training and scoring input builder before the graphs are built.
    dtype : str
        Floating dtype of node and edge features ("float32" or "float64").
    """

    edges: EdgeMode = "radius"
    radius: float = 0.2
    k: int = 16
    max_constituents: int | None = 150
    self_loops: bool = True
    self_loop_value: float = 0.0
    min_dr: float = 0.01
    edge_features: Literal["inv_dr", "inv_dr+part"] = "inv_dr"
    node_features: Literal["basic", "part"] = "basic"
    frame: Literal["none", "principal"] = "none"
    dtype: str = "float32"

    def validate(self) -> None:
        if self.edges not in ("radius", "knn", "full"):
            raise ConfigError(f"graphs.edges: {self.edges!r} is not one of 'radius', 'knn', 'full'")
        if not np.isfinite(self.radius) or self.radius <= 0:
            raise ConfigError(f"graphs.radius: must be a positive number, got {self.radius}")
        if self.k < 1:
            raise ConfigError(f"graphs.k: must be >= 1, got {self.k}")
        if self.max_constituents is not None and self.max_constituents < 1:
            raise ConfigError(
                f"graphs.max_constituents: must be >= 1 or null, got {self.max_constituents}"
            )
        if not np.isfinite(self.self_loop_value):
            raise ConfigError("graphs.self_loop_value: must be finite")
        if not np.isfinite(self.min_dr) or self.min_dr <= 0:
            raise ConfigError(f"graphs.min_dr: must be a positive number, got {self.min_dr}")
        if self.edge_features not in ("inv_dr", "inv_dr+part"):
            raise ConfigError(
                f"graphs.edge_features: {self.edge_features!r} is not 'inv_dr' or 'inv_dr+part'"
            )
        if self.node_features not in NODE_FEATURES:
            raise ConfigError(
                f"graphs.node_features: {self.node_features!r} is not one of "
                f"{', '.join(map(repr, NODE_FEATURES))}"
            )
        if self.frame not in ("none", "principal"):
            raise ConfigError(f"graphs.frame: {self.frame!r} is not 'none' or 'principal'")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"graphs.dtype: {self.dtype!r} is not 'float32' or 'float64'")


class JetAxis(NamedTuple):
    """Per-jet axis and mass (numpy float64 arrays of length n_jets)."""

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    mass: np.ndarray


@dataclass
class JetGraphs:
    """A batch of jet graphs as flat arrays (PyG-style, no per-graph objects).

    Attributes
    ----------
    x : ndarray [n_nodes, F]
        Node features (``config.node_features``; by default [pT/pT_jet, eta - eta_jet,
        wrapped phi - phi_jet]).
    edge_index : ndarray int64 [2, n_edges]
        Global node indices (source, target); edges never cross jets; sorted by target.
    edge_attr : ndarray [n_edges, 1]
        1/Delta R (self-loops: ``config.self_loop_value``).
    node_ptr : ndarray int64 [n_jets + 1]
        Nodes of jet j are ``node_ptr[j]:node_ptr[j+1]``.
    edge_ptr : ndarray int64 [n_jets + 1]
        Edges of jet j are ``edge_ptr[j]:edge_ptr[j+1]``.
    config : GraphConfig
        The configuration the graphs were built with.
    """

    x: np.ndarray
    edge_index: np.ndarray
    edge_attr: np.ndarray
    node_ptr: np.ndarray
    edge_ptr: np.ndarray
    config: GraphConfig = field(default_factory=GraphConfig)

    @property
    def n_jets(self) -> int:
        return len(self.node_ptr) - 1

    @property
    def n_nodes(self) -> int:
        return int(self.node_ptr[-1])

    @property
    def n_edges(self) -> int:
        return int(self.edge_ptr[-1])

    def __len__(self) -> int:
        return self.n_jets

    def __repr__(self) -> str:
        return (
            f"JetGraphs(n_jets={self.n_jets}, n_nodes={self.n_nodes}, n_edges={self.n_edges}, "
            f"edges={self.config.edges!r}, edge_dim={self.edge_attr.shape[1]})"
        )

    @property
    def num_nodes_per_jet(self) -> np.ndarray:
        return np.diff(self.node_ptr)

    @property
    def num_edges_per_jet(self) -> np.ndarray:
        return np.diff(self.edge_ptr)

    @property
    def batch(self) -> np.ndarray:
        """Jet index of every node (int64 [n_nodes])."""
        return np.repeat(np.arange(self.n_jets, dtype=np.int64), self.num_nodes_per_jet)

    def __getitem__(self, key: slice) -> JetGraphs:
        """Contiguous jets ``key`` (a slice with step 1): views plus one index shift."""
        if not isinstance(key, slice):
            raise TypeError("JetGraphs[...] takes a slice; use .take(indices) for a selection")
        start, stop, step = key.indices(self.n_jets)
        if step != 1:
            return self.take(np.arange(start, stop, step))
        stop = max(stop, start)
        n0, n1 = self.node_ptr[start], self.node_ptr[stop]
        e0, e1 = self.edge_ptr[start], self.edge_ptr[stop]
        return JetGraphs(
            x=self.x[n0:n1],
            edge_index=self.edge_index[:, e0:e1] - n0,
            edge_attr=self.edge_attr[e0:e1],
            node_ptr=self.node_ptr[start : stop + 1] - n0,
            edge_ptr=self.edge_ptr[start : stop + 1] - e0,
            config=self.config,
        )

    def take(self, indices: np.ndarray) -> JetGraphs:
        """Jets at ``indices`` (any order, repeats allowed), e.g. a shuffled mini-batch.

        >>> import awkward as ak
        >>> c = ak.Array([[{"pt": 1.0, "eta": 0.0, "phi": 0.0}],
        ...               [{"pt": 2.0, "eta": 0.0, "phi": 0.0},
        ...                {"pt": 1.0, "eta": 0.1, "phi": 0.0}]])
        >>> g = build_graphs(c, [1.0, 3.0], [0.0, 0.0], [0.0, 0.0])
        >>> g.take([1, 0]).num_nodes_per_jet.tolist(), g.take([1]).edge_index.tolist()
        ([2, 1], [[0, 1, 0, 1], [0, 0, 1, 1]])
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -self.n_jets or idx.max() >= self.n_jets):
            raise IndexError(f"jet index out of range for {self.n_jets} jets")
        idx = np.where(idx < 0, idx + self.n_jets, idx)
        n_cnt = self.node_ptr[idx + 1] - self.node_ptr[idx]
        e_cnt = self.edge_ptr[idx + 1] - self.edge_ptr[idx]
        node_ptr = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(n_cnt, out=node_ptr[1:])
        edge_ptr = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(e_cnt, out=edge_ptr[1:])
        node_shift = self.node_ptr[idx] - node_ptr[:-1]
        node_src = np.arange(node_ptr[-1], dtype=np.int64) + np.repeat(node_shift, n_cnt)
        edge_src = np.arange(edge_ptr[-1], dtype=np.int64) + np.repeat(
            self.edge_ptr[idx] - edge_ptr[:-1], e_cnt
        )
        return JetGraphs(
            x=self.x[node_src],
            edge_index=self.edge_index[:, edge_src] - np.repeat(node_shift, e_cnt),
            edge_attr=self.edge_attr[edge_src],
            node_ptr=node_ptr,
            edge_ptr=edge_ptr,
            config=self.config,
        )


# ------------------------------------------------------------------------------------------
# inputs


def _flatten_jets(arr: ArrayLike, name: str) -> np.ndarray:
    """Per-jet numbers from numpy / list / awkward (flattening an events*jets layout)."""
    if isinstance(arr, ak.Array):
        if arr.ndim > 1:
            arr = ak.flatten(arr, axis=None)
        out = ak.to_numpy(arr)
    else:
        out = np.asarray(arr)
    out = np.asarray(out, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(out)):
        raise InputError(f"{name}: contains NaN or infinite values")
    return out


def flat_constituents(
    constituents: ak.Array,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flatten ``jets * var * {pt, eta, phi}`` to (counts, pt, eta, phi) numpy arrays.

    An ``events * jets * var`` layout (e.g. ``Features.constituents``) is flattened over
    events first, jets in event order. Raises :class:`InputError` for missing fields,
    NaN/inf values or non-positive constituent pT.
    """
    if not isinstance(constituents, ak.Array):
        raise InputError("constituents: expected an awkward Array jets * var * {pt, eta, phi}")
    fields = ak.fields(constituents)
    missing = [f for f in ("pt", "eta", "phi") if f not in fields]
    if missing:
        raise InputError(f"constituents: missing field(s) {', '.join(missing)}")
    cons = constituents
    if cons.ndim == 3:
        cons = ak.flatten(cons, axis=1)
    elif cons.ndim != 2:
        raise InputError(
            f"constituents: expected jets * var or events * jets * var, got ndim={cons.ndim}"
        )
    counts = ak.to_numpy(ak.num(cons, axis=1)).astype(np.int64)
    out = [counts]
    for f in ("pt", "eta", "phi"):
        v = np.asarray(ak.to_numpy(ak.flatten(cons[f], axis=1)), dtype=np.float64)
        if not np.all(np.isfinite(v)):
            raise InputError(f"constituents.{f}: contains NaN or infinite values")
        out.append(v)
    if np.any(out[1] <= 0):
        raise InputError("constituents.pt: contains non-positive values")
    return out[0], out[1], out[2], out[3]


def jet_axis(constituents: ak.Array) -> JetAxis:
    """Jet 4-momentum as the sum of massless constituents: (pt, eta, phi, mass) per jet.

    >>> import awkward as ak
    >>> c = ak.Array([[{"pt": 100.0, "eta": 0.1, "phi": 0.0},
    ...                {"pt": 100.0, "eta": -0.1, "phi": 0.0}]])
    >>> a = jet_axis(c)
    >>> round(float(a.pt[0]), 3), round(float(a.eta[0]), 6), round(float(a.mass[0]), 3)
    (200.0, 0.0, 20.033)
    """
    counts, pt, eta, phi = flat_constituents(constituents)
    jet = np.repeat(np.arange(len(counts)), counts)
    n = len(counts)
    px = np.bincount(jet, pt * np.cos(phi), minlength=n)
    py = np.bincount(jet, pt * np.sin(phi), minlength=n)
    pz = np.bincount(jet, pt * np.sinh(eta), minlength=n)
    e = np.bincount(jet, pt * np.cosh(eta), minlength=n)
    jpt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        jeta = np.where(jpt > 0, np.arcsinh(pz / np.where(jpt > 0, jpt, 1.0)), 0.0)
    jphi = np.arctan2(py, px)
    m2 = e * e - px * px - py * py - pz * pz
    # clip float round-off for (near) massless jets; relative precision ~1e-16 * E^2
    mass = np.sqrt(np.clip(m2, 0.0, None))
    return JetAxis(jpt, jeta, jphi, mass)


# ------------------------------------------------------------------------------------------
# construction


def _select_nodes(
    counts: np.ndarray, pt: np.ndarray, cap: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of kept constituents (top-``cap`` by pT per jet, pT-descending) and new counts.

    Input order is kept when no jet exceeds the cap; otherwise jets are ordered by decreasing
    pT (a stable sort, only when the input is not already sorted).
    """
    n_tot = int(counts.sum())
    if cap is None or counts.size == 0 or counts.max() <= cap:
        return np.arange(n_tot, dtype=np.int64), counts
    ptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    jet = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    order = np.arange(n_tot, dtype=np.int64)
    same_jet = jet[1:] == jet[:-1]
    if np.any(same_jet & (pt[1:] > pt[:-1])):  # not sorted by decreasing pT inside jets
        order = np.lexsort((-pt, jet)).astype(np.int64)
    rank = np.arange(n_tot, dtype=np.int64) - ptr[jet]
    keep = order[rank < cap]
    return keep, np.minimum(counts, cap)


def _pair_block(
    eta: np.ndarray, phi: np.ndarray, cfg: GraphConfig, wrap: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges of a block of equal-size jets from [B, n] relative coordinates (float32).

    Returns (flat, row_cnt, feature): ``flat = (b * n + i) * n + j`` for every edge j -> i,
    in increasing order (grouped by jet, then target i, then source j), the number of
    edges of every target row ``b * n + i``, and the edge feature.
    """
    b_n, n = eta.shape
    dr2 = eta[:, :, None] - eta[:, None, :]
    np.multiply(dr2, dr2, out=dr2)
    dphi = phi[:, :, None] - phi[:, None, :]
    if wrap:  # only blocks with a constituent at |phi - phi_jet| >= pi/2 need it
        dphi -= np.float32(2 * np.pi) * np.round(dphi / np.float32(2 * np.pi))
    np.multiply(dphi, dphi, out=dphi)
    dr2 += dphi
    del dphi
    flat_diag = dr2.reshape(b_n, n * n)[:, :: n + 1]  # a strided view of the diagonals
    if cfg.edges == "radius":
        # sentinel on the diagonal: -1 marks a self-loop, +inf removes it
        flat_diag[...] = -1.0 if cfg.self_loops else np.inf
        mask = dr2 < np.float32(cfg.radius * cfg.radius)
    elif cfg.edges == "full":
        flat_diag[...] = -1.0
        mask = np.ones(dr2.shape, dtype=bool)
        if not cfg.self_loops:
            mask.reshape(b_n, n * n)[:, :: n + 1] = False
    else:  # knn: for every target i its kk nearest sources j != i
        kk = min(cfg.k, n - 1)
        flat_diag[...] = np.inf
        if kk >= n - 1:
            mask = np.ones(dr2.shape, dtype=bool)
        else:
            nn = np.argpartition(dr2, kk - 1, axis=2)[:, :, :kk]
            mask = np.zeros(dr2.shape, dtype=bool)
            np.put_along_axis(mask, nn, True, axis=2)
        flat_diag[...] = -1.0
        mask.reshape(b_n, n * n)[:, :: n + 1] = cfg.self_loops
    row_cnt = mask.sum(axis=2, dtype=np.int64).reshape(-1)  # edges per target (b, i)
    flat = np.flatnonzero(mask)
    d2 = dr2.reshape(-1)[flat]
    feat = np.maximum(d2, np.float32(cfg.min_dr * cfg.min_dr))
    np.sqrt(feat, out=feat)
    np.reciprocal(feat, out=feat)
    if cfg.self_loops:
        feat[d2 < 0] = cfg.self_loop_value
    return flat, row_cnt, feat


def build_graphs(
    constituents: ak.Array,
    jet_pt: ArrayLike | None = None,
    jet_eta: ArrayLike | None = None,
    jet_phi: ArrayLike | None = None,
    config: GraphConfig | None = None,
    *,
    threads: int = 1,
) -> JetGraphs:
    """Build one graph per jet (see the module docstring for features and edges).

    Parameters
    ----------
    constituents : ak.Array
        ``jets * var * {pt, eta, phi}`` (or ``events * jets * var``, flattened over events).
    jet_pt, jet_eta, jet_phi : array-like or None
        Jet axis per jet (same jet order); all None -> :func:`jet_axis` of the constituents.
    config : GraphConfig, optional
        Edge mode, constituent cap, self-loops, ... (default: radius graph, Delta R < 0.2).
    threads : int
        Worker threads over the pairwise blocks; 1 = none. Measured on the 2-core
        development machine: no speed-up (27.9k vs 26.0k jets/s at load ~3; the index
        operations hold the GIL), so the default is 1.

    Returns
    -------
    JetGraphs

    Examples
    --------
    >>> import awkward as ak
    >>> c = ak.Array([[{"pt": 60.0, "eta": 0.0, "phi": 3.1},
    ...                {"pt": 40.0, "eta": 0.1, "phi": -3.1}]])
    >>> g = build_graphs(c, [100.0], [0.0], [3.14159])
    >>> g.x.astype(float).round(3).tolist()
    [[0.6, 0.0, -0.042], [0.4, 0.1, 0.042]]
    >>> g.edge_index.tolist(), g.edge_attr.ravel().astype(float).round(2).tolist()
    ([[0, 1, 0, 1], [0, 0, 1, 1]], [0.0, 7.69, 7.69, 0.0])
    """
    cfg = config if config is not None else GraphConfig()
    cfg.validate()
    dtype = np.dtype(cfg.dtype)
    counts, pt, eta, phi, jpt, jeta, jphi = constituents_and_axes(
        constituents, jet_pt, jet_eta, jet_phi, "build_graphs"
    )
    n_jets = len(counts)
    if n_jets and counts.min() == 0:
        bad = int(np.flatnonzero(counts == 0)[0])
        raise InputError(f"constituents: jet {bad} has no constituents (cannot build a graph)")

    counts_all = counts
    keep, counts = _select_nodes(counts, pt, cfg.max_constituents)
    node_ptr = np.zeros(n_jets + 1, dtype=np.int64)
    np.cumsum(counts, out=node_ptr[1:])
    jet = np.repeat(np.arange(n_jets, dtype=np.int64), counts)
    ejet = _jet_energy(counts_all, pt, eta) if cfg.node_features != "basic" else None
    x = node_features(
        pt[keep], eta[keep], phi[keep], jet, jpt, jeta, jphi, ejet, cfg.node_features, dtype
    )
    edge_index, edge_attr, edge_ptr = _edges(x, counts, node_ptr, cfg, threads)
    edge_attr = edge_attr.reshape(-1, 1)
    if cfg.edge_features == "inv_dr+part":
        edge_attr = np.concatenate([edge_attr, part_features(x, edge_index, cfg.min_dr)], axis=1)
    return JetGraphs(
        x=x,
        edge_index=edge_index,
        edge_attr=edge_attr.astype(dtype, copy=False),
        node_ptr=node_ptr,
        edge_ptr=edge_ptr,
        config=replace(cfg),
    )


def _jet_energy(counts: np.ndarray, pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Summed (massless) constituent energy per jet, over all constituents."""
    jet = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    return np.bincount(jet, pt * np.cosh(eta), minlength=len(counts))


def node_features(
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    jet: np.ndarray,
    jet_pt: np.ndarray,
    jet_eta: np.ndarray,
    jet_phi: np.ndarray,
    jet_e: np.ndarray | None = None,
    kind: str = "basic",
    dtype: DTypeLike = np.float32,
) -> np.ndarray:
    """Node feature rows ``[n, len(NODE_FEATURES[kind])]`` of constituents in jets ``jet``.

    ``jet_e`` (per jet) is needed by ``kind="part"`` only.

    >>> x = node_features(np.array([30.0]), np.array([0.1]), np.array([0.0]), np.array([0]),
    ...                   np.array([100.0]), np.array([0.0]), np.array([0.0]),
    ...                   np.array([110.0]), "part", np.float64)
    >>> x.round(3).tolist()
    [[0.3, 0.1, 0.0, 30.0, 30.15, 0.274, 0.1]]
    """
    names = NODE_FEATURES[kind]
    x = np.empty((len(pt), len(names)), dtype=dtype)
    x[:, 0] = pt / jet_pt[jet]
    x[:, 1] = eta - jet_eta[jet]
    x[:, 2] = wrap_phi(phi - jet_phi[jet])
    if kind == "part":
        if jet_e is None:
            raise ValueError("node_features 'part' needs the jet energies")
        e = pt * np.cosh(eta)
        x[:, 3] = pt
        x[:, 4] = e
        x[:, 5] = e / jet_e[jet]
        x[:, 6] = np.hypot(x[:, 1], x[:, 2])
    return x


def part_features(x: np.ndarray, edge_index: np.ndarray, min_dr: float = 0.01) -> np.ndarray:
    """ParT pair features [ln kT, ln z, ln Delta R, ln m^2] per edge from node features.

    ``x`` holds [pT fraction, Delta eta, Delta phi] per node (:func:`build_graphs`), so kT
    and m^2 are in units of the jet pT / pT^2. Self-loops (source == target) get zeros.

    >>> x = np.array([[0.6, 0.0, 0.0], [0.4, 0.1, 0.0]], dtype=np.float32)
    >>> part_features(x, np.array([[1], [0]])).astype(float).round(3).tolist()
    [[-3.219, -0.916, -2.303, -6.031]]
    """
    src, tgt = edge_index
    xs, xt = x[src].astype(np.float64), x[tgt].astype(np.float64)
    deta = xs[:, 1] - xt[:, 1]
    dphi = wrap_phi(xs[:, 2] - xt[:, 2])
    dr = np.maximum(np.hypot(deta, dphi), min_dr)
    lo = np.minimum(xs[:, 0], xt[:, 0])
    tiny = 1e-12
    out = np.empty((len(src), 4), dtype=np.float64)
    out[:, 0] = np.log(np.maximum(lo * dr, tiny))
    out[:, 1] = np.log(np.maximum(lo / np.maximum(xs[:, 0] + xt[:, 0], tiny), tiny))
    out[:, 2] = np.log(dr)
    m2 = 2.0 * xs[:, 0] * xt[:, 0] * (np.cosh(deta) - np.cos(dphi))
    out[:, 3] = np.log(np.maximum(m2, tiny))
    out[src == tgt] = 0.0
    return out.astype(x.dtype, copy=False)


def _edges(
    x: np.ndarray, counts: np.ndarray, node_ptr: np.ndarray, cfg: GraphConfig, threads: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_jets = len(counts)
    # relative coordinates in float32 (fast); Delta R < 0.2 decisions are at ~1e-7 precision
    eta = x[:, 1].astype(np.float32, copy=False)
    phi = x[:, 2].astype(np.float32, copy=False)
    # |dphi| <= |phi_i| + |phi_j| < pi needs no wrapping (true for any real R <= 1.5 jet)
    wrap_jet = np.zeros(n_jets, dtype=bool)
    far = np.abs(phi) >= np.pi / 2
    if far.any():
        wrap_jet[np.repeat(np.arange(n_jets), counts)[far]] = True

    def block(
        jets: np.ndarray, n: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        cols = node_ptr[jets][:, None] + np.arange(n, dtype=np.int64)[None, :]
        flat, row_cnt, feat = _pair_block(eta[cols], phi[cols], cfg, bool(wrap_jet[jets].any()))
        # target = global node of row (b, i); source = first node of jet b + j with
        # j = flat - row * n: both are per-row constants expanded with one repeat each
        rows = cols.reshape(-1)
        tgt = np.repeat(rows, row_cnt)
        shift = np.repeat(cols[:, 0], n) - np.arange(len(rows), dtype=np.int64) * n
        src = flat + np.repeat(shift, row_cnt)
        return jets, row_cnt.reshape(len(jets), n).sum(axis=1), tgt, src, feat

    tasks = []  # blocks of equal-size jets, ~_BLOCK_PAIRS pair elements each
    order = np.argsort(counts, kind="stable")
    sizes, starts = np.unique(counts[order], return_index=True)
    bounds = [*starts.tolist(), n_jets]
    for s, n in enumerate(sizes.tolist()):
        group = order[bounds[s] : bounds[s + 1]]
        per_block = max(1, _BLOCK_PAIRS // (n * n))
        tasks += [(group[b0 : b0 + per_block], n) for b0 in range(0, len(group), per_block)]
    if threads > 1 and len(tasks) > 1:
        # numpy releases the GIL in the array kernels, so threads scale on the blocks
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(lambda t: block(*t), tasks))
    else:
        parts = [block(*t) for t in tasks]
    edge_cnt = np.zeros(n_jets, dtype=np.int64)
    for jets, cnt, *_ in parts:
        edge_cnt[jets] = cnt
    edge_ptr = np.zeros(n_jets + 1, dtype=np.int64)
    np.cumsum(edge_cnt, out=edge_ptr[1:])
    n_edges = int(edge_ptr[-1])
    edge_index = np.empty((2, n_edges), dtype=np.int64)
    edge_attr = np.empty(n_edges, dtype=np.float32)
    for jets, cnt, tgt, src, feat in parts:
        if len(parts) == 1 and np.array_equal(jets, np.arange(n_jets)):
            edge_index[0], edge_index[1], edge_attr[:] = src, tgt, feat
            break
        # scatter the block's edges (grouped by jet) to their jets' global edge ranges
        local = np.zeros(len(jets) + 1, dtype=np.int64)
        np.cumsum(cnt, out=local[1:])
        pos = np.arange(len(tgt), dtype=np.int64) + np.repeat(edge_ptr[jets] - local[:-1], cnt)
        edge_index[0, pos] = src
        edge_index[1, pos] = tgt
        edge_attr[pos] = feat
    return edge_index, edge_attr, edge_ptr


def constituents_and_axes(
    constituents: ak.Array,
    jet_pt: ArrayLike | None,
    jet_eta: ArrayLike | None,
    jet_phi: ArrayLike | None,
    who: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flat constituents and per-jet axes (given, or computed from the constituents).

    Returns ``(counts, pt, eta, phi, jet_pt, jet_eta, jet_phi)`` as flat numpy arrays; raises
    :class:`InputError` (naming ``who``) when only some axes are given, their lengths do not
    match the jets, or a jet pT is not positive.
    """
    counts, pt, eta, phi = flat_constituents(constituents)
    n_jets = len(counts)
    if jet_pt is None and jet_eta is None and jet_phi is None:
        ax = jet_axis(constituents)
        jpt, jeta, jphi = ax.pt, ax.eta, ax.phi
    elif jet_pt is None or jet_eta is None or jet_phi is None:
        raise InputError(f"{who}: give all of jet_pt, jet_eta, jet_phi or none")
    else:
        jpt = _flatten_jets(jet_pt, "jet_pt")
        jeta = _flatten_jets(jet_eta, "jet_eta")
        jphi = _flatten_jets(jet_phi, "jet_phi")
    for name, arr in (("jet_pt", jpt), ("jet_eta", jeta), ("jet_phi", jphi)):
        if len(arr) != n_jets:
            raise InputError(f"{name}: has {len(arr)} entries for {n_jets} jets")
    if n_jets and np.any(jpt <= 0):
        raise InputError("jet_pt: contains non-positive values")
    return counts, pt, eta, phi, jpt, jeta, jphi
