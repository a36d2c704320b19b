"""The search end to end with the Python API, step by step (~3 min on 2 cores).

    python analyses/api_example.py [OUTDIR]

The same chain, cached and with a report, is one call:
``adsearch.pipeline.run_pipeline("analyses/quickstart.yaml", "runs/quickstart")``.
"""

import sys
from pathlib import Path

import pyarrow.parquet as pq

from adsearch.config import from_dict
from adsearch.generate import generate_to_file, mix
from adsearch.jets import features_from_file
from adsearch.pipeline import roc_auc
from adsearch.score import score_features
from adsearch.stats import (
    BumpHunterConfig,
    FitConfig,
    LimitConfig,
    MjjWindow,
    bumphunt,
    fit_spectrum,
    histogram,
    limits_for_fit,
    log_bins,
    working_points,
)
from adsearch.train import TrainConfig, train

if __name__ == "__main__":  # generation workers are spawned processes
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "api_example_out")
    # 1. events: QCD + W' -> XY (2-prong), LHCO recipe with the LHCO-like detector
    generate_to_file(out / "qcd.h5", "qcd", 3000, seed=1, workers=2)
    generate_to_file(out / "wprime.h5", "wprime-2prong", 150, seed=2, workers=2)
    mix(out / "qcd.h5", out / "wprime.h5", 150, out / "events.h5", seed=3)
    # 2. jets: two leading anti-kT R=1.0 jets, features and constituents
    features_from_file(out / "events.h5", out / "features.parquet")
    # 3. GIN DeepSVDD on the background jets of the training split (20 %)
    cfg = from_dict(TrainConfig, {
        "data": {"path": str(out / "features.parquet"), "val_fraction": 0.02},
        "graph": {"max_constituents": 100},
        "model": {"backbone": "gin", "objective": "deepsvdd", "width": 32, "layers": 3,
                  "readout": "max"},
        "optim": {"epochs": 3, "batch_size": 256},
        "runtime": {"out_dir": str(out / "train"), "device": "cpu"},
    })  # fmt: skip
    train(cfg)
    # 4. jet and event scores; statistics on the test split only
    score_features(out / "train", out / "features.parquet", out / "scores.parquet")
    t = pq.read_table(out / "scores.parquet").to_pandas().query("split == 2")
    print(f"event AUC {roc_auc(t['score'].to_numpy(), t['label'].to_numpy()):.3f}")
    # 5. working point: 10 % background efficiency, threshold fixed outside the SR
    sr = MjjWindow(3300.0, 3700.0)
    (wp,) = working_points(t["score"], [0.1], mjj=t["mjj"], window=sr)
    mjj = t["mjj"][t["score"] > wp.threshold].to_numpy()
    # 6. dijet fit, BumpHunter (background refitted on every toy), CLs limits
    fit = fit_spectrum(histogram(mjj, log_bins(2500.0, 6000.0, 0.05)), FitConfig())
    bh = bumphunt(fit, BumpHunterConfig(n_toys=1000, seed=1))
    lo, hi = bh.window_mjj
    print(
        f"fit: {fit.npar} par., chi2/ndf {fit.deviance:.1f}/{fit.ndf}; most significant "
        f"window {lo:.0f}-{hi:.0f} GeV, local Z {bh.z_local:.2f}, global Z {bh.z_global:.2f}"
    )
    for m in limits_for_fit(fit, LimitConfig(masses=[3000.0, 3500.0, 4000.0])).limits:
        print(f"m = {m.mass:.0f} GeV: N_sig < {m.observed * m.n_ref:.1f} (95 % CL)")
