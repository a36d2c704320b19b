"""Speed of jet clustering and features: events/s for clustering alone, N-subjettiness, total.

Events: QCD dijets generated here with Pythia 8 and the built-in LHCO-like detector response
(``adsearch.generate``, trigger passed), or the first ``--n`` events of an LHCO file
(``--input``, e.g. the real R&D file, or its first 1000 events:
``events_anomalydetection_tiny.h5`` of github.com/lhcolympics2020/parsingscripts). Each
step is timed ``--repeat`` times; the best time is reported. Results go to
``benchmarks/results/features.json``, one entry per sample kind (``generated`` or
``file:<name>``), other entries kept.

    nice -n 10 python benchmarks/bench_features.py [--n 2000] [--input FILE] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import awkward as ak
import numpy as np

from adsearch.io.atomic import atomic_path
from adsearch.jets import (
    cluster,
    compute_features,
    features_from_file,
    nsubjettiness,
    write_features,
)

RESULTS = Path(__file__).resolve().parent / "results" / "features.json"


def _best(fn, repeat: int) -> tuple[dict[str, float], object]:
    """Best wall and best CPU time of ``repeat`` calls (single-threaded work: on an idle
    machine they agree; on a shared one CPU time is the stable figure)."""
    wall, cpu, out = np.inf, np.inf, None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return {"wall": wall, "cpu": cpu}, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="events")
    ap.add_argument("--input", type=Path, default=None, help="LHCO HDF5 / ROOT event file")
    ap.add_argument("--repeat", type=int, default=3, help="timings per step (best is kept)")
    ap.add_argument("--seed", type=int, default=1, help="generator seed")
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON output")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    if args.input is not None:
        from adsearch.io import read_events

        events = read_events(args.input, stop=args.n)
        sample = f"first {len(events)} events of {args.input.name}"
    else:
        from adsearch.generate import generate

        events = generate("qcd", args.n, seed=args.seed, detector="lhco", progress=False)
        sample = f"{len(events)} Pythia 8 QCD events (pTHatMin 1 TeV), LHCO-like detector, trigger"
    t_gen = time.perf_counter() - t0
    n = len(events)
    mult = ak.to_numpy(ak.num(events.particles, axis=1))
    print(f"{sample}: {np.median(mult):.0f} objects/event (median); ready in {t_gen:.1f} s")

    t_cluster, clustered = _best(lambda: cluster(events.particles, r=1.0, min_pt=20.0), args.repeat)
    two = clustered.constituents[ak.num(clustered.jets, axis=1) >= 2][:, :2]
    jets = ak.flatten(two, axis=1)
    n_const = ak.to_numpy(ak.num(jets, axis=1))
    t_nsub, _ = _best(lambda: nsubjettiness(jets, n_max=3, beta=1.0, r=1.0), args.repeat)
    t_total, feats = _best(lambda: compute_features(events, r=1.0, min_pt=20.0), args.repeat)
    tmp = args.out.parent / ".bench_features.parquet"
    t_write, _ = _best(lambda: write_features(tmp, feats), args.repeat)
    tmp.unlink(missing_ok=True)
    # end to end, as `adsearch features IN -o OUT`: read LHCO HDF5, compute, write
    src = args.input
    if src is None:
        from adsearch.io import write_lhco

        src = args.out.parent / ".bench_features_events.h5"
        write_lhco(src, events.particles, labels=events.labels)
    t_e2e, _ = _best(
        lambda: features_from_file(src, tmp, chunk_size=max(n // 4, 1), progress=False),
        args.repeat,
    )
    tmp.unlink(missing_ok=True)
    if args.input is None:
        src.unlink(missing_ok=True)

    times = {
        "cluster": t_cluster,
        "nsubjettiness": t_nsub,
        "features_total": t_total,
        "write": t_write,
        "end_to_end": t_e2e,
    }
    labels = {
        "cluster": "clustering (anti-kT R=1.0, all jets + constituents)",
        "nsubjettiness": "N-subjettiness tau1..3 of the 2 leading jets",
        "features_total": "features total (cluster + 2 jets + tau + table)",
        "write": "features file write (parquet, with constituents)",
        "end_to_end": "end to end: LHCO HDF5 -> features file (1 process)",
    }
    print(f"{'':55s} {'events/CPU-s':>12s} {'events/s wall':>14s}")
    for key, what in labels.items():
        t = times[key]
        print(f"{what:55s} {n / t['cpu']:12,.0f} {n / t['wall']:14,.0f}")
    print(f"(leading-jet constituents: median {np.median(n_const):.0f}; "
          f"N-subjettiness {2 * n / t_nsub['cpu']:,.0f} jets per CPU-s)")  # fmt: skip

    result = {
        "sample": sample,
        "n_events": n,
        "median_objects_per_event": float(np.median(mult)),
        "median_constituents_per_leading_jet": float(np.median(n_const)),
        "seconds": times,
        "events_per_cpu_s": {k: n / t["cpu"] for k, t in times.items()},
        "events_per_s_wall": {k: n / t["wall"] for k, t in times.items()},
        "n_fewer_than_two_jets": feats.n_fewer_than_two_jets,
        "repeat": args.repeat,
        "load_average_1min": os.getloadavg()[0],
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
    }
    key = "generated" if args.input is None else f"file:{args.input.name}"
    runs = {}
    if args.out.exists():
        try:
            runs = json.loads(args.out.read_text())
        except ValueError:
            runs = {}
        if "sample" in runs:  # old single-run layout
            runs = {"generated": runs}
    runs[key] = result
    with atomic_path(args.out) as tmp_json:
        tmp_json.write_text(json.dumps(runs, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
