"""Scoring options: which score the search cuts on, and how it is computed.

``method: model`` scores jets with the trained network of the ``train`` section (the event
score is the mean, max or min of the two leading jets' scores). ``cwola``, ``cathode``,
``lacathode`` and ``reference`` replace the network by a weakly supervised classifier of the events
(:mod:`adsearch.weak`, configured by ``weak``); ``reference`` needs a background template,
a features table (``reference.path``) or QCD the pipeline generates (``reference``).
``feature`` cuts on one event feature itself (``feature.name``, e.g. the heavier jet's mass):
no learning, the cut-based baseline of a search, and the standard example of a score
correlated with mjj for the null checks. ``density`` is unsupervised: the negative
log-likelihood of the two jets' substructure under a flow fitted on the data's jets
(:mod:`adsearch.score.density`, configured by ``density``).

The weak methods' features may include the pretrained embedding of the jets
(``latent_lighter_K`` / ``latent_heavier_K``); ``embed`` names the encoder
(:class:`adsearch.pretrain.latent.EmbedConfig`) and the pipeline embeds the tables first.

>>> ScoreConfig(event_score="max").column
'score_max'
>>> cfg = ScoreConfig(method="cwola")
>>> cfg.weak_config((3300.0, 3700.0)).method, cfg.column, cfg.trains_model
('cwola', 'score', False)
>>> cfg.latent_features
[]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from adsearch.config import check_sections
from adsearch.errors import ConfigError
from adsearch.pretrain.latent import EmbedConfig
from adsearch.score.density import DensityScoreConfig
from adsearch.weak.config import METHODS, WeakConfig
from adsearch.weak.features import is_latent_feature

__all__ = [
    "EVENT_SCORE_COLUMNS",
    "SCORE_METHODS",
    "DensityScoreConfig",
    "EmbedConfig",
    "FeatureScoreConfig",
    "ReferenceConfig",
    "ScoreConfig",
]

#: event-score kind -> column of the scores table (:func:`adsearch.score.score_features`)
EVENT_SCORE_COLUMNS = {"mean": "score", "max": "score_max", "min": "score_min"}

#: ``model`` (the trained jet network), a weakly supervised method of :mod:`adsearch.weak`,
#: ``feature`` (one event feature as the score) or ``density`` (unsupervised jet-substructure
#: density)
SCORE_METHODS: tuple[str, ...] = ("model", *METHODS, "feature", "density")


@dataclass
class FeatureScoreConfig:
    """The score of ``method: feature``: one event feature, no training.

    Attributes
    ----------
    name : a feature of :data:`adsearch.weak.features.FEATURES` (``mj_heavier``,
        ``tau21_lighter``, ...; masses in TeV).
    direction : ``high`` (larger values are more signal-like: the cut keeps the largest) or
        ``low`` (the score is minus the feature: e.g. a small τ21 for 2-prong jets).
    """

    name: str = "mj_heavier"
    direction: Literal["high", "low"] = "high"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~adsearch.errors.ConfigError` naming the bad field."""
        from adsearch.weak.features import FEATURES

        if self.name not in FEATURES:
            raise ConfigError(
                f"score:feature:name: unknown feature {self.name!r} "
                f"(allowed: {', '.join(FEATURES)})"
            )
        if self.direction not in ("high", "low"):
            raise ConfigError(f"score:feature:direction: {self.direction!r} is not 'high' or 'low'")


@dataclass
class ReferenceConfig:
    """The background template of ``method: reference``.

    Attributes
    ----------
    path : a features table of background events (a Parquet file of ``adsearch features``
        or an LHCO features ``.h5``); relative to the analysis file. ``None``: the pipeline
        generates QCD with the package's recipe, detector and trigger (those of
        ``input.generate``).
    n_events : generated events passing the trigger (``path`` unset).
    seed : seed of the generated template (keep it different from the data's).
    mhat_window : ``PhaseSpace:mHatMin``/``mHatMax`` of the generated QCD in GeV, an
        enriched template around the signal region (``None``: the whole spectrum). The
        classifier only sees the template's signal-region events; the window must contain
        every parton mass that can give a dijet mass in the signal region (reconstructed
        mjj sits 0-15 % below mhat), so that the template's mjj shape in the SR is the
        background's.
    """

    path: str | None = None
    n_events: int = 30000
    seed: int = 1001
    mhat_window: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~adsearch.errors.ConfigError` naming the bad field."""
        if self.n_events < 1:
            raise ConfigError(f"score:reference:n_events: must be >= 1, got {self.n_events}")
        if self.mhat_window is not None:
            lo, hi = self.mhat_window
            if not 0 <= lo < hi:
                raise ConfigError(f"score:reference:mhat_window: need 0 <= lo < hi, got {lo}, {hi}")

    @property
    def generates(self) -> bool:
        """True when the template is generated (no ``path``)."""
        return self.path is None


@dataclass
class ScoreConfig:
    """Scoring: the method, the event score, the batch size and the device.

    Attributes
    ----------
    method : ``model`` (the network of the ``train`` section), or ``cwola``, ``cathode``,
        ``lacathode``, ``reference`` (:mod:`adsearch.weak`; no network is trained), or
        ``feature`` (one event feature, ``feature``), or ``density`` (unsupervised: the jets'
        substructure density, ``density``).
    event_score : ``mean``, ``max`` or ``min`` of the two jets' scores (``method: model``;
        a weakly supervised score is one per event).
    batch_size : jets per forward pass (``None``: the training batch size).
    device : ``cpu`` or ``cuda``.
    weak : the weakly supervised search (:class:`~adsearch.weak.WeakConfig`); its ``method``
        and ``signal_region`` are set by the pipeline (``score.method``,
        ``regions.signal_region``).
    reference : the background template of ``method: reference``.
    feature : the feature of ``method: feature``.
    density : the density score of ``method: density``.
    embed : the pretrained encoder that makes the latent columns (``encoder``), needed
        when ``weak.features`` has ``latent_lighter_K`` / ``latent_heavier_K`` names
        (:class:`~adsearch.pretrain.latent.EmbedConfig`); unused otherwise.
    """

    method: Literal["model", "cwola", "cathode", "lacathode", "reference", "feature", "density"] = (
        "model"
    )
    event_score: Literal["mean", "max", "min"] = "mean"
    batch_size: int | None = None
    device: Literal["cpu", "cuda"] = "cpu"
    weak: WeakConfig = field(default_factory=WeakConfig)
    reference: ReferenceConfig = field(default_factory=ReferenceConfig)
    feature: FeatureScoreConfig = field(default_factory=FeatureScoreConfig)
    density: DensityScoreConfig = field(default_factory=DensityScoreConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)

    def validate(self) -> None:
        """Raise :class:`~adsearch.errors.ConfigError` naming the bad field."""
        check_sections(self, "score")
        if self.method not in SCORE_METHODS:
            raise ConfigError(
                f"score:method: {self.method!r} is not one of {', '.join(SCORE_METHODS)}"
            )
        if self.event_score not in EVENT_SCORE_COLUMNS:
            raise ConfigError(
                f"score:event_score: {self.event_score!r} is not one of 'mean', 'max', 'min'"
            )
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"score:batch_size: must be >= 1, got {self.batch_size}")
        latent = self.latent_features
        if latent and self.embed.encoder is None:
            raise ConfigError(
                f"score:embed:encoder: score.weak.features has latent feature {latent[0]!r}; "
                "give the pretrained encoder (encoder.pt of adsearch pretrain) that embeds "
                "the jets"
            )

    @property
    def latent_features(self) -> list[str]:
        """The latent features (``latent_lighter_K``, ...) a weakly supervised method uses;
        empty for the other methods."""
        if self.method not in METHODS:
            return []
        return [f for f in self.weak.features if is_latent_feature(f)]

    @property
    def trains_model(self) -> bool:
        """True for ``method: model`` (the pipeline trains the network)."""
        return self.method == "model"

    @property
    def column(self) -> str:
        """The column of the scores table holding this event score."""
        return EVENT_SCORE_COLUMNS[self.event_score] if self.trains_model else "score"

    def weak_config(self, signal_region: tuple[float, float]) -> WeakConfig:
        """The :class:`~adsearch.weak.WeakConfig` of this method in ``signal_region``."""
        method = self.method
        lo, hi = signal_region  # a YAML list as well as a tuple
        if method in ("cwola", "cathode", "lacathode", "reference"):
            return dataclasses.replace(self.weak, method=method, signal_region=(lo, hi))
        raise ConfigError(f"score:method: {method!r} is not a weakly supervised method")
