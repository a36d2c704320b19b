"""The ``run`` verb: a whole search from one analysis config (:mod:`adsearch.pipeline`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adsearch.cli.options import SetOption

__all__ = ["run"]


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
    set_: SetOption = None,
    show_config: Annotated[
        bool, typer.Option("--show-config", help="print the full, validated config and exit")
    ] = False,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="progress bars (default: on a terminal)"),
    ] = None,
) -> None:
    """Run a whole search from one analysis config; write OUT_DIR/report.md and results.json.

    Steps: events, features, training (score.method model) or a reference template
    (score.method reference), scores, signal regions, background fit, BumpHunter, limits,
    report. Each is skipped when its config and inputs are unchanged, so a rerun after a crash
    or an edit redoes only what changed. Without CONFIG the built-in quickstart runs
    (generated events scored by CATHODE, about 3-5 minutes on 2 cores).
    """
    import yaml

    from adsearch.pipeline.config import config_to_dict, load_config
    from adsearch.pipeline.defaults import QUICKSTART_YAML
    from adsearch.pipeline.report import not_beaten_text, sculpted_bump_text
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
        weak_spot = not_beaten_text(perf["proxies"]) if perf.get("proxies") else None
        if weak_spot:
            typer.echo(f"warning: the score does not beat {weak_spot}; see report.md")
    bump = sculpted_bump_text(res.results.get("sculpting") or {})
    if bump:
        typer.echo(f"warning: the cut makes a bump of background ({bump}); see report.md")
    for name, b in res.results.get("bumphunt", {}).items():
        if "z_local" in b:
            typer.echo(
                f"BumpHunter {name}: {b['window_mjj'][0]:.0f}-{b['window_mjj'][1]:.0f} GeV, "
                f"local Z {b['z_local']:.2f}, global Z {b['z_global']:.2f}"
            )
