"""The search chain as a table: one :class:`Step` per stage, in order (:data:`STEPS`).

A step says what it reads (``inputs``), what it writes (``outputs``, relative to the run
directory), which part of the configuration it depends on (``config_of``, the step cache
key) and how it runs (``run``: one call into the library, plus its plots and JSON product).
``when`` says whether a configuration needs the step at all. The runner
(:func:`adsearch.pipeline.run.run_pipeline`), the cache (:mod:`adsearch.pipeline.cache`) and
the report read this table only; nothing else lists the steps.

=============  ==========================================================================
step           products (in the run directory)
=============  ==========================================================================
background     ``events/background.h5`` (generated QCD, ``input.kind: generate`` only)
signal         ``events/signal.h5`` (generated signal, if ``n_signal > 0``)
events         ``events.json`` (which event file, how many events, labels, answer key);
               ``events/events.h5`` when events are mixed, filtered or injected
features       ``features.parquet`` (two leading anti-kT jets, constituents; for
               ``input.kind: features`` the table's kept rows, without constituents
               when the table is an LHCO ``.h5``)
reference      ``events/reference.h5``, ``reference_features.parquet``: generated QCD, the
               background template of ``score.method: reference`` (when no
               ``score.reference.path`` is given)
embed          ``features_latent.parquet`` (and ``reference_latent.parquet`` for
               ``score.method: reference``): the event columns plus the pretrained encoder's
               embedding of both jets (``score.embed.encoder``), when ``score.weak.features``
               has latent features (``latent_lighter_K``, ``latent_heavier_K``); the weak
               method then reads these tables
train          ``train/`` (``model.pt``, ``checkpoint.pt``, metrics; an interrupted
               training of the same step resumes from its checkpoint); ``score.method:
               model`` only
scores         ``scores.parquet`` (event features, jet and event scores, train/val/test
               split); with a weakly supervised ``score.method`` the out-of-fold classifier
               score of every event and ``weak/`` (ensemble, flow, ``weak.json``)
regions        ``regions.json`` (working-point thresholds from test events outside the SR)
fit            ``fit.json`` + ``plots/fit_<selection>.png`` (inclusive and every working point)
bumphunt       ``bumphunt.json`` + ``plots/bumphunt_*.png``, ``plots/tstat_*.png``
limits         ``limits.json`` + ``plots/brazil_*.png`` + ``workspaces/*.json`` (pyhf)
report         ``report.md``, ``results.json``, ``plots/roc.png``, ``plots/scores.png``,
               ``plots/learning_curve.png``, ...; with truth: the score beside the jet-mass,
               girth and GMM-density baselines
=============  ==========================================================================

Adding a step takes two files: the library function it calls, and one ``Step(...)`` entry
(with its ``run`` function) in this module, placed where it belongs in :data:`STEPS`.

Product paths are named once, in :class:`adsearch.pipeline.products.Products`.

Examples
--------
>>> [s.name for s in STEPS][:4]
['background', 'signal', 'events', 'features']
>>> from adsearch.pipeline.defaults import quickstart_config
>>> plan_steps(quickstart_config())[-3:]
['bumphunt', 'limits', 'report']
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from adsearch.config import from_dict, to_dict
from adsearch.errors import ConfigError, FitError, InputError
from adsearch.generate import generate_to_file
from adsearch.generate.mixing import mix, resample
from adsearch.generate.processes import process_to_dict
from adsearch.io import detect_format, has_labels, lhco_attrs, num_events
from adsearch.io.atomic import atomic_path
from adsearch.io.jsonfile import read_json, write_json
from adsearch.jets.featurefile import read_features_table, write_features
from adsearch.jets.stream import features_from_file
from adsearch.models.pretrained import encoder_file
from adsearch.pipeline.cache import file_hash, input_key, step_seconds
from adsearch.pipeline.config import PipelineConfig, config_to_dict
from adsearch.pipeline.products import Products
from adsearch.pipeline.report import write_report
from adsearch.plot import plot_brazil, plot_bumphunt, plot_fit, plot_message, plot_tstat
from adsearch.pretrain.latent import write_latent_table
from adsearch.score import (
    density_score_table,
    feature_score_table,
    score_features,
    weak_score_table,
)
from adsearch.stats.binning import Histogram, histogram
from adsearch.stats.bumphunter import bumphunt
from adsearch.stats.fit import FitResult
from adsearch.stats.flatten import MjjQuantileMap
from adsearch.stats.limits import limits_for_fit
from adsearch.stats.nullcheck import null_check
from adsearch.stats.regions import region_summary, selection_name
from adsearch.stats.spectrum import fit_spectrum
from adsearch.stats.spurious import control_template
from adsearch.train import TrainConfig, train
from adsearch.train.config import key_dict
from adsearch.train.trainer import model_file

__all__ = ["STEPS", "Products", "Run", "Step", "plan_steps", "step_names"]


@dataclass
class Run:
    """One run of a configuration in a run directory (what every step function receives).

    ``had_record`` names the steps that had a finished record before this run started;
    ``warnings`` collects what the steps report (written to ``run.json``).
    """

    cfg: PipelineConfig
    out: Path
    progress: bool | None = None
    log: Callable[[str], None] | None = None
    warnings: list[str] = field(default_factory=list)
    had_record: set[str] = field(default_factory=set)

    def path(self, rel: str) -> Path:
        """The absolute path of product ``rel``."""
        return self.out / rel

    def plot(self, name: str) -> str:
        """The product path of plot ``name`` (in the configured format)."""
        return f"{Products.PLOTS}/{name}.{self.cfg.report.plot_format}"

    def warn(self, msg: str) -> None:
        """Record a warning (and log it)."""
        self.warnings.append(msg)
        if self.log:
            self.log(f"  warning: {msg}")


@dataclass(frozen=True)
class Step:
    """One stage of the chain (see the module docstring)."""

    name: str
    inputs: Callable[[Run], list[Path]]
    outputs: Callable[[Run], list[str]]
    config_of: Callable[[PipelineConfig], Any]
    run: Callable[[Run], None]
    when: Callable[[PipelineConfig], bool] = lambda _: True


# ---------------------------------------------------------------------------- seeds
# The generated sample draws three independent random streams from ``input.generate.seed``.
# Their seeds are fixed offsets of it (changing them would change every generated sample).
SEED_OFFSET: Final = {"background": 0, "signal": 1, "mix": 2}


def derived_seed(cfg: PipelineConfig, stream: str) -> int:
    """The seed of random stream ``stream`` (``background``, ``signal``, ``mix``)."""
    return cfg.input.generate.seed + SEED_OFFSET[stream]


# ---------------------------------------------------------------------------- helpers


def _file_state(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _has_signal(cfg: PipelineConfig) -> bool:
    gen = cfg.input.generate
    return cfg.generates and gen.signal is not None and (gen.n_signal > 0 or gen.blackbox)


def _rewrites_input(cfg: PipelineConfig) -> bool:
    """True when the events step writes an events file of its own (a features table is
    filtered by the features step instead)."""
    if cfg.input.kind == "features":
        return False
    return cfg.input.keep_signal is not None or cfg.input.inject is not None


def _root_reading(cfg: PipelineConfig) -> dict[str, Any]:
    """Read options of a ROOT input (TTree and branch names); none for other inputs."""
    if cfg.input.kind != "root":
        return {}
    return {"tree": cfg.input.tree, "branches": cfg.input.branches}


def _selection_names(cfg: PipelineConfig) -> list[str]:
    return ["inclusive"] + [selection_name(e) for e in cfg.regions.working_points]


def _scores_table(run: Run, columns: list[str]) -> dict[str, np.ndarray]:
    import pyarrow.parquet as pq

    t = pq.read_table(run.path(Products.SCORES), columns=columns)
    return {c: t[c].to_numpy() for c in columns}


def _test_events(run: Run, column: str) -> tuple[np.ndarray, np.ndarray]:
    """mjj and ``column`` of the test split (events never seen in training)."""
    t = _scores_table(run, ["mjj", column, "split"])
    test = t["split"] == 2
    return t["mjj"][test], t[column][test]


def _cut_events(run: Run, reg: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """mjj and the score the working points cut on (mjj-flattened when regions.json holds
    a quantile map) of the test events."""
    mjj, score = _test_events(run, reg["score_column"])
    if reg.get("flatten"):
        score = MjjQuantileMap.from_dict(reg["flatten"]).transform(mjj, score)
    return mjj, score


def _fit_inputs(run: Run) -> dict[str, tuple[Histogram, Histogram | None]]:
    """Histogram and control template (None: inclusive) of every fitted selection of
    fit.json."""
    out = {}
    for name, entry in read_json(run.path(Products.FIT))["selections"].items():
        if "fit" in entry:
            src = f"{Products.FIT}:{name}"
            out[name] = (Histogram.from_dict(entry["histogram"], source=src), _template(entry, src))
    return out


def _fits(
    run: Run, inputs: dict[str, tuple[Histogram, Histogram | None]] | None = None
) -> dict[str, FitResult]:
    """The fits of fit.json, refitted from their stored histograms (deterministic)."""
    inputs = _fit_inputs(run) if inputs is None else inputs
    return {
        name: fit_spectrum(h, _fit_config(run, tmpl), template=tmpl)
        for name, (h, tmpl) in inputs.items()
    }


def _fit_config(run: Run, template: Histogram | None) -> Any:
    """The fit configuration of a selection: ``stats.fit``, except that a selection without a
    control selection (the inclusive spectrum) is fitted with the function where
    ``fit.method`` is ``control``, and that an unblinded control-ratio fit chooses its degree
    outside the signal region (``regions.signal_region``; ``fit.control.select_outside``
    when set): a resonance there cannot raise the degree."""
    fcfg = run.cfg.stats.fit
    if fcfg.method == "control" and template is None:
        return dataclasses.replace(fcfg, method="function")
    if fcfg.blind is None and fcfg.control.select_outside is None:
        lo, hi = run.cfg.regions.signal_region
        window = (float(lo), float(hi))
        fcfg = dataclasses.replace(
            fcfg, control=dataclasses.replace(fcfg.control, select_outside=window)
        )
    return fcfg


def _control(run: Run, failing: Histogram, passing: Histogram, name: str) -> Histogram | None:
    try:
        return control_template(failing, passing, blind=run.cfg.stats.fit.blind)
    except InputError as e:
        run.warn(f"{name}: no control template ({e}); the gate uses the 4-parameter fit")
        return None


def _template(entry: dict[str, Any], source: str) -> Histogram | None:
    """The control-selection template stored with a fit.json entry (None: inclusive)."""
    t = entry.get("template")
    return None if t is None else Histogram.from_dict(t, source=f"{source}:template")


# ---------------------------------------------------------------------------- generation


def _sample_config(cfg: PipelineConfig, process: Any, n: int, seed: int) -> dict[str, Any]:
    """The cache key of a generated sample: process, size, seed, and the recipe's detector,
    trigger and block size (``input.generate``)."""
    gen = cfg.input.generate
    det = gen.detector
    return {
        "process": process_to_dict(process),
        "n": n,
        "seed": seed,
        "detector": det if det in ("lhco", "none") else {"card": file_hash(det)},
        "trigger": to_dict(gen.trigger),
        "block_size": gen.block_size,
    }


def _generation_config(cfg: PipelineConfig, which: str, n: int) -> dict[str, Any]:
    process = cfg.input.generate.process(which)  # type: ignore[arg-type]
    return _sample_config(cfg, process, n, derived_seed(cfg, which))


def _n_signal_generated(cfg: PipelineConfig) -> int:
    # a black box without signal still needs a (one-event) signal file for the mixer
    return max(cfg.input.generate.n_signal, 1)


def _generate_sample(run: Run, process: Any, n: int, seed: int, product: str) -> None:
    """Generate ``n`` events of ``process`` into ``product`` with the recipe's detector,
    trigger, block size and workers (``input.generate``)."""
    gen = run.cfg.input.generate
    generate_to_file(
        run.path(product),
        process,
        n,
        seed=seed,
        workers=gen.workers,
        detector=gen.detector,
        trigger=gen.trigger,
        block_size=gen.block_size,
        progress=run.progress,
    )


def _generate(run: Run, which: str, n: int, product: str) -> None:
    process = run.cfg.input.generate.process(which)  # type: ignore[arg-type]
    _generate_sample(run, process, n, derived_seed(run.cfg, which), product)


BACKGROUND = Step(
    "background",
    inputs=lambda _: [],
    outputs=lambda _: [Products.BACKGROUND],
    config_of=lambda cfg: _generation_config(cfg, "background", cfg.input.generate.n_background),
    run=lambda run: _generate(
        run, "background", run.cfg.input.generate.n_background, Products.BACKGROUND
    ),
    when=lambda cfg: cfg.generates,
)

SIGNAL = Step(
    "signal",
    inputs=lambda _: [],
    outputs=lambda _: [Products.SIGNAL],
    config_of=lambda cfg: _generation_config(cfg, "signal", _n_signal_generated(cfg)),
    run=lambda run: _generate(run, "signal", _n_signal_generated(run.cfg), Products.SIGNAL),
    when=_has_signal,
)


# ---------------------------------------------------------------------------- events


def _events_config(cfg: PipelineConfig) -> dict[str, Any]:
    inp = cfg.input
    if cfg.generates:
        gen = inp.generate
        return {
            "kind": "generate",
            "n_signal": gen.n_signal,
            "blackbox": gen.blackbox,
            "seed": derived_seed(cfg, "mix"),
        }
    conf: dict[str, Any] = {
        "kind": inp.kind,
        "file": _file_state(Path(inp.path or "")),
        "max_events": inp.max_events,
        "keep_signal": inp.keep_signal,
        "inject": to_dict(inp.inject) if inp.inject else None,
        "key": _file_state(Path(inp.key)) if inp.key else None,
    }
    if inp.inject is not None:
        conf["inject_file"] = _file_state(Path(inp.inject.path))
    if inp.kind == "root":
        conf["root"] = {"tree": inp.tree, "branches": to_dict(inp.branches)}
    return conf


def _events_inputs(run: Run) -> list[Path]:
    if not run.cfg.generates:
        return []
    inputs = [run.path(Products.BACKGROUND)]
    if _has_signal(run.cfg):
        inputs.append(run.path(Products.SIGNAL))
    return inputs


def _events_outputs(run: Run) -> list[str]:
    cfg = run.cfg
    outputs = [Products.MANIFEST]
    if _has_signal(cfg) or (not cfg.generates and _rewrites_input(cfg)):
        outputs.append(Products.EVENTS)
    if cfg.generates and cfg.input.generate.blackbox:
        outputs.append(Products.KEY)
    return outputs


def _events_generated(run: Run) -> None:
    gen = run.cfg.input.generate
    bkg = run.path(Products.BACKGROUND)
    key = None
    files = {"background": bkg}
    if _has_signal(run.cfg):
        path = run.path(Products.EVENTS)
        key = run.path(Products.KEY) if gen.blackbox else None
        files["signal"] = run.path(Products.SIGNAL)
        mix(bkg, files["signal"], gen.n_signal, path, seed=derived_seed(run.cfg, "mix"),
            blackbox=gen.blackbox, key=key)  # fmt: skip
    else:
        path = bkg
    wanted = ("process", "n_events", "n_generated", "trigger_efficiency", "n_truncated")
    summary = {}
    for name, p in files.items():
        attrs = lhco_attrs(p)
        summary[name] = {k: attrs.get(k) for k in wanted if k in attrs}
    write_json(
        run.path(Products.MANIFEST),
        {
            "source": "generated",
            "path": str(path.resolve()),
            "n_events": num_events(path),
            "labelled": not gen.blackbox,
            "n_signal_injected": gen.n_signal,
            "key": str(key.resolve()) if key else None,
            "generation": summary,
        },
    )


def _table_rows(labels: np.ndarray, max_events: int | None, keep_signal: int | None) -> np.ndarray:
    """Rows of a features table kept by ``max_events`` (first rows) and ``keep_signal`` (the
    first N label-1 events), in file order."""
    rows = np.arange(min(labels.size, max_events or labels.size))
    if keep_signal is not None:
        sig = np.flatnonzero(labels[rows] == 1)
        rows = np.setdiff1d(rows, sig[keep_signal:], assume_unique=True)
    return rows


def _events_table(run: Run) -> None:
    """``input.kind: features``: the manifest of a features table (no event file)."""
    inp = run.cfg.input
    src = Path(inp.path or "")
    f = read_features_table(src)
    labels = f.table["label"]
    if inp.keep_signal is not None and not f.labelled:
        raise ConfigError(f"input:keep_signal: {src} has no labels")
    key = Path(inp.key) if inp.key else None
    if key is not None and f.labelled:
        raise ConfigError(f"input:key: {src} has labels already; remove input.key")
    rows = _table_rows(labels, inp.max_events, inp.keep_signal)
    write_json(
        run.path(Products.MANIFEST),
        {
            "source": str(src.resolve()),
            "path": str(src.resolve()),
            "kind": "features",
            "n_events": int(rows.size),
            "labelled": f.labelled,
            "n_signal_injected": None,
            "n_signal": int((labels[rows] == 1).sum()) if f.labelled else None,
            "key": str(key.resolve()) if key else None,
            "stop": inp.max_events,
            "keep_signal": inp.keep_signal,
            "file": _file_state(src),
        },
    )


def _events_file(run: Run) -> None:
    inp = run.cfg.input
    if inp.kind == "features":
        _events_table(run)
        return
    src = Path(inp.path or "")
    if inp.kind == "lhco" and detect_format(src) != "hdf5":
        raise InputError(f"{src}: input.kind is 'lhco' but the file is not HDF5")
    read_kw = _root_reading(run.cfg)
    labelled = has_labels(src, **read_kw)
    key = Path(inp.key) if inp.key else None
    if key is not None and labelled:
        raise ConfigError(f"input:key: {src} has labels already; remove input.key")
    n_file = num_events(src, **({"tree": inp.tree} if read_kw else {}))
    path, n = src, min(n_file, inp.max_events or n_file)
    n_injected = None
    if _rewrites_input(run.cfg):
        inject = inp.inject
        run.path(Products.EVENTS).parent.mkdir(parents=True, exist_ok=True)
        s = resample(
            src,
            run.path(Products.EVENTS),
            labelled=labelled,
            stop=inp.max_events,
            keep_signal=inp.keep_signal,
            inject=inject.path if inject else None,
            n_inject=inject.n if inject else 0,
            seed=inject.seed if inject else 1,
            **read_kw,
        )
        path, n, n_injected = s.path, s.n_events, s.n_signal_injected
        labelled = labelled or inject is not None
    write_json(
        run.path(Products.MANIFEST),
        {
            "source": str(src.resolve()),
            "path": str(path.resolve()),
            "n_events": n,
            "labelled": bool(labelled),
            "n_signal_injected": n_injected,
            "key": str(key.resolve()) if key else None,
            "stop": (inp.max_events if path == src else None),
            "file": _file_state(src),
        },
    )


EVENTS = Step(
    "events",
    inputs=_events_inputs,
    outputs=_events_outputs,
    config_of=_events_config,
    run=lambda run: (_events_generated if run.cfg.generates else _events_file)(run),
)


# ---------------------------------------------------------------------------- features


def _features_config(cfg: PipelineConfig) -> dict[str, Any]:
    f = cfg.features
    conf: dict[str, Any] = {"r": f.r, "min_pt": f.min_pt, "chunk_size": f.chunk_size}
    if cfg.input.kind == "root":
        conf["root"] = {"tree": cfg.input.tree, "branches": to_dict(cfg.input.branches)}
    return conf


def _features_inputs(run: Run) -> list[Path]:
    inputs = [run.path(Products.MANIFEST)]
    produced = run.path(Products.EVENTS)
    if produced.exists() or _has_signal(run.cfg) or _rewrites_input(run.cfg):
        inputs.append(produced)
    elif run.cfg.generates:
        inputs.append(run.path(Products.BACKGROUND))
    return inputs


def _features(run: Run) -> None:
    m = read_json(run.path(Products.MANIFEST))
    if m.get("kind") == "features":  # a features table: its rows, as a features file
        f = read_features_table(m["path"])
        rows = _table_rows(f.table["label"], m.get("stop"), m.get("keep_signal"))
        write_features(run.path(Products.FEATURES), f.take(rows))
        return
    features_from_file(
        m["path"],
        run.path(Products.FEATURES),
        run.cfg.features,
        stop=m.get("stop"),
        progress=run.progress,
        **_root_reading(run.cfg),
    )


FEATURES = Step(
    "features",
    inputs=_features_inputs,
    outputs=lambda _: [Products.FEATURES],
    config_of=_features_config,
    run=_features,
)


# ---------------------------------------------------------------------------- reference


def _reference_process(cfg: PipelineConfig) -> Any:
    """The QCD process of the generated reference: the data's recipe (``input.generate``),
    restricted to ``score.reference.mhat_window``."""
    proc = cfg.input.generate.process("background")
    window = cfg.score.reference.mhat_window
    if window is None:
        return proc
    lo, hi = window
    extra = [*proc.extra, f"PhaseSpace:mHatMin = {lo}", f"PhaseSpace:mHatMax = {hi}"]
    return dataclasses.replace(proc, extra=extra)


def _generates_reference(cfg: PipelineConfig) -> bool:
    return cfg.score.method == "reference" and cfg.score.reference.generates


def _reference_config(cfg: PipelineConfig) -> dict[str, Any]:
    ref = cfg.score.reference
    sample = _sample_config(cfg, _reference_process(cfg), ref.n_events, ref.seed)
    return {**sample, "features": to_dict(cfg.features)}


def _reference(run: Run) -> None:
    ref = run.cfg.score.reference
    sample = (_reference_process(run.cfg), ref.n_events, ref.seed)
    _generate_sample(run, *sample, Products.REFERENCE)
    features_from_file(
        run.path(Products.REFERENCE),
        run.path(Products.REFERENCE_FEATURES),
        run.cfg.features,
        progress=run.progress,
    )


REFERENCE = Step(
    "reference",
    inputs=lambda _: [],
    outputs=lambda _: [Products.REFERENCE, Products.REFERENCE_FEATURES],
    config_of=_reference_config,
    run=_reference,
    when=_generates_reference,
)


def _reference_table(cfg: PipelineConfig, out: Path) -> Path:
    """The features table of the reference template: generated, or ``score.reference.path``."""
    ref = cfg.score.reference
    return out / Products.REFERENCE_FEATURES if ref.path is None else Path(ref.path)


# ---------------------------------------------------------------------------- embed


def _embedded(cfg: PipelineConfig, out: Path) -> list[tuple[Path, str]]:
    """``(features table, its latent product)`` of every table the weak method reads: the
    data, and the reference template of ``score.method: reference``."""
    pairs = [(out / Products.FEATURES, Products.FEATURES_LATENT)]
    if cfg.score.method == "reference":
        pairs.append((_reference_table(cfg, out), Products.REFERENCE_LATENT))
    return pairs


def _encoder(cfg: PipelineConfig) -> Path:
    return encoder_file(cfg.score.embed.encoder or "")


def _embed(run: Run) -> None:
    e = run.cfg.score.embed
    for table, product in _embedded(run.cfg, run.out):
        _, n, dim = write_latent_table(
            _encoder(run.cfg),
            table,
            run.path(product),
            chunk_size=e.chunk_size,
            batch_size=e.batch_size,
            progress=run.progress,
        )
        if run.log:
            run.log(f"  {product}: {n} events, {dim} latent dimensions per jet")


EMBED = Step(
    "embed",
    # the encoder file by content: a retrained encoder at the same path re-embeds
    inputs=lambda run: [_encoder(run.cfg), *(t for t, _ in _embedded(run.cfg, run.out))],
    outputs=lambda run: [p for _, p in _embedded(run.cfg, run.out)],
    # not chunk_size: the latent columns are the same for every chunk size
    config_of=lambda cfg: {"batch_size": cfg.score.embed.batch_size},
    run=_embed,
    when=lambda cfg: bool(cfg.score.latent_features),
)


# ---------------------------------------------------------------------------- train


def _train_key_config(cfg: PipelineConfig) -> dict[str, Any]:
    # data.symmetry only when on: the keys of runs made before that option existed hold
    d = key_dict(to_dict(cfg.train))
    d["runtime"].pop("progress", None)
    return d


def _train_files(run: Run) -> list[Path]:
    """The train step's inputs, hashed by content: the features table, and the pretrained
    encoder (``train.model.encoder``) or initialising model (``train.model.init``) if any,
    so a retrained one at the same path retrains."""
    m = run.cfg.train.model
    files = [run.path(Products.FEATURES)]
    if m.encoder_path is not None:
        files.append(encoder_file(m.encoder_path))
    if m.init is not None:
        files.append(model_file(m.init))
    return files


def _train(run: Run) -> None:
    m = read_json(run.path(Products.MANIFEST))
    tc = run.cfg.train
    if not m["labelled"] and (
        tc.data.mode == "background-only" or tc.model.objective == "supervised"
    ):
        raise ConfigError(
            "train:data:mode: the events have no labels (black box); use mode 'data-like' "
            "with an unsupervised objective"
        )
    # a train step with a record of a finished run reruns from scratch (config, input or
    # product changed, or --force); without one, a partial run of the same step resumes
    features = run.path(Products.FEATURES)
    train_dir = run.path(Products.TRAIN_DIR)
    key = input_key(run.out, _train_key_config(run.cfg), _train_files(run))
    tag = run.path(Products.TRAIN_TAG)
    resume = (
        "train" not in run.had_record
        and tag.is_file()
        and tag.read_text().strip() == key
        and run.path(Products.CHECKPOINT).is_file()
        and run.path(Products.MODEL).is_file()
    )
    if resume and run.log:
        run.log(f"  resuming the interrupted training from {Products.CHECKPOINT}")
    if not resume:
        shutil.rmtree(train_dir, ignore_errors=True)
        train_dir.mkdir(parents=True)
        with atomic_path(tag) as tmp:
            tmp.write_text(key + "\n")
    d = to_dict(tc)
    d["data"]["path"] = str(features.resolve())
    d["runtime"]["out_dir"] = str(train_dir.resolve())
    d["runtime"]["progress"] = run.progress
    train(from_dict(TrainConfig, d, source="train"), resume=resume, progress=run.progress)


TRAIN = Step(
    "train",
    inputs=_train_files,
    outputs=lambda _: [Products.MODEL],
    config_of=_train_key_config,
    run=_train,
    when=lambda cfg: cfg.score.trains_model,
)


# ---------------------------------------------------------------------------- scores


def _weak_tables(cfg: PipelineConfig, out: Path) -> list[Path]:
    """The tables a weakly supervised method reads: the data, then the reference template
    (``score.method: reference``); their latent versions (``embed`` step) when the
    features have latent ones."""
    if cfg.score.latent_features:
        return [out / p for _, p in _embedded(cfg, out)]
    tables = [out / Products.FEATURES]
    if cfg.score.method == "reference":
        tables.append(_reference_table(cfg, out))
    return tables


def _weak_scores(run: Run) -> None:
    cfg = run.cfg
    weak_dir = run.path(Products.WEAK_DIR)
    shutil.rmtree(weak_dir, ignore_errors=True)
    if cfg.score.method == "feature":
        f = cfg.score.feature
        feature_score_table(
            run.path(Products.FEATURES), run.path(Products.SCORES), f.name, f.direction, weak_dir
        )
        return
    if cfg.score.method == "density":
        info = density_score_table(
            run.path(Products.FEATURES),
            run.path(Products.SCORES),
            cfg.score.density,
            weak_dir,
            progress=run.progress,
        )
        if run.log:
            run.log(
                f"  density: flow on {info['n_jets_fit']} jets, {info['flow_epochs']} epochs, "
                f"validation NLL {info['val_nll']:.3f}"
            )
        return
    wcfg = cfg.score.weak_config(cfg.regions.signal_region)
    data, *reference = _weak_tables(cfg, run.out)
    info = weak_score_table(
        data,
        run.path(Products.SCORES),
        wcfg,
        reference_path=reference[0] if reference else None,
        products_dir=weak_dir,
        progress=run.progress,
        # outside weak/ (rebuilt by every run of the step): another classifier on the same
        # data reuses the flow
        flow_cache=run.path(Products.FLOW_CACHE),
    )
    if run.log and info.get("flow_from_cache"):
        run.log(f"  {wcfg.method}: the sideband flow was trained before on the same data (cache)")
    auc = info.get("auc_data_vs_template")
    if run.log and auc is not None:
        run.log(f"  {wcfg.method}: signal-region data vs template AUC {auc:.3f} (out of fold)")


def _scores(run: Run) -> None:
    s = run.cfg.score
    if not s.trains_model:
        _weak_scores(run)
        return
    nt = run.cfg.train.runtime.num_threads
    if nt:  # as in training (the trainer sets it; a skipped train step did not)
        import torch

        torch.set_num_threads(nt)
    score_features(
        run.path(Products.TRAIN_DIR),
        run.path(Products.FEATURES),
        run.path(Products.SCORES),
        batch_size=s.batch_size,
        device=s.device,
        progress=run.progress,
    )


def _scores_inputs(run: Run) -> list[Path]:
    s = run.cfg.score
    if s.trains_model:
        return [run.path(Products.MODEL), run.path(Products.FEATURES)]
    if s.method in ("feature", "density"):
        return [run.path(Products.FEATURES)]
    return _weak_tables(run.cfg, run.out)


def _scores_config(cfg: PipelineConfig) -> dict[str, Any]:
    s = cfg.score
    if s.trains_model:
        return {"batch_size": s.batch_size, "device": s.device}
    if s.method == "feature":
        return {"method": s.method, "feature": to_dict(s.feature)}
    if s.method == "density":
        return {"method": s.method, "density": to_dict(s.density)}
    weak = to_dict(s.weak_config(cfg.regions.signal_region))
    weak.pop("workers")  # how many processes train the ensemble does not change the scores
    return {
        "method": s.method,
        "weak": weak,
        "reference": to_dict(s.reference) if s.method == "reference" else None,
    }


SCORES = Step(
    "scores",
    inputs=_scores_inputs,
    outputs=lambda run: (
        [Products.SCORES] + ([] if run.cfg.score.trains_model else [Products.WEAK_INFO])
    ),
    config_of=_scores_config,
    run=_scores,
)


# ---------------------------------------------------------------------------- regions


def _regions(run: Run) -> None:
    col = run.cfg.score.column
    mjj, score = _test_events(run, col)
    if mjj.size == 0:
        raise InputError(
            f"{run.path(Products.SCORES)}: no test events (train.data fractions leave none)"
        )
    rc = run.cfg.regions
    flat = None
    if rc.flatten:  # cut on the score's quantile at its own mjj (mjj-flat efficiency)
        qmap = MjjQuantileMap.fit(
            mjj, score, [1.0 - e for e in rc.working_points], rc.signal_region,
            run.cfg.stats.mjj_range, rc.flatten_degree, rc.flatten_bins,
        )  # fmt: skip
        score, flat = qmap.transform(mjj, score), qmap.to_dict()
    summary = region_summary(mjj, score, rc.working_points, rc.signal_region)
    write_json(
        run.path(Products.REGIONS),
        {"event_score": run.cfg.score.event_score, "score_column": col, "flatten": flat,
         **summary},
    )  # fmt: skip


REGIONS = Step(
    "regions",
    inputs=lambda run: [run.path(Products.SCORES)],
    outputs=lambda _: [Products.REGIONS],
    config_of=lambda cfg: {
        # the SR shift and uncertainty are BumpHunter's, not the regions'
        "regions": {
            k: v
            for k, v in to_dict(cfg.regions).items()
            if k not in ("signal_region_shift", "signal_region_uncertainty")
        },
        "event_score": cfg.score.event_score,
        "mjj_range": list(cfg.stats.mjj_range) if cfg.regions.flatten else None,
    },
    run=_regions,
)


# ---------------------------------------------------------------------------- fit


def _fit(run: Run) -> None:
    reg = read_json(run.path(Products.REGIONS))
    mjj, score = _cut_events(run, reg)
    edges = run.cfg.stats.edges()
    cuts: list[tuple[str, float | None, float | None]] = [("inclusive", None, None)]
    cuts += [(w["name"], w["efficiency"], w["threshold"]) for w in reg["working_points"]]
    res: dict[str, Any] = {}
    for name, eff, thr in cuts:
        h = histogram(mjj if thr is None else mjj[score > thr], edges)
        entry: dict[str, Any] = {"efficiency": eff, "threshold": thr, "histogram": h.to_dict()}
        plot = run.path(run.plot(f"fit_{name}"))
        tmpl = None
        try:
            if thr is not None:  # the spurious-signal gate's template: the failing events,
                # reweighted by the measured efficiency slope in mjj (control selection)
                tmpl = _control(run, histogram(mjj[score <= thr], edges), h, name)
                if tmpl is not None:
                    entry["template"] = tmpl.to_dict()
            fit = fit_spectrum(h, _fit_config(run, tmpl), template=tmpl)
        except FitError as e:
            entry["error"] = str(e)
            run.warn(f"fit of the {name} spectrum failed: {e}")
            plot_message(plot, f"{name}: {e}")
        else:
            entry["fit"] = fit.to_dict()
            title = "all test events" if thr is None else f"score > {thr:.4g} ({name})"
            plot_fit(fit, plot, title=title)
        res[name] = entry
    write_json(run.path(Products.FIT), {"selections": res})


FIT = Step(
    "fit",
    inputs=lambda run: [run.path(Products.SCORES), run.path(Products.REGIONS)],
    outputs=lambda run: [Products.FIT] + [run.plot(f"fit_{n}") for n in _selection_names(run.cfg)],
    config_of=lambda cfg: {
        "mjj_range": list(cfg.stats.mjj_range),
        "bin_width": cfg.stats.bin_width,
        "fit": to_dict(cfg.stats.fit),
        "signal_region": list(cfg.regions.signal_region),
        "plot_format": cfg.report.plot_format,
    },
    run=_fit,
)


# ---------------------------------------------------------------------------- bumphunt


def _bumphunt_config(cfg: PipelineConfig, name: str) -> Any:
    """``stats.bumphunt`` of a selection, with its ``regions.signal_region_shift`` and
    ``signal_region_uncertainty`` on the signal region."""
    effs = {selection_name(e): e for e in cfg.regions.working_points}
    shift, unc = cfg.regions.systematic_of(effs.get(name))
    if shift == 0 and unc == 0:
        return cfg.stats.bumphunt
    lo, hi = cfg.regions.signal_region
    return dataclasses.replace(
        cfg.stats.bumphunt, shift=shift, uncertainty=unc, systematic_window=(float(lo), float(hi))
    )


def _bumphunt(run: Run) -> None:
    inputs = _fit_inputs(run)
    fits = _fits(run, inputs)
    res: dict[str, Any] = {}
    for name in _selection_names(run.cfg):
        if name not in fits:
            res[name] = {"error": "no background fit"}
            for p in ("bumphunt", "tstat"):
                plot_message(run.path(run.plot(f"{p}_{name}")), f"{name}: no fit")
            continue
        bcfg = _bumphunt_config(run.cfg, name)
        bh = bumphunt(fits[name], bcfg)
        res[name] = bh.to_dict()
        res[name]["null_check"] = _null_check(run, fits[name], inputs[name][1], bcfg)
        plot_bumphunt(bh, run.path(run.plot(f"bumphunt_{name}")), title=name)
        plot_tstat(bh, run.path(run.plot(f"tstat_{name}")))
    write_json(run.path(Products.BUMPHUNT), {"selections": res})


def _null_check(run: Run, fit: FitResult, template: Histogram | None, bcfg: Any) -> dict[str, Any]:
    """Global p-values of background-only pseudo-data through the same fit + BumpHunter
    (``bcfg``): drawn from the fitted model and (after a cut) from the control-selection
    template."""
    st = run.cfg.stats
    fcfg = _fit_config(run, template)
    out = null_check(fit, fcfg, bcfg, st.null_check, control=template, template=template)
    return {k: v.to_dict(with_pvalues=False) for k, v in out.items()}


BUMPHUNT = Step(
    "bumphunt",
    inputs=lambda run: [run.path(Products.FIT)],
    outputs=lambda run: (
        [Products.BUMPHUNT]
        + [run.plot(f"{p}_{n}") for n in _selection_names(run.cfg) for p in ("bumphunt", "tstat")]
    ),
    config_of=lambda cfg: {
        "bumphunt": to_dict(cfg.stats.bumphunt),
        "signal_region_shift": cfg.regions.signal_region_shift,
        "signal_region_uncertainty": cfg.regions.signal_region_uncertainty,
        "signal_region": list(cfg.regions.signal_region),
        "null_check": to_dict(cfg.stats.null_check),
        "plot_format": cfg.report.plot_format,
    },
    run=_bumphunt,
)


# ---------------------------------------------------------------------------- limits


def _limits(run: Run) -> None:
    fits = _fits(run)
    res: dict[str, Any] = {}
    ws_dir = run.path(Products.WORKSPACES)
    shutil.rmtree(ws_dir, ignore_errors=True)
    lcfg = dataclasses.replace(run.cfg.stats.limits, masses=run.cfg.stats.limit_masses())
    for eff in run.cfg.regions.working_points:
        name = selection_name(eff)
        plot = run.path(run.plot(f"brazil_{name}"))
        if name not in fits:
            res[name] = {"error": "no background fit"}
            plot_message(plot, f"{name}: no fit")
            continue
        try:
            bcfg = _bumphunt_config(run.cfg, name)  # the signal region's known bias, if any
            edges = fits[name].edges
            lim = limits_for_fit(
                fits[name],
                lcfg,
                scale=bcfg.bin_scale(edges) if bcfg.has_systematic else None,
                uncertainty=bcfg.bin_uncertainty(edges),
            )
        except FitError as e:  # e.g. pyhf on a tiny spectrum: the other selections go on
            res[name] = {"error": str(e)}
            run.warn(f"limits of the {name} selection failed: {e}")
            plot_message(plot, f"{name}: {e}")
            continue
        res[name] = lim.to_dict()
        lim.write_workspaces(ws_dir / name)
        plot_brazil(lim, plot)
    write_json(run.path(Products.LIMITS), {"selections": res})


LIMITS = Step(
    "limits",
    inputs=lambda run: [run.path(Products.FIT)],
    outputs=lambda run: (
        [Products.LIMITS]
        + [run.plot(f"brazil_{selection_name(e)}") for e in run.cfg.regions.working_points]
    ),
    config_of=lambda cfg: {
        "limits": to_dict(cfg.stats.limits),
        "masses": cfg.stats.limit_masses(),
        "signal_region_shift": cfg.regions.signal_region_shift,
        "signal_region_uncertainty": cfg.regions.signal_region_uncertainty,
        "signal_region": list(cfg.regions.signal_region),
        "plot_format": cfg.report.plot_format,
    },
    run=_limits,
)


# ---------------------------------------------------------------------------- report


def _report_inputs(run: Run) -> list[Path]:
    names = (Products.MANIFEST, Products.FEATURES, Products.SCORES, Products.REGIONS,
             Products.FIT, Products.BUMPHUNT, Products.LIMITS)  # fmt: skip
    inputs = [run.path(n) for n in names]
    if not run.cfg.score.trains_model:
        inputs.append(run.path(Products.WEAK_INFO))
    manifest = run.path(Products.MANIFEST)
    m = read_json(manifest) if manifest.is_file() else {}
    if m.get("key"):
        inputs.append(Path(m["key"]))
    return inputs


def _report_key_config(cfg: PipelineConfig) -> dict[str, Any]:
    """The full configuration, ``train.data.symmetry`` only when on (as the train key)."""
    d = config_to_dict(cfg)
    d["train"] = key_dict(d["train"])
    return d


def _report(run: Run) -> None:
    timings = step_seconds(run.out, [n for n in plan_steps(run.cfg) if n != "report"])
    write_report(run.cfg, run.out, run.plot, timings)


REPORT = Step(
    "report",
    inputs=_report_inputs,
    outputs=lambda run: (
        [Products.REPORT, Products.RESULTS]
        + [run.plot(n) for n in ("scores", "mjj")]
        + ([run.plot("learning_curve")] if run.cfg.score.trains_model else [])
    ),
    config_of=lambda cfg: {"report": to_dict(cfg.report), "config": _report_key_config(cfg)},
    run=_report,
)


#: every step, in order (a run uses those whose ``when`` holds for its configuration)
STEPS: tuple[Step, ...] = (
    BACKGROUND,
    SIGNAL,
    EVENTS,
    FEATURES,
    REFERENCE,
    EMBED,
    TRAIN,
    SCORES,
    REGIONS,
    FIT,
    BUMPHUNT,
    LIMITS,
    REPORT,
)


def step_names() -> tuple[str, ...]:
    """The names of all steps, in order."""
    return tuple(s.name for s in STEPS)


def plan_steps(cfg: PipelineConfig) -> list[str]:
    """The step names a config runs, in order."""
    return [s.name for s in STEPS if s.when(cfg)]
