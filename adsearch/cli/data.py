"""Data verbs: ``info`` (what a file is, :mod:`adsearch.io`) and ``features`` (jets,
:mod:`adsearch.jets`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adsearch.cli.options import RootOptions, uses_options

__all__ = ["features", "info"]


@uses_options
def info(
    path: Annotated[
        Path,
        typer.Argument(help="LHCO HDF5, ROOT, or features file (Parquet or LHCO features HDF5)"),
    ],
    root: RootOptions,
) -> None:
    """Print what a file is: format, events, signal fraction, multiplicity statistics.

    LHCO features HDF5 files: events, columns, label counts and the mjj range.
    """
    from adsearch.jets.info import describe

    typer.echo(describe(path, root.tree, root.root_branches()))


@uses_options
def features(
    input_path: Annotated[Path, typer.Argument(help="event file: LHCO HDF5 or ROOT")],
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="features file to write: .parquet (features and constituents), or "
            ".h5/.hdf5 (the 15 LHCO feature columns, LHCO features HDF5 layout)",
        ),
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
    root: RootOptions = RootOptions(),
) -> None:
    """Cluster anti-kT jets and write the two leading jets' features and constituents.

    The output holds the LHCO features-file columns (pxj1 ... tau3j2, label) plus mjj,
    jet pt/eta/phi, tau21/tau32, event_index and each jet's constituents. Events with fewer
    than two jets are counted and reported, not written.
    """
    from adsearch.config import from_dict
    from adsearch.jets.config import FeaturesConfig
    from adsearch.jets.stream import features_from_file

    cfg = from_dict(
        FeaturesConfig,
        {"r": r, "min_pt": min_pt, "chunk_size": chunk_size, "workers": workers},
        source="options",
    )
    summary = features_from_file(
        input_path,
        output,
        cfg,
        start=start,
        stop=stop,
        lhco_h5=lhco_h5,
        tree=root.tree,
        branches=root.root_branches(),
    )
    for line in summary.lines():
        typer.echo(line)
