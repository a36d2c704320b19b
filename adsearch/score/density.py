"""Unsupervised event score: the rarity of the two jets' substructure under a learned density.

A jet is anomalous when its substructure is rare among the jets of the data. This module
learns the per-jet density ``p(x)`` of a few substructure features with a normalizing flow
(zuko's neural spline flow, through :class:`adsearch.weak.flow.ConditionalFlow` with a
constant condition) fitted on the jets of the events themselves — background-dominated, no
labels — and scores an event by ``-(log p(x_j1) + log p(x_j2))``: the negative log-likelihood
of its two jets, treated as independent.

The default features are ``log tau21`` and ``log tau32`` of each jet (N-subjettiness ratios,
Thaler & Van Tilburg, JHEP 03 (2011) 015): dimensionless, so the score is nearly blind to the
jet mass and hence to mjj, yet 2- and 3-prong jets sit in the rare low-τ tails of the QCD
density. ``log_mass`` adds the jet mass (log GeV), which makes the score also flag heavy jets
and more correlated with mjj. Density-based unsupervised scores on such jet observables are
among the LHC Olympics 2020 approaches (G. Kasieczka et al., "The LHC Olympics 2020", Rep.
Prog. Phys. 84 (2021) 124201); a flow is used instead of a Gaussian mixture because its
density has no component-count choice and follows the sharp τ edges (measured here: AUC
0.897 / 0.844 for the flow against 0.893 / 0.836 for a 16-component mixture on the 2- /
3-prong benchmark; docs/benchmarks.md).

Only the named feature columns reach the flow: a ``label`` column of the table is never read.

Examples
--------
>>> from adsearch.weak.toys import planted_toy, toy_table
>>> table = toy_table(planted_toy(2000, 0, seed=0))
>>> cfg = DensityScoreConfig(transforms=2, hidden=[16], max_epochs=3)
>>> dens = JetDensity(cfg).fit(table)
>>> s = dens.score(table)
>>> s.shape, bool(np.isfinite(s).all())
((2000,), True)
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from pickle import UnpicklingError
from typing import Any

import numpy as np

from adsearch.errors import ConfigError, InputError
from adsearch.io.atomic import atomic_path
from adsearch.score.baselines import TAU_EPS, _column
from adsearch.weak.config import FlowConfig
from adsearch.weak.flow import ConditionalFlow

__all__ = [
    "DENSITY_FEATURES",
    "DensityScoreConfig",
    "JetDensity",
    "density_score_table",
    "jet_features",
]

#: per-jet features the density can use (computed from the LHCO event columns)
DENSITY_FEATURES: tuple[str, ...] = ("log_tau21", "log_tau32", "log_mass")
#: ratios and masses (GeV) are floored here before the logarithm (a jet of one or two
#: constituents has tau2 = 0 or tau3 = 0)
FLOOR = {"log_tau21": 1e-3, "log_tau32": 1e-3, "log_mass": 1.0}


@dataclass
class DensityScoreConfig:
    """The unsupervised density score (``score.method: density``).

    Attributes
    ----------
    features : per-jet features of :data:`DENSITY_FEATURES` (default ``log_tau21``,
        ``log_tau32``).
    transforms, hidden : blocks of zuko's neural spline flow and the widths of their
        networks (2-3 standardised log features need no CATHODE-sized flow).
    lr, batch_size, max_epochs, patience, val_fraction : Adam training with a constant
        rate; early stopping after ``patience`` epochs without a better loss on the held-out
        ``val_fraction`` of the jets, the best epoch kept.
    max_jets : the flow is fitted on at most this many jets (a seeded random subset of the
        events' two jets); ``None``: all.
    seed : seed of the subset, the validation split and the flow.
    """

    features: list[str] = field(default_factory=lambda: ["log_tau21", "log_tau32"])
    transforms: int = 4
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    lr: float = 1e-3
    batch_size: int = 512
    max_epochs: int = 60
    patience: int = 5
    val_fraction: float = 0.1
    max_jets: int | None = 200_000
    seed: int = 0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~adsearch.errors.ConfigError` naming the bad field."""
        if not self.features:
            raise ConfigError("score:density:features: need at least one feature")
        for name in self.features:
            if name not in DENSITY_FEATURES:
                raise ConfigError(
                    f"score:density:features: unknown feature {name!r} "
                    f"(allowed: {', '.join(DENSITY_FEATURES)})"
                )
        if len(set(self.features)) != len(self.features):
            raise ConfigError("score:density:features: a feature is named twice")
        if self.max_jets is not None and self.max_jets < 20:
            raise ConfigError(f"score:density:max_jets: must be >= 20, got {self.max_jets}")
        try:
            self.flow_config()
        except ConfigError as e:  # name this section, not the flow's
            raise ConfigError(str(e).replace("weak:flow", "score:density")) from None

    def flow_config(self) -> FlowConfig:
        """The :class:`~adsearch.weak.FlowConfig` of the flow (spline, no logit, constant
        rate, best epoch only)."""
        return FlowConfig(
            kind="nsf",
            transforms=self.transforms,
            hidden=list(self.hidden),
            lr=self.lr,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            patience=self.patience,
            val_fraction=self.val_fraction,
            logit=False,
            lr_schedule="constant",
            n_best=1,
        )


def jet_features(
    table: Mapping[str, Any], names: Sequence[str], source: str = "features table"
) -> np.ndarray:
    """``[n_events, 2, len(names)]`` per-jet features (jet 1 = the table's ``j1``).

    >>> t = {"mj1": np.array([100.0]), "mj2": np.array([0.0]),
    ...      "tau1j1": np.array([0.5]), "tau2j1": np.array([0.25]), "tau3j1": np.array([0.1]),
    ...      "tau1j2": np.array([0.0]), "tau2j2": np.array([0.0]), "tau3j2": np.array([0.0])}
    >>> jet_features(t, ["log_tau21", "log_mass"]).round(3).tolist()
    [[[-0.693, 4.605], [-6.908, 0.0]]]
    """
    out = []
    for j in (1, 2):
        t1, t2, t3 = (_column(table, f"tau{k}j{j}", source) for k in (1, 2, 3))
        raw = {
            "log_tau21": t2 / (t1 + TAU_EPS),
            "log_tau32": t3 / (t2 + TAU_EPS),
            "log_mass": _column(table, f"mj{j}", source),
        }
        out.append(np.stack([np.log(np.maximum(raw[n], FLOOR[n])) for n in names], axis=-1))
    return np.stack(out, axis=1)


@dataclass
class JetDensity:
    """A per-jet density of substructure features and the event score it gives.

    ``fit(table)`` trains the flow on the jets of the table's events; ``jet_log_density``
    is ``log p`` of each jet, ``score`` the event score ``-(log p_j1 + log p_j2)`` (larger
    = more anomalous). Same seed, same density.
    """

    cfg: DensityScoreConfig = field(default_factory=DensityScoreConfig)
    flow: ConditionalFlow | None = None
    n_jets_fit: int = 0
    seconds: float = 0.0

    def fit(
        self, table: Mapping[str, Any], mask: np.ndarray | None = None, progress: bool | None = None
    ) -> JetDensity:
        """Fit on the events of ``table`` selected by the boolean ``mask`` (all if None)."""
        x = jet_features(table, self.cfg.features)
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (x.shape[0],):
                raise InputError(f"density: mask shape {mask.shape}, expected ({x.shape[0]},)")
            x = x[mask]
        jets = x.reshape(-1, x.shape[-1])
        if len(jets) < 20:
            raise InputError(f"density: {len(jets)} jets are too few to fit a density")
        rng = np.random.default_rng(self.cfg.seed)
        if self.cfg.max_jets is not None and len(jets) > self.cfg.max_jets:
            jets = jets[np.sort(rng.choice(len(jets), self.cfg.max_jets, replace=False))]
        t0 = time.perf_counter()
        # the flow of adsearch.weak with one constant condition is an unconditional flow
        flow = ConditionalFlow(self.cfg.flow_config())
        self.flow = flow.fit(jets, np.zeros(len(jets)), self.cfg.seed, progress=progress)
        self.seconds = time.perf_counter() - t0
        self.n_jets_fit = len(jets)
        return self

    def _flow(self) -> ConditionalFlow:
        if self.flow is None:
            raise InputError("density: not fitted (call fit first)")
        return self.flow

    def jet_log_density(self, table: Mapping[str, Any]) -> np.ndarray:
        """``[n_events, 2]``: ``log p`` of each event's two jets."""
        flow = self._flow()
        x = jet_features(table, self.cfg.features)
        jets = x.reshape(-1, x.shape[-1])
        return flow.log_prob(jets, np.zeros(len(jets))).reshape(-1, 2)

    def score(self, table: Mapping[str, Any]) -> np.ndarray:
        """Event score ``-(log p_j1 + log p_j2)`` (larger = more anomalous)."""
        return -self.jet_log_density(table).sum(axis=1)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the density (configuration, flow) atomically with ``torch.save``."""
        import dataclasses

        import torch

        blob = {
            "config": dataclasses.asdict(self.cfg),
            "flow": self._flow().to_blob(),
            "n_jets_fit": self.n_jets_fit,
        }
        with atomic_path(path) as tmp:
            torch.save(blob, tmp)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> JetDensity:
        """Inverse of :meth:`save`."""
        import torch

        try:
            blob = torch.load(path, weights_only=False)
            cfg = DensityScoreConfig(**blob["config"])
        except (
            OSError,
            KeyError,
            TypeError,
            RuntimeError,
            EOFError,
            UnpicklingError,
            ConfigError,
        ) as e:
            raise InputError(f"{path}: not a saved density ({type(e).__name__})") from None
        return cls(cfg, ConditionalFlow.from_blob(blob["flow"]), int(blob.get("n_jets_fit", 0)))


def density_score_table(
    features_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    cfg: DensityScoreConfig,
    products_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Fit the density on every event of a features file and score them all.

    The scores table has the layout of :func:`adsearch.score.weak_score_table` (``score``
    the event score, ``score_j1`` / ``score_j2`` the jets' ``-log p``, every event a test
    event: the density never sees a label). ``products_dir`` receives ``density.pt``
    (:meth:`JetDensity.save`) and ``weak.json`` (what ran).

    >>> import pyarrow.parquet as pq, tempfile, pathlib
    >>> from adsearch.weak.toys import planted_toy, toy_table
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> toy_table(planted_toy(500, 20, seed=0)).to_parquet(d / "f.parquet")
    >>> small = DensityScoreConfig(transforms=2, hidden=[8], max_epochs=2)
    >>> info = density_score_table(d / "f.parquet", d / "s.parquet", small, d / "out")
    >>> t = pq.read_table(d / "s.parquet").to_pandas()
    >>> info["n_data"], bool(np.allclose(t.score, t.score_j1 + t.score_j2))
    (520, True)
    """
    from adsearch.io.jsonfile import write_json
    from adsearch.score.weak import write_scores_table
    from adsearch.weak.features import read_table

    table = read_table(features_path, str(features_path))
    dens = JetDensity(cfg).fit(table, progress=progress)
    per_jet = -dens.jet_log_density(table)
    flow = dens._flow()
    info: dict[str, Any] = {
        "method": "density",
        "features": list(cfg.features),
        "n_data": len(table),
        "n_jets_fit": dens.n_jets_fit,
        "flow_epochs": len(flow.history),
        "val_nll": float(np.min(flow.history)),
        "seconds_flow": dens.seconds,
    }
    if products_dir is not None:
        import dataclasses

        d = Path(products_dir)
        d.mkdir(parents=True, exist_ok=True)
        dens.save(d / "density.pt")
        write_json(d / "weak.json", {**info, "config": dataclasses.asdict(cfg)})
    write_scores_table(
        table, per_jet.sum(axis=1), out_path, "density", features_path, per_jet=per_jet
    )
    return info
