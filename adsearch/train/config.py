"""Training configuration: one YAML file with sections data, graph, model, optim, runtime.

Defaults follow the ATLAS LHCO study (A. D'Avanzo, EuCAIFCon 2025): GIN DeepSVDD, width 128,
batch 1024, split 20 % train (background only) / 1 % validation / 79 % test. Unknown keys
are refused.

Examples
--------
>>> from adsearch.config import from_dict
>>> cfg = from_dict(TrainConfig, {"model": {"backbone": "part", "objective": "ae"}})
>>> cfg.model.n_layers, cfg.optim.batch_size, cfg.data.mode
(3, 1024, 'background-only')
>>> from_dict(TrainConfig, {"optim": {"lr": -1}})
Traceback (most recent call last):
...
adsearch.errors.ConfigError: optim:lr: must be > 0, got -1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from adsearch.config import check_sections, load_yaml, to_dict
from adsearch.errors import ConfigError
from adsearch.graphs import GraphConfig
from adsearch.graphs.symmetry import MAX_BOOST
from adsearch.models.registry import ModelConfig, default_svdd_metric

__all__ = [
    "AugmentConfig",
    "DataConfig",
    "OptimConfig",
    "RuntimeConfig",
    "SymmetryConfig",
    "TrainConfig",
    "key_dict",
    "load_train_config",
]


@dataclass
class AugmentConfig:
    """Mass-decorrelating transformation of the constituents (:mod:`adsearch.graphs.augment`).

    ``random-mass``: every training jet's angular offsets from its axis are scaled by a random
    log-uniform factor in [``low``, ``high``] (a new draw per epoch, seeded), so the jet mass
    (~ the factor) stops being a feature of typical jets; validation and scoring see the jets
    as they are. ``to-mass``: every jet, in training and in scoring, is rescaled to the
    reference mass ``mass`` (GeV), removing the mass from the inputs. ``standardise``: every
    jet, in training and in scoring, is boosted to ``pt`` (GeV) and then rescaled to ``mass``,
    so only its shape is left; this is the transform that decorrelated a DeepSVDD score from
    the jet mass in ``benchmarks/bench_graphs.py --sculpting``. ``none``: off.
    """

    kind: Literal["none", "random-mass", "to-mass", "standardise"] = "none"
    low: float = 0.5
    high: float = 2.0
    mass: float = 100.0
    pt: float = 1500.0

    def validate(self) -> None:
        if not 0.0 < self.low <= self.high:
            raise ConfigError(f"data:augment: need 0 < low <= high, got {self.low}, {self.high}")
        if not self.mass > 0:
            raise ConfigError(f"data:augment:mass: must be > 0, got {self.mass}")
        if not self.pt > 0:
            raise ConfigError(f"data:augment:pt: must be > 0, got {self.pt}")


@dataclass
class SymmetryConfig:
    """Symmetry augmentation of the training jets (:mod:`adsearch.graphs.symmetry`).

    Every training batch (never validation or scoring) is transformed with a new seeded
    draw per epoch; independent of ``data.augment``, which applies first when both are on.
    Per jet, about its axis (Δη, Δφ offsets of the constituents):

    - ``boost = ε`` (in [0, 0.5]; 0 = off): an exact Lorentz boost along the jet axis by
      rapidity ``y ~ U[-ε, ε]``; to leading order ``pT_i -> e^y pT_i`` and
      ``(Δη, Δφ) -> e^-y (Δη, Δφ)``, the jet mass invariant;
    - ``rotate``: ``(Δη, Δφ) -> (Δη cos θ - Δφ sin θ, Δη sin θ + Δφ cos θ)``,
      ``θ ~ U[0, 2π)``; pT kept, jet mass kept to leading order in ΔR²;
    - ``reflect``: ``Δη -> -Δη`` with probability 1/2; pT and jet mass kept exactly.

    With ``graph.frame: principal`` the frame undoes rotations and reflections (only the
    boost is left). All off by default.
    """

    rotate: bool = False
    reflect: bool = False
    boost: float = 0.0

    @property
    def active(self) -> bool:
        """Whether any transformation is on."""
        return self.rotate or self.reflect or self.boost > 0

    def validate(self) -> None:
        if not 0.0 <= self.boost <= MAX_BOOST:  # also NaN
            raise ConfigError(
                f"data:symmetry:boost: must be in [0, {MAX_BOOST}] (boost rapidity range), "
                f"got {self.boost}"
            )


def check_split(
    train_fraction: float, val_fraction: float, max_events: int | None, norm_jets: int
) -> None:
    """Check the event split and sampling fields of a ``data`` section (training and
    pretraining share them); raise :class:`~adsearch.errors.ConfigError` naming the field."""
    for name, v in (("train_fraction", train_fraction), ("val_fraction", val_fraction)):
        if not 0.0 < v < 1.0:
            raise ConfigError(f"data:{name}: must be in (0, 1), got {v}")
    if train_fraction + val_fraction > 1.0:
        raise ConfigError("data: train_fraction + val_fraction must be <= 1")
    if max_events is not None and max_events < 1:
        raise ConfigError(f"data:max_events: must be >= 1, got {max_events}")
    if norm_jets < 2:
        raise ConfigError(f"data:norm_jets: must be >= 2, got {norm_jets}")


@dataclass
class DataConfig:
    """Which events train the model.

    ``mode="background-only"`` (needs labels) trains unsupervised objectives on the
    background events of the training split, as in the LHCO R&D studies;
    ``mode="data-like"`` trains on the whole unlabelled mixture of the training split
    (signal at its natural small fraction), which is what a search on real data does.
    Supervised objectives always use both classes. Splits are per event: both jets of an
    event land in the same split. The test split is the rest (79 % by default).
    ``norm_jets`` training jets (a seeded random subset) fit the model's input
    standardisation (:class:`adsearch.models.norm.InputNorm`), stored with the model.
    ``augment`` (mass decorrelation) and ``symmetry`` (random rotations, reflections and
    boosts of the training jets) are independent and can be combined.
    """

    path: str = ""
    mode: Literal["background-only", "data-like"] = "background-only"
    train_fraction: float = 0.2
    val_fraction: float = 0.01
    max_events: int | None = None
    seed: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    norm_jets: int = 20_000
    symmetry: SymmetryConfig = field(default_factory=SymmetryConfig)

    def validate(self) -> None:
        check_sections(self, "data")
        check_split(self.train_fraction, self.val_fraction, self.max_events, self.norm_jets)


@dataclass
class OptimConfig:
    """Optimiser (AdamW), global batch size, epochs and early stopping on validation loss.

    ``weight_decay`` is part of the DeepSVDD recipe (Ruff et al.); ``center_batches`` is how
    many training batches of the untrained network define the DeepSVDD centre. A DeepSVDD
    training stops with an error when the collapse monitor's spread, trace cov(z) / ||c||²
    on the validation jets, falls below ``collapse_threshold`` (all jets mapped onto one
    point: the score no longer tells them apart).
    """

    lr: float = 1e-3
    weight_decay: float = 1e-6
    batch_size: int = 1024
    epochs: int = 20
    patience: int = 5
    min_delta: float = 0.0
    grad_clip: float | None = None
    center_batches: int = 10
    collapse_threshold: float = 1e-6

    def validate(self) -> None:
        if not self.lr > 0:  # also NaN (torch's optimiser would raise a ValueError)
            raise ConfigError(f"optim:lr: must be > 0, got {self.lr}")
        if not self.weight_decay >= 0:
            raise ConfigError(f"optim:weight_decay: must be >= 0, got {self.weight_decay}")
        if not self.collapse_threshold >= 0:
            raise ConfigError(
                f"optim:collapse_threshold: must be >= 0, got {self.collapse_threshold}"
            )
        for name in ("batch_size", "epochs", "patience", "center_batches"):
            if getattr(self, name) < 1:
                raise ConfigError(f"optim:{name}: must be >= 1, got {getattr(self, name)}")


@dataclass
class RuntimeConfig:
    """Where and how to run. ``device="auto"`` picks CUDA when available.

    ``amp`` (float16 autocast + gradient scaling) applies on CUDA only; ``compile`` wraps the
    model in ``torch.compile``; ``deterministic`` asks torch for deterministic kernels (CPU
    runs with the same seed reproduce losses bit for bit). ``num_threads`` sets torch's
    intra-op threads (default: torch's choice).
    """

    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = True
    compile: bool = False
    num_threads: int | None = None
    out_dir: str = "run"
    seed: int = 0
    deterministic: bool = True
    progress: bool | None = None
    eval_batch_size: int | None = None

    def validate(self) -> None:
        if self.num_threads is not None and self.num_threads < 1:
            raise ConfigError(f"runtime:num_threads: must be >= 1, got {self.num_threads}")
        if self.eval_batch_size is not None and self.eval_batch_size < 1:
            raise ConfigError("runtime:eval_batch_size: must be >= 1")


@dataclass
class TrainConfig:
    """Complete training configuration (``adsearch train CONFIG.yaml``).

    ``graph`` is passed unchanged to :class:`adsearch.graphs.GraphConfig` (edge mode,
    radius, cap, augmentation; checked there).
    """

    data: DataConfig = field(default_factory=DataConfig)
    graph: dict[str, Any] = field(default_factory=dict)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def validate(self) -> None:
        check_sections(self, "train")
        features = self.graph.get("node_features", GraphConfig.node_features)
        if self.model.encoder is not None and features != "basic":
            raise ConfigError(
                f"graph:node_features: the pretrained encoder (model:encoder) takes the "
                f"'basic' features of padded jets, got {features!r}"
            )
        if self.model.reconstructs and self.model.encoder is None:
            cap = self.graph.get("max_constituents", GraphConfig.max_constituents)
            if cap is None or cap > self.model.max_constituents:
                raise ConfigError(
                    f"graph:max_constituents: the autoencoder decodes at most "
                    f"model:max_constituents = {self.model.max_constituents} constituents; "
                    f"set graph:max_constituents <= that (got {cap})"
                )
        if self.model.objective == "supervised" and self.data.mode == "data-like":
            raise ConfigError(
                "data:mode: 'data-like' has no labels; the supervised objective needs "
                "mode 'background-only' (labelled data)"
            )


def key_dict(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of a ``to_dict(TrainConfig)`` for comparisons and hashes (resume check, pipeline
    cache key): ``data.symmetry`` is left out while it is at its default (off), and
    ``model.encoder`` / ``model.encoder_mode`` / ``model.init`` / ``model.init_mode`` while
    unset, so a config written before those options existed, and the keys of its runs, stay
    the same; an unset ``model.svdd_metric`` is its default's value (configs once wrote it
    out).

    >>> from adsearch.config import from_dict, to_dict
    >>> "symmetry" in key_dict(to_dict(TrainConfig()))["data"]
    False
    >>> on = from_dict(TrainConfig, {"data": {"symmetry": {"rotate": True}}})
    >>> key_dict(to_dict(on))["data"]["symmetry"]["rotate"]
    True
    >>> "encoder" in key_dict(to_dict(TrainConfig()))["model"]
    False
    >>> key_dict(to_dict(TrainConfig()))["model"]["svdd_metric"]
    'mahalanobis'
    """
    out = dict(config)
    data = dict(out.get("data") or {})
    if data.get("symmetry", to_dict(SymmetryConfig())) == to_dict(SymmetryConfig()):
        data.pop("symmetry", None)
    out["data"] = data
    model = dict(out.get("model") or {})
    for name in ("encoder", "encoder_mode", "init", "init_mode"):
        if model.get(name) is None:
            model.pop(name, None)
    if model.get("svdd_metric", "") is None:  # unset: its value (written out before 2026-12)
        objective = str(model.get("objective", ModelConfig.objective))
        model["svdd_metric"] = default_svdd_metric(objective)
    out["model"] = model
    return out


def load_train_config(path: str | Path) -> TrainConfig:
    """Load a :class:`TrainConfig` from YAML; relative ``data.path`` / ``runtime.out_dir``,
    ``model.init`` and the path of ``model.encoder: "pretrained:PATH"`` are taken relative
    to the config file's directory."""
    cfg = load_yaml(TrainConfig, path)
    base = Path(path).resolve().parent
    enc = cfg.model.encoder_path
    if enc is not None and not enc.is_absolute():
        cfg.model.encoder = f"pretrained:{base / enc}"
    if cfg.model.init is not None and not Path(cfg.model.init).is_absolute():
        cfg.model.init = str(base / cfg.model.init)
    if cfg.data.path and not Path(cfg.data.path).is_absolute():
        cfg.data.path = str(base / cfg.data.path)
    if not Path(cfg.runtime.out_dir).is_absolute():
        cfg.runtime.out_dir = str(base / cfg.runtime.out_dir)
    return cfg
