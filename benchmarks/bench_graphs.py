"""Speed of jet-graph construction, conversion, augmentation and the GNN backbones (CPU).

Jets are toy jets (:func:`adsearch.graphs.toy_jets`) tuned to the graph sizes of real LHCO
leading jets (real LHCO leading jets: ~56 constituents, ~25 Delta R < 0.2 neighbours per node).
Graphs are built in batches of ``--batch`` jets, as a training loader would. Model rows
time full training steps (forward + backward + Adam) and no-grad inference at width 128,
5 layers (GATv2: Bauckhage's 1.3 M-parameter layout) on 2 threads.

    nice -n 10 python benchmarks/bench_graphs.py            # ~3-5 min on 2 cores
    python benchmarks/bench_graphs.py --quick                # smoke run
Writes benchmarks/results/graphs.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from adsearch.graphs import (
    GraphConfig,
    build_graphs,
    jet_axis,
    random_mass_rescale,
    rescale_to_mass,
    standardise,
    to_dgl,
    to_pyg,
    toy_jets,
)
from adsearch.io.atomic import atomic_path
from adsearch.models.gnn import build_backbone

OUT = Path(__file__).parent / "results" / "graphs.json"


def _best(fn, repeat: int, cpu: list | None = None) -> float:
    """Best wall time of ``repeat`` runs; appends the best CPU (process) time to ``cpu``."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    if cpu is not None:
        cpu.append(best_cpu)
    return best


def bench_build(cons, ax, batch: int, repeat: int) -> dict:
    n = len(cons)
    chunks = [
        (cons[i : i + batch], ax.pt[i : i + batch], ax.eta[i : i + batch], ax.phi[i : i + batch])
        for i in range(0, n, batch)
    ]
    out = {}
    for mode in ("radius", "knn", "full"):
        cfg = GraphConfig(edges=mode)
        for threads in (1, 2):
            cpu: list[float] = []
            t = _best(
                lambda cfg=cfg, th=threads: [
                    build_graphs(*c, config=cfg, threads=th) for c in chunks
                ],
                repeat,
                cpu,
            )
            g = build_graphs(*chunks[0], config=cfg)
            key = f"{mode}_threads{threads}"
            out[key] = {
                "jets_per_s": n / t,
                "jets_per_cpu_s": n / cpu[0],
                "edges_per_jet": g.n_edges / g.n_jets,
                "nodes_per_jet": g.n_nodes / g.n_jets,
            }
            print(
                f"build {key:18s} {n / t:8.0f} jets/s wall {n / cpu[0]:8.0f} jets/CPU-s "
                f"{g.n_edges / g.n_jets:7.0f} edges/jet"
            )
    return out


def bench_convert(cons, batch: int, repeat: int) -> dict:
    g = build_graphs(cons[:batch])
    to_pyg(g), to_dgl(g)  # imports outside the timing
    t_pyg = _best(lambda: to_pyg(g), repeat)
    t_dgl = _best(lambda: to_dgl(g), repeat)
    t_take = _best(lambda: g.take(np.random.default_rng(0).permutation(g.n_jets)), repeat)
    print(
        f"to_pyg {t_pyg * 1e3:.2f} ms, to_dgl {t_dgl * 1e3:.2f} ms, take {t_take * 1e3:.2f} ms "
        f"per {batch} jets"
    )
    return {
        "batch": batch,
        "to_pyg_ms": t_pyg * 1e3,
        "to_dgl_ms": t_dgl * 1e3,
        "take_shuffled_ms": t_take * 1e3,
    }


def bench_augment(cons, repeat: int) -> dict:
    n = len(cons)
    t_rand = _best(lambda: random_mass_rescale(cons, 0), repeat)
    t_ref = _best(lambda: rescale_to_mass(cons, 100.0), repeat)
    print(f"random_mass_rescale {n / t_rand:.0f} jets/s, rescale_to_mass {n / t_ref:.0f} jets/s")
    return {"random_mass_rescale_jets_per_s": n / t_rand, "rescale_to_mass_jets_per_s": n / t_ref}


def real_jets(path: str):
    """Constituents and axes of the two leading jets of a real (LHCO HDF5) event file."""
    from adsearch.io import read_events
    from adsearch.jets.features import compute_features

    feats = compute_features(read_events(path))
    t = feats.table
    axis = [np.stack([t[f"{v}j1"], t[f"{v}j2"]], axis=1).reshape(-1) for v in ("pt", "eta", "phi")]
    return feats.constituents, axis


def bench_real(path: str, repeat: int) -> dict:
    cons, (pt, eta, phi) = real_jets(path)
    n_jets = 2 * len(cons)
    cpu: list[float] = []
    t = _best(lambda: build_graphs(cons, pt, eta, phi), repeat, cpu)
    g = build_graphs(cons, pt, eta, phi, GraphConfig(max_constituents=None))
    n = g.num_nodes_per_jet
    res = {
        "file": str(path),
        "jets": n_jets,
        "jets_per_s_radius": n_jets / t,
        "jets_per_cpu_s_radius": n_jets / cpu[0],
        "nodes_per_jet_mean": float(n.mean()),
        "nodes_per_jet_q99": float(np.quantile(n, 0.99)),
        "frac_jets_over_100": float(np.mean(n > 100)),
        "edges_per_node_radius": g.n_edges / g.n_nodes - 1.0,  # without the self-loop
        "edges_per_jet_radius_q90": float(np.quantile(g.num_edges_per_jet, 0.9)),
    }
    print(
        f"real jets: {n_jets} jets, {res['nodes_per_jet_mean']:.1f} nodes/jet (q99 "
        f"{res['nodes_per_jet_q99']:.0f}, {100 * res['frac_jets_over_100']:.1f} % > 100), "
        f"{res['edges_per_node_radius']:.1f} neighbours/node, build {n_jets / t:.0f} jets/s, "
        f"{n_jets / cpu[0]:.0f} jets/CPU-s"
    )
    return res


MODELS = {
    "gin_sparse": ("gin", {"conv": "sparse"}),
    "gin_gine": ("gin", {"conv": "gine"}),
    "egat": ("egat", {}),
    "gatv2": ("gatv2", {}),
}


def bench_models(cons, batch: int, budget_s: float, names) -> dict:
    g = build_graphs(cons[:batch])
    out = {}
    for name in names:
        kind, opts = MODELS[name]
        torch.manual_seed(0)
        net = build_backbone(kind, bias=False, **opts)
        inp = to_dgl(g) if net.input_kind == "dgl" else to_pyg(g)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)

        def step(net=net, inp=inp, opt=opt):
            opt.zero_grad()
            net(inp).pow(2).sum(1).mean().backward()
            opt.step()

        step()  # warm-up
        n, t0, c0 = 0, time.perf_counter(), time.process_time()
        while n < 5 and (n == 0 or time.perf_counter() - t0 < budget_s):
            step()
            n += 1
        train = n * batch / (time.perf_counter() - t0)
        train_cpu = n * batch / (time.process_time() - c0)
        net.eval()
        with torch.no_grad():
            net(inp)
            n, t0, c0 = 0, time.perf_counter(), time.process_time()
            while n < 5 and (n == 0 or time.perf_counter() - t0 < budget_s):
                net(inp)
                n += 1
            infer = n * batch / (time.perf_counter() - t0)
            infer_cpu = n * batch / (time.process_time() - c0)
        params = sum(p.numel() for p in net.parameters())
        out[name] = {
            "batch": batch,
            "train_jets_per_s": train,
            "infer_jets_per_s": infer,
            "train_jets_per_cpu_s": train_cpu,
            "infer_jets_per_cpu_s": infer_cpu,
            "params": params,
        }
        print(
            f"model {name:11s} train {train:6.0f} jets/s ({train_cpu:6.0f}/CPU-s)  infer "
            f"{infer:6.0f} jets/s ({infer_cpu:6.0f}/CPU-s)  {params / 1e6:.2f} M params"
        )
    return out


def _sculpting_sample(n: int, rng: np.random.Generator):
    """Toy QCD-like jets whose mass and the event's mjj both grow with the jet pT."""
    pt = 1200.0 + rng.exponential(300.0, n)
    spread = np.exp(rng.uniform(np.log(0.03), np.log(0.15), n))
    cons = toy_jets(n, rng, mean_constituents=40.0, jet_pt=pt, spread=spread)
    ax = jet_axis(cons)
    mjj = 2.0 * ax.pt * np.cosh(rng.uniform(0.0, 1.3, n) / 2.0)  # equal-pT dijet
    return cons, ax, mjj


def _graphs(cons, ax, idx, mode: str, rng: np.random.Generator):
    """Graphs of jets ``idx``: as they are, randomly mass-rescaled, or standardised.

    Standardised: boosted to pT = 1500 GeV, then angles rescaled to m = 100 GeV, so every jet
    has the same m / pT (the angular scale of a boosted jet) and only its shape remains.
    """
    sub = cons[idx]
    if mode == "random":
        a = random_mass_rescale(sub, rng, 0.5, 2.0)
    elif mode == "standardise":
        a = standardise(sub, 1500.0, 100.0)
    else:
        return build_graphs(sub, ax.pt[idx], ax.eta[idx], ax.phi[idx])
    return build_graphs(a.constituents, a.axis.pt, a.axis.eta, a.axis.phi)


def _train_deepsvdd(cons, ax, mode: str, epochs: int, rng: np.random.Generator):
    from adsearch.models.objectives import DeepSVDD

    torch.manual_seed(0)
    net = build_backbone("gin", width=64, layers=3, mlp_layers=2, bias=False)
    obj = DeepSVDD(64)
    batch = 256
    net.eval()
    with torch.no_grad():
        z = net(to_pyg(_graphs(cons, ax, np.arange(min(len(cons), 1024)), mode, rng)))
    obj.set_center(z.mean(0))
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-6)
    for _ in range(epochs):
        order = rng.permutation(len(cons))
        for i in range(0, len(order) - batch + 1, batch):
            opt.zero_grad()
            g = _graphs(cons, ax, order[i : i + batch], mode, rng)
            loss, _ = obj.loss(net(to_pyg(g)), None, None)
            loss.backward()
            opt.step()
    return net.eval(), obj


#: training input -> test input of the sculpting variants
_SCULPT_MODES = {
    "plain": ("none", "none"),
    "random_mass_rescale": ("random", "none"),
    "standardised_m_over_pt": ("standardise", "standardise"),
}


def bench_sculpting(n_train: int, n_test: int, epochs: int, cut_eff: float, seed: int = 7) -> dict:
    """Score-mass correlation and mjj sculpting of a DeepSVDD GIN for the input variants.

    ``plain``: no transformation; ``random_mass_rescale``: training jets randomly rescaled
    (test jets as they are); ``standardised_m_over_pt``: every jet (training and test)
    boosted to pT = 1500 GeV and rescaled to m = 100 GeV.
    """
    from adsearch.graphs import mass_sculpting_report

    rng = np.random.default_rng(seed)
    tr_cons, tr_ax, _ = _sculpting_sample(n_train, rng)
    te_cons, te_ax, te_mjj = _sculpting_sample(n_test, rng)
    out = {"n_train": n_train, "n_test": n_test, "epochs": epochs, "cut_eff": cut_eff, "seed": seed}
    for key, (train_mode, test_mode) in _SCULPT_MODES.items():
        t0 = time.perf_counter()
        net, obj = _train_deepsvdd(tr_cons, tr_ax, train_mode, epochs, np.random.default_rng(seed))
        g_test = _graphs(te_cons, te_ax, np.arange(n_test), test_mode, rng)
        with torch.no_grad():
            score = torch.cat(
                [obj.score(net(to_pyg(g_test[i : i + 1024])), None) for i in range(0, n_test, 1024)]
            ).numpy()
        r = mass_sculpting_report(score, te_ax.mass, te_mjj, cut_eff)
        out[key] = {
            "pearson_score_mj": r.pearson_mj,
            "spearman_score_mj": r.spearman_mj,
            "mjj_js_divergence": r.mjj_js,
            "mj_js_divergence": r.mj_js,
            "train_seconds": time.perf_counter() - t0,
        }
        print(
            f"sculpting seed {seed} {key:20s} spearman(score, mj) {r.spearman_mj:+.3f}  "
            f"JS(mjj after/before {cut_eff:.0%} cut) {r.mjj_js:.4f}  JS(mj) {r.mj_js:.4f}"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets", type=int, default=20000, help="jets for the build benchmark")
    ap.add_argument("--batch", type=int, default=1024, help="jets per graph batch")
    ap.add_argument("--model-batch", type=int, default=256, help="jets per model step")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads for the model rows (1 gives load-robust per-core CPU-s rates)",
    )
    ap.add_argument("--real", default=None, help="optional real LHCO HDF5 file for jet stats")
    ap.add_argument(
        "--sections",
        default="build,convert,augment,real,models",
        help="comma-separated sections to (re)run; results merge into the existing JSON",
    )
    ap.add_argument(
        "--sculpting",
        action="store_true",
        help="only run the mass-sculpting study (train GIN DeepSVDD with/without augmentation) "
        "and add it to the existing JSON",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.sculpting:
        res = json.loads(OUT.read_text()) if OUT.exists() else {}
        n = 1000 if args.quick else 8000
        res["sculpting"] = [
            bench_sculpting(n, n, 1 if args.quick else 2, 0.1, seed) for seed in (7, 8)
        ]
        with atomic_path(OUT) as tmp:
            Path(tmp).write_text(json.dumps(res, indent=2) + "\n")
        print(f"wrote {OUT}")
        return
    n_jets = 2000 if args.quick else args.jets
    repeat = 1 if args.quick else 3
    cons = toy_jets(n_jets, seed=1)
    ax = jet_axis(cons)
    sections = set(args.sections.split(","))
    res = json.loads(OUT.read_text()) if OUT.exists() else {}
    res.update(
        {
            "load_average_at_start": os.getloadavg()[0],
            "machine": {
                "cpu_threads": torch.get_num_threads(),
                "python": platform.python_version(),
                "torch": torch.__version__,
            },
            "jets": n_jets,
            "batch": args.batch,
        }
    )
    if "build" in sections:
        res["build"] = bench_build(cons, ax, args.batch, repeat)
    if "convert" in sections:
        res["convert"] = bench_convert(cons, args.batch, repeat)
    if "augment" in sections:
        res["augment"] = bench_augment(cons[:5000], repeat)
    if "real" in sections and args.real:
        res["real"] = bench_real(args.real, repeat)
    if "models" in sections:
        res["models"] = bench_models(
            cons, 32 if args.quick else args.model_batch, 2.0 if args.quick else 15.0, list(MODELS)
        )
    res["load_average_at_end"] = os.getloadavg()[0]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(OUT) as tmp:
        Path(tmp).write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
