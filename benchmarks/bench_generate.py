"""Speed of event generation: events/s per worker, 1 -> 2 worker scaling, vs raw Pythia.

For QCD (HardQCD, pTHatMin 1 TeV, MPI on) and the W' 2-prong signal (MPI off), measured in
one run on the same machine:

* raw ``next()``: a plain ``pythia.next()`` loop (no particle access) -- the reference;
* raw ``nextBatch``: ``pythia.nextBatch(n)`` (events as awkward arrays), no processing;
* ``adsearch.generate`` with 1 worker, truth level and with the LHCO-like detector; its
  per-worker rate is Pythia events per second of worker busy time (Pythia + truth
  extraction + detector + trigger clustering; start-up excluded), with the time per stage;
* 2 workers (detector on): wall-clock Pythia events/s including worker start-up, and the
  steady-state per-worker rate.

Results go to ``benchmarks/results/generate.json``. The machine is shared (2 cores, other
jobs running), so run it niced and with modest counts:

    nice -n 10 python benchmarks/bench_generate.py [--qcd 150] [--signal 1500]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from adsearch.generate import generate_with_summary, get_process
from adsearch.generate.truth import make_pythia
from adsearch.io.atomic import atomic_path

RESULTS = Path(__file__).resolve().parent / "results" / "generate.json"


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.thread_time()


def raw_rates(process: str, n: int, seed: int) -> dict[str, float]:
    """Pythia events per wall / CPU second of a bare next() loop and of nextBatch(n)."""
    pythia = make_pythia(get_process(process).pythia_settings(), seed)
    pythia.nextBatch(5)  # warm-up (first-event lazy initialisations)
    w0, c0 = _clock()
    for _ in range(n):
        pythia.next()
    w1, c1 = _clock()
    batch = pythia.nextBatch(n)
    w2, c2 = _clock()
    return {
        "n": n,
        "next_wall": n / (w1 - w0),
        "next_cpu": n / (c1 - c0),
        "nextBatch_wall": len(batch) / (w2 - w1),
        "nextBatch_cpu": len(batch) / (c2 - c1),
    }


def best_raw(process: str, n: int, seed: int, repeat: int = 2) -> dict[str, float]:
    """Best of ``repeat`` raw measurements (the reference should be Pythia at its fastest)."""
    runs = [raw_rates(process, n, seed + i) for i in range(repeat)]
    return {k: max(r[k] for r in runs) for k in runs[0]}


def pipeline(process: str, n: int, seed: int, workers: int, detector: str) -> dict:
    _, s = generate_with_summary(
        process, n, seed=seed, workers=workers, detector=detector, progress=False
    )
    cpu = sum(s.stage_cpu_seconds.values())
    return {
        "workers": workers,
        "detector": detector,
        "n_events": s.n_events,
        "n_pythia_events": s.n_pythia_events,
        "trigger_efficiency": s.trigger_efficiency,
        "wall_seconds": s.seconds,
        "wall_pythia_events_per_s": s.n_pythia_events / s.seconds,
        "wall_triggered_events_per_s": s.events_per_second,
        "per_worker_pythia_events_per_wall_s": s.per_worker_rate,
        "per_worker_pythia_events_per_cpu_s": s.per_worker_cpu_rate,
        "stage_cpu_fraction": {k: v / cpu for k, v in s.stage_cpu_seconds.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qcd", type=int, default=150, help="triggered QCD events per worker")
    ap.add_argument("--signal", type=int, default=1500, help="triggered W' events per worker")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    results: dict = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "python": sys.version.split()[0],
        "note": "shared 2-core machine with other jobs running; run niced",
        "processes": {},
    }
    for process, n in (("qcd", args.qcd), ("wprime-2prong", args.signal)):
        n_raw = max(200, int(n))
        raw = best_raw(process, n_raw, args.seed)
        truth = pipeline(process, n, args.seed, 1, "none")
        det1 = pipeline(process, n, args.seed, 1, "lhco")
        det2 = pipeline(process, 2 * n, args.seed, 2, "lhco")
        cpu = "per_worker_pythia_events_per_cpu_s"
        wall = "wall_pythia_events_per_s"
        r = {
            "raw": raw,
            "workers1_truth": truth,
            "workers1_detector": det1,
            "workers2_detector": det2,
            "per_worker_cpu_vs_raw_next_cpu": {
                "truth": truth[cpu] / raw["next_cpu"],
                "detector": det1[cpu] / raw["next_cpu"],
                "detector_2_workers": det2[cpu] / raw["next_cpu"],
                "pythia_stage_only": det1["n_pythia_events"]
                / (det1["n_pythia_events"] / det1[cpu] * det1["stage_cpu_fraction"]["pythia"])
                / raw["next_cpu"],
            },
            "per_worker_cpu_vs_raw_nextBatch_cpu": {
                "truth": truth[cpu] / raw["nextBatch_cpu"],
                "detector": det1[cpu] / raw["nextBatch_cpu"],
            },
            "scaling_1_to_2_workers": {
                "wall": det2[wall] / det1[wall],
                "cpu_per_worker_ratio": det2[cpu] / det1[cpu],
                # what 2 free cores would give: two workers at their measured CPU rate
                "expected_on_free_cores": 2 * det2[cpu] / det1[cpu],
            },
        }
        results["processes"][process] = r
        v = r["per_worker_cpu_vs_raw_next_cpu"]
        sc = r["scaling_1_to_2_workers"]
        print(
            f"{process}: raw next() {raw['next_cpu']:.0f} ev/CPU-s "
            f"({raw['next_wall']:.0f} ev/s wall), nextBatch {raw['nextBatch_cpu']:.0f} ev/CPU-s"
        )
        print(
            f"  1 worker: truth {truth[cpu]:.0f} ev/CPU-s ({100 * v['truth']:.0f} % of next()), "
            f"detector {det1[cpu]:.0f} ev/CPU-s ({100 * v['detector']:.0f} %); Pythia stage "
            f"alone {100 * v['pythia_stage_only']:.0f} % of next()"
        )
        print(
            f"  2 workers: {det2[wall]:.0f} Pythia ev/s wall vs {det1[wall]:.0f} with 1 "
            f"(x{sc['wall']:.2f}, start-up included); per-worker CPU rate "
            f"x{sc['cpu_per_worker_ratio']:.2f} of 1 worker's (x{sc['expected_on_free_cores']:.2f}"
            " expected on 2 free cores)"
        )
        frac = ", ".join(f"{k} {100 * f:.0f} %" for k, f in det1["stage_cpu_fraction"].items())
        print(f"  CPU time per stage (1 worker, detector): {frac}")
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
