"""Event features of the two leading jets: the LHCO features-file columns plus more.

:func:`compute_features` clusters a batch of :class:`~adsearch.io.events.Events` with anti-kT
(:func:`adsearch.jets.cluster.cluster`), keeps the two leading-pT jets, and returns a
:class:`Features`: a column table with exactly the LHCO R&D features-file columns first
(``pxj1, pyj1, pzj1, mj1, tau1j1, tau2j1, tau3j1, pxj2, ..., tau3j2, label``), then ``mjj``,
the jets' ``pt/eta/phi``, the ratios ``tau21``/``tau32`` and ``event_index``; and each jet's
constituents (jagged) for the graph stage.

Conventions
-----------
* Jet order: j1 is the pT-leading jet, j2 the sub-leading one, as in the LHCO features files
  (which are not mass-ordered: CATHODE/CWoLa-style preparations re-order by mass afterwards).
* Masses: ``m = sqrt(max(E^2 - |p|^2, 0))``; rounding can make a massless one-particle jet
  slightly space-like, which is clipped to 0 (as the LHCO production's ``max(m, 0)``).
* N-subjettiness: :func:`adsearch.jets.nsubjettiness.nsubjettiness` (fastjet-contrib
  ``OnePass_KT_Axes``, ``NormalizedMeasure(beta=1, R0=r)``); a jet with at most N constituents
  has tau_N = 0 and ``tau21``/``tau32`` are 1 where their denominator is 0 (see
  :func:`adsearch.jets.nsubjettiness.tau_ratio`). Such one-constituent jets are counted in
  ``Features.n_single_constituent_jets``.
* Events with fewer than two jets above ``min_pt`` are not in the table; they are counted in
  ``Features.n_fewer_than_two_jets`` (and logged), and ``event_index`` gives the input row of
  every kept event, so nothing disappears silently.
* ``label``: 1 signal, 0 background, :data:`UNLABELLED` (-1) when the input has no labels
  (e.g. Black Boxes). The column is always present so all feature files share one layout;
  :func:`adsearch.jets.featurefile.export_lhco_features_h5` drops it for unlabelled data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np
import vector

from adsearch.errors import InputError
from adsearch.jets.cluster import cluster
from adsearch.jets.nsubjettiness import nsubjettiness, tau_ratio

if TYPE_CHECKING:
    import pandas as pd

    from adsearch.io.events import Events

vector.register_awkward()

__all__ = [
    "COLUMNS",
    "CONSTITUENT_FIELDS",
    "EXTRA_COLUMNS",
    "LHCO_COLUMNS",
    "UNLABELLED",
    "Features",
    "compute_features",
    "lhco_derived",
    "lhco_mjj",
]

log = logging.getLogger(__name__)

#: The LHCO 2020 features-file columns, in the file's order.
LHCO_COLUMNS: tuple[str, ...] = (
    "pxj1", "pyj1", "pzj1", "mj1", "tau1j1", "tau2j1", "tau3j1",
    "pxj2", "pyj2", "pzj2", "mj2", "tau1j2", "tau2j2", "tau3j2",
    "label",
)  # fmt: skip
#: Columns added after the LHCO ones.
EXTRA_COLUMNS: tuple[str, ...] = (
    "mjj", "ptj1", "etaj1", "phij1", "ptj2", "etaj2", "phij2",
    "tau21j1", "tau32j1", "tau21j2", "tau32j2", "event_index",
)  # fmt: skip
#: Every column of :attr:`Features.table`, in order.
COLUMNS: tuple[str, ...] = LHCO_COLUMNS + EXTRA_COLUMNS
#: Fields of the constituent records kept per jet.
CONSTITUENT_FIELDS: tuple[str, ...] = ("pt", "eta", "phi")
#: ``label`` value of events from a file without labels.
UNLABELLED: float = -1.0


def _empty_constituents() -> ak.Array:
    return _pack_constituents(np.zeros((0,)), np.zeros((0,)), np.zeros((0,)), np.zeros(0, int))


def _pack_constituents(
    pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, counts: np.ndarray
) -> ak.Array:
    """Canonical ``events * 2 * var * {pt, eta, phi}`` from flat arrays and per-jet counts.

    ``counts`` has two entries per event (j1, j2). Built from plain buffers so every batch
    has the same awkward form (and so the same Arrow/Parquet schema).
    """
    flat = ak.zip(
        {
            "pt": np.ascontiguousarray(pt, dtype=np.float64),
            "eta": np.ascontiguousarray(eta, dtype=np.float64),
            "phi": np.ascontiguousarray(phi, dtype=np.float64),
        }
    )
    per_jet = ak.unflatten(flat, np.asarray(counts, dtype=np.int64))
    return ak.Array(ak.contents.RegularArray(per_jet.layout, 2, zeros_length=0))


@dataclass
class Features:
    """Features of the events that have at least two jets.

    Attributes
    ----------
    table : dict[str, np.ndarray]
        One 1-D array per column of :data:`COLUMNS`, in that order (float64; ``event_index``
        int64). Rows are the kept events, in input order.
    constituents : ak.Array
        ``events * 2 * var * {pt, eta, phi}``: constituents of j1 and j2, by decreasing pT.
    n_input : int
        Events given to :func:`compute_features`.
    n_fewer_than_two_jets : int
        Events without two jets above ``min_pt`` (not in ``table``).
    n_single_constituent_jets : int
        Kept jets (j1 or j2) with exactly one constituent (tau_N = 0, ratios = 1).
    meta : dict
        Provenance: jet radius, pT threshold, N-subjettiness definition, source, ...

    Examples
    --------
    >>> f = Features.empty()
    >>> len(f), list(f.table)[:4], f.n_input
    (0, ['pxj1', 'pyj1', 'pzj1', 'mj1'], 0)
    """

    table: dict[str, np.ndarray]
    constituents: ak.Array
    n_input: int
    n_fewer_than_two_jets: int
    n_single_constituent_jets: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if tuple(self.table) != COLUMNS:
            raise InputError(
                f"features table columns {list(self.table)} differ from {list(COLUMNS)}"
            )
        n = len(self.constituents)
        bad = [k for k, v in self.table.items() if np.ndim(v) != 1 or len(v) != n]
        if bad:
            raise InputError(f"features columns {bad} do not have {n} rows (one per event)")
        if self.n_input - self.n_fewer_than_two_jets != n:
            raise InputError(
                f"features counts inconsistent: {self.n_input} input - "
                f"{self.n_fewer_than_two_jets} with fewer than two jets != {n} rows"
            )

    def __len__(self) -> int:
        return len(self.constituents)

    @property
    def labelled(self) -> bool:
        """True when every kept event has a 0/1 truth label."""
        return bool(np.all(self.table["label"] != UNLABELLED))

    @classmethod
    def empty(cls, meta: dict[str, Any] | None = None) -> Features:
        """A Features with no events (all columns present, zero rows)."""
        table = {c: np.zeros(0, np.int64 if c == "event_index" else np.float64) for c in COLUMNS}
        return cls(table, _empty_constituents(), 0, 0, 0, dict(meta or {}))

    @classmethod
    def concatenate(cls, parts: list[Features]) -> Features:
        """Join batches (e.g. chunks of one file) in order; counters add up.

        ``meta`` is taken from the first part.
        """
        if not parts:
            return cls.empty()
        table = {c: np.concatenate([p.table[c] for p in parts]) for c in COLUMNS}
        return cls(
            table=table,
            constituents=ak.concatenate([p.constituents for p in parts], axis=0),
            n_input=sum(p.n_input for p in parts),
            n_fewer_than_two_jets=sum(p.n_fewer_than_two_jets for p in parts),
            n_single_constituent_jets=sum(p.n_single_constituent_jets for p in parts),
            meta=dict(parts[0].meta),
        )

    @classmethod
    def from_lhco_frame(cls, frame: Any, meta: dict[str, Any] | None = None) -> Features:
        """Features of an LHCO features table (the 14 jet columns, ``label`` optional).

        The derived columns (mjj, jet pT/η/φ, τ ratios) are computed from the jets
        (:func:`lhco_derived`); ``event_index`` is the row number. There are no constituents
        (every jet's list is empty): enough for event-level scores (:mod:`adsearch.weak`), not
        for the constituent networks.

        >>> import pandas as pd
        >>> row = dict(pxj1=1000.0, pyj1=0.0, pzj1=0.0, mj1=100.0, tau1j1=0.5, tau2j1=0.2,
        ...            tau3j1=0.1, pxj2=-1000.0, pyj2=0.0, pzj2=0.0, mj2=50.0, tau1j2=0.4,
        ...            tau2j2=0.2, tau3j2=0.1)
        >>> f = Features.from_lhco_frame(pd.DataFrame([row]))
        >>> round(float(f.table["mjj"][0]), 1), f.table["label"].tolist(), f.labelled
        (2006.2, [-1.0], False)
        """
        n = len(frame)
        missing = [c for c in LHCO_COLUMNS[:-1] if c not in frame]
        if missing:
            raise InputError(f"LHCO features table lacks column(s) {', '.join(missing)}")
        t: dict[str, np.ndarray] = {
            c: np.asarray(frame[c], dtype=np.float64) for c in LHCO_COLUMNS[:-1]
        }
        t["label"] = (
            np.asarray(frame["label"], dtype=np.float64)
            if "label" in frame
            else np.full(n, UNLABELLED)
        )
        t.update(lhco_derived(t))
        t["event_index"] = np.arange(n, dtype=np.int64)
        none = _pack_constituents(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(2 * n, int))
        return cls({c: t[c] for c in COLUMNS}, none, n, 0, 0, dict(meta or {}))

    def take(self, rows: np.ndarray) -> Features:
        """The events ``rows`` (indices, in that order) as a new Features; its counters
        describe the subset (``n_input`` = rows kept)."""
        rows = np.asarray(rows, dtype=np.int64)
        table = {c: v[rows] for c, v in self.table.items()}
        cons = self.constituents[rows]
        n_single = int(np.sum(ak.num(ak.flatten(cons, axis=1), axis=1) == 1)) if len(rows) else 0
        return Features(table, cons, len(rows), 0, n_single, dict(self.meta))

    def lhco_frame(self) -> pd.DataFrame:
        """The 15 LHCO columns as a pandas DataFrame (``label`` dropped if unlabelled)."""
        import pandas as pd

        cols = LHCO_COLUMNS if self.labelled else LHCO_COLUMNS[:-1]
        return pd.DataFrame({c: self.table[c] for c in cols})


def lhco_mjj(t: Any) -> np.ndarray:
    """Dijet invariant mass (GeV) of each row of an LHCO features table.

    Each jet's energy is ``sqrt(px² + py² + pz² + m²)`` from its ``px, py, pz, m`` columns
    (``pxj1, pyj1, pzj1, mj1`` and the same for ``j2``); ``mjj² = (E1 + E2)² - |p1 + p2|²``,
    clipped at 0 against rounding. ``t``: a DataFrame or a mapping of columns.

    Examples
    --------
    >>> import pandas as pd
    >>> row = {"pxj1": 1000.0, "pyj1": 0.0, "pzj1": 0.0, "mj1": 0.0,
    ...        "pxj2": -1000.0, "pyj2": 0.0, "pzj2": 0.0, "mj2": 0.0}
    >>> lhco_mjj(pd.DataFrame([row])).tolist()
    [2000.0]
    """
    c = {k: np.asarray(t[k], dtype=np.float64) for k in
         ("pxj1", "pyj1", "pzj1", "mj1", "pxj2", "pyj2", "pzj2", "mj2")}  # fmt: skip
    e = [np.sqrt(c[f"pxj{k}"] ** 2 + c[f"pyj{k}"] ** 2 + c[f"pzj{k}"] ** 2 + c[f"mj{k}"] ** 2)
         for k in (1, 2)]  # fmt: skip
    p2 = sum((c[f"p{a}j1"] + c[f"p{a}j2"]) ** 2 for a in "xyz")
    return np.sqrt(np.clip((e[0] + e[1]) ** 2 - p2, 0.0, None))


def lhco_derived(t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """mjj, jet pT/η/φ and τ21/τ32 of both jets from the LHCO jet columns (GeV).

    >>> z = np.zeros(1)
    >>> t = dict(pxj1=z + 1000, pyj1=z, pzj1=z, mj1=z, pxj2=z - 1000, pyj2=z, pzj2=z, mj2=z,
    ...          tau1j1=z + 1, tau2j1=z, tau3j1=z, tau1j2=z + 1, tau2j2=z, tau3j2=z)
    >>> float(lhco_derived(t)["mjj"][0]), float(lhco_derived(t)["ptj1"][0])
    (2000.0, 1000.0)
    """
    out = {"mjj": lhco_mjj(t)}
    for k in (1, 2):
        pt = np.hypot(t[f"pxj{k}"], t[f"pyj{k}"])
        out[f"ptj{k}"] = pt
        out[f"etaj{k}"] = np.arcsinh(t[f"pzj{k}"] / np.maximum(pt, 1e-12))
        out[f"phij{k}"] = np.arctan2(t[f"pyj{k}"], t[f"pxj{k}"])
        out[f"tau21j{k}"] = tau_ratio(t[f"tau2j{k}"], t[f"tau1j{k}"])
        out[f"tau32j{k}"] = tau_ratio(t[f"tau3j{k}"], t[f"tau2j{k}"])
    return out


def compute_features(
    events: Events,
    r: float = 1.0,
    min_pt: float = 20.0,
    n_jets: int = 2,
    *,
    first_index: int = 0,
    beta: float = 1.0,
    axes: str = "OnePass_KT_Axes",
) -> Features:
    """Cluster ``events`` and compute the features of their two leading jets.

    Parameters
    ----------
    events : adsearch.io.events.Events
        ``particles`` (``events * var * {pt, eta, phi[, mass]}``), ``labels`` (or None),
        ``source``.
    r : float
        Anti-kT radius, also R0 of the N-subjettiness normalisation (LHCO: 1.0).
    min_pt : float
        Jet pT threshold in GeV: jets below it do not count.
    n_jets : int
        Jets kept per event; only 2 (the LHCO layout) is supported.
    first_index : int
        Input-file row of ``events[0]`` (for ``event_index`` when reading in chunks).
    beta, axes
        N-subjettiness angular exponent and axes (LHCO: 1, ``OnePass_KT_Axes``).

    Examples
    --------
    >>> import numpy as np
    >>> from adsearch.io.events import Events, make_particles
    >>> p = make_particles([[500.0, 400.0, 90.0], [300.0]], [[0.0, 0.5, 0.1], [0.0]],
    ...                    [[0.0, 3.1, 0.2], [1.0]])
    >>> f = compute_features(Events(p, np.array([1, 0])))
    >>> len(f), f.n_fewer_than_two_jets, f.table["event_index"].tolist()
    (1, 1, [0])
    >>> f.table["label"].tolist(), f.constituents.pt.tolist()
    ([1.0], [[[500.0, 90.0], [400.0]]])
    """
    if n_jets != 2:
        raise InputError(
            f"n_jets = {n_jets}: only the two leading jets (LHCO layout) are supported"
        )
    if not (np.isfinite(r) and r > 0):
        raise InputError(f"jet radius r must be > 0, got {r!r}")
    if not (np.isfinite(min_pt) and min_pt >= 0):
        raise InputError(f"min_pt must be >= 0 GeV, got {min_pt!r}")
    source = getattr(events, "source", "") or ""
    meta: dict[str, Any] = {
        "algorithm": "antikt",
        "r": float(r),
        "min_pt": float(min_pt),
        "jet_order": "pt",
        "nsubjettiness": {
            "axes": axes,
            "measure": "NormalizedMeasure",
            "beta": float(beta),
            "r0": float(r),
            "ratio_zero_denominator": 1.0,
        },
        "source": str(source),
    }
    particles = events.particles
    labels = events.labels
    n_input = len(particles)
    if n_input == 0:
        return Features.empty(meta)

    clustered = cluster(particles, r=r, min_pt=min_pt)
    n_found = ak.to_numpy(ak.num(clustered.jets, axis=1))
    keep = n_found >= 2
    n_fewer = int(n_input - keep.sum())
    if n_fewer:
        log.warning(
            "%s: %d of %d events have fewer than two anti-kT R=%g jets with pT > %g GeV "
            "(counted, not in the features table)",
            source or "events", n_fewer, n_input, r, min_pt,
        )  # fmt: skip
    jets = clustered.jets[keep][:, :2]
    cons = clustered.constituents[keep][:, :2]
    j1, j2 = jets[:, 0], jets[:, 1]

    # Constituents of j1, j2 flattened to a list of jets (j1, j2, j1, j2, ...).
    cons_jets = ak.flatten(cons, axis=1)
    counts = ak.to_numpy(ak.num(cons_jets, axis=1))
    taus = nsubjettiness(cons_jets, n_max=3, beta=beta, r=r, axes=axes).reshape(-1, 2, 3)

    table: dict[str, np.ndarray] = {}
    for k, jet in ((1, j1), (2, j2)):
        t = taus[:, k - 1, :]
        table[f"pxj{k}"] = ak.to_numpy(jet.px).astype(np.float64)
        table[f"pyj{k}"] = ak.to_numpy(jet.py).astype(np.float64)
        table[f"pzj{k}"] = ak.to_numpy(jet.pz).astype(np.float64)
        table[f"mj{k}"] = np.sqrt(np.clip(ak.to_numpy(jet.mass2), 0.0, None))
        for n in (1, 2, 3):
            table[f"tau{n}j{k}"] = np.ascontiguousarray(t[:, n - 1])
    if labels is None:
        table["label"] = np.full(len(jets), UNLABELLED)
    else:
        table["label"] = np.asarray(labels, dtype=np.float64)[keep]
    table["mjj"] = np.sqrt(np.clip(ak.to_numpy((j1 + j2).mass2), 0.0, None))
    for k, jet in ((1, j1), (2, j2)):
        table[f"ptj{k}"] = ak.to_numpy(jet.pt).astype(np.float64)
        table[f"etaj{k}"] = ak.to_numpy(jet.eta).astype(np.float64)
        table[f"phij{k}"] = ak.to_numpy(jet.phi).astype(np.float64)
    for k in (1, 2):
        table[f"tau21j{k}"] = tau_ratio(table[f"tau2j{k}"], table[f"tau1j{k}"])
        table[f"tau32j{k}"] = tau_ratio(table[f"tau3j{k}"], table[f"tau2j{k}"])
    table["event_index"] = int(first_index) + np.flatnonzero(keep).astype(np.int64)
    table = {c: table[c] for c in COLUMNS}

    flat = ak.flatten(cons_jets, axis=1)
    constituents = _pack_constituents(
        ak.to_numpy(flat.pt), ak.to_numpy(flat.eta), ak.to_numpy(flat.phi), counts
    )
    return Features(
        table=table,
        constituents=constituents,
        n_input=n_input,
        n_fewer_than_two_jets=n_fewer,
        n_single_constituent_jets=int(np.sum(counts == 1)),
        meta=meta,
    )
