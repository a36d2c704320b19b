"""Self-supervised pretraining benchmark: does a contrastive jet representation help DeepSVDD?

The question, on the events and test split of ``bench_auc.py`` (same files, same
20,000 test events, same ``--train-fraction`` prefix of the same permutation):

1. **Pretraining** (``adsearch.pretrain``, contrastive NT-Xent with the physical views of
   JetCLR: rotation about the jet axis, η–φ translation, collinear splittings, soft
   smearing) of a transformer encoder on the jets of a *separate* generated QCD sample
   (``qcd_pretrain<N>.parquet``, seed 404, none of the benchmark's events), resumable: a
   rerun continues from ``<work-dir>/pretrain/checkpoint.pt``.
2. **DeepSVDD rows**, trained on the background jets of the training prefix and scored on
   both signals: (a) ``raw``: the same transformer architecture trained from scratch with
   DeepSVDD on the constituents; (b) ``frozen``: DeepSVDD on the frozen pretrained embedding
   (``model.encoder: pretrained:PATH``); it has no head (``mlp_layers`` 0: a trained head
   collapses, ``bench_pretrain_head.py``), so its score is the shrunk Mahalanobis distance
   of the standardised embedding and nothing trains. Fine-tuning the encoder under
   DeepSVDD is refused by the package (a biased, layer-normed encoder can collapse onto the
   centre), so (c) is the fine-tuned *supervised* head, reported with the supervised rows.
   Beside them (b'): the Mahalanobis distance of the frozen embedding to the Gaussian of
   the same background jets, a one-class score with no training.
3. **Representation quality**: the linear probe (a logistic regression on the frozen
   embedding, trained on the labelled jets of the supervised training prefix) against the
   fully supervised transformer of the same size trained on the same jets; the alignment and
   uniformity of the validation embeddings after every pretraining epoch; a 2-D projection of
   the test embeddings (background vs signal).

Beside every row: the jet mass and girth alone (``bench_auc.proxies``). Outputs:
``results/pretrain.json``, ``pretrain.md``, ``pretrain_embedding_<signal>.png``,
``pretrain_curves.png`` (the pretraining learning curve)::

    python benchmarks/bench_pretrain.py --data-dir scratch/data100k --work-dir scratch/bwP

``--pretrain-seed`` / ``--train-seed`` repeat the pretraining / the rows' trainings with
other seeds (the splits stay fixed; use another ``--work-dir`` / ``--results-dir``).
``--anomalous K`` adds AnomalyCLR's anomalous negatives (``K`` per jet, with 1..K added prongs;
results ``pretrain_anomalous.{json,md}``). ``--objective mpm`` pretrains by masked-particle
modelling instead (a separate ``--work-dir``;
results ``pretrain_mpm.{json,md}``, ``pretrain_mpm_embedding_<signal>.png``).
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
from adsearch.stats.metrics import roc_auc, sic_curve  # noqa: E402


def mass_girth(sample: Any, table: dict, events: np.ndarray) -> dict[str, float]:
    """Event AUC (%) of the jet mass alone and the girth alone on the test events."""
    p = ba.test_proxy_scores(sample, table, events)
    y = np.asarray(table["label"]).astype(np.int64)[events]
    return {"jet mass": 100 * roc_auc(y, p["mass"]), "girth": 100 * roc_auc(y, p["girth"])}


RESULTS = HERE / "results"
#: results file stem (``pretrain``; ``pretrain_mpm`` for ``--objective mpm``)
STEM = "pretrain"
OBJECTIVES = {
    "contrastive": "contrastive (NT-Xent, JetCLR views)",
    "mpm": "masked-particle modelling (30 % of the constituents hidden, their features predicted)",
}
#: rows of the table: name -> (what, objective, training-config overrides)
ROWS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "raw-deepsvdd": ("(a) transformer from scratch", "deepsvdd", {}),
    # DeepSVDD on the frozen encoder has no head (model.mlp_layers 0, the package's only
    # choice since the head was measured to collapse: bench_pretrain_head.py): the shrunk
    # Mahalanobis distance of the standardised embedding, nothing trained
    # with the metric's shrinkage fixed at 0.5 (the package default until 2026-12-04)
    "frozen-deepsvdd": (
        "(b) frozen pretrained encoder, no head, shrinkage 0.5",
        "deepsvdd",
        {"encoder_mode": "frozen", "svdd_shrinkage": 0.5},
    ),
    # the same with the shrinkage estimated from the background embeddings (Ledoit–Wolf,
    # svdd_shrinkage auto: the package default on a pretrained encoder since 2026-12-04)
    "frozen-deepsvdd-lw": (
        "(b) frozen pretrained encoder, no head, Ledoit–Wolf metric",
        "deepsvdd",
        {"encoder_mode": "frozen", "svdd_shrinkage": "auto"},
    ),
    # the autoencoder objective on the frozen embedding: an MLP (width, latent 8)
    # reconstructs the standardised embedding, score = its squared error
    "frozen-ae": (
        "(b'') frozen pretrained encoder, embedding autoencoder",
        "ae",
        {"encoder_mode": "frozen"},
    ),
    "raw-ce": ("transformer from scratch", "supervised", {}),
    "finetune-ce": (
        "(c) fine-tuned pretrained encoder",
        "supervised",
        {"encoder_mode": "finetune"},
    ),
}


def ensure_pretrain_data(data_dir: Path, n_events: int, workers: int) -> Path:
    """The pretraining jets: ``n_events`` generated QCD events (seed 404) as features."""
    from adsearch.generate.generator import generate_to_file
    from adsearch.jets.stream import features_from_file

    out = data_dir / f"qcd_pretrain{n_events}.parquet"
    if out.exists():
        return out
    h5 = out.with_suffix(".h5")
    if not h5.exists():
        print(f"generating {n_events} QCD events for pretraining -> {h5}", flush=True)
        generate_to_file(h5, "qcd", n_events, seed=404, workers=workers, detector="lhco")
    features_from_file(h5, out, workers=workers)
    return out


def pretrain_config(args: argparse.Namespace, path: Path) -> Any:
    from adsearch.config import from_dict
    from adsearch.pretrain import PretrainConfig

    return from_dict(
        PretrainConfig,
        {
            "data": {
                "path": str(path),
                "mode": "data-like",
                "train_fraction": 1.0 - args.pretrain_val_fraction,
                "val_fraction": args.pretrain_val_fraction,
                "max_constituents": args.cap,
                "seed": 0,
            },
            "encoder": {
                "width": args.width,
                "layers": args.layers,
                "heads": args.heads,
                "mlp_layers": 2,
                "readout": "mean",
            },
            "projection": {"width": args.width, "dim": args.width},
            "views": {"anomalous": args.anomalous},
            "optim": {
                "lr": 1e-3,
                "batch_size": args.pretrain_batch,
                "epochs": args.pretrain_epochs,
                "patience": 2,
            },
            "objective": args.objective,
            "seed": args.pretrain_seed,
            "out_dir": str(args.work_dir / "pretrain"),
            "device": args.device,
        },
        "bench_pretrain",
    )


def run_pretrain(cfg: Any) -> dict[str, Any]:
    """Pretrain (or continue a stopped pretraining); return its history and timing."""
    import torch

    from adsearch.pretrain import pretrain

    out = Path(cfg.out_dir)
    t0 = time.perf_counter()
    resume = (out / "checkpoint.pt").exists()
    print(f"[{time.strftime('%H:%M:%S')}] pretraining (resume={resume})", flush=True)
    torch.set_num_threads(1)
    res = pretrain(cfg, resume=resume, progress=False)
    return {
        "history": res.history,
        "best_epoch": res.best_epoch,
        "best_val_loss": res.best_val_loss,
        "stopped_early": res.stopped_early,
        "wall_s_this_call": time.perf_counter() - t0,
    }


def train_config(row: str, data: Path, run: Path, encoder: Path, args: argparse.Namespace) -> Any:
    """The training config of a row: ``bench_auc``'s transformer config, objective and
    encoder of the row, the benchmark's split, width, epochs and patience."""
    from adsearch.config import from_dict
    from adsearch.train.config import TrainConfig

    _, objective, extra = ROWS[row]
    unsup = objective != "supervised"
    model: dict[str, Any] = {"backbone": "transformer", "objective": objective, "width": args.width}
    model.update(readout="mean")
    if "encoder_mode" in extra:
        model.update(encoder=f"pretrained:{encoder}", **extra)
    else:
        model.update(layers=args.layers, heads=args.heads)
    d = {
        "data": {
            "path": str(data),
            "mode": "background-only",  # supervised objectives train on every jet
            "train_fraction": args.train_fraction if unsup else args.supervised_train_fraction,
            "val_fraction": args.val_fraction,
            "seed": 0,
        },
        "graph": {"max_constituents": args.cap, "node_features": "basic"},
        "model": model,
        "optim": {
            "lr": 1e-3,
            "weight_decay": 1e-6,
            "batch_size": args.batch,
            "epochs": args.epochs,
            "patience": args.patience,
        },
        "runtime": {
            "device": args.device,
            "num_threads": 1,
            "seed": args.train_seed,
            "out_dir": str(run),
            "progress": False,
        },
    }
    return from_dict(TrainConfig, d, f"bench_pretrain:{row}")


def probe(
    encoder_path: Path, samples: dict, n_events: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Linear-probe jet AUC per signal and the test embeddings (for the plot)."""
    import torch

    from adsearch.models.pretrained import read_encoder
    from adsearch.pretrain import embed, linear_probe
    from adsearch.score.scoring import event_scores
    from adsearch.train.data import split_events

    enc, _ = read_encoder(encoder_path)
    torch.set_num_threads(1)
    split = split_events(n_events, args.supervised_train_fraction, args.val_fraction, 0)
    out: dict[str, Any] = {}
    for sig, (sample, _) in samples.items():
        events = ba.test_events(n_events, args, args.test_events, seed=7)
        tr = np.flatnonzero(split[sample.event] == 0)
        te = np.flatnonzero(np.isin(sample.event, events))
        t0 = time.perf_counter()
        e_tr = embed(enc, sample, tr, max_constituents=args.cap)
        e_te = embed(enc, sample, te, max_constituents=args.cap)
        dt = time.perf_counter() - t0
        auc = linear_probe(e_tr, sample.label[tr], e_te, sample.label[te], seed=0)
        # the plain one-class score on the same embedding: Mahalanobis distance to the
        # Gaussian of the background jets of the unsupervised training prefix
        unsup = split_events(n_events, args.train_fraction, args.val_fraction, 0)
        bkg = np.flatnonzero((unsup[sample.event] == 0) & (sample.label == 0))
        e_bkg = embed(enc, sample, bkg, max_constituents=args.cap)
        mu = e_bkg.mean(0)
        prec = np.linalg.pinv(np.cov(e_bkg.T))
        d = np.einsum("ij,jk,ik->i", e_te - mu, prec, e_te - mu)
        ev = np.searchsorted(events, sample.event[te])
        ev_score = event_scores(d, ev, sample.slot[te], len(events))["score"]  # mean of 2 jets
        ev_label = np.zeros(len(events))
        ev_label[ev] = sample.label[te]
        maha = {
            "jet_auc": 100 * roc_auc(sample.label[te], d),
            "event_auc": 100 * roc_auc(ev_label, ev_score),
            "max_sic": float(sic_curve(ev_label, ev_score, args.min_bkg)[2]),
            "n_background_jets": len(bkg),
        }
        out[sig] = {
            "mahalanobis": maha,
            "jet_auc": 100 * auc,
            "n_train_jets": len(tr),
            "n_test_jets": len(te),
            "embed_jets_per_s": (len(tr) + len(te)) / dt,
            "_emb": e_te,
            "_label": sample.label[te],
        }
        print(
            f"linear probe {sig}: jet AUC {100 * auc:.1f}; Mahalanobis on the embedding: "
            f"event AUC {maha['event_auc']:.1f}",
            flush=True,
        )
    return out


def goal_sentences(rows: dict[str, Any], pr: dict[str, Any]) -> list[str]:
    """The issue's goals read off the rows: pretrained − raw DeepSVDD event AUC, probe /
    supervised jet AUC."""
    goals = []
    for sig in ("2prong", "3prong"):
        a, b, lw = (
            rows.get(r, {}).get(sig)
            for r in ("raw-deepsvdd", "frozen-deepsvdd", "frozen-deepsvdd-lw")
        )
        if a and b:
            goals.append(
                f"{sig}: (b) − (a) = {b['event_auc'] - a['event_auc']:+.1f} event-AUC points"
            )
        if a and lw:
            goals.append(f"(b, Ledoit–Wolf) − (a) = {lw['event_auc'] - a['event_auc']:+.1f}")
        m = pr.get(sig, {}).get("mahalanobis")
        if a and m:
            goals.append(f"(b') − (a) = {m['event_auc'] - a['event_auc']:+.1f}")
        ce = rows.get("raw-ce", {}).get(sig)
        if ce and sig in pr:
            goals.append(
                f"{sig}: linear probe / supervised jet AUC = "
                f"{pr[sig]['jet_auc'] / ce['jet_auc']:.1%}"
            )
    return goals


def write_md(res: dict[str, Any], path: Path) -> None:
    c = res["config"]
    pre = res.get("pretrain", {})
    hist = pre.get("history", [])
    lines = [
        "# Self-supervised pretraining: DeepSVDD on raw constituents vs the pretrained embedding",
        "",
        f"Pretraining: {OBJECTIVES[c.get('objective', 'contrastive')]} on the jets of "
        f"{c['pretrain_events']:,} "
        f"generated QCD events (none of the test events), transformer width {c['width']}, "
        f"{c['layers']} layers, {c['heads']} heads, ≤ {c['cap']} constituents; "
        f"{len(hist)} epochs, best {pre.get('best_epoch')}, "
        f"{pre.get('cpu_s', float('nan')) / 60:.0f} CPU-min on {c['machine']}.",
        f"Downstream: the bench_auc.py files and test events ({c['test_events']} events); "
        f"DeepSVDD on {c['train_fraction']:.0%} of the permutation (background jets), "
        f"supervised on {c['supervised_train_fraction']:.0%}; ≤ {c['epochs']} epochs, patience "
        f"{c['patience']}.",
        "",
        "| row | objective | 2-prong jet / event AUC / max SIC | 3-prong jet / event AUC / "
        "max SIC | ρ(m) | epochs | train jets/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row, r in ((k, res["rows"][k]) for k in ROWS if k in res.get("rows", {})):
        cells = []
        for sig in ("2prong", "3prong"):
            m = r.get(sig)
            cells.append(
                f"{m['jet_auc']:.1f} / **{m['event_auc']:.1f}** / {m['max_sic']:.2f}" if m else "–"
            )
        any_m = r.get("2prong") or r.get("3prong") or {}
        # Spearman(event score, heavier-jet mass) on the background test events
        rho = any_m.get("spearman_mj")
        what = ROWS[row][0]
        if row == "frozen-deepsvdd" and int(any_m.get("epochs_run", 1)) > 1:
            # results from before the no-head change: a DeepSVDD head was trained
            what = "(b) frozen pretrained encoder, trained head (since refused: collapses)"
        lines.append(
            f"| {what} | {ROWS[row][1]} | {cells[0]} | {cells[1]} | "
            f"{'–' if rho is None else f'{rho:.2f}'} | "
            f"{any_m.get('epochs_run', '–')} | {any_m.get('train_jets_per_s', float('nan')):.0f} |"
        )
    pr = res.get("probe", {})
    if pr and all("mahalanobis" in pr[s] for s in pr):
        cells = []
        for sig in ("2prong", "3prong"):
            m = pr.get(sig, {}).get("mahalanobis")
            cells.append(
                f"{m['jet_auc']:.1f} / **{m['event_auc']:.1f}** / {m['max_sic']:.2f}" if m else "–"
            )
        lines.append(
            f"| (b') frozen pretrained encoder | Mahalanobis distance (no training) | "
            f"{cells[0]} | {cells[1]} | – | – | – |"
        )
    if pr:
        lines += ["", "| linear probe (frozen embedding) | 2-prong jet AUC | 3-prong jet AUC |"]
        lines += ["|---|---|---|"]
        lines.append(
            "| logistic regression | "
            + " | ".join(
                f"{pr[s]['jet_auc']:.1f}" if s in pr else "–" for s in ("2prong", "3prong")
            )
            + " |"
        )
    goals = goal_sentences(res.get("rows", {}), pr)
    if goals:
        lines += ["", "Goals (pretrained DeepSVDD ≥ 5 points above raw; probe ≥ 90 % of "
                  "supervised): " + "; ".join(goals) + "."]  # fmt: skip
    px = res.get("proxies", {})
    if px:
        lines += ["", "Beside them (event AUC): "]
        lines.append(
            "; ".join(
                f"{sig}: jet mass {px[sig]['jet mass']:.1f}, girth {px[sig]['girth']:.1f}"
                for sig in px
            )
        )
    if hist:
        lines += ["", "Pretraining learning curve (validation jets):", ""]
        keys = [k for k in ("train_loss", "val_loss", "alignment", "uniformity") if k in hist[0]]
        lines += ["| epoch | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
        for i, h in enumerate(hist, 1):
            lines.append(f"| {i} | " + " | ".join(f"{h[k]:.4f}" for k in keys) + " |")
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")


def save(res: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    clean = json.loads(json.dumps(res, default=float))
    with atomic_path(RESULTS / f"{STEM}.json") as tmp:
        Path(tmp).write_text(json.dumps(clean, indent=1))
    write_md(res, RESULTS / f"{STEM}.md")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("scratch/data100k"))
    ap.add_argument("--work-dir", type=Path, default=Path("scratch/bench_pretrain"))
    ap.add_argument("--pretrain-events", type=int, default=100_000, help="QCD events (x2 jets)")
    ap.add_argument("--pretrain-epochs", type=int, default=3)
    ap.add_argument("--pretrain-seed", type=int, default=0, help="initialisation and views")
    ap.add_argument(
        "--train-seed", type=int, default=0, help="initialisation of the rows' trainings"
    )
    ap.add_argument(
        "--objective",
        choices=list(OBJECTIVES),
        default="contrastive",
        help="pretraining objective; mpm writes results/pretrain_mpm.{json,md}",
    )
    ap.add_argument(
        "--anomalous",
        type=int,
        default=0,
        help="contrastive: anomalous negative views per jet, the k-th with k added prongs "
        "(AnomalyCLR; 0: off); results pretrain_anomalous.{json,md}",
    )
    ap.add_argument("--pretrain-batch", type=int, default=256)
    ap.add_argument("--pretrain-val-fraction", type=float, default=0.02)
    ap.add_argument("--gen-workers", type=int, default=2)
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--signals", default="2prong,3prong")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--cap", type=int, default=50, help="constituents per jet (pT-leading)")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--train-fraction", type=float, default=0.1)
    ap.add_argument(
        "--supervised-train-fraction",
        type=float,
        default=0.02,
        help="labelled prefix of the supervised rows and of the linear probe",
    )
    ap.add_argument("--test-train-fraction", type=float, default=0.5)
    ap.add_argument("--val-fraction", type=float, default=0.02)
    ap.add_argument("--test-events", type=int, default=20_000)
    ap.add_argument("--min-bkg", type=int, default=20)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--results-dir", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    globals()["RESULTS"] = args.results_dir
    globals()["STEM"] = (
        "pretrain" if args.objective == "contrastive" else f"pretrain_{args.objective}"
    ) + ("" if not args.anomalous else "_anomalous" + (str(args.anomalous) * (args.anomalous > 1)))
    args.threads, args.node_features = 1, "basic"  # what bench_auc's helpers read

    from _common import cpu_seconds

    from adsearch.train.data import load_jets

    rows = [r for r in args.rows.split(",") if r]
    for r in rows:
        if r not in ROWS:
            raise SystemExit(f"error: unknown row {r!r}; choose from {', '.join(ROWS)}")
    files = ba.ensure_data(args.data_dir, 100_000, 10_000, args.gen_workers)
    pre_data = ensure_pretrain_data(args.data_dir, args.pretrain_events, args.gen_workers)
    signals = [s for s in args.signals.split(",") if s]
    samples, tables = {}, {}
    for sig in signals:
        sample, feats = load_jets(files[sig])
        samples[sig] = (sample, np.asarray(feats.table["mjj"], dtype=np.float64))
        tables[sig] = {k: np.asarray(v) for k, v in feats.table.items() if np.ndim(v) == 1}
    n_events = samples[signals[0]][0].n_events
    import platform

    old = args.results_dir / f"{STEM}.json"
    res: dict[str, Any] = json.loads(old.read_text()) if old.exists() else {}
    res["config"] = {
        **{k: v for k, v in vars(args).items() if isinstance(v, int | float | str)},
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
    }
    res.setdefault("rows", {})
    res["proxies"] = {}
    for sig in signals:
        events = ba.test_events(n_events, args, args.test_events, seed=7)
        res["proxies"][sig] = mass_girth(samples[sig][0], tables[sig], events)

    cfg = pretrain_config(args, pre_data)
    c0 = cpu_seconds()
    pre = run_pretrain(cfg)
    pre["cpu_s"] = (res.get("pretrain") or {}).get("cpu_s", 0.0) + cpu_seconds() - c0
    res["pretrain"] = pre
    save(res)
    encoder = Path(cfg.out_dir) / "encoder.pt"

    pr = probe(encoder, samples, n_events, args)
    res["probe"] = {s: {k: v for k, v in d.items() if not k.startswith("_")} for s, d in pr.items()}
    from adsearch.plot.embedding import plot_embedding

    for sig, d in pr.items():
        plot_embedding(
            d["_emb"],
            d["_label"],
            args.results_dir / f"{STEM}_embedding_{sig}.png",
            title=f"pretrained embedding, test jets, W' {sig}",
        )
    save(res)

    for row in rows:
        unsup = ROWS[row][1] != "supervised"
        for sig_train in signals[:1] if unsup else signals:
            name = row if unsup else f"{row}_{sig_train}"
            run = args.work_dir / (name + (f"_seed{args.train_seed}" if args.train_seed else ""))
            tcfg = train_config(row, files[sig_train], run, encoder, args)
            hist, _, t_train = ba.train_or_load(
                run, tcfg, samples[sig_train][0], f"{row} on {sig_train}"
            )
            for sig in signals if unsup else [sig_train]:
                sample, mjj = samples[sig]
                events = ba.test_events(n_events, args, args.test_events, seed=7)
                _, met = ba.score_row(
                    run, tcfg, sample, mjj, tables[sig], events, args, hist, t_train
                )
                res["rows"].setdefault(row, {})[sig] = met
                print(
                    f"[{time.strftime('%H:%M:%S')}] {row} {sig}: jet AUC {met['jet_auc']:.1f} "
                    f"event AUC {met['event_auc']:.1f} max SIC {met['max_sic']:.2f}",
                    flush=True,
                )
                save(res)
    print((args.results_dir / f"{STEM}.md").read_text())


if __name__ == "__main__":
    main()
