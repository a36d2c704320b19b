"""Configuration of the weakly supervised searches: :class:`WeakConfig` and its sections.

Every default of :mod:`adsearch.weak` is written once, here. The published CATHODE choices
(Hallin et al., PRD 106, 055006; the ``uhh-pd-ml/sk_cathode`` package) are noted where ours
differ: a CPU-sized flow (fewer, wider-step MAF blocks) and a larger classifier batch.

Examples
--------
>>> cfg = WeakConfig(method="cwola", sideband_width=200.0)
>>> cfg.signal_region, cfg.features[:2], cfg.classifier.kind
((3300.0, 3700.0), ['mj_lighter', 'delta_mj'], 'mlp')
>>> WeakConfig(n_folds=2)
Traceback (most recent call last):
...
adsearch.errors.ConfigError: weak:n_folds: need at least 3 folds (train, validation, test), got 2
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from adsearch.config import check_sections
from adsearch.errors import ConfigError

__all__ = [
    "DEFAULT_FEATURES",
    "METHODS",
    "ClassifierConfig",
    "FlowConfig",
    "WeakConfig",
]

#: the weakly supervised methods: template = sidebands, a flow's SR samples, or a given sample
METHODS: tuple[str, ...] = ("cwola", "cathode", "lacathode", "reference")

#: CATHODE's feature set (masses in TeV): lighter jet mass, mass difference, both tau21
DEFAULT_FEATURES: tuple[str, ...] = ("mj_lighter", "delta_mj", "tau21_lighter", "tau21_heavier")


def _positive(where: str, **values: float) -> None:
    for name, v in values.items():
        if not v > 0:
            raise ConfigError(f"{where}:{name}: must be > 0, got {v}")


@dataclass
class ClassifierConfig:
    """The classifier ensemble that separates data from the background template.

    Attributes
    ----------
    kind : ``"mlp"`` (torch multilayer perceptron) or ``"hgb"`` (scikit-learn
        HistGradientBoosting).
    n_members : models per held-out fold, averaged; member ``j`` validates on another of the
        remaining folds (cycling) and has its own seed.
    hidden : MLP hidden layer widths (CATHODE: 3 × 64, ReLU).
    lr, weight_decay, batch_size : MLP Adam optimiser (CATHODE: lr 1e-3, batch 128).
    max_epochs, patience : MLP early stopping on the validation fold's weighted loss; the
        epoch of lowest validation loss is kept. ``patience >= max_epochs`` trains every
        epoch (CATHODE: 100 epochs, no early stopping).
    top_epochs : the MLP member predicts with the mean of the ``top_epochs`` epochs of
        lowest validation loss (CATHODE averages its 10 best of 100: an epoch ensemble that
        smooths the noisy validation loss of a weak, sub-percent signal); 1 keeps the best.
    hgb_max_iter, hgb_learning_rate, hgb_max_leaf_nodes, hgb_patience : the boosted trees
        (early stopping on the validation fold).
    class_weight : weight both classes to equal total weight (data vs template sizes differ).
    """

    kind: Literal["mlp", "hgb"] = "mlp"
    n_members: int = 5
    hidden: list[int] = field(default_factory=lambda: [64, 64, 64])
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 256
    max_epochs: int = 100
    patience: int = 10
    top_epochs: int = 1
    hgb_max_iter: int = 300
    hgb_learning_rate: float = 0.1
    hgb_max_leaf_nodes: int = 31
    hgb_patience: int = 10
    class_weight: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~adsearch.errors.ConfigError` naming the bad field."""
        if self.kind not in ("mlp", "hgb"):
            raise ConfigError(f"weak:classifier:kind: {self.kind!r} is not 'mlp' or 'hgb'")
        if not self.hidden or any(int(h) != h or h < 1 for h in self.hidden):
            raise ConfigError("weak:classifier:hidden: need positive integer layer widths")
        ints = {
            "n_members": self.n_members,
            "batch_size": self.batch_size,
            "max_epochs": self.max_epochs,
            "patience": self.patience,
            "top_epochs": self.top_epochs,
            "hgb_max_iter": self.hgb_max_iter,
            "hgb_max_leaf_nodes": self.hgb_max_leaf_nodes,
            "hgb_patience": self.hgb_patience,
        }
        _positive("weak:classifier", lr=self.lr, hgb_learning_rate=self.hgb_learning_rate, **ints)
        if self.weight_decay < 0:
            raise ConfigError("weak:classifier:weight_decay: must be >= 0")
        if self.top_epochs > self.max_epochs:
            raise ConfigError("weak:classifier:top_epochs: must be <= max_epochs")


@dataclass
class FlowConfig:
    """CATHODE's conditional density estimator ``p(x | mjj)`` (a zuko normalizing flow).

    Attributes
    ----------
    kind : ``"maf"`` (masked autoregressive flow with affine transforms, as CATHODE) or
        ``"nsf"`` (neural spline flow).
    transforms, hidden : autoregressive blocks and the widths of their MADE networks
        (CATHODE: 15 blocks of 128; a CPU-sized default here).
    lr, batch_size, max_epochs, patience, val_fraction : Adam training on the sidebands,
        validated on a held-out ``val_fraction``; early stopping after ``patience`` epochs
        without improvement (not with the cosine schedule, which runs ``max_epochs``).
    logit : min-max scale then logit-transform the features before the flow (CATHODE's
        preprocessing: no hard edges for the flow to learn).
    oversampling : flow samples drawn per signal-region data event, each at that event's mjj
        (CATHODE: 4).
    lr_schedule : ``"cosine"`` (default; annealed to 0 over ``max_epochs``: the whole budget
        runs, as CATHODE's fixed 100 epochs, so early loss spikes at the full rate are
        trained through); ``"constant"``; ``"plateau"`` (divided by 5 after 3 epochs
        without a better validation loss, training then restarts from the best epoch so far:
        a loss spike cannot strand it; early stopping ends a converged training).
    n_best : the flow is the equal mixture of the ``n_best`` epochs with the lowest
        validation loss (CATHODE samples its 10 best epochs): averaging over epochs smooths
        the epoch-to-epoch noise of one training. 1: the best epoch alone.
    n_flows : independent trainings (differently seeded initialisation and batches, the same
        training/validation split) whose kept epochs are pooled into one equal mixture: it
        averages the training-to-training interpolation error into the signal region, which
        epochs of one training share. Costs ``n_flows`` trainings. 1: one training.
    """

    kind: Literal["maf", "nsf"] = "maf"
    transforms: int = 6
    hidden: list[int] = field(default_factory=lambda: [128, 128])
    lr: float = 1e-3
    batch_size: int = 512
    max_epochs: int = 100
    patience: int = 10
    val_fraction: float = 0.2
    logit: bool = True
    oversampling: int = 4
    lr_schedule: Literal["constant", "cosine", "plateau"] = "cosine"
    n_best: int = 5
    n_flows: int = 1

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~adsearch.errors.ConfigError` naming the bad field."""
        if self.kind not in ("maf", "nsf"):
            raise ConfigError(f"weak:flow:kind: {self.kind!r} is not 'maf' or 'nsf'")
        if self.lr_schedule not in ("constant", "cosine", "plateau"):
            raise ConfigError(
                f"weak:flow:lr_schedule: {self.lr_schedule!r} is not 'constant', 'cosine' or "
                "'plateau'"
            )
        if not self.hidden or any(int(h) != h or h < 1 for h in self.hidden):
            raise ConfigError("weak:flow:hidden: need positive integer layer widths")
        _positive(
            "weak:flow",
            transforms=self.transforms,
            lr=self.lr,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            patience=self.patience,
            oversampling=self.oversampling,
            n_best=self.n_best,
            n_flows=self.n_flows,
        )
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"weak:flow:val_fraction: {self.val_fraction} is not in (0, 1)")


@dataclass
class WeakConfig:
    """A weakly supervised search: method, regions, features, folds, models, seed.

    Attributes
    ----------
    method : ``"cwola"`` (signal region vs sidebands), ``"cathode"`` (signal region vs flow
        samples), ``"lacathode"`` (the same in the flow's latent space: SR data latents vs
        standard-normal samples) or ``"reference"`` (signal region vs a given background
        sample).
    signal_region : mjj window ``[lo, hi)`` in GeV (the LHCO W' window, 3.3–3.7 TeV; the same
        value as :data:`adsearch.stats.regions.SIGNAL_REGION`, which this layer cannot import).
    sideband_width : GeV on each side of the signal region used as sidebands; ``None``: every
        event outside the signal region (CATHODE's flow). CWoLa hunting uses neighbouring
        windows (e.g. 200–400 GeV), where the background features change little with mjj.
    features : feature names (:data:`adsearch.weak.features.FEATURES`, or ``latent_lighter_K``
        / ``latent_heavier_K`` of an embedded table, see :mod:`adsearch.pretrain.latent`);
        default CATHODE's.
    n_folds : k of the k-fold: every data event is scored by models that never saw it.
    min_events : fewest events accepted in the signal region, the sidebands, the reference.
    seed : seeds folds, models and flow samples (same seed, same scores).
    threads : CPU threads for torch and the trees while training (``None``: library default).
    workers : processes that train the classifier ensemble's members in parallel, one CPU
        thread each (the flow still trains with ``threads``); the members and scores are
        those of ``workers: 1, threads: 1``. On 2 cores, 2 workers roughly halve the ensemble's
        wall time.
    reweight_mjj : ``reference`` only: weight the template's SR events so that their mjj
        distribution is the data's (ratio of the two SR histograms in ``mjj_bins`` bins).
        Else a template with another mjj shape inside the SR (e.g. generated in an mhat
        window) teaches the classifier mjj through the mjj-correlated features (the jet
        masses), and its cut sculpts a bump.
    mjj_bins : equal-width mjj bins across the SR for ``reweight_mjj``.
    """

    method: Literal["cwola", "cathode", "lacathode", "reference"] = "cathode"
    signal_region: tuple[float, float] = (3300.0, 3700.0)
    sideband_width: float | None = None
    features: list[str] = field(default_factory=lambda: list(DEFAULT_FEATURES))
    n_folds: int = 5
    min_events: int = 100
    seed: int = 0
    threads: int | None = None
    workers: int = 1
    reweight_mjj: bool = True
    mjj_bins: int = 20
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~adsearch.errors.ConfigError` naming the bad field."""
        from adsearch.weak.features import FEATURES, resolve_feature

        check_sections(self, "weak")

        if self.method not in METHODS:
            raise ConfigError(f"weak:method: {self.method!r} is not one of {', '.join(METHODS)}")
        lo, hi = self.signal_region
        if not 0 < lo < hi:
            raise ConfigError(f"weak:signal_region: need 0 < lo < hi, got {lo}, {hi}")
        if self.sideband_width is not None and not self.sideband_width > 0:
            raise ConfigError(f"weak:sideband_width: must be > 0, got {self.sideband_width}")
        if not self.features:
            raise ConfigError("weak:features: give at least one feature")
        unknown = [f for f in self.features if resolve_feature(f) is None]
        if unknown:
            raise ConfigError(
                f"weak:features: unknown feature {unknown[0]!r} (allowed: {', '.join(FEATURES)}, "
                "latent_lighter_K, latent_heavier_K)"
            )
        if len(set(self.features)) != len(self.features):
            raise ConfigError("weak:features: duplicate names")
        if self.n_folds < 3:
            raise ConfigError(
                f"weak:n_folds: need at least 3 folds (train, validation, test), got {self.n_folds}"
            )
        if self.min_events < 1:
            raise ConfigError(f"weak:min_events: must be >= 1, got {self.min_events}")
        if self.mjj_bins < 1:
            raise ConfigError(f"weak:mjj_bins: must be >= 1, got {self.mjj_bins}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"weak:threads: must be >= 1, got {self.threads}")
        if self.workers < 1:
            raise ConfigError(f"weak:workers: must be >= 1, got {self.workers}")
