"""Pretraining configuration: sections data, encoder, projection, views, mpm, optim.

One validated dataclass, :class:`PretrainConfig`, read from YAML by
:func:`load_pretrain_config` (unknown keys and wrong types are errors). The encoder is a
:class:`adsearch.models.transformer.TransformerBackbone` on the ``basic`` constituent
features; its fields carry the names of :class:`adsearch.models.registry.ModelConfig`
(``width``, ``layers``, ``heads``, ``mlp_layers``, ``readout``, ``out_dim``). The projection
head (a 2-layer MLP, as in SimCLR: Chen et al. 2020) is used by the loss only and is not part
of the saved encoder. ``objective`` chooses the pretraining task: ``contrastive`` (NT-Xent of
two augmented views; sections ``projection``, ``views`` and ``temperature``) or ``mpm``
(masked-particle modelling, :mod:`adsearch.pretrain.mpm`; section ``mpm``).

The jets are split per event exactly as :mod:`adsearch.train` splits them
(:func:`adsearch.train.data.split_events` with ``data.seed``, ``train_fraction``,
``val_fraction``), so with the same split settings a pretraining never sees the test
events of a later training.

Examples
--------
>>> from adsearch.config import from_dict
>>> cfg = from_dict(PretrainConfig, {"encoder": {"width": 32, "heads": 4}})
>>> cfg.encoder.layers, cfg.temperature, cfg.views.rotation
(3, 0.1, True)
>>> from_dict(PretrainConfig, {"objective": "mpm", "mpm": {"mask_fraction": 1.0}})
Traceback (most recent call last):
...
adsearch.errors.ConfigError: mpm:mask_fraction: must be in (0, 1), got 1.0
>>> from_dict(PretrainConfig, {"encoder": {"width": 30, "heads": 4}})
Traceback (most recent call last):
...
adsearch.errors.ConfigError: encoder:heads: width 30 not divisible by 4 heads
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from adsearch.config import check_sections, load_yaml
from adsearch.errors import ConfigError
from adsearch.train.config import check_split

__all__ = [
    "EncoderConfig",
    "MPMConfig",
    "PretrainConfig",
    "PretrainDataConfig",
    "PretrainOptimConfig",
    "ProjectionConfig",
    "ViewsConfig",
    "load_pretrain_config",
]


@dataclass
class PretrainDataConfig:
    """Which jets pretrain the encoder.

    ``path``: a features Parquet file (``adsearch features``). ``mode="data-like"`` (default)
    uses every jet of the training split, labels or not (contrastive learning needs none);
    ``"background-only"`` keeps the background jets (needs labels). The held-out
    contrastive loss (early stopping) is computed on the validation split.
    ``max_constituents``: the hardest constituents kept per jet. ``norm_jets`` training
    jets (a seeded subset) fit the encoder's input standardisation.
    """

    path: str = ""
    mode: Literal["background-only", "data-like"] = "data-like"
    train_fraction: float = 0.2
    val_fraction: float = 0.01
    max_events: int | None = None
    seed: int = 0
    max_constituents: int = 100
    norm_jets: int = 20_000

    def validate(self) -> None:
        check_split(self.train_fraction, self.val_fraction, self.max_events, self.norm_jets)
        if self.max_constituents < 1:
            raise ConfigError(f"data:max_constituents: must be >= 1, got {self.max_constituents}")


@dataclass
class EncoderConfig:
    """The transformer encoder (:class:`~adsearch.models.transformer.TransformerBackbone`).

    Embedding size ``out_dim`` (default ``width``); biases and layer norms on.
    """

    width: int = 128
    layers: int = 3
    heads: int = 8
    mlp_layers: int = 3
    readout: Literal["sum", "mean", "max"] = "mean"
    out_dim: int | None = None

    def validate(self) -> None:
        for name in ("width", "layers", "heads", "mlp_layers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"encoder:{name}: must be >= 1, got {getattr(self, name)}")
        if self.out_dim is not None and self.out_dim < 1:
            raise ConfigError(f"encoder:out_dim: must be >= 1, got {self.out_dim}")
        if self.width % self.heads:
            raise ConfigError(
                f"encoder:heads: width {self.width} not divisible by {self.heads} heads"
            )

    @property
    def embedding_dim(self) -> int:
        return self.out_dim or self.width


@dataclass
class ProjectionConfig:
    """Projection head ``g``: embedding -> ``width`` -> ReLU -> ``dim`` (the loss sees ``g(h)``)."""

    width: int = 128
    dim: int = 64

    def validate(self) -> None:
        if self.width < 1 or self.dim < 1:
            raise ConfigError("projection: width and dim must be >= 1")


@dataclass
class ViewsConfig:
    """The augmentations making the two views (:func:`adsearch.pretrain.augment.random_view`).

    ``rotation``: about the jet axis, on/off. The others are strengths, 0 switches them off:
    ``translation`` (width of the η–φ shift), ``collinear`` (fraction of constituents
    split), ``soft`` (``Λ_soft / pT_jet`` of the soft smearing; ``1e-4``: 100 MeV in a TeV
    jet), ``pt_smear`` (log-normal width of the pT smearing).

    ``anomalous``: 0 (default, JetCLR) or ``K >= 1``: every jet also gets ``K`` anomalous
    views, the k-th a further random view with ``k`` added prongs
    (:func:`adsearch.pretrain.augment.add_prong` applied ``k`` times), all used as extra
    negatives of the NT-Xent loss (AnomalyCLR); ``prong_constituents``: the hardest
    constituents copied into a new prong.
    """

    rotation: bool = True
    translation: float = 0.05
    collinear: float = 0.1
    soft: float = 1e-4
    pt_smear: float = 0.0
    anomalous: int = 0
    prong_constituents: int = 16

    def validate(self) -> None:
        for name in ("translation", "collinear", "soft", "pt_smear"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"views:{name}: must be >= 0, got {getattr(self, name)}")
        if self.collinear > 1:
            raise ConfigError(f"views:collinear: must be <= 1, got {self.collinear}")
        if self.anomalous < 0:
            raise ConfigError(f"views:anomalous: must be >= 0, got {self.anomalous}")
        if self.prong_constituents < 1:
            raise ConfigError(
                f"views:prong_constituents: must be >= 1, got {self.prong_constituents}"
            )


@dataclass
class MPMConfig:
    """Masked-particle modelling (:mod:`adsearch.pretrain.mpm`; objective ``mpm``).

    ``mask_fraction``: the fraction of each jet's real constituents hidden from the encoder
    (``max(1, round(f n))`` of its ``n``, never padding); ``head_layers``: layers of the
    MLP predicting a hidden constituent's standardised features from its token output (the
    head is used by the loss only and is not part of the saved encoder).
    """

    mask_fraction: float = 0.3
    head_layers: int = 2

    def validate(self) -> None:
        if not 0.0 < self.mask_fraction < 1.0:
            raise ConfigError(f"mpm:mask_fraction: must be in (0, 1), got {self.mask_fraction}")
        if self.head_layers < 1:
            raise ConfigError(f"mpm:head_layers: must be >= 1, got {self.head_layers}")


@dataclass
class PretrainOptimConfig:
    """AdamW, batch size (jets per step, two views each), epochs, early stopping.

    Training stops after ``patience`` epochs in which the held-out loss (of the objective)
    did not improve on its best by more than ``min_delta``.
    """

    lr: float = 1e-3
    weight_decay: float = 1e-6
    batch_size: int = 256
    epochs: int = 20
    patience: int = 5
    min_delta: float = 0.0

    def validate(self) -> None:
        if not self.lr > 0:
            raise ConfigError(f"optim:lr: must be > 0, got {self.lr}")
        if not self.weight_decay >= 0:
            raise ConfigError(f"optim:weight_decay: must be >= 0, got {self.weight_decay}")
        if self.batch_size < 2:
            raise ConfigError(f"optim:batch_size: must be >= 2, got {self.batch_size}")
        for name in ("epochs", "patience"):
            if getattr(self, name) < 1:
                raise ConfigError(f"optim:{name}: must be >= 1, got {getattr(self, name)}")


@dataclass
class PretrainConfig:
    """Complete pretraining configuration.

    ``objective``: ``contrastive`` (default) or ``mpm``; the sections of the other objective
    are ignored. ``temperature``: ``τ`` of the NT-Xent loss
    (:func:`adsearch.pretrain.losses.nt_xent`; 0.1 as in JetCLR). ``seed`` fixes the initial
    weights, the batch order and every view (or hidden set).
    ``out_dir`` receives ``encoder.pt``, ``checkpoint.pt``, ``metrics.json`` and
    ``config.yaml``. ``device``: ``auto`` picks CUDA when available.
    """

    data: PretrainDataConfig = field(default_factory=PretrainDataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    projection: ProjectionConfig = field(default_factory=ProjectionConfig)
    views: ViewsConfig = field(default_factory=ViewsConfig)
    mpm: MPMConfig = field(default_factory=MPMConfig)
    optim: PretrainOptimConfig = field(default_factory=PretrainOptimConfig)
    objective: Literal["contrastive", "mpm"] = "contrastive"
    temperature: float = 0.1
    seed: int = 0
    out_dir: str = "pretrain"
    device: Literal["auto", "cpu", "cuda"] = "cpu"

    def validate(self) -> None:
        check_sections(self, "pretrain")
        if not self.temperature > 0:
            raise ConfigError(f"temperature: must be > 0, got {self.temperature}")


def load_pretrain_config(path: str | Path) -> PretrainConfig:
    """Load a :class:`PretrainConfig` from YAML; relative ``data.path`` / ``out_dir`` are
    taken relative to the config file's directory."""
    cfg = load_yaml(PretrainConfig, path)
    base = Path(path).resolve().parent
    if cfg.data.path and not Path(cfg.data.path).is_absolute():
        cfg.data.path = str(base / cfg.data.path)
    if not Path(cfg.out_dir).is_absolute():
        cfg.out_dir = str(base / cfg.out_dir)
    return cfg
