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
