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
