"""Jets for training and scoring: per-event splits and model inputs built batch by batch.

A features file (:func:`adsearch.jets.featurefile.read_features`) holds events with two jets;
:class:`JetSample` flattens it to one row per jet (``2 * event + slot``), keeping the
event row, the jet slot (0 = leading) and the event label (-1 when unknown). Splits are per
event (:func:`split_events`), so both jets of an event share a split.

Model inputs are built per mini-batch (graphs of 1024 jets take milliseconds, while a whole
LHCO split as graphs would need gigabytes): :class:`InputBuilder` selects the jets, builds
their graphs with :func:`adsearch.graphs.build_graphs` and converts them to the view the
backbone eats — PyG ``Batch``, DGL graph, or dense ``(x [B, N, 3], mask [B, N])``.

Examples
--------
>>> import awkward as ak, numpy as np
>>> ev = ak.Array([[[{"pt": 1.0, "eta": 0.0, "phi": 0.0}]] * 2] * 4)  # 4 events x 2 jets
>>> sample = JetSample.from_arrays(ev, np.ones((4, 2)), np.zeros((4, 2)), np.zeros((4, 2)),
...                                label=np.array([0, 1, 0, -1]))
>>> len(sample), sample.event.tolist()[:4], sample.slot.tolist()[:4]
(8, [0, 0, 1, 1], [0, 1, 0, 1])
>>> split_events(4, train_fraction=0.5, val_fraction=0.25, seed=1).tolist()
[0, 0, 1, 2]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import torch

from adsearch.config import from_dict
from adsearch.errors import InputError
from adsearch.graphs import GraphConfig, JetGraphs, build_graphs, to_dense, to_dgl, to_pyg
from adsearch.graphs.augment import random_mass_rescale, rescale_to_mass, standardise
from adsearch.graphs.frame import principal_frame
from adsearch.graphs.symmetry import augment_symmetry
from adsearch.jets.featurefile import iter_feature_blocks, read_features
from adsearch.models.objectives import ModelInputs
from adsearch.train.config import AugmentConfig, SymmetryConfig

__all__ = [
    "SPLIT_NAMES",
    "InputBuilder",
    "JetSample",
    "iter_jets",
    "load_jets",
    "split_events",
    "training_jets",
]

#: split codes used in :func:`split_events` and in score files
SPLIT_NAMES = {0: "train", 1: "val", 2: "test"}


@dataclass
class JetSample:
    """One row per jet: constituents, jet axis, event label, event row and jet slot."""

    constituents: ak.Array  # jets * var * {pt, eta, phi}
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    label: np.ndarray  # int64, -1 = unknown
    event: np.ndarray  # int64 row in the features table
    slot: np.ndarray  # int64, 0 = leading jet, 1 = subleading

    def __len__(self) -> int:
        return len(self.pt)

    @property
    def n_events(self) -> int:
        return int(self.event.max()) + 1 if len(self.event) else 0

    @property
    def has_labels(self) -> bool:
        return bool(len(self.label)) and bool(np.all(self.label >= 0))

    def take(self, idx: np.ndarray) -> JetSample:
        """Jets at integer indices ``idx``."""
        idx = np.asarray(idx, dtype=np.int64)
        return JetSample(
            self.constituents[idx],
            self.pt[idx],
            self.eta[idx],
            self.phi[idx],
            self.label[idx],
            self.event[idx],
            self.slot[idx],
        )

    @classmethod
    def concatenate(cls, parts: Sequence[JetSample]) -> JetSample:
        """The jets of ``parts`` one after the other (``event`` rows as they are).

        >>> a = JetSample.from_arrays(ak.Array([[[{"pt": 1.0, "eta": 0.0, "phi": 0.0}]] * 2]),
        ...                           np.ones((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)))
        >>> b = JetSample.concatenate([a, a])
        >>> len(b), b.event.tolist(), b.slot.tolist()
        (4, [0, 0, 0, 0], [0, 1, 0, 1])
        """
        if not parts:
            raise ValueError("JetSample.concatenate: no parts")
        if len(parts) == 1:
            return parts[0]
        arrays = {
            f.name: np.concatenate([getattr(p, f.name) for p in parts])
            for f in dataclasses.fields(cls)
            if f.name != "constituents"
        }
        return cls(ak.concatenate([p.constituents for p in parts]), **arrays)

    @classmethod
    def from_arrays(
        cls,
        constituents: ak.Array,
        jet_pt: np.ndarray,
        jet_eta: np.ndarray,
        jet_phi: np.ndarray,
        label: np.ndarray | None = None,
        max_events: int | None = None,
    ) -> JetSample:
        """From ``events * 2 * var * {pt, eta, phi}`` constituents and ``[events, 2]`` axes."""
        n_ev = len(constituents)
        if max_events is not None:
            n_ev = min(n_ev, max_events)
            constituents = constituents[:n_ev]
        nj = ak.to_numpy(ak.num(constituents, axis=1))
        if len(nj) and not np.all(nj == 2):
            raise InputError("constituents: every event must hold exactly two jets")
        axes = []
        for name, given in (("jet_pt", jet_pt), ("jet_eta", jet_eta), ("jet_phi", jet_phi)):
            a = np.asarray(given, dtype=np.float64)[:n_ev]
            if a.shape != (n_ev, 2):
                raise InputError(f"{name}: expected shape ({n_ev}, 2), got {a.shape}")
            if not np.all(np.isfinite(a)):
                raise InputError(f"{name}: contains NaN or infinite values")
            axes.append(a.reshape(-1))
        if label is None:
            lab = np.full(n_ev, -1, dtype=np.int64)
        else:
            lab = np.asarray(label)[:n_ev]
            if not np.all(np.isfinite(lab)):
                raise InputError("label: contains NaN or infinite values")
            lab = lab.astype(np.int64)
        cons = ak.flatten(constituents, axis=1)
        return cls(
            cons,
            axes[0],
            axes[1],
            axes[2],
            np.repeat(lab, 2),
            np.repeat(np.arange(n_ev, dtype=np.int64), 2),
            np.tile(np.array([0, 1], dtype=np.int64), n_ev),
        )

    @classmethod
    def from_features(cls, features: Any, max_events: int | None = None) -> JetSample:
        """From a :class:`adsearch.jets.features.Features` (``.table`` + ``.constituents``)."""
        t = features.table
        for col in ("ptj1", "etaj1", "phij1", "ptj2", "etaj2", "phij2"):
            if col not in t:
                raise InputError(f"features: missing column {col!r}")

        def pair(a: str, b: str) -> np.ndarray:
            return np.stack([np.asarray(t[a]), np.asarray(t[b])], axis=1)

        label = np.asarray(t["label"]) if "label" in t else None
        return cls.from_arrays(
            features.constituents,
            pair("ptj1", "ptj2"),
            pair("etaj1", "etaj2"),
            pair("phij1", "phij2"),
            label=label,
            max_events=max_events,
        )


def load_jets(path: str | Path, max_events: int | None = None) -> tuple[JetSample, Any]:
    """Read a features file; return its :class:`JetSample` and the ``Features`` object."""
    if not str(path):
        raise InputError("data:path: no features file given")

    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such features file")
    feats = read_features(p)
    return JetSample.from_features(feats, max_events=max_events), feats


def iter_jets(path: str | Path, block_size: int) -> Iterator[tuple[JetSample, Any]]:
    """Read a features file in blocks of at most ``block_size`` events, in file order.

    Yields ``(JetSample, Features)`` per block, as :func:`load_jets` does for the whole
    file; a block's ``event`` rows count from its first event. The file is streamed
    (:func:`adsearch.jets.featurefile.iter_feature_blocks`), so memory scales with
    ``block_size``: a file too large for memory is read in one pass, whatever its row
    groups (a row-range reader could only seek to row-group boundaries and would decode a
    large row group again for every range in it).

    Raises
    ------
    InputError
        No path, a missing file or one that is not a features file (before the first block).
    """
    if not str(path):
        raise InputError("data:path: no features file given")
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such features file")
    for feats in iter_feature_blocks(p, block_size):
        yield JetSample.from_features(feats), feats


def split_events(
    n_events: int, train_fraction: float = 0.2, val_fraction: float = 0.01, seed: int = 0
) -> np.ndarray:
    """Assign each event to train (0), validation (1) or test (2) by a seeded permutation.

    The first ``round(train_fraction * n)`` events of the permutation train, the next
    ``round(val_fraction * n)`` validate, the rest test
    (D'Avanzo (ATLAS), EuCAIFCon 2025: 20 / 1 / 79 %).
    """
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_events)
    n_tr = round(train_fraction * n_events)
    n_va = round(val_fraction * n_events)
    split = np.full(n_events, 2, dtype=np.int8)
    split[perm[:n_tr]] = 0
    split[perm[n_tr : n_tr + n_va]] = 1
    return split


def training_jets(
    sample: JetSample, split: np.ndarray, which: int, mode: str, objective: str
) -> np.ndarray:
    """Indices of the jets used for training (``which=0``) or validation (``which=1``).

    Unsupervised objectives in ``background-only`` mode keep only background (label 0)
    jets; ``data-like`` mode and the supervised objective keep every jet of the split.
    """
    in_split = split[sample.event] == which
    if objective == "supervised" or mode != "background-only":
        if objective == "supervised" and not sample.has_labels:
            raise InputError("features: the supervised objective needs a label column")
        return np.flatnonzero(in_split)
    if not sample.has_labels:
        raise InputError(
            "features: mode 'background-only' needs labels; use data:mode 'data-like' for "
            "unlabelled data"
        )
    return np.flatnonzero(in_split & (sample.label == 0))


class InputBuilder:
    """Turn jets of a :class:`JetSample` into backbone inputs of one ``kind``.

    Parameters
    ----------
    kind : ``"pyg"``, ``"dgl"`` or ``"dense"``.
    graph : :class:`adsearch.graphs.GraphConfig` options (a dict, checked strictly).
    device : where the tensors go.
    augment : the mass-decorrelating transformation (``data.augment``); None: none.
    symmetry : the random rotations, reflections and boosts of training jets
        (``data.symmetry``); None: none. Applied only when a batch's ``rng`` is given.
    """

    def __init__(
        self,
        kind: str,
        graph: dict[str, Any] | None = None,
        device: str | torch.device = "cpu",
        augment: AugmentConfig | None = None,
        symmetry: SymmetryConfig | None = None,
    ) -> None:

        if kind not in ("pyg", "dgl", "dense"):
            raise ValueError(f"unknown input kind {kind!r}")
        self.kind = kind
        self.graph_config = from_dict(GraphConfig, dict(graph or {}), source="graph")
        self.device = torch.device(device)
        self.augment = augment
        self.symmetry = symmetry

    def jets(
        self, sample: JetSample, idx: np.ndarray, rng: np.random.Generator | None = None
    ) -> tuple[ak.Array, np.ndarray, np.ndarray, np.ndarray]:
        """Constituents and jet axis (pt, eta, phi) of the jets at ``idx``, transformed.

        ``to-mass`` and ``standardise`` always apply; ``random-mass`` and the symmetry
        augmentation (in this order, both from ``rng``) only when ``rng`` is given (training
        batches); then the common frame (``graph.frame: principal``).
        """
        cons, pt, eta, phi = self._augmented(sample.take(idx), rng)
        sym = self.symmetry
        if rng is not None and sym is not None and sym.active:
            cons, pt, eta, phi = augment_symmetry(
                cons, pt, eta, phi, rng, rotate=sym.rotate, reflect=sym.reflect, boost=sym.boost
            )
        if self.graph_config.frame == "principal":
            cons = principal_frame(cons, pt, eta, phi)
        return cons, pt, eta, phi

    def _augmented(
        self, sub: JetSample, rng: np.random.Generator | None
    ) -> tuple[ak.Array, np.ndarray, np.ndarray, np.ndarray]:
        aug = self.augment if self.augment is not None else AugmentConfig()  # kind "none"
        if aug.kind == "to-mass":
            a = rescale_to_mass(sub.constituents, aug.mass)
        elif aug.kind == "standardise":
            a = standardise(sub.constituents, aug.pt, aug.mass)
        elif aug.kind == "random-mass" and rng is not None:
            a = random_mass_rescale(sub.constituents, rng, low=aug.low, high=aug.high)
        else:
            return sub.constituents, sub.pt, sub.eta, sub.phi
        return a.constituents, a.axis.pt, a.axis.eta, a.axis.phi

    def graphs(
        self, sample: JetSample, idx: np.ndarray, rng: np.random.Generator | None = None
    ) -> JetGraphs:
        """``JetGraphs`` of the jets at ``idx``."""

        return build_graphs(*self.jets(sample, idx, rng), self.graph_config)

    def __call__(
        self, sample: JetSample, idx: np.ndarray, rng: np.random.Generator | None = None
    ) -> ModelInputs:
        """Backbone inputs for the jets at ``idx`` (PyG Batch, DGL graph or (x, mask)).

        ``rng`` (training only) draws the random augmentation, if configured.
        """
        if self.kind == "dense":
            return self.dense(sample, idx, rng)
        g = self.graphs(sample, idx, rng)
        if self.kind == "pyg":
            return to_pyg(g).to(self.device)

        return to_dgl(g).to(self.device)

    def dense(
        self, sample: JetSample, idx: np.ndarray, rng: np.random.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x [B, N, 3], mask [B, N])``, N = the batch's largest (capped) jet size."""

        cons, pt, eta, phi = self.jets(sample, idx, rng)
        n = int(ak.max(ak.num(cons, axis=1), initial=1))
        cap = self.graph_config.max_constituents
        x, mask = to_dense(
            cons, pt, eta, phi, max_n=min(n, cap or n), features=self.graph_config.node_features
        )
        return (
            torch.from_numpy(x).to(self.device),
            torch.from_numpy(mask).to(self.device),
        )

    def labels(self, sample: JetSample, idx: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.clip(sample.label[idx], 0, None), device=self.device)

    def dims(self, sample: JetSample) -> tuple[int, int | None]:
        """Node and edge feature counts of this input kind (from a one-jet probe)."""
        if self.kind == "dense":
            return int(self.dense(sample, np.arange(min(1, len(sample))))[0].shape[-1]), None
        g = self.graphs(sample, np.arange(min(1, len(sample))))
        return int(g.x.shape[1]), int(g.edge_attr.shape[1])
