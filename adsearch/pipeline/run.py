"""The search chain driven by one analysis config: events -> ... -> report, with a step cache.

:func:`run_pipeline` runs the steps below in order. Every step writes its products into the
run directory (atomically) and is skipped when its configuration and the content of its
inputs are unchanged (:func:`adsearch.pipeline.cache.run_step`), so a rerun after a crash or a
config change redoes only the steps that the change reaches. One progress line per step:
``[4/11] train ... done in 41 s`` or ``[4/11] train ... skipped (unchanged)``.

=============  ==========================================================================
step           products (in the run directory)
=============  ==========================================================================
background     ``events/background.h5`` (generated QCD, ``input.kind: generate`` only)
signal         ``events/signal.h5`` (generated signal, if ``n_signal > 0``)
events         ``events.json`` (which event file, how many events, labels, answer key);
               ``events/events.h5`` when events are mixed, filtered or injected
features       ``features.parquet`` (two leading anti-kT jets, constituents)
train          ``train/`` (``model.pt``, ``checkpoint.pt``, metrics; an interrupted
               training of the same step resumes from its checkpoint)
scores         ``scores.parquet`` (event features, jet and event scores, train/val/test split)
regions        ``regions.json`` (working-point thresholds from test events outside the SR)
fit            ``fit.json`` + ``plots/fit_<selection>.png`` (inclusive and every working point)
bumphunt       ``bumphunt.json`` + ``plots/bumphunt_*.png``, ``plots/tstat_*.png``
limits         ``limits.json`` + ``plots/brazil_*.png`` + ``workspaces/*.json`` (pyhf)
report         ``report.md``, ``results.json``, ``plots/roc.png``, ``plots/scores.png``,
               ``plots/learning_curve.png``, ...; with truth: the score beside the jet-mass,
               girth and GMM-density baselines
=============  ==========================================================================

Statistics use the test split only (events never seen in training). ``run.json`` records
what this invocation did (ran / skipped, seconds per step).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from adsearch.config import from_dict, to_dict
from adsearch.errors import ConfigError, InputError
from adsearch.io.atomic import atomic_path
from adsearch.pipeline.cache import file_hash, input_key, read_record, run_step
from adsearch.pipeline.config import PipelineConfig, config_to_dict, load_config

__all__ = ["STEPS", "RunResult", "StepResult", "plan_steps", "run_pipeline"]

#: every step name, in order (a run uses the subset its input kind needs)
STEPS = (
    "background",
    "signal",
    "events",
    "features",
    "train",
    "scores",
    "regions",
    "fit",
    "bumphunt",
    "limits",
    "report",
)


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
        return self.outdir / "report.md"


@dataclass
class _Step:
    name: str
    config: Any
    inputs: list[Path]
    outputs: list[str]
    fn: Callable[[Path], None]


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _write_json(path: Path, data: Any) -> None:
    from adsearch.stats.io import write_json

    write_json(path, data)


def _sel_name(eff: float | None) -> str:
    """Selection label: ``inclusive`` or ``eff0.01`` (file-name safe)."""
    return "inclusive" if eff is None else f"eff{eff:g}"


def _file_state(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def plan_steps(cfg: PipelineConfig) -> list[str]:
    """The step names a config runs, in order."""
    names = list(STEPS)
    gen = cfg.input.generate
    if not cfg.generates:
        names.remove("background")
        names.remove("signal")
    elif gen.signal is None or (gen.n_signal == 0 and not gen.blackbox):
        names.remove("signal")
    return names


class _Pipeline:
    def __init__(self, cfg: PipelineConfig, out: Path, progress: bool | None) -> None:
        self.cfg = cfg
        self.out = out
        self.progress = progress

    # ------------------------------------------------------------------ paths
    @property
    def manifest(self) -> Path:
        return self.out / "events.json"

    @property
    def features(self) -> Path:
        return self.out / "features.parquet"

    @property
    def train_dir(self) -> Path:
        return self.out / "train"

    @property
    def scores(self) -> Path:
        return self.out / "scores.parquet"

    def plot(self, name: str) -> str:
        return f"plots/{name}.{self.cfg.report.plot_format}"

    # ------------------------------------------------------------------ generation
    def _gen_common(self) -> dict[str, Any]:
        gen = self.cfg.input.generate
        det = gen.detector
        return {
            "detector": det if det in ("lhco", "none") else {"card": file_hash(det)},
            "trigger": to_dict(gen.trigger),
            "block_size": gen.block_size,
        }

    def _generate(self, path: Path, which: str, n: int, seed: int) -> None:
        from adsearch.generate import generate_to_file

        gen = self.cfg.input.generate
        generate_to_file(
            path,
            gen.process(which),  # type: ignore[arg-type]
            n,
            seed=seed,
            workers=gen.workers,
            detector=gen.detector,
            trigger=gen.trigger,
            block_size=gen.block_size,
            progress=self.progress,
        )

    def step_background(self) -> _Step:
        gen = self.cfg.input.generate
        conf = {
            "process": gen.process_dict("background"),
            "n": gen.n_background,
            "seed": gen.seed,
            **self._gen_common(),
        }
        path = "events/background.h5"
        return _Step(
            "background",
            conf,
            [],
            [path],
            lambda out: self._generate(out / path, "background", gen.n_background, gen.seed),
        )

    def _n_signal_generated(self) -> int:
        gen = self.cfg.input.generate
        # a black box without signal still needs a (one-event) signal file for the mixer
        return max(gen.n_signal, 1)

    def step_signal(self) -> _Step:
        gen = self.cfg.input.generate
        n = self._n_signal_generated()
        conf = {
            "process": gen.process_dict("signal"),
            "n": n,
            "seed": gen.seed + 1,
            **self._gen_common(),
        }
        path = "events/signal.h5"
        return _Step(
            "signal",
            conf,
            [],
            [path],
            lambda out: self._generate(out / path, "signal", n, gen.seed + 1),
        )

    # ------------------------------------------------------------------ events
    def step_events(self) -> _Step:
        inp = self.cfg.input
        if self.cfg.generates:
            gen = inp.generate
            has_signal = "signal" in plan_steps(self.cfg)
            inputs = [self.out / "events/background.h5"]
            if has_signal:
                inputs.append(self.out / "events/signal.h5")
            conf = {
                "kind": "generate",
                "n_signal": gen.n_signal,
                "blackbox": gen.blackbox,
                "seed": gen.seed + 2,
            }
            outputs = ["events.json"]
            if has_signal:
                outputs.append("events/events.h5")
            if gen.blackbox:
                outputs.append("events/key.txt")
            return _Step("events", conf, inputs, outputs, self._events_generated)
        src = Path(inp.path or "")
        conf = {
            "kind": inp.kind,
            "file": _file_state(src),
            "max_events": inp.max_events,
            "keep_signal": inp.keep_signal,
            "inject": to_dict(inp.inject) if inp.inject else None,
            "key": _file_state(Path(inp.key)) if inp.key else None,
        }
        inputs: list[Path] = []
        if inp.inject is not None:
            conf["inject_file"] = _file_state(Path(inp.inject.path))
        outputs = ["events.json"]
        if self._rewrites_input():
            outputs.append("events/events.h5")
        return _Step("events", conf, inputs, outputs, self._events_file)

    def _rewrites_input(self) -> bool:
        inp = self.cfg.input
        return inp.keep_signal is not None or inp.inject is not None

    def _events_generated(self, out: Path) -> None:
        from adsearch.generate import mix
        from adsearch.io import lhco_attrs, num_events

        gen = self.cfg.input.generate
        bkg = out / "events/background.h5"
        key = None
        if "signal" in plan_steps(self.cfg):
            path = out / "events/events.h5"
            key = out / "events/key.txt" if gen.blackbox else None
            mix(bkg, out / "events/signal.h5", gen.n_signal, path, seed=gen.seed + 2,
                blackbox=gen.blackbox, key=key)  # fmt: skip
        else:
            path = bkg
        attrs = {k: lhco_attrs(p) for k, p in (("background", bkg),)}
        if "signal" in plan_steps(self.cfg):
            attrs["signal"] = lhco_attrs(out / "events/signal.h5")
        summary = {
            name: {
                k: a.get(k)
                for k in ("process", "n_events", "n_generated", "trigger_efficiency", "n_truncated")
                if k in a
            }
            for name, a in attrs.items()
        }
        _write_json(
            self.manifest,
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

    def _events_file(self, out: Path) -> None:
        from adsearch.io import lhco_shape, num_events

        inp = self.cfg.input
        src = Path(inp.path or "")
        if inp.kind == "lhco":
            from adsearch.io import detect_format

            if detect_format(src) != "hdf5":
                raise InputError(f"{src}: input.kind is 'lhco' but the file is not HDF5")
            labelled = lhco_shape(src)[1] == 2101
        else:
            labelled = None  # ROOT: read the first chunk to know
        n_file = num_events(src)
        if inp.kind == "root":
            from adsearch.io import iter_events

            first = next(iter(iter_events(src, 0, min(n_file, 10), 10)))
            labelled = first.labels is not None
        key = Path(inp.key) if inp.key else None
        if key is not None and labelled:
            raise ConfigError(f"input:key: {src} has labels already; remove input.key")
        path, n = src, min(n_file, inp.max_events or n_file)
        n_injected = None
        if self._rewrites_input():
            path, n, n_injected = self._rewrite(src, labelled, out)
            labelled = True if inp.inject is not None else labelled
        _write_json(
            self.manifest,
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

    def _rewrite(self, src: Path, labelled: bool | None, out: Path) -> tuple[Path, int, int | None]:
        """Filter the input (first ``max_events``, at most ``keep_signal`` signal events) into
        ``events/events.h5``, then inject ``inject.n`` signal events if asked."""
        from adsearch.io import LHCOWriter, iter_events, num_events

        inp = self.cfg.input
        if inp.keep_signal is not None and not labelled:
            raise ConfigError(f"input:keep_signal: {src} has no labels to select signal with")
        if inp.inject is not None and labelled and inp.keep_signal != 0:
            raise ConfigError(
                "input:inject: the input file has signal events; set input.keep_signal: 0 to "
                "inject into its background only"
            )
        target = out / "events/events.h5"
        filtered = out / "events/filtered.h5" if inp.inject is not None else target
        kept_sig = 0
        with LHCOWriter(filtered, with_label=bool(labelled)) as w:
            stop = inp.max_events
            for ev in iter_events(src, 0, stop, chunk_size=50_000):
                if ev.labels is None:
                    w.append(ev.particles)
                    continue
                lab = np.asarray(ev.labels)
                keep = np.ones(len(lab), dtype=bool)
                if inp.keep_signal is not None:
                    sig = np.flatnonzero(lab == 1)
                    room = max(inp.keep_signal - kept_sig, 0)
                    keep[sig[room:]] = False
                    kept_sig += min(room, len(sig))
                w.append(ev.particles[keep], lab[keep])
        if inp.inject is None:
            return target, num_events(target), None
        from adsearch.generate import mix

        s = mix(filtered, inp.inject.path, inp.inject.n, target, seed=inp.inject.seed)
        filtered.unlink()
        return target, s.n_events, s.n_signal

    # ------------------------------------------------------------------ features
    def step_features(self) -> _Step:
        f = self.cfg.features
        conf = {"r": f.r, "min_pt": f.min_pt, "chunk_size": f.chunk_size}
        inputs = [self.manifest]
        produced = self.out / "events/events.h5"
        if produced.exists() or "signal" in plan_steps(self.cfg) or self._rewrites_input():
            inputs.append(produced)
        elif self.cfg.generates:
            inputs.append(self.out / "events/background.h5")
        return _Step("features", conf, inputs, ["features.parquet"], self._features)

    def _features(self, out: Path) -> None:
        from adsearch.jets import features_from_file

        m = _json(self.manifest)
        f = self.cfg.features
        features_from_file(
            m["path"],
            self.features,
            r=f.r,
            min_pt=f.min_pt,
            chunk_size=f.chunk_size,
            stop=m.get("stop"),
            workers=f.workers,
            progress=self.progress,
        )

    # ------------------------------------------------------------------ training
    def _train_config(self) -> Any:
        from adsearch.train import TrainConfig

        d = to_dict(self.cfg.train)
        d["data"]["path"] = str(self.features.resolve())
        d["runtime"]["out_dir"] = str(self.train_dir.resolve())
        d["runtime"]["progress"] = self.progress
        return from_dict(TrainConfig, d, source="train")

    def _train_key_config(self) -> dict[str, Any]:
        d = to_dict(self.cfg.train)
        d["runtime"].pop("progress", None)
        return d

    def step_train(self) -> _Step:
        # a train step with a record of a finished run reruns from scratch (config, input or
        # product changed, or --force); without one, a partial run of the same step resumes
        self._train_finished_before = read_record(self.out, "train") is not None
        outputs = ["train/model.pt"]
        return _Step("train", self._train_key_config(), [self.features], outputs, self._train)

    def _train(self, out: Path) -> None:
        from adsearch.train import train

        m = _json(self.manifest)
        tc = self.cfg.train
        if not m["labelled"] and (
            tc.data.mode == "background-only" or tc.model.objective == "supervised"
        ):
            raise ConfigError(
                "train:data:mode: the events have no labels (black box); use mode 'data-like' "
                "with an unsupervised objective"
            )
        key = input_key(self.out, self._train_key_config(), [self.features])
        tag = self.train_dir / "pipeline_key.txt"
        resume = (
            not self._train_finished_before
            and tag.is_file()
            and tag.read_text().strip() == key
            and (self.train_dir / "checkpoint.pt").is_file()
            and (self.train_dir / "model.pt").is_file()
        )
        if resume and self.log:
            self.log("  resuming the interrupted training from train/checkpoint.pt")
        if not resume:
            shutil.rmtree(self.train_dir, ignore_errors=True)
            self.train_dir.mkdir(parents=True)
            with atomic_path(tag) as tmp:
                tmp.write_text(key + "\n")
        train(self._train_config(), resume=resume, progress=self.progress)

    # ------------------------------------------------------------------ scores
    def step_scores(self) -> _Step:
        s = self.cfg.score
        conf = {"batch_size": s.batch_size, "device": s.device}
        inputs = [self.train_dir / "model.pt", self.features]
        return _Step("scores", conf, inputs, ["scores.parquet"], self._scores)

    def _scores(self, out: Path) -> None:
        from adsearch.score import score_features

        s = self.cfg.score
        nt = self.cfg.train.runtime.num_threads
        if nt:  # as in training (the trainer sets it; a skipped train step did not)
            import torch

            torch.set_num_threads(nt)
        score_features(
            self.train_dir,
            self.features,
            self.scores,
            batch_size=s.batch_size,
            device=s.device,
            progress=self.progress,
        )

    def _table(self, columns: list[str]) -> dict[str, np.ndarray]:
        import pyarrow.parquet as pq

        t = pq.read_table(self.scores, columns=columns)
        return {c: t[c].to_numpy() for c in columns}

    # ------------------------------------------------------------------ regions
    def step_regions(self) -> _Step:
        conf = {"regions": to_dict(self.cfg.regions), "event_score": self.cfg.score.event_score}
        return _Step("regions", conf, [self.scores], ["regions.json"], self._regions)

    def _regions(self, out: Path) -> None:
        from adsearch.stats.regions import MjjWindow, working_points

        col = self.cfg.score.column
        t = self._table(["mjj", col, "split"])
        test = t["split"] == 2
        mjj, score = t["mjj"][test], t[col][test]
        if mjj.size == 0:
            raise InputError(f"{self.scores}: no test events (train.data fractions leave none)")
        sr = MjjWindow(*self.cfg.regions.signal_region)
        wps = working_points(score, self.cfg.regions.working_points, mjj=mjj, window=sr)
        rows = []
        for wp in wps:
            sel = score > wp.threshold
            rows.append(
                {
                    **wp.to_dict(),
                    "name": _sel_name(wp.efficiency),
                    "n_selected": int(sel.sum()),
                    "n_selected_sr": int((sel & sr.contains(mjj)).sum()),
                    "n_selected_outside_sr": int((sel & ~sr.contains(mjj)).sum()),
                }
            )
        _write_json(
            out / "regions.json",
            {
                "event_score": self.cfg.score.event_score,
                "score_column": col,
                "signal_region": list(self.cfg.regions.signal_region),
                "n_test_events": int(mjj.size),
                "n_test_sr": int(sr.contains(mjj).sum()),
                "working_points": rows,
            },
        )

    # ------------------------------------------------------------------ fit
    def _fit_config(self) -> Any:
        return self.cfg.stats.fit

    def step_fit(self) -> _Step:
        st = self.cfg.stats
        conf = {
            "mjj_range": list(st.mjj_range),
            "bin_width": st.bin_width,
            "fit": to_dict(st.fit),
            "plot_format": self.cfg.report.plot_format,
        }
        outs = ["fit.json"] + [self.plot(f"fit_{n}") for n in self._selection_names()]
        return _Step("fit", conf, [self.scores, self.out / "regions.json"], outs, self._fit)

    def _selection_names(self) -> list[str]:
        return ["inclusive"] + [_sel_name(e) for e in self.cfg.regions.working_points]

    def _fit(self, out: Path) -> None:
        from adsearch.errors import FitError
        from adsearch.plot import plot_fit
        from adsearch.stats.binning import histogram, log_bins
        from adsearch.stats.fit import fit_spectrum

        reg = _json(out / "regions.json")
        t = self._table(["mjj", reg["score_column"], "split"])
        test = t["split"] == 2
        mjj, score = t["mjj"][test], t[reg["score_column"]][test]
        st = self.cfg.stats
        edges = log_bins(st.mjj_range[0], st.mjj_range[1], st.bin_width)
        cuts: list[tuple[str, float | None, float | None]] = [("inclusive", None, None)]
        cuts += [(w["name"], w["efficiency"], w["threshold"]) for w in reg["working_points"]]
        res: dict[str, Any] = {}
        for name, eff, thr in cuts:
            sel = mjj if thr is None else mjj[score > thr]
            h = histogram(sel, edges)
            entry: dict[str, Any] = {
                "efficiency": eff,
                "threshold": thr,
                "histogram": h.to_dict(),
            }
            try:
                fit = fit_spectrum(h, self._fit_config())
            except FitError as e:
                entry["error"] = str(e)
                self._warn(f"fit of the {name} spectrum failed: {e}")
                _no_result_plot(out / self.plot(f"fit_{name}"), f"{name}: {e}")
            else:
                entry["fit"] = fit.to_dict()
                title = "all test events" if thr is None else f"score > {thr:.4g} ({name})"
                plot_fit(fit, out / self.plot(f"fit_{name}"), title=title)
            res[name] = entry
        _write_json(out / "fit.json", {"selections": res})

    def _warn(self, msg: str) -> None:
        self.warnings.append(msg)
        if self.log:
            self.log(f"  warning: {msg}")

    def _fits(self) -> dict[str, Any]:
        """The fits of fit.json, refitted from their stored histograms (deterministic)."""
        from adsearch.stats.binning import Histogram
        from adsearch.stats.fit import fit_spectrum

        out = {}
        for name, entry in _json(self.out / "fit.json")["selections"].items():
            if "fit" in entry:
                h = Histogram.from_dict(entry["histogram"], source=f"fit.json:{name}")
                out[name] = fit_spectrum(h, self._fit_config())
        return out

    # ------------------------------------------------------------------ bumphunt
    def step_bumphunt(self) -> _Step:
        conf = {
            "bumphunt": to_dict(self.cfg.stats.bumphunt),
            "plot_format": self.cfg.report.plot_format,
        }
        outs = ["bumphunt.json"]
        for n in self._selection_names():
            outs += [self.plot(f"bumphunt_{n}"), self.plot(f"tstat_{n}")]
        return _Step("bumphunt", conf, [self.out / "fit.json"], outs, self._bumphunt)

    def _bumphunt(self, out: Path) -> None:
        from adsearch.plot import plot_bumphunt, plot_tstat
        from adsearch.stats.bumphunter import bumphunt

        fits = self._fits()
        res: dict[str, Any] = {}
        for name in self._selection_names():
            if name not in fits:
                res[name] = {"error": "no background fit"}
                for p in ("bumphunt", "tstat"):
                    _no_result_plot(out / self.plot(f"{p}_{name}"), f"{name}: no fit")
                continue
            bh = bumphunt(fits[name], self.cfg.stats.bumphunt)
            res[name] = bh.to_dict()
            plot_bumphunt(bh, out / self.plot(f"bumphunt_{name}"), title=name)
            plot_tstat(bh, out / self.plot(f"tstat_{name}"))
        _write_json(out / "bumphunt.json", {"selections": res})

    # ------------------------------------------------------------------ limits
    def step_limits(self) -> _Step:
        conf = {
            "limits": to_dict(self.cfg.stats.limits),
            "plot_format": self.cfg.report.plot_format,
        }
        outs = ["limits.json"]
        outs += [self.plot(f"brazil_{_sel_name(e)}") for e in self.cfg.regions.working_points]
        return _Step("limits", conf, [self.out / "fit.json"], outs, self._limits)

    def _limits(self, out: Path) -> None:
        from adsearch.plot import plot_brazil
        from adsearch.stats.limits import limits_for_fit

        fits = self._fits()
        res: dict[str, Any] = {}
        ws_dir = out / "workspaces"
        shutil.rmtree(ws_dir, ignore_errors=True)
        for eff in self.cfg.regions.working_points:
            name = _sel_name(eff)
            if name not in fits:
                res[name] = {"error": "no background fit"}
                _no_result_plot(out / self.plot(f"brazil_{name}"), f"{name}: no fit")
                continue
            lim = limits_for_fit(fits[name], self.cfg.stats.limits)
            res[name] = lim.to_dict()
            lim.write_workspaces(ws_dir / name)
            plot_brazil(lim, out / self.plot(f"brazil_{name}"))
        _write_json(out / "limits.json", {"selections": res})

    # ------------------------------------------------------------------ report
    def step_report(self) -> _Step:
        inputs = [
            self.manifest,
            self.features,
            self.scores,
            self.out / "regions.json",
            self.out / "fit.json",
            self.out / "bumphunt.json",
            self.out / "limits.json",
        ]
        m = _json(self.manifest) if self.manifest.is_file() else {}
        if m.get("key"):
            inputs.append(Path(m["key"]))
        conf = {"report": to_dict(self.cfg.report), "config": config_to_dict(self.cfg)}
        outs = ["report.md", "results.json", self.plot("scores"), self.plot("mjj")]
        outs.append(self.plot("learning_curve"))
        return _Step("report", conf, inputs, outs, self._report)

    def _report(self, out: Path) -> None:
        from adsearch.pipeline.report import write_report

        write_report(self.cfg, out, self.plot)


def _no_result_plot(path: Path, text: str) -> None:
    """A plot file saying why there is no plot (keeps the product list fixed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 2))
    FigureCanvasAgg(fig)
    fig.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip("."))


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
            import copy

            new = copy.deepcopy(cfg)
            new.input.kind = "generate"
            new.input.path = None
            new.input.max_events = None
            new.input.keep_signal = None
            new.input.inject = None
            new.input.key = None
            return new
        raise InputError(
            f"input:path: {path} not found{where}; or run with --set input.fallback=generate"
        )
    for name, p in (("input:key", inp.key), ("input:inject:path", inp.inject and inp.inject.path)):
        if p and not Path(p).is_file():
            raise InputError(f"{name}: {p} not found{where}")
    return cfg


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
    """
    from adsearch import __version__
    from adsearch.pipeline.defaults import quickstart_config

    if config is None:
        cfg = quickstart_config()
    elif isinstance(config, PipelineConfig):
        cfg = config
    else:
        cfg = load_config(config)
    cfg = _fallback(cfg, log)
    names = plan_steps(cfg)
    bad = sorted(set(force) - set(STEPS) - {"all"})
    if bad:
        raise ConfigError(f"--force: unknown step {bad[0]!r} (steps: {', '.join(STEPS)}, all)")
    if until is not None:
        if until not in names:
            raise ConfigError(f"--until: {until!r} is not a step of this run ({', '.join(names)})")
        names = names[: names.index(until) + 1]
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "config.yaml") as tmp:
        import yaml

        tmp.write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    pipe = _Pipeline(cfg, out, progress)
    pipe.log = log
    pipe.warnings = []
    results: list[StepResult] = []
    t_run = time.perf_counter()
    width = len(str(len(names)))
    for i, name in enumerate(names, 1):
        step: _Step = getattr(pipe, f"step_{name}")()
        if "all" in force or name in force:
            (out / ".state" / f"{name}.json").unlink(missing_ok=True)
        head = f"[{i:>{width}}/{len(names)}] {name}"

        def fn(o: Path, _fn: Callable[[Path], None] = step.fn, _head: str = head) -> None:
            if log:  # only announced when it runs; a skipped step gets one line
                log(f"{_head} ...")
            _fn(o)

        t0 = time.perf_counter()
        # the package version is part of every key: an upgraded adsearch redoes the run
        key_config = {"adsearch": __version__, "step": step.config}
        ran = run_step(out, name, key_config, step.inputs, step.outputs, fn)
        dt = time.perf_counter() - t0
        results.append(StepResult(name, "ran" if ran else "skipped", dt))
        if log:
            log(f"{head} ... " + (f"done in {_fmt_s(dt)}" if ran else "skipped (unchanged)"))
    total = time.perf_counter() - t_run
    _write_json(
        out / "run.json",
        {
            "steps": [{"name": r.name, "status": r.status, "seconds": r.seconds} for r in results],
            "seconds": total,
            "warnings": pipe.warnings,
        },
    )
    done = "report" in names and (out / "results.json").is_file()
    res = _json(out / "results.json") if done else {}
    if log:
        log(f"total {_fmt_s(total)}; report: {out / 'report.md'}")
    return RunResult(out, results, res, total)


def _fmt_s(s: float) -> str:
    if s < 10:
        return f"{s:.1f} s"
    if s < 600:
        return f"{s:.0f} s"
    return f"{s / 60:.1f} min"


def step_seconds(outdir: str | os.PathLike[str], names: Sequence[str]) -> dict[str, float | None]:
    """Seconds each step's current product took to make (from the step records)."""
    out = {}
    for n in names:
        rec = read_record(outdir, n)
        out[n] = rec.get("seconds") if rec else None
    return out
