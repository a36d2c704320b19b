"""Background-only repetitions of the weakly supervised search: does it fake bumps?

Each input is an independent background-only features file (e.g. the features of one
20k-event shard of the 1M QCD generation, see ``benchmarks/lhco_size_sample.py``). On each,
the whole pipeline runs — by default the quick start's CATHODE (boosted-tree ensemble) on the
events of that file — and the BumpHunter global p-value after every score cut is recorded.
With no signal, the global p-values must be uniform: the fraction below 0.05 is ~5 % and a
Kolmogorov-Smirnov test against U(0, 1) does not reject. A score that learns mjj (CATHODE's
main risk: a flow that mismodels the sidebands' interpolation into the signal region)
shows up as small p-values here.

Results: ``benchmarks/results/weak_null_<tag>.json`` and ``.md`` (rewritten after every
repetition, so an interrupted run keeps what it did; a rerun skips finished inputs)::

    nice python benchmarks/bench_weak_null.py --inputs 'data/feat/qcd1M_shard_*.h5' \\
        --tag cathode_hgb --work runs/weak_null
    nice python benchmarks/bench_weak_null.py --inputs 'data/feat/qcd1M_shard_*.h5' \\
        --tag cwola --work runs/weak_null_cwola --set score.method=cwola

Extra ``--set KEY=VALUE`` go to the analysis config (default: the built-in quick start).
"""

from __future__ import annotations

import argparse
import glob
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from adsearch.io.atomic import atomic_path
from adsearch.pipeline import run_pipeline
from adsearch.pipeline.config import config_from_text, load_config
from adsearch.pipeline.defaults import QUICKSTART_YAML

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def one(path: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run the search on one background-only file; its global p-values per selection."""
    sets = ["input.kind=features", f"input.path={Path(path).resolve()}", "input.keep_signal=0"]
    # the run's own null check (pseudo-data from its fit) is not what is measured here:
    # the smallest one keeps the repetition fast
    sets += ["stats.null_check.n_pseudo=2", "stats.null_check.n_toys=20", *args.set]
    if args.config:
        cfg = load_config(args.config, overrides=sets)
    else:
        cfg = config_from_text(QUICKSTART_YAML, "quickstart", overrides=sets)
    out = Path(args.work) / Path(path).stem
    t0 = time.perf_counter()
    run_pipeline(cfg, out, log=None, progress=False, until="bumphunt")  # no limits, no report
    bump = json.loads((out / "bumphunt.json").read_text())["selections"]
    fits = json.loads((out / "fit.json").read_text())["selections"]
    weak = out / "weak" / "weak.json"
    info = json.loads(weak.read_text()) if weak.is_file() else {}
    events = json.loads((out / "events.json").read_text())
    row = {
        "input": path,
        "n_events": events.get("n_events"),
        "seconds": round(time.perf_counter() - t0, 1),
        "auc_data_vs_template": info.get("auc_data_vs_template"),
        "selections": {
            name: {
                "z_local": b.get("z_local"),
                "z_global": b.get("z_global"),
                "global_p": b.get("global_p"),
                "window_mjj": [b["window"]["mjj_lo"], b["window"]["mjj_hi"]]
                if b.get("window")
                else None,
            }
            for name, b in bump.items()
        },
        "fit_npar": {name: (f.get("fit") or {}).get("npar") for name, f in fits.items()},
    }
    if not args.keep_runs:
        shutil.rmtree(out, ignore_errors=True)
    return row


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per selection: n, fraction of global p < 0.05 (binomial error), KS p vs U(0, 1)."""
    names = sorted({n for r in rows for n in r["selections"]})
    out = {}
    for name in names:
        p = np.array(
            [
                r["selections"][name]["global_p"]
                for r in rows
                if r["selections"].get(name, {}).get("global_p") is not None
            ]
        )
        if not p.size:
            continue
        frac = float(np.mean(p < 0.05))
        out[name] = {
            "n": int(p.size),
            "fraction_p_below_0.05": frac,
            "fraction_error": float(np.sqrt(max(frac * (1 - frac), 1e-12) / p.size)),
            "ks_p_uniform": float(stats.kstest(p, "uniform").pvalue),
            "median_p": float(np.median(p)),
            "min_p": float(p.min()),
        }
    return out


def write(tag: str, meta: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    summary = summarise(rows)
    data = {**meta, "summary": summary, "rows": rows}
    base = RESULTS / f"weak_null_{tag}"
    with atomic_path(base.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n")
    lines = [
        f"# Background-only repetitions of the search ({tag})",
        "",
        f"{len(rows)} independent background-only inputs ({meta['inputs']}); overrides "
        f"{meta['overrides'] or 'none'}; config {meta['config'] or 'built-in quick start'}. "
        "BumpHunter global p-value (refit toys) after each score cut; uniform without signal.",
        "",
        "| selection | repetitions | fraction p < 0.05 | KS p vs uniform | median p | min p |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        lines.append(
            f"| {name} | {s['n']} | {s['fraction_p_below_0.05']:.3f} ± "
            f"{s['fraction_error']:.3f} | {s['ks_p_uniform']:.3f} | {s['median_p']:.3f} "
            f"| {s['min_p']:.3g} |"
        )
    with atomic_path(base.with_suffix(".md")) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", required=True, help="glob of background-only features files")
    ap.add_argument("--config", default=None, help="analysis YAML (default: the quick start)")
    ap.add_argument("--tag", required=True)
    ap.add_argument("--work", required=True, help="directory of the runs")
    ap.add_argument("--max", type=int, default=None, help="at most this many inputs")
    ap.add_argument("--keep-runs", action="store_true", help="keep each run's directory")
    ap.add_argument("--set", action="append", default=[], help="config override KEY=VALUE")
    args = ap.parse_args(argv)
    paths = sorted(glob.glob(args.inputs))[: args.max]
    if not paths:
        raise SystemExit(f"{args.inputs}: no file matches")
    meta = {"inputs": args.inputs, "config": args.config, "overrides": args.set}
    base = RESULTS / f"weak_null_{args.tag}.json"
    rows: list[dict[str, Any]] = []
    if base.exists():
        old = json.loads(base.read_text())
        if {k: old.get(k) for k in meta} == meta:
            rows = old["rows"]
    done = {r["input"] for r in rows}
    for path in paths:
        if path in done:
            continue
        rows.append(one(path, args))
        write(args.tag, meta, rows)
        sel = rows[-1]["selections"]
        print(
            f"{path}: "
            + ", ".join(f"{n} p={s['global_p']:.3f}" for n, s in sel.items() if s.get("global_p"))
            + f" ({rows[-1]['seconds']:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
