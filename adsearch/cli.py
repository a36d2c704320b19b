"""The ``adsearch`` command line: one verb per pipeline step.

Heavy libraries (torch, fastjet, pythia) are imported inside the verbs, so ``--help`` is fast.
User errors (:class:`adsearch.errors.AdsearchError`) print one line and exit with status 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from typer._click import ClickException

from adsearch.errors import AdsearchError

__all__ = ["app", "cli_entry", "main"]

app = typer.Typer(
    name="adsearch",
    help="Model-agnostic anomaly-detection search for heavy resonances in dijet events.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _number_list(text: str, kind: type, option: str) -> list:
    """Parse a comma-separated option value ("3000,3500") into numbers of ``kind``."""
    from adsearch.errors import ConfigError

    try:
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        what = "integers" if kind is int else "numbers"
        raise ConfigError(f"{option}: expected comma-separated {what}, got {text!r}") from None


# ---------------------------------------------------------------- data: info (adsearch.io)


@app.command()
def info(
    path: Annotated[Path, typer.Argument(help="LHCO HDF5, ROOT, or features file")],
    tree: Annotated[str, typer.Option(help="ROOT only: the TTree holding the events")] = "events",
    branches: Annotated[
        str,
        typer.Option(
            help="ROOT only: particle branches 'pt,eta,phi' or 'pt,eta,phi,label' "
            "(default part_pt,part_eta,part_phi,label)"
        ),
    ] = "part_pt,part_eta,part_phi,label",
) -> None:
    """Print what a file is: format, events, signal fraction, multiplicity statistics."""
    from adsearch.errors import InputError
    from adsearch.io.info import describe
    from adsearch.io.root import RootBranches

    names = [b.strip() for b in branches.split(",")]
    if len(names) not in (3, 4) or not all(names):
        raise InputError(f"--branches: expected 'pt,eta,phi[,label]', got {branches!r}")
    label = names[3] if len(names) == 4 else None
    typer.echo(describe(path, tree, RootBranches(*names[:3], label)))


# ------------------------------------------------- generation: generate, mix (adsearch.generate)
# (block owned by adsearch.generate)


@app.command()
def generate(
    process: Annotated[
        str | None,
        typer.Argument(
            help="qcd, wprime-2prong or wprime-3prong (optional with --config)",
            show_default=False,
        ),
    ] = None,
    n_events: Annotated[
        int, typer.Option("-n", "--n-events", help="Triggered events to write")
    ] = 1000,
    output: Annotated[Path, typer.Option("-o", "--output", help="Output LHCO HDF5 file")] = Path(
        "events.h5"
    ),
    seed: Annotated[int, typer.Option(help="Master seed (same seed -> same file)")] = 1,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    detector: Annotated[
        str, typer.Option(help="Detector response: lhco (built-in card), none, or a card YAML")
    ] = "lhco",
    config: Annotated[
        Path | None, typer.Option(help="Process YAML (process: NAME plus its fields)")
    ] = None,
    pthatmin: Annotated[
        float | None, typer.Option(help="qcd: PhaseSpace:pTHatMin in GeV [default: 1000]")
    ] = None,
    m_wprime: Annotated[float | None, typer.Option(help="W' mass in GeV [default: 3500]")] = None,
    m_x: Annotated[float | None, typer.Option(help="X mass in GeV [default: 500]")] = None,
    m_y: Annotated[float | None, typer.Option(help="Y mass in GeV [default: 100]")] = None,
    wprime_mass_min: Annotated[
        float | None,
        typer.Option(help="W' lower mass cut (34:mMin) in GeV [default: Pythia's, 10]"),
    ] = None,
    mpi: Annotated[
        bool | None,
        typer.Option("--mpi/--no-mpi", help="Multiparton interactions [default: off, as LHCO]"),
    ] = None,
    trigger_pt: Annotated[float, typer.Option(help="Trigger jet pT threshold in GeV")] = 1200.0,
    trigger_eta: Annotated[float, typer.Option(help="Trigger jet |eta| acceptance")] = 2.5,
    no_trigger: Annotated[
        bool, typer.Option("--no-trigger", help="Keep all events (no jet trigger)")
    ] = False,
    block_size: Annotated[
        int, typer.Option(help="Pythia events per seeded block (part of the seed contract)")
    ] = 100,
    truth_output: Annotated[
        Path | None,
        typer.Option(
            help="With --detector none: also write the truth particles (pid, charge, no "
            "700 cap) to this truth file, for `adsearch simulate` later"
        ),
    ] = None,
) -> None:
    """Generate LHCO-like events with Pythia 8 and write them as LHCO-format HDF5."""
    from adsearch.errors import ConfigError
    from adsearch.generate import TriggerConfig, generate_to_file, get_process, load_process
    from adsearch.generate.processes import PROCESSES

    if process is None and config is None:
        raise ConfigError(f"give a PROCESS ({', '.join(PROCESSES)}) or --config")
    if process is not None and process not in PROCESSES:
        raise ConfigError(f"unknown process {process!r} (choose from {', '.join(PROCESSES)})")
    overrides = {
        "pthatmin": pthatmin,
        "m_wprime": m_wprime,
        "m_x": m_x,
        "m_y": m_y,
        "wprime_mass_min": wprime_mass_min,
        "mpi": mpi,
    }
    if config is not None:
        cfg = load_process(config, **overrides)
        if process is not None and process != cfg.process:
            raise ConfigError(f"{config}: process {cfg.process!r} but {process!r} was given")
    else:
        cfg = get_process(process, **overrides)
    trigger = TriggerConfig(enabled=not no_trigger, pt_min=trigger_pt, eta_max=trigger_eta)
    if truth_output is not None:
        if detector != "none":
            raise ConfigError("--truth-output needs --detector none (truth-level generation)")
        _generate_with_truth(
            output, truth_output, cfg, n_events, seed, workers, trigger, block_size
        )
        return
    s = generate_to_file(
        output,
        cfg,
        n_events,
        seed,
        workers=workers,
        detector=detector,
        trigger=trigger,
        block_size=block_size,
    )
    trunc = f", {s.n_truncated} events cut to 700 particles" if s.n_truncated else ""
    typer.echo(
        f"wrote {s.n_events} {s.process} events to {output} (generated {s.n_generated}, "
        f"trigger efficiency {s.trigger_efficiency:.3f}{trunc}) in {s.seconds:.1f} s: "
        f"{s.events_per_second:.1f} events/s, {s.generated_per_second:.1f} Pythia events/s "
        f"with {s.workers} worker(s)"
    )


def _generate_with_truth(output, truth_output, cfg, n_events, seed, workers, trigger, block_size):
    """Truth-level generation in memory, written both as LHCO HDF5 and as a truth file."""
    import json

    from adsearch.detector import write_truth
    from adsearch.generate import generate_with_summary
    from adsearch.generate.generator import check_output_path
    from adsearch.generate.processes import process_to_dict
    from adsearch.io import write_lhco

    check_output_path(output)
    check_output_path(truth_output)
    ev, s = generate_with_summary(
        cfg,
        n_events,
        seed,
        workers=workers,
        detector="none",
        trigger=trigger,
        block_size=block_size,
    )
    attrs = {"process": json.dumps(process_to_dict(cfg)), "seed": seed, "detector": "none"}
    write_truth(truth_output, ev.particles, ev.labels, attrs=attrs)
    n_trunc = write_lhco(output, ev.particles, ev.labels, attrs=attrs)
    typer.echo(
        f"wrote {len(ev)} truth-level {s.process} events to {output} ({n_trunc} cut to 700 "
        f"particles) and to the truth file {truth_output}"
    )


@app.command()
def mix(
    background: Annotated[Path, typer.Option(help="Background LHCO HDF5 file")],
    signal: Annotated[Path, typer.Option(help="Signal LHCO HDF5 file")],
    n_signal: Annotated[int, typer.Option(help="Signal events to inject (first N of SIGNAL)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output LHCO HDF5 file")],
    seed: Annotated[int, typer.Option(help="Seed of the signal positions")] = 1,
    blackbox: Annotated[
        bool, typer.Option(help="Black-Box-like: no label column, answer key in --key")
    ] = False,
    key: Annotated[
        Path | None, typer.Option(help="Answer-key file for --blackbox (one 0/1 per line)")
    ] = None,
    n_background: Annotated[
        int | None, typer.Option(help="Use only the first N background events")
    ] = None,
) -> None:
    """Mix background and signal files into an R&D-like (labelled) or Black-Box-like file."""
    from adsearch.generate.mixing import mix as run_mix

    s = run_mix(
        background,
        signal,
        n_signal,
        output,
        seed,
        blackbox=blackbox,
        key=key,
        n_background=n_background,
    )
    what = f"answer key in {s.key_path}" if s.blackbox else "label column"
    typer.echo(
        f"wrote {s.n_events} events ({s.n_background} background + {s.n_signal} signal, "
        f"{what}) to {s.path}"
    )


@app.command()
def simulate(
    truth: Annotated[Path, typer.Argument(help="Truth file (adsearch.detector.write_truth)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output LHCO HDF5 file")],
    detector: Annotated[
        str, typer.Option(help="Detector card: lhco (built-in) or a card YAML")
    ] = "lhco",
    seed: Annotated[int, typer.Option(help="Detector seed (same seed -> same file)")] = 1,
    no_trigger: Annotated[
        bool, typer.Option("--no-trigger", help="Keep all events (no detector-level jet trigger)")
    ] = False,
) -> None:
    """Apply the detector response to a truth-level file and write LHCO-format HDF5.

    Truth files come from `adsearch generate --detector none --truth-output FILE`.
    LHCO-format files cannot be used as input: they carry no particle id or charge.
    """
    from adsearch.detector import simulate_file

    n = simulate_file(truth, output, detector, seed, trigger=not no_trigger)
    typer.echo(f"wrote {n} detector-level events to {output} (card {detector}, seed {seed})")


# ---------------------------------------------------------- features (adsearch.jets)
# (block owned by adsearch.jets)


@app.command()
def features(
    input_path: Annotated[Path, typer.Argument(help="event file: LHCO HDF5 or ROOT")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="features file to write (Parquet)")
    ],
    r: Annotated[float, typer.Option("--r", help="anti-kT radius, also N-subjettiness R0")] = 1.0,
    min_pt: Annotated[float, typer.Option("--min-pt", help="jet pT threshold in GeV")] = 20.0,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", help="events per chunk (memory ~10 kB/event)")
    ] = 50_000,
    start: Annotated[int, typer.Option("--start", help="first input row")] = 0,
    stop: Annotated[
        int | None, typer.Option("--stop", help="input row to stop before (default: end)")
    ] = None,
    lhco_h5: Annotated[
        Path | None,
        typer.Option("--lhco-h5", help="also write the 15 LHCO columns as LHCO features HDF5"),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", help="processes working on chunks in parallel")
    ] = 1,
) -> None:
    """Cluster anti-kT jets and write the two leading jets' features and constituents.

    The output holds the LHCO features-file columns (pxj1 ... tau3j2, label) plus mjj,
    jet pt/eta/phi, tau21/tau32, event_index and each jet's constituents. Events with fewer
    than two jets are counted and reported, not written.
    """
    from adsearch.jets.stream import features_from_file

    summary = features_from_file(
        input_path,
        output,
        r=r,
        min_pt=min_pt,
        chunk_size=chunk_size,
        start=start,
        stop=stop,
        lhco_h5=lhco_h5,
        workers=workers,
    )
    for line in summary.lines():
        typer.echo(line)


# ------------------------------------------- models: train, score, export (adsearch.train ...)
# (block owned by adsearch.train / adsearch.score)


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="training config YAML (data, graph, model, ...)")],
    resume: Annotated[
        bool, typer.Option("--resume", help="continue from OUT_DIR/checkpoint.pt")
    ] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", help="override runtime.out_dir")
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="override runtime.device: auto, cpu, cuda")
    ] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="override optim.epochs")] = None,
    max_events: Annotated[
        int | None, typer.Option("--max-events", help="override data.max_events")
    ] = None,
) -> None:
    """Train an anomaly model (GNN / transformer; DeepSVDD, AE or supervised) from CONFIG.

    Writes checkpoint.pt (every epoch), model.pt (best validation loss), metrics.csv/json
    and config.yaml into runtime.out_dir. Multi-GPU / multi-process: run under torchrun,
    e.g. `torchrun --nproc_per_node 2 -m adsearch.cli train CONFIG.yaml`.
    """
    import os

    from adsearch.config import from_dict, to_dict
    from adsearch.train import TrainConfig, load_train_config
    from adsearch.train import train as run_train

    cfg = load_train_config(config)
    if out_dir is not None or device is not None or epochs is not None or max_events:
        d = to_dict(cfg)
        if out_dir is not None:
            d["runtime"]["out_dir"] = str(out_dir)
        if device is not None:
            d["runtime"]["device"] = device
        if epochs is not None:
            d["optim"]["epochs"] = epochs
        if max_events is not None:
            d["data"]["max_events"] = max_events
        cfg = from_dict(TrainConfig, d, source="command line")
    res = run_train(cfg, resume=resume)
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
        return
    if res.history:
        last = res.history[-1]
        typer.echo(
            f"epochs {len(res.history)}: train loss {last['train_loss']:.6g}, "
            f"val loss {last['val_loss']:.6g}; best epoch {res.best_epoch} "
            f"(val {res.best_val_loss:.6g}){' [early stop]' if res.stopped_early else ''}"
        )
    typer.echo(f"wrote {res.out_dir}")


@app.command()
def score(
    run: Annotated[Path, typer.Argument(help="training output directory (or its model.pt)")],
    features: Annotated[Path, typer.Argument(help="features file (parquet) to score")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="output parquet (default: FEATURES.scores.parquet)"),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="jets per forward pass")
    ] = None,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda")] = "cpu",
    max_events: Annotated[
        int | None, typer.Option("--max-events", help="score only the first N events")
    ] = None,
) -> None:
    """Score every jet of FEATURES with a trained model; write jet and event scores.

    The output table has the event features plus score_j1, score_j2, score (mean of the
    two jets), score_max, score_min and split (0 train, 1 val, 2 test/unseen).
    """
    from adsearch.score import score_features

    path = score_features(run, features, out, batch_size, device, max_events)
    typer.echo(f"wrote {path}")


@app.command()
def export(
    run: Annotated[Path, typer.Argument(help="training output directory (or its model.pt)")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="ONNX file (default: RUN/model.onnx)")
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance", help="max |onnxruntime - torch| / max(1, |torch|) score difference"
        ),
    ] = 1e-4,
) -> None:
    """Export a trained model (GIN, GATv2, EGAT, transformer, ParT) to ONNX and check it.

    The ONNX graph maps one batch of jets to their anomaly scores with dynamic sizes; it is
    compared with PyTorch through onnxruntime at several graph sizes. DGL kernels cannot be
    exported: an EGAT trained on DGL is exported through its plain-torch twin (same
    parameters, checked against the DGL model first).
    """
    from adsearch.score import export_run

    path, diff = export_run(run, out, tolerance)
    typer.echo(f"wrote {path} (max |onnxruntime - torch| / max(1, |torch|) = {diff:.2g})")


# ------------------------------------------- statistics: fit, bumphunt, limits (adsearch.stats)
# (block owned by adsearch.stats)


def _spectrum_input(
    input_path: Path,
    column: str,
    score_column: str | None,
    working_point: float | None,
    sr: tuple[float, float],
    mjj_range: tuple[float, float],
    bin_width: float,
    nbins: int | None,
) -> tuple[object, dict]:
    from adsearch.stats.io import SpectrumInput, load_spectrum

    return load_spectrum(
        SpectrumInput(
            input_path, column, score_column, working_point, sr, mjj_range, bin_width, nbins
        )
    )


def _fit_config(family: str, npar: int | None, selection: str, blind: bool, sr, sqrt_s: float):
    from adsearch.config import from_dict
    from adsearch.stats.fit import FitConfig

    return from_dict(
        FitConfig,
        {
            "family": family,
            "npar": npar,
            "selection": selection,
            "sqrt_s": sqrt_s,
            "blind": list(sr) if blind else None,
        },
        source="options",
    )


_InputArg = Annotated[
    Path, typer.Argument(help="mjj values (.npy/.npz/.h5/.parquet) or a histogram (.json/.npz)")
]
_OutOpt = Annotated[Path, typer.Option("-o", "--out-dir", help="directory for JSON and plots")]
_ColOpt = Annotated[str, typer.Option("--column", help="mjj column name (GeV)")]
_ScoreOpt = Annotated[
    str | None, typer.Option("--score-column", help="event-score column, e.g. score_event")
]
_WpOpt = Annotated[
    float | None,
    typer.Option("--working-point", help="background efficiency of the score cut, e.g. 0.01"),
]
_SrOpt = Annotated[
    tuple[float, float],
    typer.Option("--sr", help="signal-region mjj window LO HI in GeV (thresholds, blinding)"),
]
_RangeOpt = Annotated[
    tuple[float, float], typer.Option("--range", help="fitted mjj range LO HI in GeV")
]
_BwOpt = Annotated[float, typer.Option("--bin-width", help="relative width of the log-spaced bins")]
_NbOpt = Annotated[
    int | None, typer.Option("--nbins", help="number of log-spaced bins (overrides --bin-width)")
]
_FamOpt = Annotated[str, typer.Option("--family", help="fit function: dijet or ua2")]
_NparOpt = Annotated[
    int | None, typer.Option("--npar", help="number of fit parameters (default: chosen by test)")
]
_SelOpt = Annotated[str, typer.Option("--selection", help="parameter-number test: wilks or ftest")]
_BlindOpt = Annotated[
    bool, typer.Option("--blind/--no-blind", help="leave the --sr window out of the fit")
]
_SqrtsOpt = Annotated[float, typer.Option("--sqrt-s", help="centre-of-mass energy in GeV")]


@app.command()
def fit(
    input_path: _InputArg,
    out_dir: _OutOpt,
    column: _ColOpt = "mjj",
    score_column: _ScoreOpt = None,
    working_point: _WpOpt = None,
    sr: _SrOpt = (3300.0, 3700.0),
    mjj_range: _RangeOpt = (2500.0, 6000.0),
    bin_width: _BwOpt = 0.05,
    nbins: _NbOpt = None,
    family: _FamOpt = "dijet",
    npar: _NparOpt = None,
    selection: _SelOpt = "wilks",
    blind: _BlindOpt = False,
    sqrt_s: _SqrtsOpt = 13000.0,
    spurious: Annotated[
        str,
        typer.Option(
            "--spurious", help="masses (GeV, comma separated) for the spurious-signal test"
        ),
    ] = "",
    resolution: Annotated[
        float, typer.Option("--resolution", help="σ/m of the spurious-signal Gaussian")
    ] = 0.05,
    seed: Annotated[int, typer.Option("--seed", help="seed of the spurious-signal toys")] = 0,
) -> None:
    """Fit the mjj spectrum with the dijet (or UA2) function; write fit.json and fit.png.

    With --spurious, background + Gaussian signal is fitted to 500 background-only toys at each
    mass; the mean fitted signal over its uncertainty is reported (pass: |ratio| < 0.5).
    """
    from adsearch.plot import plot_fit
    from adsearch.stats.fit import fit_spectrum, spurious_signal
    from adsearch.stats.io import write_json

    masses = _number_list(spurious, float, "--spurious")
    hist, info = _spectrum_input(
        input_path, column, score_column, working_point, sr, mjj_range, bin_width, nbins
    )
    res = fit_spectrum(hist, _fit_config(family, npar, selection, blind, sr, sqrt_s))
    tests = [
        spurious_signal(res, m, resolution, n_toys=500, seed=seed + i).to_dict()
        for i, m in enumerate(masses)
    ]
    for t in tests:
        typer.echo(
            f"spurious signal at {t['mass']:.0f} GeV: {t['mean_signal']:.1f} events "
            f"= {t['ratio']:.2f} σ ({'pass' if t['passed'] else 'FAIL'})"
        )
    write_json(out_dir / "fit.json", {**res.to_dict(), "spurious_signal": tests, "input": info})
    plot_fit(res, out_dir / "fit.png")
    typer.echo(
        f"{res.family} fit with {res.npar} parameters: chi2/ndf = {res.deviance:.1f}/{res.ndf}"
        f" (p = {res.p_value:.3f}); wrote {out_dir / 'fit.json'}"
    )


@app.command()
def bumphunt(
    input_path: _InputArg,
    out_dir: _OutOpt,
    column: _ColOpt = "mjj",
    score_column: _ScoreOpt = None,
    working_point: _WpOpt = None,
    sr: _SrOpt = (3300.0, 3700.0),
    mjj_range: _RangeOpt = (2500.0, 6000.0),
    bin_width: _BwOpt = 0.05,
    nbins: _NbOpt = None,
    family: _FamOpt = "dijet",
    npar: _NparOpt = None,
    selection: _SelOpt = "wilks",
    blind: _BlindOpt = False,
    sqrt_s: _SqrtsOpt = 13000.0,
    widths: Annotated[
        str, typer.Option("--widths", help="window widths in bins, comma separated")
    ] = "1,2,3,4,5",
    n_toys: Annotated[
        int, typer.Option("--n-toys", help="background-only pseudo-experiments")
    ] = 10000,
    refit: Annotated[
        bool, typer.Option("--refit/--no-refit", help="refit the background on every toy")
    ] = True,
    seed: Annotated[int, typer.Option("--seed", help="seed of the toys")] = 0,
) -> None:
    """Fit the background, then scan for the most significant excess (BumpHunter).

    Writes fit.json, bumphunt.json (local/global p-values, window, toy statistics),
    fit.png, bumphunt.png and tstat.png.
    """
    from adsearch.config import from_dict
    from adsearch.plot import plot_bumphunt, plot_fit, plot_tstat
    from adsearch.stats.bumphunter import BumpHunterConfig
    from adsearch.stats.bumphunter import bumphunt as run_bumphunt
    from adsearch.stats.fit import fit_spectrum
    from adsearch.stats.io import write_json

    w = _number_list(widths, int, "--widths")
    cfg = from_dict(
        BumpHunterConfig,
        {"widths": w, "n_toys": n_toys, "refit": refit, "seed": seed},
        source="options",
    )
    hist, info = _spectrum_input(
        input_path, column, score_column, working_point, sr, mjj_range, bin_width, nbins
    )
    res = fit_spectrum(hist, _fit_config(family, npar, selection, blind, sr, sqrt_s))
    bh = run_bumphunt(res, cfg)
    write_json(out_dir / "fit.json", {**res.to_dict(), "input": info})
    write_json(out_dir / "bumphunt.json", {**bh.to_dict(), "input": info})
    plot_fit(res, out_dir / "fit.png", bump=bh)
    plot_bumphunt(bh, out_dir / "bumphunt.png")
    plot_tstat(bh, out_dir / "tstat.png")
    lo, hi = bh.window_mjj
    bound = ">=" if bh.global_p_is_bound else "="
    typer.echo(
        f"most significant window {lo:.0f}-{hi:.0f} GeV: local Z = {bh.z_local:.2f}, "
        f"global p {'<' if bh.global_p_is_bound else '='} {max(bh.global_p, 1 / bh.n_toys):.3g}"
        f" (Z {bound} {bh.z_global:.2f}, {bh.n_toys} toys); wrote {out_dir / 'bumphunt.json'}"
    )


@app.command()
def limits(
    input_path: _InputArg,
    out_dir: _OutOpt,
    column: _ColOpt = "mjj",
    score_column: _ScoreOpt = None,
    working_point: _WpOpt = None,
    sr: _SrOpt = (3300.0, 3700.0),
    mjj_range: _RangeOpt = (2500.0, 6000.0),
    bin_width: _BwOpt = 0.05,
    nbins: _NbOpt = None,
    family: _FamOpt = "dijet",
    npar: _NparOpt = None,
    selection: _SelOpt = "wilks",
    blind: _BlindOpt = False,
    sqrt_s: _SqrtsOpt = 13000.0,
    masses: Annotated[
        str, typer.Option("--masses", help="test masses in GeV, comma separated")
    ] = "3000,3500,4000,4500,5000",
    resolution: Annotated[
        float, typer.Option("--resolution", help="relative mjj resolution of the Gaussian signal")
    ] = 0.05,
    signal: Annotated[
        Path | None,
        typer.Option("--signal", help="signal mjj sample (same --column) used as the template"),
    ] = None,
    cl: Annotated[float, typer.Option("--cl", help="confidence level")] = 0.95,
    no_discovery: Annotated[
        bool, typer.Option("--no-discovery", help="skip the discovery p0 fits")
    ] = False,
) -> None:
    """CLs upper limits (observed, expected ±1σ/±2σ) and discovery p0 per test mass (pyhf).

    Writes limits.json, one pyhf workspace per mass (workspace_m<mass>.json), fit.json,
    fit.png and brazil.png.
    """
    from adsearch.config import from_dict
    from adsearch.plot import plot_brazil, plot_fit
    from adsearch.stats.fit import fit_spectrum
    from adsearch.stats.io import read_columns, write_json
    from adsearch.stats.limits import LimitConfig, limits_for_fit

    m = _number_list(masses, float, "--masses")
    cfg = from_dict(
        LimitConfig, {"masses": m, "resolution": resolution, "cl": cl}, source="options"
    )
    hist, info = _spectrum_input(
        input_path, column, score_column, working_point, sr, mjj_range, bin_width, nbins
    )
    sig = read_columns(signal, [column])[column] if signal is not None else None
    res = fit_spectrum(hist, _fit_config(family, npar, selection, blind, sr, sqrt_s))
    lim = limits_for_fit(res, cfg, signal_mjj=sig, with_discovery=not no_discovery)
    write_json(out_dir / "fit.json", {**res.to_dict(), "input": info})
    write_json(out_dir / "limits.json", {**lim.to_dict(), "input": info})
    lim.write_workspaces(out_dir)
    plot_fit(res, out_dir / "fit.png")
    plot_brazil(lim, out_dir / "brazil.png")
    for ml in lim.limits:
        d = ml.to_dict()
        typer.echo(
            f"m = {ml.mass:.0f} GeV: N_sig < {d['events_observed']:.1f} observed, "
            f"{d['events_expected'][2]:.1f} expected; Z0 = {ml.z0:.2f}"
        )
    typer.echo(f"wrote {out_dir / 'limits.json'}")


# ---- pipeline: run (adsearch.pipeline)
# (block owned by adsearch.pipeline)


@app.command()
def run(
    config: Annotated[
        Path | None,
        typer.Argument(
            help="analysis YAML, e.g. analyses/lhco_3prong.yaml (default: the quickstart)"
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "-o", "--out-dir", help="run directory (default: runs/NAME, NAME from the config)"
        ),
    ] = None,
    force: Annotated[
        list[str] | None,
        typer.Option("--force", help="rerun this step even if unchanged (repeatable; 'all')"),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="stop after this step (e.g. features)")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="override a config value, e.g. --set stats.bumphunt.n_toys=500"),
    ] = None,
    show_config: Annotated[
        bool, typer.Option("--show-config", help="print the full, validated config and exit")
    ] = False,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="progress bars (default: on a terminal)"),
    ] = None,
) -> None:
    """Run a whole search from one analysis config; write OUT_DIR/report.md and results.json.

    Steps: events, features, training, scores, signal regions, background fit, BumpHunter,
    limits, report. Each is skipped when its config and inputs are unchanged, so a rerun after
    a crash or an edit redoes only what changed. Without CONFIG the built-in quickstart runs
    (generated events, about 10 minutes on 2 cores).
    """
    import yaml

    from adsearch.pipeline.config import config_to_dict, load_config
    from adsearch.pipeline.defaults import QUICKSTART_YAML
    from adsearch.pipeline.run import run_pipeline

    if config is None:
        from adsearch.pipeline.config import config_from_text

        cfg = config_from_text(QUICKSTART_YAML, "quickstart (built-in)", overrides=set_)
    else:
        cfg = load_config(config, overrides=set_)
    if show_config:
        typer.echo(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), nl=False)
        return
    out = out_dir if out_dir is not None else Path("runs") / cfg.name
    res = run_pipeline(cfg, out, force=force or (), until=until, log=typer.echo, progress=progress)
    perf = res.results.get("performance")
    if perf:
        typer.echo(
            f"event AUC {perf['auc_event'][res.results['event_score']]:.3f}, max SIC "
            f"{perf['max_sic']:.2f}"
        )
    for name, b in res.results.get("bumphunt", {}).items():
        if "z_local" in b:
            typer.echo(
                f"BumpHunter {name}: {b['window_mjj'][0]:.0f}-{b['window_mjj'][1]:.0f} GeV, "
                f"local Z {b['z_local']:.2f}, global Z {b['z_global']:.2f}"
            )


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning user errors into one line and exit status 1."""
    try:
        app(args=argv, standalone_mode=False)
    except AdsearchError as e:
        typer.echo(f"error: {e}", err=True)
        return 1
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        return 130
    except typer.Exit as e:
        return e.exit_code
    except ClickException as e:  # usage errors: bad option, missing argument
        e.show()
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())


def cli_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
