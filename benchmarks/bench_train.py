"""Training and inference speed of every model kind at the default width (CPU).

Jets: toy jets with real-LHCO graph sizes (:func:`adsearch.graphs.toy.toy_jets`, ~56
constituents, ~25 ΔR < 0.2 neighbours per constituent; as real LHCO leading jets), two per event.
Each model (default width 128, 5 message-passing layers / 3 attention blocks, batch 1024,
default graph cap) trains ``--epochs`` epochs on ``--n`` jets with the real training
loop (:func:`adsearch.train.train`, graph building included); the fastest epoch gives s/epoch
and jets/s. Inference is :func:`adsearch.score.score_jets` over the same jets (best of
``--repeat``). Results go to ``benchmarks/results/train.json``.

    nice -n 10 python benchmarks/bench_train.py [--n 2000] [--epochs 2] [--models gin,part]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from adsearch.config import from_dict
from adsearch.graphs import GraphConfig
from adsearch.io.atomic import atomic_path

RESULTS = Path(__file__).resolve().parent / "results" / "train.json"

#: (name, backbone, objective, batch size)
#: GATv2 materialises [edges, heads, width] tensors in every layer: at batch 1024 (~1.4 M
#: edges) one training step needs > 20 GB (it was OOM-killed here), so it runs at 128.
MODELS = [
    ("gin-deepsvdd", "gin", "deepsvdd", 1024),
    ("egat-deepsvdd", "egat", "deepsvdd", 1024),
    ("transformer-deepsvdd", "transformer", "deepsvdd", 1024),
    ("transformer-ae", "transformer", "ae", 1024),
    ("part-deepsvdd", "part", "deepsvdd", 1024),
    ("gin-supervised", "gin", "supervised", 1024),
    ("gatv2-deepsvdd", "gatv2", "deepsvdd", 128),
]


def _sample(n_jets: int, seed: int):
    import awkward as ak

    from adsearch.graphs import jet_axis
    from adsearch.graphs.toy import toy_jets
    from adsearch.train.data import JetSample

    n_ev = n_jets // 2
    rng = np.random.default_rng(seed)
    bkg = toy_jets(2 * n_ev, seed=rng, n_prongs=1)
    ev = ak.unflatten(bkg, np.full(n_ev, 2))
    ax = jet_axis(bkg)
    label = (rng.random(n_ev) < 0.1).astype(np.int64)
    return JetSample.from_arrays(
        ev, ax.pt.reshape(-1, 2), ax.eta.reshape(-1, 2), ax.phi.reshape(-1, 2), label=label
    )


def _run(name, backbone, objective, batch_size, sample, args, out_root):
    from adsearch.score import score_jets
    from adsearch.train import TrainConfig, train

    cfg = from_dict(
        TrainConfig,
        {
            "data": {"train_fraction": 0.98, "val_fraction": 0.01, "mode": "data-like"}
            if objective != "supervised"
            else {"train_fraction": 0.98, "val_fraction": 0.01},
            "model": {"backbone": backbone, "objective": objective},
            "optim": {"epochs": args.epochs, "patience": 100, "batch_size": batch_size},
            "runtime": {"out_dir": str(out_root / name), "device": "cpu", "progress": False},
        },
    )
    res = train(cfg, sample)
    best = min(res.history, key=lambda h: h["train_time_s"])
    n_train = round(best["train_jets_per_s"] * best["train_time_s"])
    t_inf = np.inf
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        score_jets(res.model, sample, cfg.graph, batch_size=batch_size, progress=False)
        t_inf = min(t_inf, time.perf_counter() - t0)
    params = sum(p.numel() for p in res.model.parameters())
    return {
        "backbone": backbone,
        "objective": objective,
        "batch_size": batch_size,
        "parameters": int(params),
        "train_jets": n_train,
        "train_s_per_epoch": best["train_time_s"],
        "train_jets_per_s": best["train_jets_per_s"],
        "infer_jets": len(sample),
        "infer_jets_per_s": len(sample) / t_inf,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="jets (two per event)")
    ap.add_argument("--epochs", type=int, default=2, help="epochs (fastest is kept)")
    ap.add_argument("--repeat", type=int, default=2, help="inference timings (best is kept)")
    ap.add_argument("--models", default="", help="comma-separated subset of model names")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON output")
    args = ap.parse_args(argv)
    import tempfile

    want = set(filter(None, args.models.split(",")))
    sample = _sample(args.n, args.seed)
    results: dict[str, dict] = {}
    if want and args.out.is_file():  # a subset run updates the earlier results
        results = json.loads(args.out.read_text()).get("results", {})
    with tempfile.TemporaryDirectory() as tmp:
        for name, backbone, objective, bs in MODELS:
            if want and name not in want:
                continue
            try:
                r = _run(name, backbone, objective, bs, sample, args, Path(tmp))
            except Exception as e:  # report and keep benchmarking the other models
                print(f"{name}: failed ({type(e).__name__}: {e})", file=sys.stderr)
                results[name] = {"error": f"{type(e).__name__}: {e}"}
                continue
            results[name] = r
            print(
                f"{name:22s} train {r['train_s_per_epoch']:7.2f} s/epoch "
                f"{r['train_jets_per_s']:8.1f} jets/s | infer {r['infer_jets_per_s']:8.1f} "
                f"jets/s | {r['parameters']} params",
                flush=True,
            )
    out = {
        "what": "training/inference speed per model kind, default width, CPU",
        "sample": f"{args.n} toy jets with LHCO-like graph sizes (~56 constituents)",
        "config": "width 128, batch 1024 (GATv2: 128), graph radius 0.2, cap "
        f"{GraphConfig().max_constituents} constituents",
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(),
            "torch": torch.__version__,
        },
        "results": results,
    }
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
