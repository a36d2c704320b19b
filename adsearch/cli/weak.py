"""The weak-supervision verb: ``weak`` (:mod:`adsearch.weak`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from adsearch.cli.options import SetOption

__all__ = ["weak"]


def weak(
    data: Annotated[
        Path, typer.Argument(help="events table: features .parquet or LHCO features .h5")
    ],
    out_dir: Annotated[Path, typer.Option("-o", "--out-dir", help="output directory")],
    method: Annotated[
        str | None, typer.Option("--method", help="cathode, lacathode, cwola or reference")
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option("--reference", help="background template table (method reference)"),
    ] = None,
    test: Annotated[
        Path | None,
        typer.Option("--test", help="table scored by the whole ensemble (test_scores.parquet)"),
    ] = None,
    signal_region: Annotated[
        tuple[float, float] | None,
        typer.Option("--signal-region", help="signal-region mjj window LO HI in GeV"),
    ] = None,
    features: Annotated[
        str | None,
        typer.Option("--features", help="comma-separated feature names (default CATHODE's)"),
    ] = None,
    classifier: Annotated[
        str | None, typer.Option("--classifier", help="mlp or hgb (boosted trees)")
    ] = None,
    sideband_width: Annotated[
        float | None,
        typer.Option("--sideband-width", help="GeV each side of the SR (default: all outside)"),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="seed of folds, models, flow")] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", help="CPU threads while training")
    ] = None,
    hunt: Annotated[
        bool,
        typer.Option(
            "--hunt",
            help="CWoLa hunting over mass hypotheses (slides the signal region; method cwola): "
            "writes hunt.json, hunt.md, hunt.png",
        ),
    ] = False,
    hunt_range: Annotated[
        tuple[float, float] | None,
        typer.Option("--hunt-range", help="mjj range LO HI (GeV) of the hunt's fits"),
    ] = None,
    set_: SetOption = None,
) -> None:
    """Weakly supervised scores: CATHODE, CWoLa hunting or a reference-template classifier.

    A k-fold classifier ensemble learns to tell signal-region DATA from a background
    template: sideband data (cwola), samples of a conditional flow trained on the sidebands
    (cathode), standard-normal samples in that flow's latent space (lacathode: every event
    is scored at its own latent point), or the signal-region events of --reference
    (reference). Writes OUT_DIR/scores.parquet (the out-of-fold score of every DATA event,
    same row order, column score), test_scores.parquet (with --test), models.pkl, flow.pt
    (cathode, lacathode) and
    weak.json. Other options: --set KEY=VALUE on the weak configuration, e.g.
    --set classifier.n_members=5 or --set flow.oversampling=8. A label column is never
    used for training; with --test, a labelled TEST gives AUC and max SIC in weak.json.

    With --hunt (CWoLa hunting): every window of two 5 % mjj bins in --hunt-range (default
    2800 6000) is a signal-region hypothesis with two bins of sidebands on each side; for
    each, the classifier's cut spectrum (10 % and 1 % of the events outside the window) is
    fitted with the window blinded and the window's local significance written to
    OUT_DIR/hunt.json, hunt.md and hunt.png.
    """
    from adsearch.config import apply_overrides, from_dict
    from adsearch.weak import WeakConfig, read_table, weak_scores, write_outputs

    given: dict[str, Any] = {
        "method": method,
        "signal_region": None if signal_region is None else list(signal_region),
        "features": None if features is None else [f.strip() for f in features.split(",")],
        "sideband_width": sideband_width,
        "seed": seed,
        "threads": threads,
    }
    opts = {k: v for k, v in given.items() if v is not None}
    if classifier is not None:
        opts["classifier"] = {"kind": classifier}
    cfg = apply_overrides(from_dict(WeakConfig, opts, source="options"), set_ or [])
    table = read_table(data, "DATA")
    if hunt:
        _hunt(table, cfg, out_dir, hunt_range)
        return
    ref = read_table(reference, "REF") if reference is not None else None
    test_table = read_table(test, "TEST") if test is not None else None
    res = weak_scores(table, cfg, reference_table=ref, test=test_table)
    extra: dict[str, Any] = {
        "inputs": {"data": str(data), "reference": _str(reference), "test": _str(test)}
    }
    if test_table is not None:
        extra["test_metrics"] = _test_metrics(test_table, res.test_scores, cfg.signal_region)
    paths = write_outputs(out_dir, res, cfg, extra)
    typer.echo(
        f"{cfg.method} ({cfg.classifier.kind}, {res.info['members']} models): "
        f"{res.info['n_signal_region']} signal-region events of {res.info['n_data']}; "
        f"wrote {paths['scores']}"
    )
    metrics = extra.get("test_metrics")
    if metrics:
        typer.echo(
            f"test (signal region): AUC {metrics['auc']:.3f}, max SIC {metrics['max_sic']:.2f}"
        )


def _hunt(table: Any, cfg: Any, out_dir: Path, mjj_range: tuple[float, float] | None) -> None:
    """CWoLa hunting over the mass hypotheses (:func:`adsearch.stats.hunt.cwola_hunt`)."""
    import numpy as np

    from adsearch.errors import InputError
    from adsearch.plot.stats import plot_hunt
    from adsearch.stats.hunt import HuntConfig, cwola_hunt
    from adsearch.weak import feature_matrix

    if cfg.method != "cwola":
        raise InputError(f"--hunt slides CWoLa hunting: use --method cwola, not {cfg.method}")
    if "mjj" not in table:
        raise InputError("DATA: no 'mjj' column")
    hcfg = HuntConfig() if mjj_range is None else HuntConfig(mjj_range=mjj_range)
    x = feature_matrix(table, cfg.features, "DATA")
    res = cwola_hunt(x, np.asarray(table["mjj"], dtype=np.float64), cfg, hcfg, log=typer.echo)
    paths = res.write(out_dir)
    plot_hunt(res, Path(out_dir) / "hunt.png", title="CWoLa hunting")
    for b in (res.best(e) for e in hcfg.efficiencies):
        if b["window"] is not None:
            lo, hi = b["window"]
            typer.echo(
                f"ε {b['efficiency']:g}: largest local Z {b['z_local']:.2f} in {lo:.0f}-{hi:.0f} "
                f"GeV (Šidák global Z {b['z_global_sidak']:.2f})"
            )
    typer.echo(f"wrote {paths['json']}")


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _test_metrics(table: Any, scores: Any, sr: tuple[float, float]) -> dict[str, float] | None:
    """AUC and max SIC on the labelled signal-region events of TEST (None without labels)."""
    import numpy as np

    from adsearch.stats.metrics import max_sic, roc_auc

    if "label" not in table:
        return None
    label = np.asarray(table["label"], dtype=np.float64)
    mjj = np.asarray(table["mjj"], dtype=np.float64)
    inside = (mjj >= sr[0]) & (mjj < sr[1]) & np.isin(label, (0.0, 1.0))
    y = label[inside]
    if y.min(initial=1.0) == y.max(initial=0.0):  # one class only (or none)
        return None
    best = max_sic(y, scores[inside])
    return {
        "auc": roc_auc(y, scores[inside]),
        "max_sic": best.sic,
        "eps_s_at_max_sic": best.eps_s,
        "n_signal": int(y.sum()),
        "n_background": int((y == 0).sum()),
    }
