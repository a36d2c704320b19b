"""Merge the rows of parallel ``bench_auc.py`` runs into ``results/auc.{json,md}``.

Runs that share the 2 cores write to their own ``--results-dir``; this adds their model rows
(and the flow-density proxy row, when a run has it) to ``benchmarks/results/auc.json``,
rewrites ``auc.md`` and draws the SIC curves of every row whose test scores
(``<row>_<signal>.npz``) are in the given work directories, flow density included::

    python benchmarks/merge_auc.py --from scratch/bres_C,scratch/bres_D \
        --work-dirs scratch/bwA,scratch/bwC,scratch/bwD --plot-tag _cnn_particlenet

Only rows scored on the same test events can be merged: runs whose test-event settings
(``n_test_events`` and the split of the test events) differ are refused.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from bench_auc import DENSITY_ROW, RESULTS, SIGNALS, plot_sic, rows_in, write_md

from adsearch.io.atomic import atomic_path
from adsearch.stats.metrics import sic_curve

DENSITY = "flow density"


def merge(main: dict, other: dict, source: str) -> list[str]:
    """Add ``other``'s model rows and flow-density proxy to ``main``; the rows added."""
    for key in ("n_test_events", "val_fraction"):
        if main["config"].get(key) != other["config"].get(key):
            raise SystemExit(f"error: {source}: {key} differs, not the same test events")
    added = []
    for row, per in other.get("models", {}).items():
        main["models"].setdefault(row, {}).update(per)
        added.append(row)
    for sig, per in other.get("proxies", {}).items():
        if DENSITY in per:
            main.setdefault("proxies", {}).setdefault(sig, {})[DENSITY] = per[DENSITY]
    main["requested"] = rows_in(dict.fromkeys([*main.get("requested", []), *added]))
    main["partial"] = any(
        m not in main["models"] or len(main["models"][m]) < 2 for m in main["requested"]
    )
    return added


def curves_of(
    work_dirs: list[Path], rows: list[str], min_bkg: int
) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """SIC curves of ``rows`` and the flow density from the npz files in ``work_dirs``."""
    out: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for sig in SIGNALS:
        out[sig] = {}
        for row in [*rows, DENSITY_ROW]:
            f = next(
                (d / f"{row}_{sig}.npz" for d in work_dirs if (d / f"{row}_{sig}.npz").exists()),
                None,
            )
            if f is not None:
                z = np.load(f)
                es, sic, _, _ = sic_curve(z["label"], z["score"], min_bkg)
                out[sig][row] = (es, sic)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="sources", required=True, help="results dirs, comma-separated")
    ap.add_argument("--work-dirs", default="", help="work dirs with the npz test scores")
    ap.add_argument("--plot-tag", default="_merged", help="suffix of the SIC plots' names")
    ap.add_argument("--min-bkg", type=int, default=20)
    args = ap.parse_args(argv)
    main_json = RESULTS / "auc.json"
    res = json.loads(main_json.read_text())
    added: list[str] = []
    for src in (Path(s) for s in args.sources.split(",") if s):
        added += merge(res, json.loads((src / "auc.json").read_text()), str(src))
    with atomic_path(main_json) as tmp:
        Path(tmp).write_text(json.dumps(res, indent=1))
    write_md(res, RESULTS / "auc.md")
    work = [Path(d) for d in args.work_dirs.split(",") if d]
    if work:
        new_rows = [r for r in rows_in(res["models"]) if any(
            (d / f"{r}_{s}.npz").exists() for d in work for s in SIGNALS)]  # fmt: skip
        for p in plot_sic(curves_of(work, new_rows, args.min_bkg), res, args.plot_tag):
            print(f"wrote {p}")
    print(f"merged rows: {', '.join(dict.fromkeys(added)) or 'none'}; wrote {main_json}")


if __name__ == "__main__":
    main()
