"""Build a complete anomaly model (backbone + objective) from a :class:`ModelConfig`.

Backbones: ``gin``, ``egat``, ``gatv2`` (graph networks, :mod:`adsearch.models.gnn`),
``transformer`` and ``part`` (:mod:`adsearch.models.transformer`), ``particlenet``
(:mod:`adsearch.models.particlenet`), ``cnn`` (jet images, :mod:`adsearch.models.cnn`; the
last four eat padded jets); or a pretrained transformer encoder (``encoder:
"pretrained:PATH"``, :mod:`adsearch.models.pretrained`) with a head MLP.
Objectives: ``deepsvdd``, ``deepsvdd-soft``, ``ae`` (padded-input backbones only; with
``cnn`` the image autoencoder of :mod:`adsearch.models.imageae`, on a pretrained encoder
the embedding autoencoder), ``deepsvdd-ae`` (DeepSVDD trained jointly with the ``ae``
decoder, DASVDD; padded-input backbones), ``supervised`` (:mod:`adsearch.models.objectives`).

Examples
--------
>>> import torch
>>> cfg = ModelConfig(backbone="transformer", objective="deepsvdd", width=16, heads=2, layers=1)
>>> model = build_model(cfg)
>>> x, mask = torch.randn(5, 6, 3), torch.ones(5, 6, dtype=torch.bool)
>>> model((x, mask)).shape  # anomaly score per jet
torch.Size([5])
>>> any(n.endswith("bias") for n, _ in model.named_parameters())  # DeepSVDD: bias-free
False
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from adsearch.errors import ConfigError
from adsearch.models.cnn import CNNBackbone
from adsearch.models.imageae import ImageAutoencoder
from adsearch.models.objectives import (
    Autoencoder,
    AutoencodingSVDD,
    DeepSVDD,
    EmbeddingAutoencoder,
    ModelInputs,
    Objective,
    Supervised,
    check_shrinkage,
)
from adsearch.models.particlenet import ParticleNetBackbone
from adsearch.models.pretrained import (
    IN_DIM,
    PREFIX,
    PretrainedBackbone,
    architecture,
    read_encoder,
    set_encoder,
)
from adsearch.models.transformer import MLP, ParticleTransformerBackbone, TransformerBackbone

__all__ = [
    "BACKBONES",
    "OBJECTIVES",
    "AnomalyModel",
    "ModelConfig",
    "build_model",
    "default_svdd_metric",
    "input_kind",
    "log_columns",
]

BACKBONES = ("gin", "egat", "gatv2", "transformer", "part", "particlenet", "cnn")
OBJECTIVES = ("deepsvdd", "deepsvdd-soft", "deepsvdd-ae", "ae", "supervised")
_GRAPH = ("gin", "egat", "gatv2")


def default_svdd_metric(objective: str) -> str:
    """The DeepSVDD score of ``objective`` when ``svdd_metric`` is unset: ``"euclidean"``
    for ``deepsvdd-ae`` (DASVDD's own score, reconstruction error + gamma |z - c|²;
    pre-registered against the Mahalanobis distance on two trainings of the W' benchmark:
    event AUC 85.4 / 83.0 and 85.0 / 83.8 against 73.9 / 79.5 and 74.5 / 80.8, 2- / 3-prong),
    ``"mahalanobis"`` otherwise.

    >>> default_svdd_metric("deepsvdd"), default_svdd_metric("deepsvdd-ae")
    ('mahalanobis', 'euclidean')
    """
    return "euclidean" if objective == "deepsvdd-ae" else "mahalanobis"


@dataclass
class ModelConfig:
    """Model section of a training config (defaults: D'Avanzo (ATLAS), EuCAIFCon 2025).

    ``layers`` defaults to 5 message-passing layers for graph backbones and 3 attention
    blocks for transformers; ``bias`` defaults to ``False`` for DeepSVDD (required) and
    ``True`` otherwise; ``heads`` defaults to 8 for transformers and to the graph backbone's
    own default otherwise. ``options`` is passed unchanged to the graph backbone builder
    and to the padded-input backbones (``particlenet``: ``size`` ``default`` or ``lite``,
    ``k``, ``blocks``, ``norm``; its blocks come from these, so ``layers`` and ``heads``
    are refused, and ``width`` / ``mlp_layers`` shape its output MLP; ``cnn``: ``images``
    (an :class:`adsearch.images.ImagesConfig` mapping), ``channels``, ``norm``,
    ``decoder_channels`` (objective ``ae``); ``layers``, ``heads`` refused, ``readout``
    unused: the feature map is flattened).
    ``readout`` is one pool or several joined by ``+`` for graph backbones (``sum``,
    ``mean``, ``max``, ``ptsum``: :func:`adsearch.models.readout.graph_readout`).
    ``svdd_metric`` / ``svdd_shrinkage``: the DeepSVDD anomaly score, the squared distance
    to the centre (``euclidean``; for ``deepsvdd-ae`` DASVDD's error + gamma |z - c|², its
    default) or after whitening by the background covariance shrunk towards the identity
    (``mahalanobis``, default otherwise; see
    :class:`adsearch.models.objectives.DeepSVDD`) with weight ``svdd_shrinkage`` (a number
    in [0, 1], or ``auto``: the Ledoit–Wolf estimate from the background embeddings).
    Unset, it is 0.5 for a trained DeepSVDD network (training compresses directions whose
    small variances are then noise) and ``auto`` on a pretrained encoder without a head
    (nothing compresses the embedding, and ~20k jets estimate its covariance well: on the
    two AnomalyCLR pretrainings of the benchmark evaluated after this choice was fixed,
    ``auto`` raised the event AUC by 2.4 / 0.8 points on average, 2- / 3-prong W') and on
    a frozen ``init`` backbone (``init_mode: frozen``; pre-registered on three bias-free CNN
    autoencoders of the benchmark: mean event AUC 83.7 / 81.1 against 82.0 / 75.6 at 0.5).
    ``objective: deepsvdd-ae`` trains DeepSVDD and the decoder of ``ae`` (the image decoder
    on ``cnn``, the set decoder on the set backbones) together on the same embedding, from a
    random start, in one training (DASVDD, Hojjati and Armanfard, IEEE TKDE 36 (2024) 3739):
    loss = reconstruction error + gamma |z - c|², gamma fixed at the start so both terms are
    equal (:class:`~adsearch.models.objectives.AutoencodingSVDD`). The reconstruction term
    keeps the embedding informative where the compactness loss alone removes what separates
    the anomalies. DeepSVDD's rules hold for its backbone (no bias, no normalisation); its
    score is DASVDD's own, error + gamma |z - c|² (``svdd_metric`` unset or ``euclidean``), or
    the Mahalanobis distance of z (``svdd_metric: mahalanobis``, Ledoit–Wolf by default).
    ``max_constituents`` is the set autoencoder's decoder size (objective ``ae`` on the
    transformer backbones): the most constituents it reconstructs, which fixes the shape (and
    the seeded initialisation) of its slot embeddings. It is not the input cap: that is
    ``graph.max_constituents`` (:class:`adsearch.graphs.GraphConfig`), which the training
    config checks to be at most this.
    ``pt_weighted`` (objective ``ae`` or ``deepsvdd-ae`` on the set backbones; default on
    there): the set autoencoder's reconstruction error of every constituent is weighted by its
    pT fraction (see :class:`~adsearch.models.objectives.Autoencoder`), so the jet's hard
    prongs dominate the score rather than its many soft constituents. Measured on the 2- /
    3-prong W' benchmark (transformer, width 32, cap 50, 100k background jets): event AUC
    68.4 / 83.9 with it, 49.6 / 51.7 without (the unweighted Chamfer error follows the soft, wide
    radiation of QCD jets, not their prong structure).
    ``encoder``: ``"pretrained:PATH"`` puts the encoder of ``adsearch pretrain`` (its
    ``encoder.pt``, or the directory holding it; a relative path is taken from the config
    file's directory) under the objective, followed by a head MLP (``mlp_layers`` layers of
    ``width``, output ``out_dim``; bias-free for DeepSVDD). It needs ``backbone:
    transformer`` and the ``basic`` node features of padded jets; the encoder's architecture
    and readout come from its file, so ``layers``, ``heads`` and ``options`` are refused.
    ``encoder_mode``: ``frozen`` (default: the encoder's weights stay as pretrained, only
    the head and objective train) or ``finetune`` (the encoder trains too; not with DeepSVDD,
    whose centre a biased, layer-normed encoder could collapse onto). DeepSVDD on a
    pretrained encoder takes ``mlp_layers: 0``: no head, the score is the shrunk Mahalanobis
    distance of the standardised embedding to the training background (``svdd_metric
    mahalanobis``), and nothing trains; a head trained by the compactness loss on a frozen
    embedding collapses onto the centre with the anomalies (PANDA, Reiss et al. 2021) and
    is refused. The autoencoder (``ae``) on a pretrained encoder is
    :class:`~adsearch.models.objectives.EmbeddingAutoencoder`: no head either, an MLP
    (``width`` hidden units, ``latent_dim`` bottleneck) reconstructs the standardised frozen
    embedding and the score is its per-jet squared error (``encoder_mode: frozen`` only:
    with a trainable encoder or head a constant embedding would reconstruct perfectly).
    ``init``: a trained model (its ``model.pt`` or run directory; a relative path is taken
    from the config file's directory) whose backbone weights, input standardisation
    included, start this training instead of a random initialisation; the backbone must be
    the same (``backbone``, ``options``, node features, every parameter's shape). This is
    Ruff et al.'s autoencoder pretraining of DeepSVDD ("Deep One-Class Classification",
    ICML 2018): train ``objective: ae`` with ``bias: false`` first, then DeepSVDD with
    ``init`` pointing at it; the centre is the mean embedding of the initialised network.
    ``init_mode``: ``finetune`` (default: the loaded backbone trains on) or ``frozen`` (it
    stays as loaded, in eval mode; only the objective's own parameters train: a linear
    probe for ``supervised``, nothing for DeepSVDD, whose score is then the Mahalanobis
    distance in the loaded network's embedding).
    """

    backbone: Literal["gin", "egat", "gatv2", "transformer", "part", "particlenet", "cnn"] = "gin"
    objective: Literal["deepsvdd", "deepsvdd-soft", "deepsvdd-ae", "ae", "supervised"] = "deepsvdd"
    width: int = 128
    layers: int | None = None
    mlp_layers: int | None = None  # None: 3, or 0 for DeepSVDD / ae on a pretrained encoder
    readout: str = "mean"
    heads: int | None = None
    out_dim: int | None = None
    bias: bool | None = None
    nu: float = 0.1
    center_eps: float = 0.1
    svdd_metric: Literal["euclidean", "mahalanobis"] | None = None  # None: default_svdd_metric
    svdd_shrinkage: float | Literal["auto"] | None = None  # None: 0.5, or auto without a head
    radius_warmup_epochs: int = 1
    balance_classes: bool = True
    max_constituents: int = 256
    latent_dim: int = 8  # autoencoder bottleneck (objective "ae")
    pt_weighted: bool | None = None  # set AE: pT-fraction-weighted error (None: on for "ae")
    options: dict[str, Any] = field(default_factory=dict)
    encoder: str | None = None  # "pretrained:PATH"
    encoder_mode: Literal["frozen", "finetune"] | None = None
    init: str | None = None  # a trained model (model.pt or its run directory)
    init_mode: Literal["finetune", "frozen"] | None = None  # None: finetune

    def validate(self) -> None:
        self._validate_encoder()
        self._validate_init()
        no_head = self.encoder is not None and self.head_layers == 0
        if (
            self.width < 1
            or (self.head_layers < 1 and not no_head)
            or (self.layers is not None and self.layers < 1)
        ):
            raise ConfigError(
                "model: width, layers and mlp_layers must be >= 1 (mlp_layers 0: only on a "
                "pretrained encoder)"
            )
        if self.objective.startswith("deepsvdd") and self.bias:
            raise ConfigError(
                "model:bias: DeepSVDD needs a bias-free network (a bias lets it map every jet "
                "onto the centre); leave bias unset or false"
            )
        norm = self.options.get("norm")
        if self.objective.startswith("deepsvdd") and norm not in (None, "none"):
            raise ConfigError(
                f"model:options:norm: DeepSVDD needs a network without normalisation layers "
                f"(their mean subtraction acts as a bias and lets it collapse); got {norm!r}"
            )
        if self.reconstructs and self.backbone in _GRAPH:
            raise ConfigError(
                f"model:objective: {self.objective!r} reconstructs the constituent set and "
                f"needs a transformer backbone (transformer or part), particlenet or cnn, not "
                f"{self.backbone!r}"
            )
        self._validate_backbone_fields()
        if not 0.0 < self.nu <= 1.0:
            raise ConfigError(f"model:nu: must be in (0, 1], got {self.nu}")
        try:  # the objective's own check (DeepSVDD.fit_metric uses the same)
            if self.svdd_shrinkage is not None:
                check_shrinkage(self.svdd_shrinkage)
        except ValueError:
            raise ConfigError(
                f"model:svdd_shrinkage: must be in [0, 1] or 'auto', got {self.svdd_shrinkage}"
            ) from None
        if self.center_eps <= 0:
            raise ConfigError(f"model:center_eps: must be > 0, got {self.center_eps}")
        if self.max_constituents < 1:
            raise ConfigError("model:max_constituents: must be >= 1")
        if self.backbone in _GRAPH:
            from adsearch.models.gnn import parse_readout

            try:
                parse_readout(self.readout)
            except ValueError as e:
                raise ConfigError(f"model:readout: {e}") from None
        elif self.readout not in ("sum", "mean", "max"):
            raise ConfigError(
                f"model:readout: {self.readout!r} is not one of 'sum', 'mean', 'max' "
                f"(the {self.backbone} backbone pools masked constituents)"
            )
        heads = self.heads or 8
        attention = self.backbone in ("transformer", "part") or (
            self.reconstructs and self.backbone != "cnn"
        )
        if attention and self.encoder is None and self.width % heads:
            raise ConfigError(f"model:heads: width {self.width} not divisible by {heads} heads")

    def _validate_backbone_fields(self) -> None:
        """Fields that only some backbones or objectives take."""
        if self.pt_weighted and (not self.reconstructs or self.backbone == "cnn"):
            raise ConfigError(
                "model:pt_weighted: weights the set autoencoder's reconstruction error; it "
                f"needs objective 'ae' or 'deepsvdd-ae' on a set backbone (got "
                f"{self.objective!r} on {self.backbone!r})"
            )
        if self.backbone == "particlenet" and (self.layers is not None or self.heads is not None):
            raise ConfigError(
                "model: particlenet has no 'layers' or 'heads'; its EdgeConv blocks are set by "
                "options.size (default / lite), options.blocks and options.k"
            )
        if self.backbone == "cnn" and (self.layers is not None or self.heads is not None):
            raise ConfigError(
                "model: cnn has no 'layers' or 'heads'; its convolution blocks are set by "
                "options.channels"
            )

    def _validate_init(self) -> None:
        """The ``init`` / ``init_mode`` fields (no file is read here)."""
        if self.init is not None and (not self.init.strip() or self.encoder is not None):
            raise ConfigError(
                "model:init: must be the path of a trained model (model.pt or its run "
                "directory), and not with model:encoder (which brings its own weights)"
            )
        if self.init_mode is not None and self.init is None:
            raise ConfigError("model:init_mode: needs model:init (the model to start from)")
        if self.init_mode == "frozen" and self.objective == "deepsvdd-ae":
            raise ConfigError(
                "model:init_mode: 'frozen' leaves nothing for deepsvdd-ae's compactness term to "
                "train (the score would be objective deepsvdd's on the frozen backbone); use "
                "init_mode finetune, or objective deepsvdd"
            )

    def _validate_encoder(self) -> None:
        """The ``encoder`` / ``encoder_mode`` fields (no file is read here)."""
        if self.encoder is None:
            if self.encoder_mode is not None:
                raise ConfigError("model:encoder_mode: needs model:encoder 'pretrained:PATH'")
            return
        if not self.encoder.startswith(PREFIX) or not self.encoder[len(PREFIX) :].strip():
            raise ConfigError(
                f"model:encoder: must be 'pretrained:PATH' (an encoder.pt of adsearch pretrain "
                f"or its directory), got {self.encoder!r}"
            )
        if self.backbone != "transformer":
            raise ConfigError(
                f"model:backbone: a pretrained encoder is a transformer on padded jets; set "
                f"backbone 'transformer' (got {self.backbone!r})"
            )
        if self.layers is not None or self.heads is not None or self.options:
            raise ConfigError(
                "model: layers, heads and options are the pretrained encoder's (from its "
                "file); leave them unset with model:encoder"
            )
        if self.objective == "ae" and (
            self.encoder_mode == "finetune" or self.head_layers > 0 or self.pt_weighted
        ):
            # the embedding autoencoder's target is the embedding itself: a trainable
            # encoder or head could make it constant and reconstruct it perfectly
            raise ConfigError(
                "model:objective: 'ae' on a pretrained encoder reconstructs the frozen "
                "embedding: it takes encoder_mode frozen, mlp_layers 0 and no pt_weighted"
            )
        if self.objective == "deepsvdd-ae":
            raise ConfigError(
                "model:objective: 'deepsvdd-ae' trains the backbone it reconstructs from; on a "
                "pretrained encoder use deepsvdd (frozen embedding) or ae"
            )
        if self.encoder_mode == "finetune" and self.objective.startswith("deepsvdd"):
            raise ConfigError(
                "model:encoder_mode: 'finetune' with DeepSVDD could collapse the (biased, "
                "layer-normed) encoder onto the centre; use 'frozen' or objective supervised"
            )
        if self.objective == "deepsvdd-soft":
            raise ConfigError(
                "model:objective: 'deepsvdd-soft' is not available on a pretrained encoder (its "
                "Euclidean radius needs a trained head, which collapses); use deepsvdd"
            )
        if self.objective == "deepsvdd" and self.head_layers > 0:
            # measured (benchmarks/results/pretrain_head.md): a head trained by the
            # compactness loss on a frozen embedding maps every jet, anomalies included, near
            # the centre; after 15 epochs the event AUC is 51-75 / 52-68 (2- / 3-prong), below
            # the untrained Gaussian distance (74.5-75.0 / 69.8-70.3) in 23 of 24 cases (the
            # "catastrophic collapse" of Reiss, Cohen, Bergman, Hoshen, "PANDA: Adapting
            # pretrained features for anomaly detection", CVPR 2021)
            raise ConfigError(
                "model:mlp_layers: DeepSVDD on a pretrained encoder takes mlp_layers 0 (no "
                "head: the Mahalanobis distance of the standardised embedding to the "
                "background); a trained head collapses and loses the anomalies"
            )
        if self.head_layers == 0 and (
            self.objective not in ("deepsvdd", "ae")
            or (self.objective == "deepsvdd" and self.score_metric != "mahalanobis")
            or self.out_dim
        ):
            raise ConfigError(
                "model:mlp_layers: 0 (no head) needs objective deepsvdd with svdd_metric "
                "mahalanobis, or objective ae, and no out_dim"
            )

    @property
    def score_metric(self) -> str:
        """``svdd_metric``, or its default (:func:`default_svdd_metric` of the objective)."""
        return self.svdd_metric or default_svdd_metric(self.objective)

    @property
    def reconstructs(self) -> bool:
        """Whether the objective has a decoder (``ae``, ``deepsvdd-ae``)."""
        return self.objective in ("ae", "deepsvdd-ae")

    @property
    def encoder_path(self) -> Path | None:
        """The pretrained encoder's path (``encoder`` without ``pretrained:``), or None."""
        return None if self.encoder is None else Path(self.encoder[len(PREFIX) :])

    @property
    def use_bias(self) -> bool:
        if self.bias is not None:
            return self.bias
        return not self.objective.startswith("deepsvdd")

    @property
    def head_layers(self) -> int:
        """``mlp_layers``, or its default: 0 (no head) for DeepSVDD and the autoencoder on a
        pretrained encoder, 3 otherwise."""
        if self.mlp_layers is not None:
            return self.mlp_layers
        on_embedding = self.objective.startswith("deepsvdd") or self.objective == "ae"
        return 0 if self.encoder is not None and on_embedding else 3

    @property
    def metric_shrinkage(self) -> float | str:
        """``svdd_shrinkage``, or its default: ``"auto"`` (Ledoit–Wolf) where the compactness
        loss alone does not train the embedding (DeepSVDD on a pretrained encoder without a
        head, or on the frozen backbone of ``init``; ``deepsvdd-ae``, whose reconstruction
        term keeps every direction), 0.5 otherwise.

        >>> ModelConfig(init="ae_run", init_mode="frozen").metric_shrinkage
        'auto'
        >>> ModelConfig(init="ae_run").metric_shrinkage
        0.5
        """
        if self.svdd_shrinkage is not None:
            return self.svdd_shrinkage
        frozen = (self.encoder is not None and self.head_layers == 0) or (
            self.init_mode == "frozen"
        )
        return "auto" if frozen or self.objective == "deepsvdd-ae" else 0.5

    @property
    def use_pt_weighted(self) -> bool:
        """Whether the set autoencoder weights its error by pT (``pt_weighted`` or its default)."""
        if self.pt_weighted is not None:
            return self.pt_weighted
        return self.reconstructs and self.backbone != "cnn" and self.encoder is None

    @property
    def n_layers(self) -> int:
        if self.layers is not None:
            return self.layers
        return 5 if self.backbone in _GRAPH else 3


class AnomalyModel(nn.Module):
    """Backbone + objective. ``model(inputs)`` is the per-jet anomaly score ``[B]``.

    ``model(inputs, labels, loss=True)`` returns ``(loss, per_jet)`` instead; training calls
    it this way so a ``DistributedDataParallel`` wrapper sees the whole computation.
    ``input_kind`` is the batch type the backbone eats: ``"pyg"``, ``"dgl"`` or ``"dense"``
    (``(x [B, N, F], mask [B, N])``).
    """

    train_meta: dict[str, Any]  # set by adsearch.train.load_model: feature sizes, class weight

    def __init__(self, backbone: nn.Module, objective: Objective, config: ModelConfig) -> None:
        super().__init__()
        self.backbone = backbone
        self.objective = objective
        self.config = config
        self.input_kind: str = str(backbone.input_kind)  # a str attribute of every backbone

    def train(self, mode: bool = True) -> AnomalyModel:
        """Set the training mode; a frozen backbone (``init_mode: frozen``) stays in eval."""
        super().train(mode)
        if self.config.init_mode == "frozen":
            self.backbone.eval()
        return self

    def embed(self, inputs: ModelInputs) -> Tensor:
        """Backbone embeddings ``[B, D]``."""
        return self.backbone(inputs)

    def objective_inputs(self, inputs: ModelInputs) -> ModelInputs:
        """What the objective sees: for dense inputs ``(x_std, mask, pt_fraction)`` with the
        features standardised by the backbone's ``input_norm`` (the autoencoder reconstructs
        these), padding zeroed; graph inputs unchanged."""
        if self.input_kind != "dense" or not self.objective.needs_dense:
            return inputs
        x, mask = inputs[0], inputs[1].to(torch.bool)
        m = mask.unsqueeze(-1).to(x.dtype)
        norm = self.backbone.input_norm
        assert isinstance(norm, nn.Module)  # every dense backbone has one
        return norm(x) * m, mask, x[..., 0] * mask.to(x.dtype)

    def prepare(self, inputs: ModelInputs) -> ModelInputs:
        """Inputs as backbone and objective share them: the backbone's ``prepare`` (the CNN
        builds its images once per batch, so the image autoencoder's target is the image the
        encoder saw), unchanged for the other backbones."""
        prepare = getattr(self.backbone, "prepare", None)
        return inputs if prepare is None else prepare(inputs)

    def forward(
        self, inputs: ModelInputs, labels: Tensor | None = None, *, loss: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        inputs = self.prepare(inputs)
        z = self.backbone(inputs)
        if loss:
            return self.objective.loss(z, self.objective_inputs(inputs), labels)
        return self.objective.score(z, self.objective_inputs(inputs))


def log_columns(node_features: str) -> tuple[int, ...]:
    """Indices of the node features of a set that enter the model as logarithms.

    >>> log_columns("basic"), log_columns("part")
    ((0,), (0, 3, 4, 5))
    """
    from adsearch.graphs.build import LOG_FEATURES, NODE_FEATURES

    return tuple(i for i, n in enumerate(NODE_FEATURES[node_features]) if n in LOG_FEATURES)


def input_kind(cfg: ModelConfig) -> str:
    """Input type the configured backbone eats: ``"pyg"``, ``"dgl"`` or ``"dense"``."""
    if cfg.backbone not in _GRAPH:
        return "dense"
    from adsearch.models.gnn import BACKBONES as GRAPH_BACKBONES

    if cfg.backbone == "egat" and "backend" in cfg.options:  # dgl (default) or pyg
        return str(cfg.options["backend"])
    return GRAPH_BACKBONES[cfg.backbone].input_kind


def _graph_backbone(
    cfg: ModelConfig, in_dim: int, edge_dim: int | None, log_columns: tuple[int, ...] = ()
) -> nn.Module:
    try:
        from adsearch.models.gnn import build_backbone
    except ImportError as e:  # pragma: no cover - graph backbones ship with the package
        raise ConfigError(f"model:backbone: graph backbones unavailable ({e})") from None
    kwargs: dict[str, Any] = {
        "width": cfg.width,
        "layers": cfg.n_layers,
        "mlp_layers": cfg.head_layers,
        "readout": cfg.readout,
        "bias": cfg.use_bias,
        "in_dim": in_dim,
        "log_columns": log_columns,
    }
    if cfg.out_dim is not None:
        kwargs["out_dim"] = cfg.out_dim
    if edge_dim is not None:
        kwargs["edge_dim"] = edge_dim
    if cfg.heads is not None:
        kwargs["heads"] = cfg.heads
    kwargs.update(cfg.options)
    try:
        return build_backbone(cfg.backbone, **kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model: {cfg.backbone} backbone: {e}") from None


def _padded_backbone(
    cfg: ModelConfig, in_dim: int, bias: bool, log_columns: tuple[int, ...]
) -> nn.Module:
    """The padded-input backbone of ``cfg`` (``cnn``, ``particlenet``, ``transformer``,
    ``part``); a constructor's TypeError/ValueError (a bad option) becomes a ConfigError."""
    options: dict[str, Any] = dict(cfg.options)
    common: dict[str, Any] = {
        "in_dim": in_dim, "width": cfg.width, "mlp_layers": cfg.head_layers,
        "out_dim": cfg.out_dim, "bias": bias,
    }  # fmt: skip
    cls: Any  # one of the padded-input backbone classes
    extra: dict[str, Any]
    if cfg.backbone == "cnn":  # decoder_channels is the autoencoder objective's option
        cls, where, extra = CNNBackbone, "cnn backbone: ", {}
        options.pop("decoder_channels", None)
    elif cfg.backbone == "particlenet":
        cls, where = ParticleNetBackbone, "particlenet backbone: "
        extra = {"readout": cfg.readout, "log_columns": log_columns}
    else:
        cls = ParticleTransformerBackbone if cfg.backbone == "part" else TransformerBackbone
        where = ""
        extra = {"layers": cfg.n_layers, "heads": cfg.heads or 8, "readout": cfg.readout,
                 "log_columns": log_columns}  # fmt: skip
    try:
        return cls(**common, **extra, **options)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"model: {where}{e}") from None


def _pretrained_backbone(
    cfg: ModelConfig, in_dim: int, arch: Mapping[str, Any] | None
) -> PretrainedBackbone:
    """The pretrained encoder of ``cfg.encoder`` (read from its file, or, given its
    architecture ``arch``, built untrained for a ``state_dict`` to fill) and a head MLP."""
    if in_dim != IN_DIM:
        raise ConfigError(
            f"model:encoder: the pretrained encoder takes the {IN_DIM} basic constituent "
            f"features, the inputs have {in_dim}; set graph:node_features 'basic'"
        )
    if arch is None:
        assert cfg.encoder_path is not None  # build_model calls this with cfg.encoder set
        encoder, blob = read_encoder(cfg.encoder_path)
        arch = architecture(blob["config"])
    else:
        with torch.random.fork_rng(devices=[]):  # weights from the caller's state_dict
            encoder = set_encoder(arch)
    out = cfg.out_dim or cfg.width
    head: nn.Module = (
        nn.Identity()
        if cfg.head_layers == 0
        else MLP(encoder.out_dim, cfg.width, out, cfg.head_layers, cfg.use_bias)
    )
    return PretrainedBackbone(encoder, head, frozen=cfg.encoder_mode != "finetune", arch=arch)


def _autoencoder(cfg: ModelConfig, backbone: nn.Module, dim: int, in_dim: int) -> Objective:
    """The reconstruction objective of ``cfg`` on a ``dim``-wide embedding of ``backbone``:
    the embedding autoencoder on a pretrained encoder, the image decoder on ``cnn``, the set
    decoder otherwise (``ae``, and the decoder of ``deepsvdd-ae``)."""
    if isinstance(backbone, PretrainedBackbone):
        try:
            return EmbeddingAutoencoder(dim, latent_dim=cfg.latent_dim, width=cfg.width)
        except ValueError as e:
            raise ConfigError(f"model:latent_dim: {e}") from None
    if isinstance(backbone, CNNBackbone):
        channels = cfg.options.get("decoder_channels")
        try:
            return ImageAutoencoder(
                dim,
                latent_dim=cfg.latent_dim,
                pixels=backbone.images.pixels,
                width=cfg.width,
                **({} if channels is None else {"channels": channels}),
            )
        except (TypeError, ValueError) as e:
            raise ConfigError(f"model: cnn autoencoder: {e}") from None
    return Autoencoder(
        dim,
        latent_dim=cfg.latent_dim,
        width=cfg.width,
        layers=cfg.n_layers,
        heads=cfg.heads or 8,
        max_len=cfg.max_constituents,
        out_dim=in_dim,
        pt_weighted=cfg.use_pt_weighted,
    )


def build_model(
    cfg: ModelConfig,
    in_dim: int = 3,
    edge_dim: int | None = None,
    pos_weight: float = 1.0,
    log_columns: tuple[int, ...] = (0,),
    encoder: Mapping[str, Any] | None = None,
) -> AnomalyModel:
    """Build backbone + objective from ``cfg``.

    Parameters
    ----------
    cfg : model configuration.
    in_dim : constituent (node) feature count.
    edge_dim : edge feature count (graph backbones).
    pos_weight : signal-class weight of the supervised loss (``n_background / n_signal``).
    log_columns : node features standardised as logarithms (default: column 0, the pT
        fraction; :func:`log_columns` gives them for a node feature set).
    encoder : with ``cfg.encoder`` set, the pretrained encoder's architecture (the
        backbone's ``arch``, saved with a trained model): the encoder is then built
        untrained, for a ``state_dict`` to fill, without reading its file. ``None``: the
        encoder is read from ``cfg.encoder``'s file (:class:`~adsearch.errors.InputError`
        if it is missing).
    """
    bias = cfg.use_bias
    log_columns = tuple(c for c in log_columns if c < in_dim)
    backbone: nn.Module
    if cfg.encoder is not None:
        backbone = _pretrained_backbone(cfg, in_dim, encoder)
    elif cfg.backbone in _GRAPH:
        backbone = _graph_backbone(cfg, in_dim, edge_dim, log_columns)
    else:
        backbone = _padded_backbone(cfg, in_dim, bias, log_columns)
    dim = cfg.out_dim or cfg.width
    if isinstance(backbone, PretrainedBackbone) and cfg.head_layers == 0:
        dim = backbone.encoder.out_dim  # no head: the objective sees the embedding
    objective: Objective
    if cfg.objective in ("deepsvdd", "deepsvdd-soft"):
        objective = DeepSVDD(
            dim,
            soft=cfg.objective == "deepsvdd-soft",
            nu=cfg.nu,
            eps=cfg.center_eps,
            metric="euclidean" if cfg.objective == "deepsvdd-soft" else cfg.score_metric,
            shrinkage=cfg.metric_shrinkage,
        )
    elif cfg.objective == "deepsvdd-ae":
        objective = AutoencodingSVDD(
            dim,
            _autoencoder(cfg, backbone, dim, in_dim),
            eps=cfg.center_eps,
            metric=cfg.score_metric,
            shrinkage=cfg.metric_shrinkage,
        )
    elif cfg.objective == "ae":
        objective = _autoencoder(cfg, backbone, dim, in_dim)
    else:
        objective = Supervised(dim, pos_weight=pos_weight)
    if cfg.init_mode == "frozen":  # the backbone of model.init stays as loaded
        backbone.requires_grad_(False)
    return AnomalyModel(backbone, objective, cfg).train()


def model_config_dict(cfg: ModelConfig) -> dict[str, Any]:
    """Plain-dict form (for checkpoints)."""
    return dataclasses.asdict(cfg)
