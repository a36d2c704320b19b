"""Speed of jet-graph construction, conversion, augmentation and the GNN backbones (CPU).

Jets are toy jets (:func:`adsearch.graphs.toy_jets`) tuned to the graph sizes of real LHCO
leading jets (design.md 2b: ~56 constituents, ~25 Delta R < 0.2 neighbours per node).
Graphs are built in batches of ``--batch`` jets, as a training loader would. Model rows
time full training steps (forward + backward + Adam) and no-grad inference at width 128,
5 layers (GATv2: seed 000_ size) on 2 threads.

    nice -n 10 python benchmarks/bench_graphs.py            # ~3-5 min on 2 cores
    python benchmarks/bench_graphs.py --quick                # smoke run
Writes benchmarks/results/graphs.json.
"""

from __future__ import annotations

import argparse
import json
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
    to_dgl,
    to_pyg,
    toy_jets,
)
from adsearch.io.atomic import atomic_path
from adsearch.models.gnn import build_backbone

OUT = Path(__file__).parent / "results" / "graphs.json"


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
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
            t = _best(
                lambda cfg=cfg, th=threads: [
                    build_graphs(*c, config=cfg, threads=th) for c in chunks
                ],
                repeat,
            )
            g = build_graphs(*chunks[0], config=cfg)
            key = f"{mode}_threads{threads}"
            out[key] = {
                "jets_per_s": n / t,
                "edges_per_jet": g.n_edges / g.n_jets,
                "nodes_per_jet": g.n_nodes / g.n_jets,
            }
            print(f"build {key:18s} {n / t:10.0f} jets/s  {g.n_edges / g.n_jets:7.0f} edges/jet")
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
    t = _best(lambda: build_graphs(cons, pt, eta, phi), repeat)
    g = build_graphs(cons, pt, eta, phi, GraphConfig(max_constituents=None))
    n = g.num_nodes_per_jet
    res = {
        "file": str(path),
        "jets": n_jets,
        "jets_per_s_radius": n_jets / t,
        "nodes_per_jet_mean": float(n.mean()),
        "nodes_per_jet_q99": float(np.quantile(n, 0.99)),
        "frac_jets_over_100": float(np.mean(n > 100)),
        "edges_per_node_radius": g.n_edges / g.n_nodes - 1.0,  # without the self-loop
        "edges_per_jet_radius_q90": float(np.quantile(g.num_edges_per_jet, 0.9)),
    }
    print(
        f"real jets: {n_jets} jets, {res['nodes_per_jet_mean']:.1f} nodes/jet (q99 "
        f"{res['nodes_per_jet_q99']:.0f}, {100 * res['frac_jets_over_100']:.1f} % > 100), "
        f"{res['edges_per_node_radius']:.1f} neighbours/node, build {n_jets / t:.0f} jets/s"
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
        n, t0 = 0, time.perf_counter()
        while n < 5 and (n == 0 or time.perf_counter() - t0 < budget_s):
            step()
            n += 1
        train = n * batch / (time.perf_counter() - t0)
        net.eval()
        with torch.no_grad():
            net(inp)
            n, t0 = 0, time.perf_counter()
            while n < 5 and (n == 0 or time.perf_counter() - t0 < budget_s):
                net(inp)
                n += 1
            infer = n * batch / (time.perf_counter() - t0)
        params = sum(p.numel() for p in net.parameters())
        out[name] = {"train_jets_per_s": train, "infer_jets_per_s": infer, "params": params}
        print(
            f"model {name:11s} train {train:8.0f} jets/s  infer {infer:8.0f} jets/s  "
            f"({params / 1e6:.2f} M params, batch {batch})"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jets", type=int, default=20000, help="jets for the build benchmark")
    ap.add_argument("--batch", type=int, default=1024, help="jets per graph batch")
    ap.add_argument("--model-batch", type=int, default=256, help="jets per model step")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run")
    ap.add_argument("--real", default=None, help="optional real LHCO HDF5 file for jet stats")
    args = ap.parse_args()
    torch.set_num_threads(2)
    n_jets = 2000 if args.quick else args.jets
    repeat = 1 if args.quick else 3
    cons = toy_jets(n_jets, seed=1)
    ax = jet_axis(cons)
    res = {
        "machine": {
            "cpu_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "jets": n_jets,
        "batch": args.batch,
        "build": bench_build(cons, ax, args.batch, repeat),
        "convert": bench_convert(cons, args.batch, repeat),
        "augment": bench_augment(cons[:5000], repeat),
        "real": bench_real(args.real, repeat) if args.real else None,
        "models": bench_models(
            cons,
            32 if args.quick else args.model_batch,
            2.0 if args.quick else 30.0,
            list(MODELS),
        ),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(OUT) as tmp:
        Path(tmp).write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
