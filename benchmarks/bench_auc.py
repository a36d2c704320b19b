"""LHCO-like AUC / SIC benchmark: graph and transformer anomaly scores on generated events.

For the W' 2-prong and 3-prong signals, the model table of the ATLAS LHCO study (A. D'Avanzo,
"Unsupervised machine learning for anomaly detection in LHC collider searches", EuCAIFCon
2025) is reproduced: Transformer, GIN and EGAT with the supervised cross-entropy objective,
the transformer set autoencoder, and GIN / EGAT DeepSVDD. Split per event: by default 50 %
train (background only for the unsupervised objectives; the supervised models may use a
smaller prefix of the same permutation, ``--supervised-train-fraction``) / 2 % validation /
the rest test, the same test events for every model. Jet-level AUC (each jet labelled by its
event) and event-level AUC (event score = mean of the two jets) on the test events, the SIC
curve eps_S / sqrt(eps_B) of the event score and its maximum, the Spearman correlation of the
event score with the heavier jet's mass (background), and beside the models the same numbers
for the jet mass alone, the girth alone and a Gaussian-mixture density baseline
(:mod:`adsearch.score.baselines`). ``--learning-curve MODEL`` trains one model on 10k / 30k /
100k background jets instead (AUC vs training size, same test events).

Beyond the study's table, ``--models`` can name ParticleNet-lite (``particlenet-ce``,
``particlenet-deepsvdd``) and the jet-image CNN (``cnn-ce``, ``cnn-ae``, ``cnn-deepsvdd``, and
``cnn-deepsvdd-ae``: Ruff et al.'s recipe, DeepSVDD started from a bias-free CNN autoencoder
trained first on the same jets, ``model.init``; ``cnn-dasvdd``: objective ``deepsvdd-ae``,
DeepSVDD trained jointly with the image autoencoder from a random start, one training).
``--symmetry`` trains the chosen models with ``data.symmetry`` on (random rotation about the
jet axis and η reflection of every training jet, a new draw per epoch; ``--symmetry-boost``
adds random boosts along the axis) and stores them as rows tagged ``+sym`` beside the plain
ones, so the symmetry augmentation is measured on and off in one table::

    python benchmarks/bench_auc.py --data-dir scratch/data100k --models gin-deepsvdd,cnn-ce
    python benchmarks/bench_auc.py --data-dir scratch/data100k --models gin-deepsvdd,cnn-ce \
        --symmetry

Data: ``rnd2.parquet`` / ``rnd3.parquet`` in ``--data-dir`` (features files of N_QCD QCD +
N_SIG W' events, labelled). When missing they are generated with the package's LHCO recipe and
LHCO detector card (``adsearch.generate`` -> ``mix`` -> ``features``; QCD seed 101, W' 2-prong
seed 202, 3-prong seed 303, mix seed 1), so the benchmark can be rerun at LHCO size::

    python benchmarks/bench_auc.py --data-dir scratch/data100k --n-qcd 100000 --n-signal 10000
    python benchmarks/bench_auc.py --data-dir big --n-qcd 1000000 --n-signal 100000 \
        --width 128 --epochs 30 --batch 1024 --device cuda                             # LHCO size

Both files hold the same QCD events at the same rows (same mix seed and signal count), so the
background-only training split is identical: each unsupervised model is trained once (on the
2-prong file) and scored on both files' test splits.

Outputs: ``benchmarks/results/auc.json``, ``auc.md``, ``sic_2prong.png``, ``sic_3prong.png``
(updated after every model, so a partial run leaves a partial, marked table) and the test
event scores ``<work-dir>/<model>_<signal>.npz`` (used by ``bench_injection.py``).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from adsearch.io.atomic import atomic_path
from adsearch.stats.metrics import roc_auc, sic_curve, spearman

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CONFIGS = HERE / "configs"

#: name -> (label, loss, unsupervised?); each has its training config configs/auc_<name>.yaml
MODELS: dict[str, tuple[str, str, bool]] = {
    "transformer-ce": ("Transformer", "CE (supervised)", False),
    "gin-ce": ("GIN", "CE (supervised)", False),
    "egat-ce": ("EGAT", "CE (supervised)", False),
    "transformer-ae": ("Transformer", "pT-weighted Chamfer AE (unsupervised)", True),
    "gin-deepsvdd": ("GIN", "DeepSVDD", True),
    "egat-deepsvdd": ("EGAT", "DeepSVDD", True),
    "particlenet-ce": ("ParticleNet-lite", "CE (supervised)", False),
    "particlenet-deepsvdd": ("ParticleNet-lite", "DeepSVDD", True),
    "cnn-ce": ("CNN (jet images)", "CE (supervised)", False),
    "cnn-ae": ("CNN (jet images)", "image AE (unsupervised)", True),
    "cnn-deepsvdd": ("CNN (jet images)", "DeepSVDD", True),
    "cnn-deepsvdd-ae": ("CNN (jet images)", "DeepSVDD from a bias-free AE (Ruff et al.)", True),
    "cnn-dasvdd": ("CNN (jet images)", "DeepSVDD + image AE trained jointly (DASVDD)", True),
}
#: rows whose network starts from another training's backbone (``model.init``; Ruff et al.'s
#: autoencoder pretraining of DeepSVDD): row -> (that training's model, its overrides); it
#: is trained first on the same jets, in ``<work-dir>/<row>.init``, and its time counted
INIT_FROM: dict[str, tuple[str, dict[str, Any]]] = {
    "cnn-deepsvdd-ae": ("cnn-ae", {"model.bias": False}),
}
#: run order of the default ``--models``: the unsupervised models first (bench_injection.py
#: uses them), slowest last; the ParticleNet and CNN rows run when named in ``--models``
ORDER = ["egat-deepsvdd", "gin-deepsvdd", "gin-ce", "egat-ce", "transformer-ce", "transformer-ae"]

#: row-name suffix of a model trained with ``--symmetry`` (data.symmetry on)
SYM = "+sym"

SIGNALS = {"2prong": "rnd2.parquet", "3prong": "rnd3.parquet"}

#: reference AUCs in % on the LHCO R&D data (D'Avanzo, ATLAS, EuCAIFCon 2025):
#: jet 2p, event 2p, jet 3p, event 3p
REFERENCE: dict[str, tuple[float | None, ...]] = {
    "transformer-ce": (91.3, None, 86.8, None),
    "gin-ce": (90.2, 96.5, 75.5, 84.1),
    "egat-ce": (89.9, 96.5, 84.8, 92.4),
    "transformer-ae": (75.5, None, 69.1, None),
    "gin-deepsvdd": (73.7, 79.6, 52.6, 54.0),
    "egat-deepsvdd": (75.5, 81.8, 67.2, 74.3),
    "particlenet-ce": (None, None, None, None),
    "particlenet-deepsvdd": (None, None, None, None),
    "cnn-ce": (None, None, None, None),
    "cnn-ae": (None, None, None, None),
    "cnn-deepsvdd": (None, None, None, None),
    "cnn-deepsvdd-ae": (None, None, None, None),
    "cnn-dasvdd": (None, None, None, None),
}


def base_model(row: str) -> str:
    """The model of a result row: ``"gin-deepsvdd+sym"`` -> ``"gin-deepsvdd"``."""
    return row.removesuffix(SYM)


def row_name(model: str, args: argparse.Namespace) -> str:
    """The result row (and run directory) of ``model``: tagged ``+sym`` with ``--symmetry``."""
    return model + SYM if getattr(args, "symmetry", False) else model


def rows_in(done: dict[str, Any]) -> list[str]:
    """Result rows present in ``done``, in table order (each model, then its ``+sym`` row)."""
    return [r for m in MODELS for r in (m, m + SYM) if r in done]


# ----------------------------------------------------------------------------- data
def ensure_data(data_dir: Path, n_qcd: int, n_signal: int, workers: int) -> dict[str, Path]:
    """Return the features files per signal; generate the missing ones (LHCO recipe)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    out = {sig: data_dir / name for sig, name in SIGNALS.items()}
    if all(p.exists() for p in out.values()):
        return out
    from adsearch.generate.generator import generate_to_file
    from adsearch.generate.mixing import mix
    from adsearch.jets.stream import features_from_file

    qcd = data_dir / f"qcd{n_qcd}.h5"
    if not qcd.exists():
        print(f"generating {n_qcd} QCD events -> {qcd}", flush=True)
        generate_to_file(qcd, "qcd", n_qcd, seed=101, workers=workers, detector="lhco")
    for sig, proc, seed in (("2prong", "wprime-2prong", 202), ("3prong", "wprime-3prong", 303)):
        if out[sig].exists():
            continue
        sfile = data_dir / f"{proc}_{n_signal}.h5"
        if not sfile.exists():
            print(f"generating {n_signal} {proc} events -> {sfile}", flush=True)
            generate_to_file(sfile, proc, n_signal, seed=seed, workers=workers, detector="lhco")
        mixed = out[sig].with_suffix(".h5")
        mix(qcd, sfile, n_signal, mixed, seed=1)
        features_from_file(mixed, out[sig], workers=workers)
    return out


# ----------------------------------------------------------------------------- training
def make_config(
    name: str,
    data: Path,
    out_dir: Path,
    args: argparse.Namespace,
    extra: dict[str, Any] | None = None,
    sets: bool = True,
) -> Any:
    """The training config of ``name`` (``configs/auc_<name>.yaml``) with the command line's
    options, its ``--set`` overrides (unless ``sets`` is false: the model a row starts from,
    ``INIT_FROM``), then ``extra`` (dotted keys) applied."""
    from adsearch.config import from_dict
    from adsearch.train.config import TrainConfig

    d = yaml.safe_load((CONFIGS / f"auc_{name}.yaml").read_text())
    d["data"]["path"] = str(data)
    d["graph"]["max_constituents"] = args.cap
    d["graph"]["node_features"] = args.node_features
    unsup = MODELS[name][2]
    frac = args.train_fraction if unsup else args.supervised_train_fraction or args.train_fraction
    d["data"].update(train_fraction=frac, val_fraction=args.val_fraction)
    d["model"]["width"] = args.width
    overrides = {**((getattr(args, "set", None) or {}) if sets else {}), **(extra or {})}
    for key, value in overrides.items():  # --set model.layers=2
        *path, last = key.split(".")
        node = d
        for k in path:
            node = node.setdefault(k, {})
        node[last] = value
    d["optim"].update(epochs=args.epochs, batch_size=args.batch, patience=args.patience)
    d["runtime"].update(out_dir=str(out_dir), device=args.device, num_threads=args.threads)
    d["runtime"]["progress"] = False
    if getattr(args, "symmetry", False):  # random rotation + eta reflection of training jets
        d["data"]["symmetry"] = {"rotate": True, "reflect": True, "boost": args.symmetry_boost}
    cfg = from_dict(TrainConfig, d, f"auc_{name}.yaml")
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "bench_config.yaml") as tmp:
        Path(tmp).write_text(yaml.safe_dump(d, sort_keys=False))
    return cfg


def test_events(n_events: int, args: Any, n_test: int | None, seed: int) -> np.ndarray:
    """Sorted test-split event rows (a seeded random subset of ``n_test`` if given).

    The test events are those of the largest training split (``--test-train-fraction``,
    default ``--train-fraction``): every model, whatever its own training fraction (a prefix
    of the same seeded permutation), is scored on the same events, none of which it saw.
    """
    from adsearch.train.data import split_events

    tf = args.test_train_fraction or args.train_fraction
    split = split_events(n_events, tf, args.val_fraction, 0)
    ev = np.flatnonzero(split == 2)
    if n_test is not None and n_test < len(ev):
        ev = np.sort(np.random.default_rng(seed).choice(ev, n_test, replace=False))
    return ev


def score_test(run_dir: Path, cfg: Any, sample: Any, events: np.ndarray, mjj: np.ndarray, args):
    """Jet and event scores of the chosen test events."""
    import torch

    from adsearch.score.scoring import event_scores, score_jets
    from adsearch.train.trainer import load_model

    torch.set_num_threads(args.threads)
    model, _ = load_model(run_dir)
    keep = np.isin(sample.event, events)
    jets = np.flatnonzero(keep)
    sub = sample.take(jets)
    t0 = time.perf_counter()
    js = score_jets(model, sub, cfg.graph, args.batch, args.device, False, cfg.data.augment)
    dt = time.perf_counter() - t0
    ev_local = np.searchsorted(events, sub.event)
    es = event_scores(js, ev_local, sub.slot, len(events))
    lab_ev = np.zeros(len(events), dtype=np.int64)
    lab_ev[ev_local] = sub.label
    return {
        "jet_score": js,
        "jet_label": sub.label,
        "jet_event": events[ev_local],
        "event": events,
        "label": lab_ev,
        "mjj": mjj[events],
        **es,
    }, dt


def train_or_load(
    run: Path, cfg: Any, sample: Any, label: str, retrain: bool = False
) -> tuple[list[Any], int | None, float]:
    """Train ``cfg`` on ``sample`` unless ``run`` holds a finished run (``done`` beside
    ``model.pt``); returns the epoch history, the best epoch (None when loaded) and the
    training seconds (of a loaded run: the sum of its recorded epoch times)."""
    from adsearch.train import train

    t0 = time.perf_counter()
    if retrain or not (run / "model.pt").exists() or not (run / "done").exists():
        print(f"[{time.strftime('%H:%M:%S')}] training {label}", flush=True)
        tr = train(cfg, sample, progress=False)
        hist, best = tr.history, tr.best_epoch
        (run / "done").write_text("ok\n")
    else:
        hist = json.loads((run / "metrics.json").read_text())
        hist = hist.get("history", hist) if isinstance(hist, dict) else hist
        best = None
        return hist, best, float(sum(h.get("epoch_time_s", 0.0) for h in hist))
    return hist, best, time.perf_counter() - t0


def score_row(
    run: Path,
    cfg: Any,
    sample: Any,
    mjj: np.ndarray,
    table: dict[str, np.ndarray],
    events: np.ndarray,
    args: Any,
    hist: list[Any],
    t_train: float,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Test scores of a trained run and their metrics, with its training summary."""
    sc, t_score = score_test(run, cfg, sample, events, mjj, args)
    met = metrics(sc, args.min_bkg, np.maximum(table["mj1"], table["mj2"]))
    jets_s = [h.get("train_jets_per_s", np.nan) for h in hist if isinstance(h, dict)]
    met.update(
        epochs_run=len(hist),
        train_s=t_train,
        train_jets_per_s=float(np.nanmean(jets_s)) if jets_s else float("nan"),
        score_s=t_score,
        history=hist,
    )
    return sc, met


def metrics(sc: dict[str, np.ndarray], min_bkg: int, mj_heavy: np.ndarray) -> dict[str, Any]:
    _, _, smax, es_at = sic_curve(sc["label"], sc["score"], min_bkg)
    bkg = sc["label"] == 0
    return {
        "spearman_mj": spearman(sc["score"][bkg], mj_heavy[sc["event"]][bkg]),
        "jet_auc": 100 * roc_auc(sc["jet_label"], sc["jet_score"]),
        "event_auc": 100 * roc_auc(sc["label"], sc["score"]),
        "event_auc_max": 100 * roc_auc(sc["label"], sc["score_max"]),
        "event_auc_min": 100 * roc_auc(sc["label"], sc["score_min"]),
        "max_sic": smax,
        "eps_s_at_max_sic": es_at,
        "n_test_events": len(sc["label"]),
        "n_test_signal": int(sc["label"].sum()),
    }


def test_proxy_scores(sample: Any, table: dict[str, Any], events: np.ndarray) -> dict[str, Any]:
    """The jet-mass and girth event scores (:func:`adsearch.score.baselines.proxy_scores`) of
    the test ``events``, in their order."""
    from adsearch.score.baselines import proxy_scores

    sub = sample.take(np.flatnonzero(np.isin(sample.event, events)))
    sub.event = np.searchsorted(events, sub.event)
    sub_table = {k: np.asarray(v)[events] for k, v in table.items() if k.startswith(("mj", "tau"))}
    return proxy_scores(sub_table, sub)


def proxies(
    sample: Any,
    table: dict[str, np.ndarray],
    args: Any,
    events: np.ndarray,
    min_bkg: int,
    cache: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Jet mass alone, girth alone, the GMM density baseline and the flow density score on
    the test events.

    Every row is computed on the same test events as the models; the GMM and the flow
    density (``adsearch.score.density``, unsupervised: -log p of the two jets' log tau21,
    log tau32) are fitted on the background events of the training split (the unsupervised
    models' training data; the same QCD events in both signal files, so ``cache`` keeps the
    fitted flow for the second signal).
    """
    from adsearch.score.baselines import GMMBaseline
    from adsearch.score.density import DensityScoreConfig, JetDensity
    from adsearch.train.data import split_events

    n = len(table["mj1"])
    split = split_events(n, args.train_fraction, args.val_fraction, 0)
    label = np.asarray(table["label"]).astype(np.int64)
    gmm = GMMBaseline(seed=0).fit(table, (split == 0) & (label == 0))
    cache = {} if cache is None else cache
    saved = args.work_dir / "flow-density.pt"
    if "density" not in cache and saved.exists() and not args.retrain:
        cache["density"] = JetDensity.load(saved)
        cache["density_s"] = json.loads(saved.with_suffix(".json").read_text())["fit_s"]
    if "density" not in cache:
        t0 = time.perf_counter()
        cache["density"] = JetDensity(DensityScoreConfig()).fit(
            table, (split == 0) & (label == 0), progress=False
        )
        cache["density_s"] = time.perf_counter() - t0
        args.work_dir.mkdir(parents=True, exist_ok=True)
        cache["density"].save(saved)
        with atomic_path(saved.with_suffix(".json")) as tmp:
            Path(tmp).write_text(json.dumps({"fit_s": cache["density_s"]}))
    jets = np.flatnonzero(np.isin(sample.event, events))
    sub = sample.take(jets)
    sub.event = np.searchsorted(events, sub.event)
    p = test_proxy_scores(sample, table, events)
    sub_full = {k: np.asarray(v)[events] for k, v in table.items() if np.ndim(v) == 1}
    scores = {
        "jet mass": p["mass"],
        "girth": p["girth"],
        "GMM density": gmm.score(table)[events],
        "flow density": cache["density"].score(sub_full),
    }
    y = label[events]
    mjh = np.maximum(np.asarray(table["mj1"]), np.asarray(table["mj2"]))[events]
    out = {}
    for name, v in scores.items():
        auc = roc_auc(y, v)
        flip = -v if auc < 0.5 else v
        _, _, smax, _ = sic_curve(y, flip, min_bkg)
        out[name] = {
            "event_auc": 100 * auc,
            "direction": "lower" if auc < 0.5 else "higher",
            "max_sic": smax,
            "spearman_mj": spearman(v[y == 0], mjh[y == 0]),
        }
    dens = cache["density"]
    cache["test_scores"] = scores["flow density"]
    out["flow density"].update(
        fit_s=cache["density_s"],
        n_jets_fit=dens.n_jets_fit,
        flow_epochs=len(dens.flow.history),
        val_nll=float(np.min(dens.flow.history)),
    )
    return out


# ----------------------------------------------------------------------------- reporting
def _f(v: float | None, nd: int = 1) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.{nd}f}"


def write_md(res: dict[str, Any], path: Path) -> None:
    r = res["models"]
    done = rows_in(r)
    cfg = res["config"]
    lines = [
        "# AUC benchmark: graph and transformer anomaly scores on generated LHCO-like events",
        "",
        f"Sample: {cfg['n_events']} events per signal ({cfg['n_signal']} W' + "
        f"{cfg['n_events'] - cfg['n_signal']} QCD) — **not** LHCO's 1.1 M; split "
        f"{cfg['split']}; AUCs on {cfg['n_test_events'] or 'all'} test-split events. "
        f"Width {cfg['width']}, constituent cap {cfg['cap']}, node features "
        f"{cfg.get('node_features', 'basic')}, batch {cfg['batch']}, <= {cfg['epochs']} epochs "
        f"(early stopping on the validation loss, patience {cfg['patience']}), CPU "
        f"({cfg['threads']} thread(s)). Reference (D'Avanzo, ATLAS, EuCAIFCon 2025): LHCO R&D, "
        "1.1 M events, width 128.",
        "",
    ]
    if res.get("partial"):
        missing = [m for m in res.get("requested", MODELS) if m not in r]
        lines += [f"**PARTIAL**: {', '.join(missing)} not run yet.", ""]
    lines += [
        "AUC in %. Ours: jet / event (event = mean of the two jet scores) / max SIC of the "
        "event score (>= 20 background events passing) / Spearman(event score, heavier-jet "
        "mass) on background. Proxy rows: the same test events scored by the jet mass alone "
        "(mean of the two jets), the girth alone (mean of the two; AUC < 50 = signal lower, "
        "SIC for the better direction) and a Gaussian-mixture density of (log m, tau21) of "
        "both jets fitted on the training background. The flow-density row is the unsupervised "
        "score of `score.method: density`: -log p of the two jets' (log τ21, log τ32) under a "
        "spline flow fitted on the training background's jets (no constituents, no network "
        "on them). Rows tagged `+sym` were trained with "
        "`data.symmetry` (random rotation about the jet axis and η reflection of every "
        "training jet, a new draw per epoch; `--symmetry`). The CNN's default image "
        "preprocessing (centre, rotate, flip) undoes rotations and reflections, so its `+sym` "
        "rows differ from the plain ones by pixelisation only (and by the boost, if any).",
        "",
        "| model | loss | ours 2-prong jet / event / SIC / ρ(m) | ours 3-prong jet / event / "
        "SIC / ρ(m) | ref. 2-prong jet / event | ref. 3-prong jet / event |",
        "|---|---|---|---|---|---|",
    ]
    for m in done:
        lab, loss, _ = MODELS[base_model(m)]
        lab += " (+sym)" if m.endswith(SYM) else ""
        ours = []
        for sig in SIGNALS:
            x = r[m].get(sig)
            ours.append(
                " / ".join(
                    [
                        _f(x["jet_auc"]),
                        _f(x["event_auc"]),
                        _f(x["max_sic"], 2),
                        _f(x.get("spearman_mj"), 2),
                    ]
                )
                if x
                else "not run"
            )
        s = REFERENCE[base_model(m)]
        lines.append(
            f"| {lab} | {loss} | {ours[0]} | {ours[1]} | {_f(s[0])} / {_f(s[1])} | "
            f"{_f(s[2])} / {_f(s[3])} |"
        )
    for name in ("jet mass", "girth", "GMM density"):
        ours = []
        for sig in SIGNALS:
            x = res.get("proxies", {}).get(sig, {}).get(name)
            ours.append(
                f"– / {_f(x['event_auc'])} / {_f(x['max_sic'], 2)} / {_f(x['spearman_mj'], 2)}"
                if x
                else "not run"
            )
        lines.append(f"| {name} alone | proxy | {ours[0]} | {ours[1]} | – | – |")
    ours = []
    for sig in SIGNALS:
        x = res.get("proxies", {}).get(sig, {}).get("flow density")
        ours.append(
            f"– / {_f(x['event_auc'])} / {_f(x['max_sic'], 2)} / {_f(x['spearman_mj'], 2)}"
            if x
            else "not run"
        )
    lines.append(
        f"| Flow density (log τ21, log τ32 per jet) | density (unsupervised) | {ours[0]} | "
        f"{ours[1]} | – | – |"
    )
    lines += ["", "Training (per model and signal): epochs run, best epoch, train wall time.", ""]
    lines += [
        "| model | signal | width | cap | settings | train fraction | epochs | best | train s "
        "| train jets/s | score s |"
    ]
    lines += ["|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in done:
        for sig in SIGNALS:
            x = r[m].get(sig)
            if x:
                lines.append(
                    f"| {m} | {sig} | {x.get('width', cfg['width'])} | "
                    f"{x.get('cap', cfg['cap'])} | "
                    f"{settings_text(x.get('settings'))} | "
                    f"{x.get('train_fraction', cfg.get('train_fraction', '–'))} | "
                    f"{x['epochs_run']} | {x['best_epoch']} | "
                    f"{x['train_s']:.0f} | {x['train_jets_per_s']:.0f} | {x['score_s']:.0f} |"
                )
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")


def settings_text(settings: dict[str, Any] | None) -> str:
    """The ``--set`` overrides of a row, for the training table (``–`` for none)."""
    return ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in (settings or {}).items()) or "–"


#: row name of the flow-density score's test scores (``flow-density_<signal>.npz``)
DENSITY_ROW = "flow-density"


def curve_label(row: str) -> str:
    """Legend label of a row's SIC curve (model, objective, ``+sym``; or the flow density)."""
    if row == DENSITY_ROW:
        return "Flow density (log τ21, log τ32), unsupervised"
    lab, loss, _ = MODELS[base_model(row)]
    name = loss.split(" (")[0]  # "image AE (unsupervised)" -> "image AE"
    return f"{lab} {name}{' +sym' if row.endswith(SYM) else ''}"


def plot_sic(
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], res, tag: str = ""
) -> list[Path]:
    """One SIC plot per signal (``results/sic_<signal><tag>.png``) of the given curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    for sig, per in curves.items():
        fig, ax = plt.subplots(figsize=(6, 4.5))
        for m, (es, sic) in per.items():
            ax.plot(es, sic, label=curve_label(m))
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")
        ax.set_xlabel(r"signal efficiency $\epsilon_S$")
        ax.set_ylabel(r"SIC = $\epsilon_S/\sqrt{\epsilon_B}$")
        ax.set_xlim(0, 1)
        n = res["config"]["n_events"]
        ax.set_title(f"W' {sig}, event score (mean of 2 jets), {n} events (not 1.1 M)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = RESULTS / f"sic_{sig}{tag}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
        plt.close(fig)
        out.append(path)
    return out


def save(res: dict[str, Any], curves) -> None:
    rows = res.get("requested", MODELS)
    res["partial"] = any(m not in res["models"] or len(res["models"][m]) < 2 for m in rows)
    with atomic_path(RESULTS / "auc.json") as tmp:
        Path(tmp).write_text(json.dumps(res, indent=1))
    write_md(res, RESULTS / "auc.md")
    plot_sic(curves, res)


def learning_curve(args, files, samples, tables, n_events, res) -> None:
    """AUC of one (unsupervised) model vs the number of background training jets."""
    from adsearch.train import train

    m = args.learning_curve
    sig0 = next(iter(samples))
    events = test_events(n_events, args, args.test_events, seed=7)  # fixed test events
    n_bkg_jets = 2 * int((tables[sig0]["label"] == 0).sum())
    rows = []
    for target in args.lc_sizes:
        frac = min(args.train_fraction, target / n_bkg_jets)
        a = argparse.Namespace(**{**vars(args), "train_fraction": frac})
        run = args.work_dir / f"lc_{row_name(m, args)}_{target}"
        cfg = make_config(m, files[sig0], run, a)
        t0 = time.perf_counter()
        tr = train(cfg, samples[sig0][0], progress=False)
        row = {
            "target_jets": target,
            "train_fraction": frac,
            "train_s": time.perf_counter() - t0,
            "epochs_run": len(tr.history),
            "best_epoch": tr.best_epoch,
            "history": tr.history,
        }
        for sig, (sample, mjj) in samples.items():
            # the fixed test events: never in any of the nested training splits
            sc, _ = score_test(run, cfg, sample, events, mjj, args)
            mjh = np.maximum(tables[sig]["mj1"], tables[sig]["mj2"])
            row[sig] = metrics(sc, args.min_bkg, mjh)
        rows.append(row)
        print(
            f"[{time.strftime('%H:%M:%S')}] {m} {target} jets: "
            + ", ".join(f"{s} AUC {row[s]['event_auc']:.1f}" for s in samples),
            flush=True,
        )
        out = {"model": m, "config": res["config"], "proxies": res["proxies"], "rows": rows}
        with atomic_path(RESULTS / "auc_learning_curve.json") as tmp:
            Path(tmp).write_text(json.dumps(out, indent=1))
        lines = [
            f"# Learning curve: {m}",
            "",
            "Event AUC (%) on the same test events vs background training jets.",
            "",
            "| training jets | " + " | ".join(samples) + " | epochs (best) | train s |",
            "|---|" + "---|" * len(samples) + "---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['target_jets']} | "
                + " | ".join(_f(r[s]["event_auc"]) for s in samples)
                + f" | {r['epochs_run']} ({r['best_epoch']}) | {r['train_s']:.0f} |"
            )
        with atomic_path(RESULTS / "auc_learning_curve.md") as tmp:
            Path(tmp).write_text("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------- main
def parse_sets(items: list[str]) -> dict[str, Any]:
    """``["model.layers=2"]`` -> ``{"model.layers": 2}`` (:func:`adsearch.config.parse_override`:
    values parsed as YAML)."""
    from adsearch.config import parse_override
    from adsearch.errors import ConfigError

    out: dict[str, Any] = {}
    for item in items:
        try:
            keys, value = parse_override(item)
        except ConfigError as e:
            raise SystemExit(f"error: {e}") from None
        runtime = keys[0] == "runtime" and keys[1:] != ["seed"]  # the script sets the rest
        if len(keys) < 2 or runtime or keys[:2] == ["data", "path"]:
            raise SystemExit(
                f"error: --set {item!r}: expected SECTION.KEY=VALUE (not data.path, nor "
                "runtime other than runtime.seed)"
            )
        out[".".join(keys)] = value
    return out


def main(argv: list[str] | None = None) -> None:
    global RESULTS  # noqa: PLW0603 - a script's result table, filled by main() only
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("scratch/data"))
    ap.add_argument("--work-dir", type=Path, default=Path("scratch/bench_auc"))
    ap.add_argument("--n-qcd", type=int, default=30_000, help="QCD events when generating")
    ap.add_argument("--n-signal", type=int, default=3_000, help="W' events when generating")
    ap.add_argument("--gen-workers", type=int, default=2)
    ap.add_argument("--models", default=",".join(ORDER))
    ap.add_argument("--signals", default="2prong,3prong")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--patience", type=int, default=4)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--cap", type=int, default=100, help="constituents per jet (pT-leading)")
    ap.add_argument("--node-features", default="basic", choices=["basic", "part"])
    ap.add_argument("--train-fraction", type=float, default=0.5)
    ap.add_argument("--val-fraction", type=float, default=0.02)
    ap.add_argument(
        "--lc-sizes",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[10_000, 30_000, 100_000],
        help="learning curve: background training jets per point (comma-separated)",
    )
    ap.add_argument(
        "--supervised-train-fraction",
        type=float,
        default=None,
        help="training fraction of the supervised models (default: --train-fraction)",
    )
    ap.add_argument(
        "--test-train-fraction",
        type=float,
        default=None,
        help="the test events are those outside this training fraction (default: "
        "--train-fraction); use the largest fraction of any run that shares the results",
    )
    ap.add_argument(
        "--learning-curve",
        default=None,
        metavar="MODEL",
        help="instead of the table: train MODEL on 10k / 30k / 100k background jets (train "
        "fractions scaled; same test events) and write auc_learning_curve.{json,md}",
    )
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--test-events", type=int, default=None, help="random test subset size")
    ap.add_argument("--min-bkg", type=int, default=20, help="SIC: min passing background")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--results-dir", type=Path, default=RESULTS, help="where auc.* go")
    ap.add_argument("--retrain", action="store_true", help="ignore finished runs in work-dir")
    ap.add_argument(
        "--symmetry",
        action="store_true",
        help="train with data.symmetry (random rotation about the jet axis + eta reflection "
        "of every training jet); the rows are tagged '+sym' (e.g. gin-deepsvdd+sym) and sit "
        "beside the plain ones in auc.json / auc.md",
    )
    ap.add_argument(
        "--symmetry-boost",
        type=float,
        default=0.0,
        metavar="EPS",
        help="with --symmetry: also boost every training jet along its axis by a rapidity "
        "drawn in [-EPS, EPS] (data.symmetry.boost, <= 0.5; default 0: no boost)",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one field of the models' training configs (repeatable; YAML value), "
        "e.g. --set model.layers=2 --set model.pt_weighted=true, or --set runtime.seed=1 "
        "(another training seed); recorded per row",
    )
    args = ap.parse_args(argv)
    args.set = parse_sets(args.set)
    RESULTS = args.results_dir
    if args.symmetry_boost and not args.symmetry:
        raise SystemExit("error: --symmetry-boost needs --symmetry")

    from adsearch.train.data import load_jets

    files = ensure_data(args.data_dir, args.n_qcd, args.n_signal, args.gen_workers)
    signals = [s for s in args.signals.split(",") if s]
    models = [m for m in args.models.split(",") if m]
    for m in models:
        if m not in MODELS:
            raise SystemExit(f"error: unknown model {m!r}; choose from {', '.join(MODELS)}")
    samples, tables = {}, {}
    for sig in signals:
        sample, feats = load_jets(files[sig])
        samples[sig] = (sample, np.asarray(feats.table["mjj"], dtype=np.float64))
        tables[sig] = {k: np.asarray(v) for k, v in feats.table.items() if np.ndim(v) == 1}
    n_events = samples[signals[0]][0].n_events
    RESULTS.mkdir(parents=True, exist_ok=True)
    old = RESULTS / "auc.json"
    res: dict[str, Any] = json.loads(old.read_text()) if old.exists() else {}
    res["config"] = {
        "n_events": n_events,
        "n_signal": int(samples[signals[0]][0].label[::2].sum()),
        "n_test_events": args.test_events,
        "width": args.width,
        "cap": args.cap,
        "batch": args.batch,
        "epochs": args.epochs,
        "patience": args.patience,
        "device": args.device,
        "threads": args.threads,
        "split": f"{args.train_fraction:.0%} train (background only for unsupervised) / "
        f"{args.val_fraction:.0%} val / {1 - args.train_fraction - args.val_fraction:.0%} test",
        "train_fraction": args.train_fraction,
        "supervised_train_fraction": args.supervised_train_fraction or args.train_fraction,
        "val_fraction": args.val_fraction,
        "node_features": args.node_features,
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores (shared)",
    }
    res["reference"] = {m: REFERENCE[m] for m in MODELS}
    res.setdefault("models", {})
    # the rows a complete table holds: the default models, and every row run so far
    requested = [*ORDER, *res["models"], *(row_name(m, args) for m in models)]
    res["requested"] = rows_in(dict.fromkeys(requested))
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {s: {} for s in signals}
    res.setdefault("proxies", {})
    density_cache: dict[str, Any] = {}
    for sig in signals:
        events = test_events(n_events, args, args.test_events, seed=7)
        res["proxies"][sig] = proxies(
            samples[sig][0], tables[sig], args, events, args.min_bkg, density_cache
        )
        # the flow density's test scores, for bench_injection.py --model flow-density
        with atomic_path(args.work_dir / f"{DENSITY_ROW}_{sig}.npz") as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                score=density_cache["test_scores"],
                label=np.asarray(tables[sig]["label"])[events].astype(np.int64),
                mjj=samples[sig][1][events],
                event=events,
            )
        print(
            f"proxies {sig}: "
            + ", ".join(f"{k} AUC {v['event_auc']:.1f}" for k, v in res["proxies"][sig].items()),
            flush=True,
        )
    if args.learning_curve:
        learning_curve(args, files, samples, tables, n_events, res)
        return
    for m in rows_in(res["models"]):  # curves of earlier (partial) runs
        for sig in signals:
            f = args.work_dir / f"{m}_{sig}.npz"
            if f.exists() and m in res["models"] and sig in res["models"][m]:
                z = np.load(f)
                es, sic, _, _ = sic_curve(z["label"], z["score"], args.min_bkg)
                curves[sig][m] = (es, sic)

    if not models:  # --models "": the proxy and flow-density rows only
        save(res, curves)
    for m in models:
        unsup = MODELS[m][2]
        row = row_name(m, args)
        train_on = signals[:1] if unsup else signals  # same background split for both files
        for sig_train in train_on:
            run = args.work_dir / (row if unsup else f"{row}_{sig_train}")
            extra, t_init = {}, 0.0
            if m in INIT_FROM:  # train the initialising model first, on the same jets
                src, over = INIT_FROM[m]
                init_run = args.work_dir / f"{row}.init"
                init_cfg = make_config(src, files[sig_train], init_run, args, over, sets=False)
                _, _, t_init = train_or_load(
                    init_run, init_cfg, samples[sig_train][0], f"{src} for {row}", args.retrain
                )
                extra = {"model.init": str(init_run.resolve())}
            cfg = make_config(m, files[sig_train], run, args, extra)
            label = f"{row} on {sig_train}"
            hist, best, t_train = train_or_load(
                run, cfg, samples[sig_train][0], label, args.retrain
            )
            t_train += t_init
            for sig in signals if unsup else [sig_train]:
                sample, mjj = samples[sig]
                events = test_events(n_events, args, args.test_events, seed=7)
                sc, met = score_row(run, cfg, sample, mjj, tables[sig], events, args, hist, t_train)
                npz = args.work_dir / f"{row}_{sig}.npz"
                with atomic_path(npz) as tmp, open(tmp, "wb") as fh:
                    np.savez(fh, **sc)
                met.update(
                    best_epoch=best,
                    trained_on=sig_train,
                    width=args.width,
                    cap=args.cap,
                    settings=dict(args.set),
                    init_train_s=t_init or None,
                    train_fraction=cfg.data.train_fraction,
                )
                res["models"].setdefault(row, {})[sig] = met
                es, sic, _, _ = sic_curve(sc["label"], sc["score"], args.min_bkg)
                curves[sig][row] = (es, sic)
                print(
                    f"[{time.strftime('%H:%M:%S')}] {row} {sig}: jet AUC {met['jet_auc']:.1f} "
                    f"event AUC {met['event_auc']:.1f} max SIC {met['max_sic']:.2f} "
                    f"(train {t_train:.0f} s, score {met['score_s']:.0f} s)",
                    flush=True,
                )
                save(res, curves)
    print((RESULTS / "auc.md").read_text())


if __name__ == "__main__":
    main()
