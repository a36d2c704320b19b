"""Event AUC of GIN DeepSVDD after every epoch (is the score stable under training?).

Trains the ``gin-deepsvdd`` config of ``bench_auc.py`` one epoch at a time (``train(...,
resume=True)`` with one more epoch each call) on a given training fraction and scores the
weights of every epoch on the same 20,000 test events as ``bench_auc.py``::

    python benchmarks/bench_auc_epochs.py --fraction 0.05 --epochs 10   # ~10k training jets
    python benchmarks/bench_auc_epochs.py --fraction 0.5 --epochs 6     # ~100k

Writes ``benchmarks/results/auc_vs_epoch_<fraction>.json``: per epoch the event AUC (%), the
validation loss and the collapse monitor's spread.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_auc as b  # noqa: E402

from adsearch.io.atomic import atomic_path  # noqa: E402
from adsearch.train import train  # noqa: E402
from adsearch.train.data import load_jets  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("scratch/data100k/rnd2.parquet"))
    ap.add_argument("--work-dir", type=Path, default=Path("scratch/auc_epochs"))
    ap.add_argument("--fraction", type=float, default=0.05)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    sample, feats = load_jets(a.data)
    mjj = np.asarray(feats.table["mjj"])
    args = argparse.Namespace(
        train_fraction=0.5, val_fraction=0.02, test_train_fraction=None, threads=a.threads,
        batch=256, device="cpu", cap=100, node_features="basic", width=32, epochs=1,
        patience=50, supervised_train_fraction=None,
    )  # fmt: skip
    events = b.test_events(sample.n_events, args, 20000, seed=7)  # bench_auc.py's test events
    args.train_fraction = a.fraction
    run = a.work_dir / f"f{a.fraction}"
    rows = []
    for ep in range(1, a.epochs + 1):
        args.epochs = ep
        cfg = b.make_config("gin-deepsvdd", a.data, run, args)
        train(cfg, sample, resume=ep > 1, progress=False)
        ck = torch.load(run / "checkpoint.pt", weights_only=True)
        blob = torch.load(run / "model.pt", weights_only=True)
        blob["state_dict"] = ck["model"]  # score this epoch's weights, not the best ones
        torch.save(blob, run / "model_epoch.pt")
        shutil.copy(run / "model_epoch.pt", run / "model.pt")
        sc, _ = b.score_test(run, cfg, sample, events, mjj, args)
        h = ck["history"][-1]
        rows.append(
            {
                "epoch": ep,
                "event_auc": 100 * b.roc_auc(sc["label"], sc["score"]),
                "val_loss": h["val_loss"],
                "spread": h["spread"],
            }
        )
        print(rows[-1], flush=True)
        out = b.RESULTS / f"auc_vs_epoch_{a.fraction}.json"
        with atomic_path(out) as tmp:
            Path(tmp).write_text(json.dumps({"fraction": a.fraction, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
