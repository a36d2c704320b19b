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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from adsearch.config import from_dict, to_dict
from adsearch.errors import ConfigError
from adsearch.generate.processes import process_from_dict, process_to_dict
from adsearch.generate.trigger import TriggerConfig
from adsearch.stats.bumphunter import BumpHunterConfig
from adsearch.stats.fit import FitConfig
from adsearch.stats.limits import LimitConfig
from adsearch.train.config import TrainConfig

__all__ = [
    "FeaturesConfig",
    "GenerateConfig",
    "InjectConfig",
    "InputConfig",
    "PipelineConfig",
    "RegionsConfig",
    "ReportConfig",
    "ScoreConfig",
    "StatsConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "load_config",
]

#: event-score kind -> column of the scores table (adsearch.score)
SCORE_COLUMNS = {"mean": "score", "max": "score_max", "min": "score_min"}


@dataclass
class GenerateConfig:
    """A generated sample: background + injected signal (the LHCO recipe, ``adsearch generate``).

    ``background`` / ``signal`` name a built-in process (``qcd``, ``wprime-2prong``,
    ``wprime-3prong``) or give a mapping with ``process:`` and its fields (e.g. ``m_x``).
    ``n_signal`` signal events are mixed at random positions into ``n_background`` events.
    ``blackbox`` writes no labels (the truth goes to an answer key read only by the report).
    """

    background: str | dict[str, Any] = "qcd"
    n_background: int = 20000
    signal: str | dict[str, Any] | None = "wprime-2prong"
    n_signal: int = 300
    detector: str = "lhco"
    trigger: TriggerConfig = field(default_factory=TriggerConfig)
    seed: int = 1
    workers: int = 2
    block_size: int = 100
    blackbox: bool = False

    def validate(self) -> None:
        if self.n_background < 1:
            raise ConfigError(f"input:generate:n_background: must be >= 1, got {self.n_background}")
        if self.n_signal < 0:
            raise ConfigError(f"input:generate:n_signal: must be >= 0, got {self.n_signal}")
        if self.n_signal > 0 and self.signal is None:
            raise ConfigError("input:generate:signal: n_signal > 0 needs a signal process")
        if self.workers < 1 or self.block_size < 1:
            raise ConfigError("input:generate: workers and block_size must be >= 1")
        if self.detector not in ("lhco", "none") and not Path(self.detector).is_file():
            raise ConfigError(
                f"input:generate:detector: {self.detector!r} is neither 'lhco', 'none' nor a "
                "detector card file"
            )
        self.process("background")
        if self.signal is not None:
            self.process("signal")

    def process(self, which: Literal["background", "signal"]) -> Any:
        """The validated :mod:`adsearch.generate` process config of ``background``/``signal``."""
        spec = getattr(self, which)
        data = {"process": spec} if isinstance(spec, str) else spec
        proc = process_from_dict(data, source=f"input:generate:{which}")
        if which == "background" and proc.label != 0:
            raise ConfigError(f"input:generate:background: {proc.process!r} is a signal process")
        if which == "signal" and proc.label != 1:
            raise ConfigError(f"input:generate:signal: {proc.process!r} is not a signal process")
        return proc

    def process_dict(self, which: Literal["background", "signal"]) -> dict[str, Any]:
        """All fields of the process (defaults filled in), for the step cache key."""
        return process_to_dict(self.process(which))


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
    ``part_pt/eta/phi``, see ``adsearch.io``). For files: ``max_events`` reads the first rows
    only; ``keep_signal`` keeps only the first N label-1 events (0: background only), e.g. to
    reduce the R&D file's 100k signal events to the standard ~1000; ``inject`` mixes a signal
    file in (needs ``keep_signal: 0`` if the file is labelled); ``key`` is a Black Box answer key
    (one label per line), used only for the performance numbers of the report.
    ``fallback: generate`` makes a missing ``path`` fall back to the ``generate`` recipe;
    ``download`` says where to get the file (shown when it is missing).
    """

    kind: Literal["generate", "lhco", "root"] = "generate"
    path: str | None = None
    max_events: int | None = None
    keep_signal: int | None = None
    inject: InjectConfig | None = None
    key: str | None = None
    fallback: Literal["error", "generate"] = "error"
    download: str = ""
    generate: GenerateConfig = field(default_factory=GenerateConfig)

    def validate(self) -> None:
        if self.kind != "generate" and not self.path:
            raise ConfigError(f"input:path: kind {self.kind!r} needs an event file path")
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
class FeaturesConfig:
    """Jet clustering (``adsearch features``): radius, jet pT threshold, chunking, processes."""

    r: float = 1.0
    min_pt: float = 20.0
    chunk_size: int = 50000
    workers: int = 1

    def validate(self) -> None:
        if not 0 < self.r <= 3.0:
            raise ConfigError(f"features:r: must be in (0, 3], got {self.r}")
        if self.min_pt < 0:
            raise ConfigError(f"features:min_pt: must be >= 0, got {self.min_pt}")
        if self.chunk_size < 1 or self.workers < 1:
            raise ConfigError("features: chunk_size and workers must be >= 1")


@dataclass
class ScoreConfig:
    """Scoring: the event score (``mean``, ``max`` or ``min`` of the two jets' scores)."""

    event_score: Literal["mean", "max", "min"] = "mean"
    batch_size: int | None = None
    device: Literal["cpu", "cuda"] = "cpu"

    @property
    def column(self) -> str:
        """The column of the scores table holding this event score."""
        return SCORE_COLUMNS[self.event_score]


@dataclass
class RegionsConfig:
    """Working points (background efficiencies of the score cut) and the mjj signal region.

    Thresholds are the ``1 - eff`` quantiles of the scores of test events *outside* the
    ``signal_region`` (``adsearch.stats.regions``): fixed without looking at the SR.
    """

    working_points: list[float] = field(default_factory=lambda: [0.1, 0.01])
    signal_region: tuple[float, float] = (3300.0, 3700.0)

    def validate(self) -> None:
        if not self.working_points:
            raise ConfigError("regions:working_points: give at least one background efficiency")
        for eff in self.working_points:
            if not 0.0 < eff < 1.0:
                raise ConfigError(f"regions:working_points: {eff} is not in (0, 1)")
        if len(set(self.working_points)) != len(self.working_points):
            raise ConfigError("regions:working_points: duplicate values")
        lo, hi = self.signal_region
        if not 0 < lo < hi:
            raise ConfigError(f"regions:signal_region: need 0 < lo < hi, got {lo}, {hi}")


@dataclass
class StatsConfig:
    """Binning of the mjj spectra and the fit / BumpHunter / limit options (``adsearch.stats``).

    ``fit.blind: true`` is shorthand for blinding the ``regions.signal_region`` window.
    """

    mjj_range: tuple[float, float] = (2500.0, 6000.0)
    bin_width: float = 0.05
    fit: FitConfig = field(default_factory=FitConfig)
    bumphunt: BumpHunterConfig = field(default_factory=BumpHunterConfig)
    limits: LimitConfig = field(default_factory=LimitConfig)

    def validate(self) -> None:
        lo, hi = self.mjj_range
        if not 0 < lo < hi:
            raise ConfigError(f"stats:mjj_range: need 0 < lo < hi, got {lo}, {hi}")
        if not 0 < self.bin_width < 1:
            raise ConfigError(f"stats:bin_width: must be in (0, 1), got {self.bin_width}")
        for m in self.limits.masses:
            if not lo < m < hi:
                raise ConfigError(f"stats:limits:masses: {m:g} GeV outside mjj_range {lo:g}-{hi:g}")


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


def config_from_dict(data: dict[str, Any] | None, source: str = "config") -> PipelineConfig:
    """Build and validate a :class:`PipelineConfig` from a mapping (e.g. parsed YAML).

    Paths stay as written; :func:`load_config` makes relative paths relative to the file.
    """
    data = copy.deepcopy(data or {})
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of sections")
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
    stats = data.get("stats") or {}
    if isinstance(stats, dict) and isinstance(stats.get("fit"), dict):
        if stats["fit"].get("blind") is True:
            regions = data.get("regions") or {}
            sr = regions.get("signal_region", list(RegionsConfig().signal_region))
            stats["fit"]["blind"] = list(sr)
        elif stats["fit"].get("blind") is False:
            stats["fit"]["blind"] = None
    cfg = PipelineConfig(
        name=data.get("name", "analysis"),
        description=data.get("description", ""),
        input=_section(InputConfig, data.get("input"), source, "input"),
        features=_section(FeaturesConfig, data.get("features"), source, "features"),
        train=_section(TrainConfig, train, source, "train"),
        score=_section(ScoreConfig, data.get("score"), source, "score"),
        regions=_section(RegionsConfig, data.get("regions"), source, "regions"),
        stats=_section(StatsConfig, stats, source, "stats"),
        report=_section(ReportConfig, data.get("report"), source, "report"),
    )
    _cross_checks(cfg, source)
    return cfg


def _cross_checks(cfg: PipelineConfig, source: str) -> None:
    from adsearch.graphs import GraphConfig

    # the trainer checks its graph options only when it starts: check them now
    _section(GraphConfig, dict(cfg.train.graph), source, "train:graph")
    lo, hi = cfg.stats.mjj_range
    srlo, srhi = cfg.regions.signal_region
    if not lo <= srlo < srhi <= hi:
        raise ConfigError(
            f"{source}:regions:signal_region: {srlo:g}-{srhi:g} GeV not inside "
            f"stats:mjj_range {lo:g}-{hi:g}"
        )
    mode, objective = cfg.train.data.mode, cfg.train.model.objective
    needs_labels = mode == "background-only" or objective == "supervised"
    if cfg.labelled is False and needs_labels:
        raise ConfigError(
            f"{source}:train:data:mode: the events have no labels (black box); training needs "
            f"mode 'data-like' and an unsupervised objective (got mode {mode!r}, "
            f"objective {objective!r})"
        )


def load_config(path: str | Path, overrides: list[str] | None = None) -> PipelineConfig:
    """Load an analysis YAML file; relative file paths are relative to the file's directory.

    ``overrides`` are ``"section.key=value"`` strings (value parsed as YAML), applied before
    validation, e.g. ``["stats.bumphunt.n_toys=100", "input.fallback=generate"]``.
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
    data = apply_overrides(data, overrides or [], source)
    if base is not None:
        _resolve_paths(data, base)
    return config_from_dict(data, source=source)


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    """Make the file paths of the raw ``input`` section relative to ``base`` (in place)."""

    def fix(node: Any, key: str) -> None:
        if isinstance(node, dict) and isinstance(node.get(key), str):
            v = node[key]
            if v and v not in ("lhco", "none"):
                q = Path(v).expanduser()
                node[key] = str(q if q.is_absolute() else base / q)

    inp = data.get("input")
    if not isinstance(inp, dict):
        return
    fix(inp, "path")
    fix(inp, "key")
    fix(inp.get("inject"), "path")
    fix(inp.get("generate"), "detector")


def apply_overrides(data: dict[str, Any], overrides: list[str], source: str) -> dict[str, Any]:
    """Set dotted keys (``"stats.bumphunt.n_toys=100"``) in a nested mapping (copy)."""
    out = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(
                f"--set {item!r}: expected KEY=VALUE (e.g. stats.bumphunt.n_toys=100)"
            )
        key, raw = item.split("=", 1)
        parts = [k for k in key.strip().split(".") if k]
        if not parts:
            raise ConfigError(f"--set {item!r}: empty key")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ConfigError(f"--set {item!r}: value is not valid YAML") from None
        node = out
        for k in parts[:-1]:
            nxt = node.get(k)
            if nxt is None:
                nxt = node[k] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"--set {item!r}: {k!r} is not a section in {source}")
            node = nxt
        node[parts[-1]] = value
    return out


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
