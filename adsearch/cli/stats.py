"""Statistics verbs: ``fit``, ``bumphunt`` and ``limits`` (:mod:`adsearch.stats`).

All three read a spectrum (:class:`~adsearch.cli.options.SpectrumOptions`) and fit its
background (:class:`~adsearch.cli.options.FitOptions`); the option sets are defined once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adsearch.cli.options import (
    FitOptions,
    SpectrumOptions,
    SrBiasOptions,
    number_list,
    uses_options,
)

__all__ = ["bumphunt", "fit", "limits"]


@uses_options
def fit(
    spectrum: SpectrumOptions,
    fit: FitOptions,
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
    from adsearch.config import from_dict
    from adsearch.io.jsonfile import write_json
    from adsearch.plot import plot_fit
    from adsearch.plot.stats import fit_label
    from adsearch.stats.fit import SpuriousSignalConfig, spurious_signal_tests

    spurious_cfg = from_dict(
        SpuriousSignalConfig,
        {
            "masses": number_list(spurious, float, "--spurious"),
            "resolution": resolution,
            "seed": seed,
        },
        source="options",
    )
    out_dir = spectrum.out_dir
    hist, info = spectrum.load()
    res = fit.fit(hist, spectrum.sr)
    tests = [t.to_dict() for t in spurious_signal_tests(res, spurious_cfg)]
    for t in tests:
        typer.echo(
            f"spurious signal at {t['mass']:.0f} GeV: {t['mean_signal']:.1f} events "
            f"= {t['ratio']:.2f} σ ({'pass' if t['passed'] else 'FAIL'})"
        )
    write_json(out_dir / "fit.json", {**res.to_dict(), "spurious_signal": tests, "input": info})
    plot_fit(res, out_dir / "fit.png")
    typer.echo(
        f"{fit_label(res)}: chi2/ndf = {res.deviance:.1f}/{res.ndf}"
        f" (p = {res.p_value:.3f}); wrote {out_dir / 'fit.json'}"
    )


@uses_options
def bumphunt(
    spectrum: SpectrumOptions,
    fit: FitOptions,
    sr_bias: SrBiasOptions,
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
    fit.png, bumphunt.png and tstat.png. --sr-shift and --sr-uncertainty correct the
    background in the --sr window for a known bias of the cut there (the toys too).
    """
    from adsearch.config import from_dict
    from adsearch.io.jsonfile import write_json
    from adsearch.plot import plot_bumphunt, plot_fit, plot_tstat
    from adsearch.stats.bumphunter import BumpHunterConfig
    from adsearch.stats.bumphunter import bumphunt as run_bumphunt

    w = number_list(widths, int, "--widths")
    cfg = from_dict(
        BumpHunterConfig,
        {
            "widths": w,
            "n_toys": n_toys,
            "refit": refit,
            "seed": seed,
            "shift": sr_bias.sr_shift,
            "uncertainty": sr_bias.sr_uncertainty,
            "systematic_window": sr_bias.window(spectrum.sr),
        },
        source="options",
    )
    out_dir = spectrum.out_dir
    hist, info = spectrum.load()
    res = fit.fit(hist, spectrum.sr)
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


@uses_options
def limits(
    spectrum: SpectrumOptions,
    fit: FitOptions,
    sr_bias: SrBiasOptions,
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
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="pyhf, or asymptotic (the same model and formulae in numpy, ~100x faster)",
        ),
    ] = "pyhf",
) -> None:
    """CLs upper limits (observed, expected ±1σ/±2σ) and discovery p0 per test mass (pyhf).

    Writes limits.json, one pyhf workspace per mass (workspace_m<mass>.json), fit.json,
    fit.png and brazil.png. --sr-shift scales the background in the --sr window and
    --sr-uncertainty adds a nuisance parameter there (``sr_bias``), as for bumphunt.
    """
    from adsearch.config import from_dict
    from adsearch.io.jsonfile import write_json
    from adsearch.plot import plot_brazil, plot_fit
    from adsearch.stats.io import read_columns
    from adsearch.stats.limits import LimitConfig, limits_for_fit

    m = number_list(masses, float, "--masses")
    cfg = from_dict(
        LimitConfig,
        {"masses": m, "resolution": resolution, "cl": cl, "engine": engine},
        source="options",
    )
    sr_bias.validate()
    out_dir = spectrum.out_dir
    hist, info = spectrum.load()
    sig = read_columns(signal, [spectrum.column])[spectrum.column] if signal is not None else None
    res = fit.fit(hist, spectrum.sr)
    scale, unc = sr_bias.bins(res.edges, spectrum.sr)
    lim = limits_for_fit(
        res, cfg, signal_mjj=sig, with_discovery=not no_discovery, scale=scale, uncertainty=unc
    )
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
