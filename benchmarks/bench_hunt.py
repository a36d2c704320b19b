"""CWoLa hunting over mass hypotheses at LHC Olympics size: does the sliding search find the W'?

Runs :func:`adsearch.stats.hunt.cwola_hunt` on the features file of
``benchmarks/lhco_size_sample.py`` (1M generated QCD + the first N W' 2-prong rows, as the
pipeline's ``input.keep_signal``): every window of two 5 % mjj bins in 2.94-6 TeV (the fit
range of the LHCO-size analyses, above the trigger turn-on) is a signal
region with two bins of sidebands on each side, a boosted-tree ensemble (5 folds × 1 member by
default, ``--members``; out of fold) learns window vs sidebands on CATHODE's four features, the
spectrum is cut at 10 %, 1 % and 0.1 % of the events outside the window, fitted with the
4-parameter dijet function with the window blinded, and the window's local Z (fit uncertainty
included) recorded. Also reported: the AUC and max SIC of the window holding the signal
against the true labels.

Results: ``benchmarks/results/hunt.json`` (one entry per ``--tag``) and ``hunt.md``::

    python benchmarks/bench_hunt.py --data data/rnd_generated.features.h5 --keep-signal 1000 \\
        --tag cwola_hunt_1000
    python benchmarks/bench_hunt.py --data data/rnd_generated.features.h5 --keep-signal 0 \\
        --tag cwola_hunt_0
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import cpu_seconds

from adsearch.io.atomic import atomic_path
from adsearch.stats.hunt import HuntConfig, cwola_hunt, hunt_markdown
from adsearch.stats.metrics import max_sic, roc_auc
from adsearch.weak import ClassifierConfig, WeakConfig, feature_matrix, read_table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def keep_first_signal(label: np.ndarray, n: int) -> np.ndarray:
    """Rows kept: every background row and the first ``n`` signal rows (file order)."""
    sig = np.flatnonzero(label > 0)
    keep = np.ones(label.size, dtype=bool)
    keep[sig[n:]] = False
    return keep


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--keep-signal", type=int, default=1000)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--members", type=int, default=1, help="members per fold (CPU budget)")
    ap.add_argument(
        "--mjj-range",
        type=float,
        nargs=2,
        default=(2937.0, 6000.0),
        help="fitted range; from 2937 GeV, above the trigger turn-on at 1M events",
    )
    args = ap.parse_args(argv)
    table = read_table(args.data, "DATA")
    label = table["label"].to_numpy()
    table = table[keep_first_signal(label, args.keep_signal)].reset_index(drop=True)
    y = (table.pop("label").to_numpy() > 0).astype(int)
    weak = WeakConfig(
        method="cwola",
        n_folds=5,
        seed=args.seed,
        workers=args.workers,
        threads=2,
        classifier=ClassifierConfig(kind="hgb", n_members=args.members),
    )
    hcfg = HuntConfig(mjj_range=tuple(args.mjj_range), efficiencies=(0.1, 0.01, 0.001))
    x = feature_matrix(table, weak.features, "DATA")
    mjj = table["mjj"].to_numpy(dtype=np.float64)
    load0 = os.getloadavg()
    w0, c0 = time.perf_counter(), cpu_seconds()
    res = cwola_hunt(x, mjj, weak, hcfg, log=lambda s: print(s, flush=True))
    wall, cpu = time.perf_counter() - w0, cpu_seconds() - c0
    truth: list[dict[str, Any]] = []
    for k, r in enumerate(res.rows):
        lo, hi = r["window"]
        sr = (mjj >= lo) & (mjj < hi)
        row: dict[str, Any] = {"window": r["window"], "n_signal": int(y[sr].sum())}
        if 0 < y[sr].sum() < sr.sum():
            best = max_sic(y[sr], res.scores[k][sr], min_bkg=20)
            row.update(auc=roc_auc(y[sr], res.scores[k][sr]), max_sic=best.sic)
        truth.append(row)
    entry = {
        "data": args.data,
        "keep_signal": args.keep_signal,
        "members_per_fold": args.members,
        "n_events": len(mjj),
        "hunt": res.to_dict(),
        "truth": truth,
        "wall_s": wall,
        "cpu_s": cpu,
        "load_average_before": load0,
        "load_average_after": os.getloadavg(),
    }
    path = RESULTS / "hunt.json"
    entries = json.loads(path.read_text()) if path.exists() else {}
    entries[args.tag] = entry
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(entries, indent=1))
    lines = [
        "# CWoLa hunting over mass hypotheses at LHCO size",
        "",
        "`benchmarks/bench_hunt.py` (see its docstring for the setup).",
        "",
    ]
    for tag, e in entries.items():
        lines += [f"## {tag}: {e['keep_signal']} W' in {e['n_events']} events", ""]
        lines += [
            f"{e['wall_s'] / 60:.1f} min wall, {e['cpu_s'] / 60:.1f} CPU-min, load "
            f"{e['load_average_before'][0]:.1f}-{e['load_average_after'][0]:.1f}.",
            "",
        ]
        rows = [t for t in e["truth"] if t.get("auc") is not None and t["n_signal"] >= 50]
        for t in rows:
            lines.append(
                f"Window {t['window'][0]:.0f}–{t['window'][1]:.0f} GeV holds {t['n_signal']} W': "
                f"AUC {t['auc']:.3f}, max SIC {t['max_sic']:.2f} (true labels, out of fold)."
            )
        hunt = e["hunt"]
        lines += ["", hunt_markdown(hunt), ""]
    with atomic_path(RESULTS / "hunt.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    print(f"wrote {path} ({wall / 60:.1f} min)")


if __name__ == "__main__":
    main()
