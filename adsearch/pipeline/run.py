"""The search chain driven by one analysis config: events -> ... -> report, with a step cache.

:func:`run_pipeline` runs the steps of :data:`adsearch.pipeline.steps.STEPS` in order. Every
step writes its products into the run directory (atomically) and is skipped when its
configuration and the content of its inputs are unchanged
(:func:`adsearch.pipeline.cache.run_step`), so a rerun after a crash or a config change redoes
only the steps that the change reaches. One progress line per step:
``[4/11] train ... done in 41 s`` or ``[4/11] train ... skipped (unchanged)``.

This module only runs the table (the steps and their products are listed there).
Statistics use the test split only (events never seen in training). ``run.json`` records
what this invocation did (ran / skipped, seconds per step).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from adsearch import __version__
from adsearch.errors import ConfigError, InputError
from adsearch.io import detect_format, has_labels, num_events
from adsearch.io.atomic import atomic_path
from adsearch.io.jsonfile import read_json, write_json
from adsearch.jets.featurefile import (
    features_file_format,
    read_features_metadata,
    read_lhco_features_h5,
)
from adsearch.models.pretrained import read_encoder
from adsearch.pipeline.cache import read_record, run_step, step_seconds
from adsearch.pipeline.config import PipelineConfig, config_to_dict, load_config
from adsearch.pipeline.defaults import quickstart_config
from adsearch.pipeline.steps import STEPS as STEP_TABLE
from adsearch.pipeline.steps import Products, Run, plan_steps, step_names
from adsearch.train.trainer import read_model_file

__all__ = [
    "STEPS",
    "RunResult",
    "StepResult",
    "check_input",
    "plan_steps",
    "run_pipeline",
    "step_seconds",
]

#: every step name, in order (a run uses the subset its input kind needs)
STEPS = step_names()

#: files of the run directory outside the step table
CONFIG_COPY = "config.yaml"
RUN_RECORD = "run.json"


@dataclass
class StepResult:
    """What one step did in this run: ``status`` is ``"ran"`` or ``"skipped"``."""

    name: str
    status: str
    seconds: float


@dataclass
class RunResult:
    """Outcome of :func:`run_pipeline`: step statuses, the run directory and ``results.json``."""

    outdir: Path
    steps: list[StepResult]
    results: dict[str, Any] = field(default_factory=dict, repr=False)
    seconds: float = 0.0

    @property
    def statuses(self) -> dict[str, str]:
        """``{step: "ran" | "skipped"}`` in step order."""
        return {s.name: s.status for s in self.steps}

    @property
    def report(self) -> Path:
        """Path of ``report.md``."""
        return self.outdir / Products.REPORT


def _generated_fallback(cfg: PipelineConfig) -> PipelineConfig:
    """``cfg`` with its input switched to the ``generate`` recipe (file options dropped)."""
    inp = dataclasses.replace(
        cfg.input, kind="generate", path=None, max_events=None, keep_signal=None, inject=None,
        key=None,
    )  # fmt: skip
    return dataclasses.replace(cfg, input=inp)


def _fallback(cfg: PipelineConfig, log: Callable[[str], None] | None) -> PipelineConfig:
    """Check the input files; switch to the generated recipe if asked and the file is missing."""
    inp = cfg.input
    if cfg.generates:
        return cfg
    path = Path(inp.path or "")
    where = f" (get it from {inp.download})" if inp.download else ""
    if not path.is_file():
        if inp.fallback == "generate":
            if log:
                log(f"input: {path} not found{where}; using the generated fallback sample")
            return _generated_fallback(cfg)
        raise InputError(
            f"input:path: {path} not found{where}; or run with --set input.fallback=generate"
        )
    for name, p in (("input:key", inp.key), ("input:inject:path", inp.inject and inp.inject.path)):
        if p and not Path(p).is_file():
            raise InputError(f"{name}: {p} not found{where}")
    return cfg


def check_input(cfg: PipelineConfig) -> None:
    """Read the headers of the input files, so a bad input fails before anything is written.

    Raises :class:`~adsearch.errors.InputError` naming the file (not an event file, no such
    TTree or branch, unreadable) or, with latent features, the encoder (missing, not an
    encoder file) or a table without constituents to embed, and the training's pretrained
    encoder or initialising model (``train.model.encoder`` / ``init``).
    """
    _check_latent(cfg)
    _check_train_files(cfg)
    if cfg.generates:
        return
    inp = cfg.input
    src = Path(inp.path or "")
    if inp.kind == "features":  # a features table: its layout (an LHCO .h5 is read whole)
        if features_file_format(src) == "parquet":
            read_features_metadata(src)
        else:
            read_lhco_features_h5(src)
        return
    read_kw: dict[str, Any] = (
        {"tree": inp.tree, "branches": inp.branches} if inp.kind == "root" else {}
    )
    fmt = detect_format(src)
    if inp.kind == "lhco" and fmt != "hdf5":
        raise InputError(f"{src}: input.kind is 'lhco' but the file is not HDF5")
    if fmt == "parquet":
        raise InputError(f"{src}: is a parquet (features) file, not an event file")
    num_events(src, **({"tree": inp.tree} if read_kw else {}))
    has_labels(src, **read_kw)
    if inp.inject is not None:
        num_events(inp.inject.path)


def _check_train_files(cfg: PipelineConfig) -> None:
    """The files the train step starts from are readable (``train.model.encoder`` /
    ``train.model.init``), if it runs."""
    m = cfg.train.model
    if not cfg.score.trains_model:
        return
    if m.encoder is not None:
        try:
            read_encoder(m.encoder_path or "")
        except InputError as e:
            raise InputError(f"train:model:encoder: {e}") from None
    if m.init is not None:
        try:
            read_model_file(m.init)
        except InputError as e:
            raise InputError(f"train:model:init: {e}") from None


def _check_latent(cfg: PipelineConfig) -> None:
    """Latent features (``score.weak.features``): the encoder is readable, and the tables to
    embed can have constituents (an LHCO features ``.h5`` has none)."""
    if not cfg.score.latent_features:
        return
    try:
        read_encoder(cfg.score.embed.encoder or "")
    except InputError as e:
        raise InputError(f"score:embed:encoder: {e}") from None
    tables = [("input:path", cfg.input.path if cfg.input.kind == "features" else None)]
    if cfg.score.method == "reference":
        tables.append(("score:reference:path", cfg.score.reference.path))
    for key, path in tables:
        if path is not None and features_file_format(path) == "lhco-h5":
            raise InputError(
                f"{key}: {path} is an LHCO features table without jet constituents: nothing "
                f"to embed for the latent feature {cfg.score.latent_features[0]!r} (give a "
                "Parquet features file of adsearch features)"
            )


def _resolve_config(config: PipelineConfig | str | os.PathLike[str] | None) -> PipelineConfig:
    if config is None:
        return quickstart_config()
    if isinstance(config, PipelineConfig):
        return config
    return load_config(config)


def _plan(cfg: PipelineConfig, force: Sequence[str], until: str | None) -> list[str]:
    names = plan_steps(cfg)
    bad = sorted(set(force) - set(STEPS) - {"all"})
    if bad:
        raise ConfigError(f"--force: unknown step {bad[0]!r} (steps: {', '.join(STEPS)}, all)")
    if until is not None:
        if until not in names:
            raise ConfigError(f"--until: {until!r} is not a step of this run ({', '.join(names)})")
        names = names[: names.index(until) + 1]
    return names


def _start_run_dir(out: Path, cfg: PipelineConfig) -> bool:
    """Create the run directory and write its ``config.yaml``; True if it was created."""
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / CONFIG_COPY) as tmp:
        tmp.write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    return created


def run_pipeline(
    config: PipelineConfig | str | os.PathLike[str] | None,
    outdir: str | os.PathLike[str],
    *,
    force: Sequence[str] = (),
    until: str | None = None,
    log: Callable[[str], None] | None = print,
    progress: bool | None = None,
) -> RunResult:
    """Run (or resume) the analysis ``config`` in ``outdir``; see the module docstring.

    Parameters
    ----------
    config : PipelineConfig, path of an analysis YAML, or None for the built-in quickstart.
    outdir : run directory (created); products of earlier runs there are reused when their
        step's configuration and inputs are unchanged.
    force : step names to rerun even if unchanged (``"all"`` reruns everything).
    until : stop after this step (e.g. ``"features"``).
    log : called with one line per step (``None``: silent).
    progress : progress bars of the long steps (default: on when stderr is a terminal).

    Returns
    -------
    RunResult
        Per-step status (``"ran"``/``"skipped"``) and seconds, and the ``results.json`` data.

    A configuration or input error is raised before the run directory is touched; a run that
    fails in its first step leaves no run directory behind.
    """
    cfg = _fallback(_resolve_config(config), log)
    names = _plan(cfg, force, until)
    check_input(cfg)
    out = Path(outdir)
    created = _start_run_dir(out, cfg)
    run = Run(cfg, out, progress=progress, log=log)
    run.had_record = {n for n in names if read_record(out, n) is not None}
    results: list[StepResult] = []
    t_run = time.perf_counter()
    try:
        for i, name in enumerate(names, 1):
            results.append(_run_one(run, name, i, len(names), force))
    except BaseException:
        if created and not any(r.status == "ran" for r in results):
            shutil.rmtree(out, ignore_errors=True)  # nothing was made: leave nothing behind
        raise
    total = time.perf_counter() - t_run
    write_json(
        out / RUN_RECORD,
        {
            "steps": [{"name": r.name, "status": r.status, "seconds": r.seconds} for r in results],
            "seconds": total,
            "warnings": run.warnings,
        },
    )
    done = "report" in names and (out / Products.RESULTS).is_file()
    res = read_json(out / Products.RESULTS) if done else {}
    if log:
        log(f"total {_fmt_s(total)}; report: {out / Products.REPORT}")
    return RunResult(out, results, res, total)


def _run_one(run: Run, name: str, i: int, n: int, force: Sequence[str]) -> StepResult:
    step = STEP_TABLE[STEPS.index(name)]
    out, log = run.out, run.log
    if "all" in force or name in force:
        (out / ".state" / f"{name}.json").unlink(missing_ok=True)
    head = f"[{i:>{len(str(n))}}/{n}] {name}"

    def fn(_out: Path) -> None:
        if log:  # only announced when it runs; a skipped step gets one line
            log(f"{head} ...")
        step.run(run)

    t0 = time.perf_counter()
    # the package version is part of every key: an upgraded adsearch redoes the run
    key_config = {"adsearch": __version__, "step": step.config_of(run.cfg)}
    ran = run_step(out, name, key_config, step.inputs(run), step.outputs(run), fn)
    dt = time.perf_counter() - t0
    if log:
        log(f"{head} ... " + (f"done in {_fmt_s(dt)}" if ran else "skipped (unchanged)"))
    return StepResult(name, "ran" if ran else "skipped", dt)


def _fmt_s(s: float) -> str:
    if s < 10:
        return f"{s:.1f} s"
    if s < 600:
        return f"{s:.0f} s"
    return f"{s / 60:.1f} min"
