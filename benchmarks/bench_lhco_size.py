"""The weakly supervised search at LHC Olympics size: the whole pipeline on 1M QCD + N W'.

Runs ``adsearch run analyses/lhco_rnd_cathode.yaml`` on the features file of
``benchmarks/lhco_size_sample.py`` (1M generated QCD events and 100k W' -> X Y 2-prong events,
the LHCO 2020 R&D layout) with ``input.keep_signal = N`` (the first N signal rows, a random
subset, as for the real file: N = 1000 gives S/B ~ 0.6 % in 3.3-3.7 TeV), and collects what the
search found: the out-of-fold event AUC and max SIC of the score in the signal region (true
labels), the data-vs-template AUC, the fit and BumpHunter local/global significance after each
score cut (10 %, 1 %, 0.1 % background efficiency), the sculpting check (the truth background
passing the cut in the signal region over its prediction from the cut's efficiency interpolated
from beside it: above 1, the cut makes a bump there), and the wall and CPU
time of every step. The literature point: CATHODE (Hallin et al., "Classifying anomalies
through outer density estimation", PRD 106, 055006) reaches max SIC ~ 14 and, after a cut,
well above 5 sigma at this S/B on the real LHCO features.

Results: ``benchmarks/results/lhco_size.json`` (one entry per ``--tag``, merged) and
``lhco_size.md``::

    nice python benchmarks/bench_lhco_size.py --data data/rnd_generated.features.h5 \\
        --keep-signal 1000 --tag cathode_1000 --out runs/lhco_cathode_1000
    nice python benchmarks/bench_lhco_size.py --data data/rnd_generated.features.h5 \\
        --keep-signal 0 --tag cathode_0 --out runs/lhco_cathode_0

Extra ``--set KEY=VALUE`` options go to the analysis config (e.g. ``score.method=cwola``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from _common import cpu_seconds

from adsearch.io.atomic import atomic_path
from adsearch.pipeline import load_config, run_pipeline

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
ANALYSIS = ROOT / "analyses" / "lhco_rnd_cathode.yaml"


def signal_region_metrics(out: Path, sr: tuple[float, float]) -> dict[str, Any]:
    """AUC and max SIC (>= 20 background events kept) of the out-of-fold event scores of the
    data events inside the signal region, against their true labels (None: no signal)."""
    import pandas as pd

    from adsearch.stats.metrics import max_sic, roc_auc

    t = pd.read_parquet(out / "scores.parquet", columns=["mjj", "score", "label"])
    t = t[(t["mjj"] >= sr[0]) & (t["mjj"] < sr[1])]
    y = (t["label"].to_numpy() > 0).astype(int)
    s = t["score"].to_numpy()
    res: dict[str, Any] = {"n_signal_sr": int(y.sum()), "n_background_sr": int((y == 0).sum())}
    if 0 < y.sum() < y.size:
        best = max_sic(y, s, min_bkg=20)
        res.update(auc_sr=roc_auc(y, s), max_sic_sr=best.sic, eps_b_at_max_sic=best.eps_b)
        res["sic_at_eps_s"] = sic_at_points(y, s)
    return res


def sic_at_points(y: Any, s: Any, eps_s: tuple[float, ...] = (0.1, 0.2, 0.3)) -> dict[str, Any]:
    """SIC at fixed signal efficiencies, with the background events kept
    (:func:`adsearch.stats.metrics.sic_at`): less noisy than the maximum, which sits where
    ~20 background events pass."""
    from adsearch.stats.metrics import sic_at

    out: dict[str, Any] = {}
    for e in eps_s:
        sic, nb = sic_at(y, s, e)
        out[f"{e:g}"] = {"sic": sic, "n_background": nb}
    return out


def sic_points(out: Path, sr: tuple[float, float], n: int = 300) -> dict[str, list[float]]:
    """The SIC curve (signal-region data events, true labels), thinned to ~``n`` points."""
    import pandas as pd

    from adsearch.stats.metrics import sic_curve

    t = pd.read_parquet(out / "scores.parquet", columns=["mjj", "score", "label"])
    t = t[(t["mjj"] >= sr[0]) & (t["mjj"] < sr[1])]
    y = (t["label"].to_numpy() > 0).astype(int)
    if not 0 < y.sum() < y.size:
        return {"eps_s": [], "sic": []}
    es, sic, _, _ = sic_curve(y, t["score"].to_numpy(), min_bkg=20)
    step = max(1, es.size // n)
    return {"eps_s": es[::step].tolist(), "sic": sic[::step].tolist()}


def plot_sic(entries: dict[str, Any], path: Path) -> None:
    """SIC vs signal efficiency of every entry with signal, beside the random line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for tag, e in entries.items():
        c = e["summary"].get("sic_curve") or {}
        if c.get("eps_s"):
            ax.plot(c["eps_s"], c["sic"], label=f"{tag} ({e['summary']['n_signal_injected']} W')")
    grid = np.linspace(0.01, 1, 100)
    ax.plot(grid, np.sqrt(grid), "k:", label="random")
    ax.axhline(14, color="grey", lw=0.8, ls="--", label="CATHODE, real LHCO (max SIC ~14)")
    ax.set_xlabel("signal efficiency (signal region)")
    ax.set_ylabel("SIC = ε_S / √ε_B (≥ 20 background events)")
    ax.set_title("1M generated QCD + W' 2-prong, out-of-fold scores")
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def summary(r: dict[str, Any], out: Path) -> dict[str, Any]:
    """The numbers of a results.json that the table shows."""
    perf = r.get("performance") or {}
    weak = r.get("weak") or {}
    bh = {
        name: {k: b.get(k) for k in ("z_local", "z_global", "global_p", "window_mjj")}
        for name, b in r["bumphunt"].items()
    }
    fits = {
        name: {k: f.get(k) for k in ("npar", "chi2_ndf", "p_value")} for name, f in r["fit"].items()
    }
    return {
        "n_events": r["input"]["n_events"],
        "n_signal_injected": (r.get("performance") or {}).get("n_signal_test", 0),
        **signal_region_metrics(out, tuple(r["signal_region"])),
        "sic_curve": sic_points(out, tuple(r["signal_region"])),
        "performance": perf,
        "weak": weak,
        "working_points": r["working_points"],
        "fit": fits,
        "bumphunt": bh,
        "sculpting": r.get("sculpting"),
        "timings_s": r.get("timings_s"),
    }


def markdown(entries: dict[str, Any]) -> str:
    lines = [
        "# Weakly supervised search at LHCO size (1M generated QCD + N W' 2-prong)",
        "",
        "`benchmarks/bench_lhco_size.py`: the pipeline of `analyses/lhco_rnd_cathode.yaml` on the",
        "features of `benchmarks/lhco_size_sample.py`. AUC and max SIC: out-of-fold scores of the",
        "data events in the signal region against their true labels. Z: BumpHunter on the cut",
        "spectrum, local / global (refit toys).",
        "",
        "| tag | N injected | events | S in SR | AUC (SR) | max SIC (SR) | SIC at ε_S 0.2 (B kept) "
        "| data-vs-template AUC "
        "| fit range (GeV) | Z 10 % | Z 1 % | Z 0.1 % | SR / interpolation 10 % / 1 % "
        "| wall (min) | CPU (min) | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def z(e: dict[str, Any], name: str) -> str:
        b = e["bumphunt"].get(name) or {}
        if b.get("z_local") is None:
            return "–"
        return f"{b['z_local']:.2f} / {b['z_global']:.2f}"

    def f(x: Any, nd: int = 3) -> str:
        return "–" if x is None else f"{x:.{nd}f}"

    def sic02(s: dict[str, Any]) -> str:
        c = (s.get("sic_at_eps_s") or {}).get("0.2")
        return "–" if c is None else f"{c['sic']:.2f} ({c['n_background']})"

    def interp(s: dict[str, Any]) -> str:
        sc = s.get("sculpting") or {}
        vals = [
            (sc.get(n) or {}).get("background_sr_over_interpolation") for n in ("eff0.1", "eff0.01")
        ]
        if all(v is None for v in vals):
            return "–"
        return " / ".join("–" if v is None else f"{v[0]:.3f} ± {v[1]:.3f}" for v in vals)

    for tag, e in entries.items():
        s = e["summary"]
        w = s["weak"] or {}
        lines.append(
            f"| {tag} | {s['n_signal_injected']} | {s['n_events']} | {s['n_signal_sr']} "
            f"| {f(s.get('auc_sr'))} | {f(s.get('max_sic_sr'), 2)} | {sic02(s)} "
            f"| {f(w.get('auc_data_vs_template'))} "
            f"| {'–'.join(f'{m:.0f}' for m in e.get('mjj_range', (2800, 6000)))} "
            f"| {z(s, 'eff0.1')} | {z(s, 'eff0.01')} | {z(s, 'eff0.001')} | {interp(s)} "
            f"| {e['wall_s'] / 60:.1f} | {e['cpu_s'] / 60:.1f} "
            f"| {e['load_average_before'][0]:.1f}-{e['load_average_after'][0]:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="features file (lhco_size_sample.py)")
    ap.add_argument("--keep-signal", type=int, default=1000)
    ap.add_argument("--config", default=str(ANALYSIS))
    ap.add_argument("--tag", required=True)
    ap.add_argument("--out", type=Path, required=True, help="run directory (reused: cached)")
    ap.add_argument("--set", action="append", default=[], help="config override KEY=VALUE")
    ap.add_argument("--force", action="append", default=[], help="rerun this step (code changed)")
    args = ap.parse_args(argv)
    sets = [
        "input.kind=features",
        f"input.path={Path(args.data).resolve()}",
        f"input.keep_signal={args.keep_signal}",
        *args.set,
    ]
    cfg = load_config(args.config, overrides=sets)
    load0 = os.getloadavg()
    w0, c0 = time.perf_counter(), cpu_seconds()
    res = run_pipeline(cfg, args.out, progress=False, force=args.force)
    wall, cpu = time.perf_counter() - w0, cpu_seconds() - c0
    entry = {
        "overrides": sets,
        "out": str(args.out),
        "mjj_range": list(cfg.stats.mjj_range),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "wall_s": wall,
        "cpu_s": cpu,
        "load_average_before": load0,
        "load_average_after": os.getloadavg(),
        "steps": {s.name: {"status": s.status, "seconds": s.seconds} for s in res.steps},
        "summary": summary(res.results, args.out),
    }
    path = RESULTS / "lhco_size.json"
    entries = json.loads(path.read_text()) if path.exists() else {}
    entries[args.tag] = entry
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(entries, indent=1, default=str) + "\n")
    with atomic_path(RESULTS / "lhco_size.md") as tmp:
        tmp.write_text(markdown(entries))
    plot_sic(entries, RESULTS / "lhco_size_sic.png")
    print(markdown({args.tag: entry}))


if __name__ == "__main__":
    main()
