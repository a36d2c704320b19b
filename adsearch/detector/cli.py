"""``adsearch simulate``: the detector response on an existing truth file (a CLI verb body).

Kept here so that ``adsearch/cli.py`` only registers it::

    from adsearch.detector.cli import simulate
    app.command()(simulate)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["simulate"]


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

    LHCO-format files cannot be used as input: they carry no particle id or charge.
    """
    from adsearch.detector import simulate_file

    n = simulate_file(truth, output, detector, seed, trigger=not no_trigger)
    typer.echo(f"wrote {n} detector-level events to {output} (card {detector}, seed {seed})")
