"""Weak supervision on pretrained latent features vs CATHODE's four features.

The idealized anomaly detector (``method: reference``, template = true background) on the
bench_auc.py 2-prong file: its QCD events are split in two by a seeded permutation, one
half plus ``--inject`` W' events is the data, the other half the template. The same
boosted-tree ensemble (5 folds x 5 members) is trained with (a) CATHODE's features
(mj_lighter, delta_mj, tau21 of both jets), (b) the two masses and the 2 x 32 embedding
dimensions of the contrastively pretrained encoder of bench_pretrain.py
(``adsearch embed``; the encoder never saw these events or any signal), (c) both. Reported
in the signal region (3.3-3.7 TeV) from the out-of-fold data scores and the data labels
(never used in training): AUC, max SIC (>= 20 background events), SIC at eps_S 0.2, and the
data-vs-template AUC. Results: ``results/weak_latent.{json,md}``::

    python benchmarks/bench_weak_latent.py --data scratch/data100k/rnd2.parquet \
        --encoder scratch/bwP/pretrain/encoder.pt --work-dir scratch/bwL --inject 150,300
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from adsearch.io.atomic import atomic_path
from adsearch.stats.metrics import roc_auc, sic_at, sic_curve

RESULTS = Path(__file__).parent / "results"
STANDARD = ["mj_lighter", "delta_mj", "tau21_lighter", "tau21_heavier"]


def feature_sets(dim: int) -> dict[str, list[str]]:
    latent = [f"latent_{w}_{k}" for w in ("lighter", "heavier") for k in range(dim)]
    return {
        "CATHODE's 4 features": STANDARD,
        "masses + latent": ["mj_lighter", "delta_mj", *latent],
        "4 features + latent": [*STANDARD, *latent],
    }


def run(table: Any, n_inject: int, names: list[str], seed: int, threads: int) -> dict[str, Any]:
    from adsearch.weak import ClassifierConfig, WeakConfig, weak_scores

    label = table["label"].to_numpy()
    rng = np.random.default_rng(seed)
    qcd = rng.permutation(np.flatnonzero(label == 0))
    sig = rng.choice(np.flatnonzero(label == 1), n_inject, replace=False)
    data_rows = np.sort(np.concatenate([qcd[: len(qcd) // 2], sig]))
    tmpl_rows = np.sort(qcd[len(qcd) // 2 :])
    data = table.iloc[data_rows].reset_index(drop=True)
    tmpl = table.iloc[tmpl_rows].reset_index(drop=True)
    cfg = WeakConfig(
        method="reference",
        features=names,
        seed=seed,
        classifier=ClassifierConfig(kind="hgb"),
        threads=threads,
    )
    t0 = time.perf_counter()
    res = weak_scores(data, cfg, reference_table=tmpl, progress=False)
    dt = time.perf_counter() - t0
    mjj = data["mjj"].to_numpy()
    lo, hi = cfg.signal_region
    sr = (mjj >= lo) & (mjj < hi)
    y, s = data["label"].to_numpy()[sr], res.scores[sr]
    _, _, smax, _ = sic_curve(y, s, 20)
    s02, nb02 = sic_at(y, s, 0.2)
    tvals = res.template_scores
    dvt = (
        roc_auc(np.r_[np.ones(sr.sum()), np.zeros(len(tvals))], np.r_[s, tvals])
        if tvals is not None
        else float("nan")
    )
    return {
        "n_signal_sr": int(y.sum()),
        "n_background_sr": int((y == 0).sum()),
        "auc_sr": roc_auc(y, s),
        "max_sic": smax,
        "sic_at_0.2": s02,
        "background_kept_at_0.2": nb02,
        "data_vs_template_auc": dvt,
        "seconds": dt,
    }


def write_md(res: dict[str, Any], path: Path) -> None:
    lines = [
        "# Weak supervision on pretrained latent features",
        "",
        f"Idealized detector (template = the other half of the QCD events) on `{res['data']}`; "
        f"encoder `{res['encoder']}` ({res['dim']} dimensions per jet); boosted-tree ensemble, "
        "5 folds x 5 members; signal region 3.3-3.7 TeV; out-of-fold scores of the data events. "
        "Mean ± spread over the seeds "
        f"{', '.join(map(str, res['seeds']))}.",
        "",
        "| W' injected | features | S in SR (B) | AUC in SR | max SIC "
        "| SIC at ε_S 0.2 (mean B kept; 0 kept counted as 1) "
        "| data-vs-template AUC | s per run |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def ms(v: list[float], nd: int) -> str:
        return f"{np.mean(v):.{nd}f} ± {np.std(v):.{nd}f}" if len(v) > 1 else f"{v[0]:.{nd}f}"

    for inj, per in res["rows"].items():
        for name, runs in per.items():
            r0 = runs[0]
            lines.append(
                f"| {inj} | {name} ({len(runs[0]['features'])}) | {r0['n_signal_sr']} "
                f"({r0['n_background_sr']}) | {ms([r['auc_sr'] for r in runs], 3)} | "
                f"{ms([r['max_sic'] for r in runs], 1)} | "
                f"{ms([r['sic_at_0.2'] for r in runs], 1)} "
                f"({int(np.mean([r['background_kept_at_0.2'] for r in runs]))}) | "
                f"{ms([r['data_vs_template_auc'] for r in runs], 3)} | "
                f"{np.mean([r['seconds'] for r in runs]):.0f} |"
            )
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    import pandas as pd

    from adsearch.pretrain.latent import write_latent_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("scratch/data100k/rnd2.parquet"))
    ap.add_argument("--encoder", type=Path, default=Path("scratch/bwP/pretrain/encoder.pt"))
    ap.add_argument("--work-dir", type=Path, default=Path("scratch/bwL"))
    ap.add_argument("--inject", default="150,300", help="W' events in the data (comma-sep.)")
    ap.add_argument("--seeds", default="1,2", help="comma-separated")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--results-dir", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    lat = args.work_dir / f"{args.data.stem}_latent.parquet"
    if not lat.exists():
        t0 = time.perf_counter()
        _, n, dim = write_latent_table(args.encoder, args.data, lat)
        print(
            f"embedded {n} events ({dim} per jet) in {time.perf_counter() - t0:.0f} s", flush=True
        )
    table = pd.read_parquet(lat)
    dim = sum(1 for c in table.columns if c.startswith("latent1_"))
    seeds = [int(s) for s in args.seeds.split(",")]
    out: dict[str, Any] = {
        "data": str(args.data),
        "encoder": str(args.encoder),
        "dim": dim,
        "seeds": seeds,
        "rows": {},
    }
    for inj in (int(x) for x in args.inject.split(",")):
        per = out["rows"].setdefault(str(inj), {})
        for name, names in feature_sets(dim).items():
            for seed in seeds:
                r = run(table, inj, names, seed, args.threads)
                r["features"] = names
                per.setdefault(name, []).append(r)
                print(
                    f"[{time.strftime('%H:%M:%S')}] {inj} W', {name}, seed {seed}: AUC "
                    f"{r['auc_sr']:.3f}, max SIC {r['max_sic']:.1f}, SIC@0.2 "
                    f"{r['sic_at_0.2']:.1f}, data-vs-template {r['data_vs_template_auc']:.3f} "
                    f"({r['seconds']:.0f} s)",
                    flush=True,
                )
            args.results_dir.mkdir(parents=True, exist_ok=True)
            with atomic_path(args.results_dir / "weak_latent.json") as tmp:
                Path(tmp).write_text(json.dumps(out, indent=1))
            write_md(out, args.results_dir / "weak_latent.md")
    print((args.results_dir / "weak_latent.md").read_text())


if __name__ == "__main__":
    main()
