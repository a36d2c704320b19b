"""Weak-supervision benchmark: CWoLa hunting, CATHODE and the idealized reference classifier.

Data: a labelled features file of generated QCD + W' events (default
``scratch/data100k/rnd2.parquet``: 100k QCD + 10k W' 2-prong; ``rnd3.parquet`` has the same
QCD with the 3-prong signal). The events are split once, seeded:

* QCD, shuffled: ``--data-fraction`` (60 %) is the background of the *data*, ``--ref-fraction``
  (20 %) the *reference* template of the idealized detector (true background, independent
  events), the rest the background of the *test* set;
* W', shuffled: the first ``N`` (each value of ``--inject``) are injected into the data, all
  others form the signal of the test set (the same for every ``N``), as CATHODE evaluates
  (Hallin et al., PRD 106, 055006: an extra labelled signal + background test set).

Each method (:func:`adsearch.weak.weak_scores`) trains on the data (the ``label`` column stays in
the table and is never read); AUC, max SIC (cuts keeping >= 20 test background events) and
the SIC curve are measured on the test events inside the signal region, and on the data's own
out-of-fold scores (signal-region events, true labels). The data-vs-template AUC (out of fold)
is also reported: ≈ 0.5 without signal.

Outputs: ``benchmarks/results/weak.json``, ``weak.md`` and ``weak_sic.png`` (rewritten after
every method, so an interrupted run leaves a partial table)::

    nice python benchmarks/bench_weak.py --inject 1000 --classifier mlp
    nice python benchmarks/bench_weak.py --inject 0,300,1000 --classifier hgb --tag hgb
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from adsearch.stats.metrics import max_sic, roc_auc, sic_curve
from adsearch.weak import ClassifierConfig, WeakConfig, read_table, regions, weak_scores

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def split(table, inject: int, args) -> tuple:
    """(data, reference, test) tables; the test set does not depend on ``inject``."""
    rng = np.random.default_rng(args.seed)
    label = table["label"].to_numpy()
    qcd = rng.permutation(np.flatnonzero(label == 0))
    sig = rng.permutation(np.flatnonzero(label == 1))
    n_data = int(args.data_fraction * qcd.size)
    n_ref = int(args.ref_fraction * qcd.size)
    max_inject = args.max_inject
    if inject > max_inject:
        raise SystemExit(f"--inject {inject} > --max-inject {max_inject}")
    data = np.sort(np.r_[qcd[:n_data], sig[:inject]])
    ref = qcd[n_data : n_data + n_ref]
    test = np.r_[qcd[n_data + n_ref :], sig[max_inject:]]
    return (table.iloc[data].reset_index(drop=True), table.iloc[ref].reset_index(drop=True),
            table.iloc[test].reset_index(drop=True))  # fmt: skip


def config(method: str, args) -> WeakConfig:
    clf = ClassifierConfig(kind=args.classifier, n_members=args.n_members)
    return WeakConfig(
        method=method,
        sideband_width=args.cwola_sideband_width if method == "cwola" else None,
        n_folds=args.n_folds,
        seed=args.seed,
        threads=1,
        classifier=clf,
    )


def evaluate(res, cfg, data, test) -> dict:
    sr_t = (test["mjj"] >= cfg.signal_region[0]) & (test["mjj"] < cfg.signal_region[1])
    y_t = test["label"].to_numpy()[sr_t.to_numpy()]
    s_t = res.test_scores[sr_t.to_numpy()]
    es, sic, best, at = sic_curve(y_t, s_t, min_bkg=20)
    out = {
        "test_auc": roc_auc(y_t, s_t),
        "test_max_sic": best,
        "test_eps_s_at_max_sic": at,
        "test_n_signal": int(y_t.sum()),
        "test_n_background": int((y_t == 0).sum()),
        "sic_curve": {
            "eps_s": es[:: max(1, es.size // 400)].tolist(),
            "sic": sic[:: max(1, es.size // 400)].tolist(),
        },
    }
    sr, _ = regions(data["mjj"].to_numpy(), cfg)
    y_d = data["label"].to_numpy()[sr]
    if 0 < y_d.sum() < y_d.size:
        out["data_auc"] = roc_auc(y_d, res.scores[sr])
        out["data_max_sic"] = max_sic(y_d, res.scores[sr], min_bkg=20).sic
    dt = np.r_[np.ones(int(sr.sum())), np.zeros(len(res.template_scores))]
    out["data_vs_template_auc"] = roc_auc(dt, np.r_[res.scores[sr], res.template_scores])
    return out


def write(results: dict, prefix: Path) -> None:
    prefix.parent.mkdir(parents=True, exist_ok=True)
    prefix.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    lines = [
        f"# Weak supervision benchmark ({results['data']}, classifier {results['classifier']})",
        "",
        results["setup"],
        "",
        "| injected | S/B in SR | method | test AUC | test max SIC | data AUC | data max SIC "
        "| data-vs-template AUC | time (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["runs"]:
        lines.append(
            f"| {r['inject']} | {r['s_over_b_sr']:.4f} | {r['method']} | {r['test_auc']:.3f} "
            f"| {r['test_max_sic']:.2f} | {r.get('data_auc', float('nan')):.3f} "
            f"| {r.get('data_max_sic', float('nan')):.2f} | {r['data_vs_template_auc']:.3f} "
            f"| {r['seconds']:.0f} |"
        )
    prefix.with_suffix(".md").write_text("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for r in results["runs"]:
        c = r["sic_curve"]
        ax.plot(c["eps_s"], c["sic"], label=f"{r['method']} ({r['inject']} inj.)")
    grid = np.linspace(0.01, 1, 100)
    ax.plot(grid, grid / np.sqrt(grid), "k:", label="random")
    ax.set_xlabel("signal efficiency (test, signal region)")
    ax.set_ylabel("SIC = ε_S / √ε_B")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(prefix.with_name(prefix.name + "_sic.png"), dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="/work/main/scratch/data100k/rnd2.parquet")
    p.add_argument("--inject", default="1000", help="comma-separated injected signal counts")
    p.add_argument("--max-inject", type=int, default=3000, help="signal kept out of the test")
    p.add_argument("--methods", default="reference,cathode,cwola")
    p.add_argument("--classifier", default="mlp", choices=["mlp", "hgb"])
    p.add_argument("--n-folds", type=int, default=5)
    p.add_argument("--n-members", type=int, default=5)
    p.add_argument("--cwola-sideband-width", type=float, default=200.0)
    p.add_argument("--data-fraction", type=float, default=0.6)
    p.add_argument("--ref-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tag", default="", help="suffix of the result files (weak_<tag>.*)")
    args = p.parse_args()
    torch.set_num_threads(1)

    table = read_table(args.data)
    prefix = RESULTS / ("weak" + (f"_{args.tag}" if args.tag else ""))
    results = {
        "data": Path(args.data).name,
        "classifier": args.classifier,
        "args": vars(args),
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpu_threads": 1,
        },
        "setup": (
            f"QCD split {args.data_fraction:.0%} data / {args.ref_fraction:.0%} reference / "
            f"rest test; W' injected into the data, the other W' (beyond the first "
            f"{args.max_inject}) in the test set; metrics in the signal region 3.3-3.7 TeV; "
            f"{args.n_folds} folds x {args.n_members} members; CWoLa sidebands "
            f"{args.cwola_sideband_width:.0f} GeV; 1 CPU thread."
        ),
        "runs": [],
    }
    for inject in [int(v) for v in args.inject.split(",")]:
        data, ref, test = split(table, inject, args)
        for method in args.methods.split(","):
            cfg = config(method, args)
            sr, _ = regions(data["mjj"].to_numpy(), cfg)
            n_sig_sr = int(data["label"].to_numpy()[sr].sum())
            t0 = time.perf_counter()
            res = weak_scores(data, cfg, reference_table=ref, test=test)
            seconds = time.perf_counter() - t0
            run = {
                "inject": inject,
                "method": method,
                "n_data": len(data),
                "n_signal_sr": n_sig_sr,
                "s_over_b_sr": n_sig_sr / max(1, int(sr.sum()) - n_sig_sr),
                "seconds": round(seconds, 1),
                "info": res.info,
                **evaluate(res, cfg, data, test),
            }
            results["runs"].append(run)
            write(results, prefix)
            print(
                f"inject {inject} {method}: test AUC {run['test_auc']:.3f}, max SIC "
                f"{run['test_max_sic']:.2f}; data-vs-template AUC "
                f"{run['data_vs_template_auc']:.3f}; {seconds:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
