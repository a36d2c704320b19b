"""Analysis configuration of ``adsearch run``: one YAML file, validated before any work starts.

The file has the sections ``input``, ``features``, ``train``, ``score``, ``regions``, ``stats``
and ``report`` (all optional; see :data:`adsearch.pipeline.defaults.QUICKSTART_YAML` for a
complete, commented example). ``train`` is an :class:`adsearch.train.TrainConfig` and
``stats.fit`` / ``stats.bumphunt`` / ``stats.limits`` are the statistics package's own
:class:`~adsearch.stats.FitConfig`, :class:`~adsearch.stats.BumpHunterConfig` and
:class:`~adsearch.stats.LimitConfig`, so every option of those packages is available here under
the same name. Unknown keys, wrong types and inconsistent values raise
:class:`~adsearch.errors.ConfigError` naming the file and the key.

Examples
--------
>>> cfg = config_from_dict({"regions": {"working_points": [0.2]}}, source="a.yaml")
>>> cfg.regions.working_points, cfg.input.kind, cfg.train.model.backbone
([0.2], 'generate', 'gin')
>>> config_from_dict({"regions": {"workingpoints": [0.2]}}, source="a.yaml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
adsearch.errors.ConfigError: a.yaml:regions: unknown key 'workingpoints' (allowed: ...)
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from adsearch.config import (
    check_sections,
    from_dict,
    parse_override,
    replace_key,
    to_dict,
    validate_tree,
)
from adsearch.errors import ConfigError
from adsearch.generate.config import GenerateConfig
from adsearch.graphs import GraphConfig
from adsearch.io.root import RootBranches
from adsearch.jets.config import FeaturesConfig
from adsearch.models.pretrained import PREFIX as PRETRAINED
from adsearch.score.config import ScoreConfig
from adsearch.stats.config import RegionsConfig, StatsConfig
from adsearch.train.config import TrainConfig

__all__ = [
    "InjectConfig",
    "InputConfig",
    "PipelineConfig",
    "ReportConfig",
    "ScoreConfig",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "override_config",
]


@dataclass
class InjectConfig:
    """Inject the first ``n`` events of a signal file at seeded random positions."""

    path: str = ""
    n: int = 1000
    seed: int = 1

    def validate(self) -> None:
        if not self.path:
            raise ConfigError("input:inject:path: the signal file is required")
        if self.n < 0:
            raise ConfigError(f"input:inject:n: must be >= 0, got {self.n}")


@dataclass
class InputConfig:
    """Where the events come from.

    ``kind``: ``generate`` (the :class:`GenerateConfig` in ``generate``), ``lhco`` (an LHCO
    HDF5 file: R&D, 3-prong or Black Box) or ``root`` (a ROOT TTree ``events`` with
    ``part_pt/eta/phi``, see ``adsearch.io``) or ``features`` (a features table: the LHCO
    features ``.h5``, e.g. ``events_anomalydetection_v2.features.h5``, or a Parquet file of
    ``adsearch features``; event-level, so for the weakly supervised ``score.method`` only,
    no ``inject``). For files: ``max_events`` reads the first rows
    only; ``keep_signal`` keeps only the first N label-1 events (0: background only), e.g. to
    reduce the R&D file's 100k signal events to the standard ~1000; ``inject`` mixes a signal
    file in (needs ``keep_signal: 0`` if the file is labelled); ``key`` is a Black Box answer key
    (one label per line), used only for the performance numbers of the report.
    ``tree`` and ``branches`` name the TTree and its branches of a ROOT file
    (:class:`adsearch.io.RootBranches`: ``pt``, ``eta``, ``phi``, ``label``, ``mass``).
    ``fallback: generate`` makes a missing ``path`` fall back to the ``generate`` recipe;
    ``download`` says where to get the file (shown when it is missing).
    """

    kind: Literal["generate", "lhco", "root", "features"] = "generate"
    path: str | None = None
    max_events: int | None = None
    keep_signal: int | None = None
    inject: InjectConfig | None = None
    key: str | None = None
    fallback: Literal["error", "generate"] = "error"
    download: str = ""
    tree: str = "events"
    branches: RootBranches = field(default_factory=RootBranches)
    generate: GenerateConfig = field(default_factory=GenerateConfig)

    def validate(self) -> None:
        check_sections(self, "input")
        if self.kind != "generate" and not self.path:
            raise ConfigError(f"input:path: kind {self.kind!r} needs an event file path")
        if self.kind == "features" and self.inject is not None:
            raise ConfigError("input:inject: applies to event files, not to kind 'features'")
        if self.max_events is not None and self.max_events < 1:
            raise ConfigError(f"input:max_events: must be >= 1, got {self.max_events}")
        if self.keep_signal is not None and self.keep_signal < 0:
            raise ConfigError(f"input:keep_signal: must be >= 0, got {self.keep_signal}")
        if self.kind == "generate" and (
            self.inject or self.key or self.keep_signal is not None or self.max_events
        ):
            raise ConfigError(
                "input: inject, key, keep_signal and max_events apply to input files; for "
                "kind 'generate' set input:generate:n_background / n_signal instead"
            )


@dataclass
class ReportConfig:
    """Report options: the plot file format and the minimum background count for max SIC."""

    plot_format: Literal["png", "pdf", "svg"] = "png"
    sic_min_background: int = 20

    def validate(self) -> None:
        if self.sic_min_background < 1:
            raise ConfigError("report:sic_min_background: must be >= 1")


@dataclass
class PipelineConfig:
    """A complete analysis (``adsearch run CONFIG``)."""

    name: str = "analysis"
    description: str = ""
    input: InputConfig = field(default_factory=InputConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    regions: RegionsConfig = field(default_factory=RegionsConfig)
    stats: StatsConfig = field(default_factory=StatsConfig)
    report: ReportConfig = field(default_factory=ReportConfig)

    @property
    def generates(self) -> bool:
        """True when the run generates its events (``kind: generate``, or a used fallback)."""
        return self.input.kind == "generate"

    @property
    def labelled(self) -> bool | None:
        """Whether the events carry labels (None: known only once the file is read)."""
        if self.generates:
            return not self.input.generate.blackbox
        if self.input.inject is not None:
            return True
        return None


# -------------------------------------------------------------------------- loading

_PIPELINE_OWNED = {("data", "path"): "data.path", ("runtime", "out_dir"): "runtime.out_dir"}

#: dotted keys holding file paths: relative values are relative to the config file
_PATH_KEYS = (
    "input.path",
    "input.key",
    "input.inject.path",
    "input.generate.detector",
    "score.reference.path",
    "score.embed.encoder",
    "train.model.encoder",  # "pretrained:PATH": the path part
    "train.model.init",
)

_BLIND = "stats.fit.blind"


def _prefixed(e: ConfigError, source: str, section: str) -> ConfigError:
    msg = str(e)
    if msg.startswith(source):
        return ConfigError(msg)
    return ConfigError(f"{source}:{section}: {msg}")


def _section(cls: type, data: Any, source: str, section: str) -> Any:
    try:
        return from_dict(cls, data, source=f"{source}:{section}")
    except ConfigError as e:
        raise _prefixed(e, source, section) from None


def _check_sections(data: dict[str, Any], source: str) -> None:
    allowed = [f.name for f in dataclasses.fields(PipelineConfig)]
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{source}: unknown section {unknown[0]!r} (allowed: {', '.join(allowed)})"
        )
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise ConfigError(f"{source}:{key}: expected a string, got {data[key]!r}")
    train = data.get("train") or {}
    if isinstance(train, dict):
        for (sec, key), name in _PIPELINE_OWNED.items():
            if isinstance(train.get(sec), dict) and key in train[sec]:
                raise ConfigError(
                    f"{source}:train:{sec}:{key}: set by the pipeline (OUTDIR), remove {name}"
                )


def _blind_shorthand(data: dict[str, Any]) -> bool:
    """Turn ``stats.fit.blind: true/false`` into a window / None (in place); True if ``true``.

    ``blind: true`` blinds the signal region: the window is filled in once the signal region
    is final (after overrides), by :func:`_blind_signal_region`.
    """
    stats = data.get("stats")
    if not (isinstance(stats, dict) and isinstance(stats.get("fit"), dict)):
        return False
    blind = stats["fit"].get("blind")
    if blind is True or blind is False:
        stats["fit"]["blind"] = None
    return blind is True


def _blind_signal_region(cfg: PipelineConfig) -> PipelineConfig:
    return replace_key(cfg, _BLIND.split("."), list(cfg.regions.signal_region), "config")


def config_from_dict(data: dict[str, Any] | None, source: str = "config") -> PipelineConfig:
    """Build and validate a :class:`PipelineConfig` from a mapping (e.g. parsed YAML).

    Paths stay as written; :func:`load_config` makes relative paths relative to the file.
    """
    return _build(data, source, [], None)


def _build(
    data: dict[str, Any] | None, source: str, overrides: list[str], base: Path | None
) -> PipelineConfig:
    data = copy.deepcopy(data or {})
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections")
    _check_sections(data, source)
    if base is not None:
        _resolve_paths(data, base)
    blind_sr = _blind_shorthand(data)
    cfg = PipelineConfig(
        name=data.get("name", "analysis"),
        description=data.get("description", ""),
        input=_section(InputConfig, data.get("input"), source, "input"),
        features=_section(FeaturesConfig, data.get("features"), source, "features"),
        train=_section(TrainConfig, data.get("train") or {}, source, "train"),
        score=_section(ScoreConfig, data.get("score"), source, "score"),
        regions=_section(RegionsConfig, data.get("regions"), source, "regions"),
        stats=_section(StatsConfig, data.get("stats"), source, "stats"),
        report=_section(ReportConfig, data.get("report"), source, "report"),
    )
    cfg, blind_set = _overridden(cfg, overrides, source, base)
    if blind_set is not None:
        blind_sr = blind_set
    if blind_sr:
        cfg = _blind_signal_region(cfg)
    _cross_checks(cfg, source)
    return cfg


def override_config(
    cfg: PipelineConfig, overrides: list[str], source: str = "--set", base: Path | None = None
) -> PipelineConfig:
    """A copy of ``cfg`` with ``--set KEY=VALUE`` overrides applied, checked and validated.

    Every override goes through :func:`adsearch.config.replace_key` (``dataclasses.replace``).
    Relative file paths are taken relative to ``base``; ``stats.fit.blind=true`` blinds the
    signal region.

    Examples
    --------
    >>> from adsearch.pipeline.defaults import quickstart_config
    >>> cfg = override_config(quickstart_config(), ["stats.bumphunt.n_toys=100"])
    >>> cfg.stats.bumphunt.n_toys
    100
    """
    cfg, blind = _overridden(cfg, overrides, source, base)
    if blind:
        cfg = _blind_signal_region(cfg)
    _cross_checks(cfg, source)
    return cfg


def _overridden(
    cfg: PipelineConfig, overrides: list[str], source: str, base: Path | None
) -> tuple[PipelineConfig, bool | None]:
    """``cfg`` with the overrides, and whether they set ``blind`` to the signal region
    (``None``: they did not touch it)."""
    blind: bool | None = None
    for item in overrides:
        keys, value = parse_override(item)
        dotted = ".".join(keys)
        if dotted in _PATH_KEYS and base is not None and isinstance(value, str):
            value = _resolved(value, base)
        if dotted == _BLIND and isinstance(value, bool):
            blind, value = value, None
        elif dotted == _BLIND:
            blind = False
        cfg = replace_key(cfg, keys, value, source, validate=False)
    if overrides:
        validate_tree(cfg)  # once all are set: an override may need another (kind + path)
    return cfg, blind


def _cross_checks(cfg: PipelineConfig, source: str) -> None:
    # the trainer checks its graph options only when it starts: check them now
    _section(GraphConfig, dict(cfg.train.graph), source, "train:graph")
    lo, hi = cfg.stats.mjj_range
    srlo, srhi = cfg.regions.signal_region
    if not lo <= srlo < srhi <= hi:
        raise ConfigError(
            f"{source}:regions:signal_region: {srlo:g}-{srhi:g} GeV not inside "
            f"stats:mjj_range {lo:g}-{hi:g}"
        )
    ref = cfg.score.reference.path
    if cfg.score.method == "reference" and ref is not None and not Path(ref).is_file():
        raise ConfigError(f"{source}:score:reference:path: {ref}: no such file")
    if cfg.input.kind == "features" and cfg.score.trains_model:
        raise ConfigError(
            f"{source}:input:kind: a features table has no jet constituents for the network of "
            "score.method 'model'; use a weakly supervised score.method (cwola, cathode, "
            "lacathode, reference) or feature"
        )
    mode, objective = cfg.train.data.mode, cfg.train.model.objective
    needs_labels = mode == "background-only" or objective == "supervised"
    if cfg.score.trains_model and cfg.labelled is False and needs_labels:
        raise ConfigError(
            f"{source}:train:data:mode: the events have no labels (black box); training needs "
            f"mode 'data-like' and an unsupervised objective (got mode {mode!r}, "
            f"objective {objective!r})"
        )


def load_config(path: str | os.PathLike[str], overrides: list[str] | None = None) -> PipelineConfig:
    """Load an analysis YAML file; relative file paths are relative to the file's directory.

    ``overrides`` are ``"section.key=value"`` strings (value parsed as YAML), applied with
    :func:`override_config`, e.g. ``["stats.bumphunt.n_toys=100", "input.fallback=generate"]``.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such config file")
    return config_from_text(
        p.read_text(), source=str(p), base=p.resolve().parent, overrides=overrides
    )


def config_from_text(
    text: str, source: str, base: Path | None = None, overrides: list[str] | None = None
) -> PipelineConfig:
    """Parse YAML ``text`` (see :func:`load_config`); ``base`` resolves relative paths."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        at = f" (line {line + 1})" if line is not None else ""
        raise ConfigError(f"{source}: not valid YAML{at}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections")
    return _build(data, source, list(overrides or []), base)


def _resolved(value: str, base: Path) -> str:
    if value.startswith(PRETRAINED):  # model.encoder: "pretrained:PATH"
        return PRETRAINED + _resolved(value[len(PRETRAINED) :], base)
    if not value or value in ("lhco", "none"):
        return value
    q = Path(value).expanduser()
    return str(q if q.is_absolute() else base / q)


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make the file paths of the raw ``input`` section relative to ``base`` (in place)."""
    for dotted in _PATH_KEYS:
        *parents, key = dotted.split(".")
        node: Any = data
        for k in parents:
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(key), str):
            node[key] = _resolved(node[key], base)


def config_to_dict(cfg: PipelineConfig) -> dict[str, Any]:
    """The full configuration, defaults filled in, as plain JSON/YAML-able data."""
    d = to_dict(cfg)

    def plain(o: Any) -> Any:
        if isinstance(o, dict):
            return {k: plain(v) for k, v in o.items()}
        if isinstance(o, list | tuple):
            return [plain(v) for v in o]
        return o

    return plain(d)
