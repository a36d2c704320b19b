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

# ---------------------------------------------------------------- data: info (adsearch.io)


@app.command()
def info(
    path: Annotated[Path, typer.Argument(help="LHCO HDF5, ROOT, or features file")],
) -> None:
    """Print what a file is: format, events, signal fraction, multiplicity statistics."""
    from adsearch.io.info import describe

    typer.echo(describe(path))


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
    trigger_pt: Annotated[float, typer.Option(help="Trigger jet pT threshold in GeV")] = 1200.0,
    trigger_eta: Annotated[float, typer.Option(help="Trigger jet |eta| acceptance")] = 2.5,
    no_trigger: Annotated[
        bool, typer.Option("--no-trigger", help="Keep all events (no jet trigger)")
    ] = False,
    block_size: Annotated[
        int, typer.Option(help="Pythia events per seeded block (part of the seed contract)")
    ] = 100,
) -> None:
    """Generate LHCO-like events with Pythia 8 and write them as LHCO-format HDF5."""
    from adsearch.errors import ConfigError
    from adsearch.generate import TriggerConfig, generate_to_file, get_process, load_process
    from adsearch.generate.processes import PROCESSES

    if process is None and config is None:
        raise ConfigError(f"give a PROCESS ({', '.join(PROCESSES)}) or --config")
    if process is not None and process not in PROCESSES:
        raise ConfigError(f"unknown process {process!r} (choose from {', '.join(PROCESSES)})")
    overrides = {"pthatmin": pthatmin, "m_wprime": m_wprime, "m_x": m_x, "m_y": m_y}
    if config is not None:
        cfg = load_process(config, **overrides)
        if process is not None and process != cfg.process:
            raise ConfigError(f"{config}: process {cfg.process!r} but {process!r} was given")
    else:
        cfg = get_process(process, **overrides)
    trigger = TriggerConfig(enabled=not no_trigger, pt_min=trigger_pt, eta_max=trigger_eta)
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
    from adsearch.generate.mix import mix as run_mix

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
    )
    for line in summary.lines():
        typer.echo(line)


# ------------------------------------------- models: train, score, export (adsearch.train ...)
# (block owned by adsearch.train / adsearch.score)

# ------------------------------------------- statistics: fit, bumphunt, limits (adsearch.stats)
# (block owned by adsearch.stats)


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
