"""Does a DeepSVDD head learn on a frozen pretrained embedding? Event AUC after every epoch.

On the events and split of ``bench_pretrain.py`` (same files, 20,000 test events), the
frozen encoder of a finished pretraining embeds the background training jets (the
``--train-fraction`` prefix, or the 0.5 one) and the test jets once; the embedding is
standardised on the training jets. A bias-free ReLU head (``mlp_layers`` layers of
``width``, as ``model.mlp_layers`` built it) is then trained by the DeepSVDD compactness
loss, ``mean |g(h) - c|²`` with ``c`` the mean initial output (``±eps`` guard relative to
its scale), AdamW, batch 256, for ``--epochs`` epochs, several seeds. After every epoch the
test events are scored (mean of the two jets) by the Euclidean distance to ``c`` and by the
shrunk Mahalanobis distance of ``g(h)`` (refitted on the training jets), as the package
scores DeepSVDD. Beside them: the shrunk Mahalanobis distance of the standardised embedding
itself (no head, nothing trained; what ``model.mlp_layers: 0`` computes) and a k-nearest-
neighbour distance (PANDA's score).

The question is whether training the head helps: if the event AUC falls with the epochs,
the head is collapsing (PANDA: Reiss, Cohen, Bergman, Hoshen, CVPR 2021, "catastrophic
collapse" of compactness training on pretrained features)::

    python benchmarks/bench_pretrain_head.py --encoder scratch/bwP/pretrain/encoder.pt \
        --tag seed0 --work-dir scratch/study

Outputs ``results/pretrain_head.{json,md}`` (rows merged by ``--tag``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_auc as ba  # noqa: E402  (the benchmark's data, split and metrics)

from adsearch.io.atomic import atomic_path  # noqa: E402
from adsearch.stats.metrics import roc_auc  # noqa: E402

RESULTS = HERE / "results"
SIGNALS = {"2prong": "rnd2.parquet", "3prong": "rnd3.parquet"}


def embeddings(args: argparse.Namespace) -> dict[str, dict[str, np.ndarray]]:
    """Per signal: test-jet embeddings, labels, event rows and slots; for the first signal
    also the background training jets of the 0.5 prefix and which of them are in the
    ``--train-fraction`` prefix. Cached in ``<work-dir>/<tag>_<signal>.npz``."""
    import torch

    from adsearch.models.pretrained import read_encoder
    from adsearch.pretrain import embed
    from adsearch.train.data import load_jets, split_events

    torch.set_num_threads(1)
    enc = None
    out: dict[str, dict[str, np.ndarray]] = {}
    for k, (sig, name) in enumerate(SIGNALS.items()):
        cache = args.work_dir / f"{args.tag}_{sig}.npz"
        if cache.exists():
            out[sig] = dict(np.load(cache))
            continue
        enc = enc or read_encoder(args.encoder)[0]
        sample, _ = load_jets(args.data_dir / name)
        n = sample.n_events
        events = ba.test_events(n, args, args.test_events, seed=7)
        te = np.flatnonzero(np.isin(sample.event, events))
        big = split_events(n, 0.5, args.val_fraction, 0)
        tr = np.flatnonzero((big[sample.event] == 0) & (sample.label == 0)) if k == 0 else []
        small = split_events(n, args.train_fraction, args.val_fraction, 0)
        d = {
            "e_te": embed(enc, sample, te, max_constituents=args.cap),
            "y_te": sample.label[te],
            "ev_te": np.searchsorted(events, sample.event[te]),
            "slot_te": sample.slot[te],
            "n_ev": np.asarray(len(events)),
            "e_tr": embed(enc, sample, np.asarray(tr, dtype=np.int64), max_constituents=args.cap)
            if k == 0
            else np.empty((0, 0)),
            "in_small": small[sample.event[tr]] == 0 if k == 0 else np.empty(0, dtype=bool),
        }
        args.work_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **d)
        out[sig] = d
    return out


def event_auc(d: dict[str, np.ndarray], jet_score: np.ndarray) -> float:
    """Event AUC (%) of the mean of the two jets' scores."""
    from adsearch.score.scoring import event_scores

    n = int(d["n_ev"])
    s = event_scores(jet_score, d["ev_te"], d["slot_te"], n)["score"]
    y = np.zeros(n)
    y[d["ev_te"]] = d["y_te"]
    return 100 * roc_auc(y, s)


def gaussian(train: np.ndarray, test: np.ndarray, shrinkage: float) -> np.ndarray:
    """Shrunk Mahalanobis distance of ``test`` to the Gaussian of ``train`` (both [n, D])."""
    mu = train.mean(0)
    cov = np.cov(train.T)
    cov = (1 - shrinkage) * cov + shrinkage * np.trace(cov) / len(cov) * np.eye(len(cov))
    d = test - mu
    return np.einsum("ij,jk,ik->i", d, np.linalg.inv(cov), d)


def train_head(
    xtr: np.ndarray, tests: dict[str, np.ndarray], args: argparse.Namespace, seed: int
) -> list[dict[str, float]]:
    """Train one bias-free head by the compactness loss; jet scores after every epoch."""
    import torch

    from adsearch.models.objectives import DeepSVDD
    from adsearch.models.transformer import MLP

    torch.manual_seed(seed)
    t = {k: torch.tensor(v, dtype=torch.float32) for k, v in tests.items()}
    x = torch.tensor(xtr, dtype=torch.float32)
    head = MLP(x.shape[1], args.width, args.width, args.mlp_layers, bias=False)
    svdd = DeepSVDD(dim=args.width, eps=0.1)
    with torch.no_grad():
        z0 = head(x[: 10 * 256])
        svdd.set_center(z0.mean(0), scale=float(z0.pow(2).mean().sqrt()))
    opt = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=1e-6)
    g = torch.Generator().manual_seed(seed)
    rows: list[dict[str, Any]] = []
    for epoch in range(args.epochs + 1):
        if epoch:
            perm = torch.randperm(len(x), generator=g)
            for i in range(0, len(x), 256):
                loss = svdd.distance(head(x[perm[i : i + 256]])).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            zt = head(x)
            zs = {k: head(v) for k, v in t.items()}
        c2 = float((svdd.c**2).sum())
        row: dict[str, Any] = {"epoch": epoch, "spread": float(zt.var(0).sum()) / c2}
        for k, z in zs.items():
            row[f"euclid_{k}"] = svdd.distance(z).numpy()
            row[f"maha_{k}"] = gaussian(zt.double().numpy(), z.double().numpy(), 0.5)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--encoder", type=Path, required=True, help="encoder.pt of a pretraining")
    ap.add_argument("--tag", required=True, help="row name (and embedding cache name)")
    ap.add_argument("--data-dir", type=Path, default=Path("scratch/data100k"))
    ap.add_argument("--work-dir", type=Path, default=Path("scratch/bench_pretrain_head"))
    ap.add_argument("--train-fraction", type=float, default=0.1)
    ap.add_argument("--test-train-fraction", type=float, default=0.5)
    ap.add_argument("--val-fraction", type=float, default=0.02)
    ap.add_argument("--test-events", type=int, default=20_000)
    ap.add_argument("--cap", type=int, default=50)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--mlp-layers", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--results-dir", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    emb = embeddings(args)
    first = emb[next(iter(SIGNALS))]
    res_path = args.results_dir / "pretrain_head.json"
    res: dict[str, Any] = json.loads(res_path.read_text()) if res_path.exists() else {}
    res.setdefault("rows", {})
    res["config"] = {k: str(v) for k, v in vars(args).items() if k not in ("tag", "encoder")}
    for frac in ("small", "0.5"):
        tr = first["e_tr"][first["in_small"]] if frac == "small" else first["e_tr"]
        mu, sd = tr.mean(0), tr.std(0) + 1e-12
        xtr = (tr - mu) / sd
        tests = {s: (d["e_te"] - mu) / sd for s, d in emb.items()}
        label = f"{args.train_fraction:g}" if frac == "small" else "0.5"
        entry: dict[str, Any] = {"n_train_jets": len(tr), "encoder": str(args.encoder)}
        entry["no_head"] = {s: event_auc(emb[s], gaussian(xtr, tests[s], 0.5)) for s in SIGNALS}
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=20).fit(xtr)
        entry["knn20"] = {s: event_auc(emb[s], nn.kneighbors(tests[s])[0].mean(1)) for s in SIGNALS}
        entry["heads"] = {}
        for seed in [int(s) for s in args.seeds.split(",")]:
            rows = train_head(xtr, tests, args, seed)
            entry["heads"][str(seed)] = [
                {
                    "epoch": r["epoch"],
                    "spread": r["spread"],
                    **{
                        f"{m}_{s}": event_auc(emb[s], r[f"{m}_{s}"])
                        for m in ("euclid", "maha")
                        for s in SIGNALS
                    },
                }
                for r in rows
            ]
            last = entry["heads"][str(seed)][-1]
            print(
                f"{args.tag} train {label} seed {seed}: epoch {last['epoch']} Mahalanobis "
                f"{last['maha_2prong']:.1f}/{last['maha_3prong']:.1f}; no head "
                f"{entry['no_head']['2prong']:.1f}/{entry['no_head']['3prong']:.1f}",
                flush=True,
            )
        res["rows"][f"{args.tag}@{label}"] = entry
    res["seconds"] = time.perf_counter() - t0
    args.results_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(res_path) as tmp:
        tmp.write_text(json.dumps(res, indent=1))
    with atomic_path(args.results_dir / "pretrain_head.md") as tmp:
        tmp.write_text(markdown(res))
    print(markdown(res))


def markdown(res: dict[str, Any]) -> str:
    """The results as a markdown table: per row and head seed, event AUC after epochs."""
    show = (0, 1, 3, 8, 15)
    lines = [
        "# DeepSVDD head on a frozen pretrained embedding: event AUC (%) vs epoch",
        "",
        "Produced by `benchmarks/bench_pretrain_head.py`. 2-prong / 3-prong W', 20,000 test "
        "events, mean of the two jets. Epoch 0 is the untrained (random) head. `maha`: shrunk "
        "(0.5) Mahalanobis distance of the head output, as the package scores DeepSVDD; "
        "`euclid`: distance to the centre. `no head`: the shrunk Mahalanobis distance of the "
        "standardised embedding (`model.mlp_layers: 0`, nothing trained); `kNN`: mean distance "
        "to the 20 nearest training jets.",
        "",
        "| encoder @ training fraction | jets | no head | kNN | head seed | "
        + " | ".join(f"maha ep {e}" for e in show)
        + " | euclid ep 15 | spread ep 1 → 15 |",
        "|---|---|---|---|---|" + "---|" * len(show) + "---|---|",
    ]
    for name, e in res["rows"].items():
        for seed, rows in e["heads"].items():
            by = {r["epoch"]: r for r in rows}
            cells = [
                f"{by[k]['maha_2prong']:.1f} / {by[k]['maha_3prong']:.1f}" if k in by else "–"
                for k in show
            ]
            last = rows[-1]
            lines.append(
                f"| {name} | {e['n_train_jets']} | {e['no_head']['2prong']:.1f} / "
                f"{e['no_head']['3prong']:.1f} | {e['knn20']['2prong']:.1f} / "
                f"{e['knn20']['3prong']:.1f} | {seed} | "
                + " | ".join(cells)
                + f" | {last['euclid_2prong']:.1f} / {last['euclid_3prong']:.1f} | "
                f"{by[1]['spread']:.3f} → {last['spread']:.4f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
