"""Preprocessing throughput on dask: events/s of ``features_file_dask`` with 1, 2, ... workers.

Events: the real LHCO R&D example file (first 1000 events,
``tests/data/lhco_real/events_anomalydetection_tiny.h5``) repeated to ``--n`` events in a
temporary LHCO HDF5 file (``--input`` uses another event file instead). For every worker
count a LocalCluster of that many single-threaded worker processes is started and warmed
up (imports done), then the whole file goes event file -> features Parquet
(read, anti-kT, N-subjettiness, write) through it. Reported per worker count: wall-clock
events/s, the workers' summed CPU seconds (events per CPU-second: stable on a shared
machine) and the speed-up over one worker; the outputs are checked to be byte-identical.
The single-process ``features_from_file`` is timed as the reference. With ``--scheduler
tcp://HOST:8786`` the same run goes to an existing cluster (one entry, its worker count).

    nice -n 10 python benchmarks/bench_dask.py --workers 1,2            # this machine
    python benchmarks/bench_dask.py --workers 1,4,16 --n 100000         # a 16-core node

Results go to ``benchmarks/results/dask.json`` (entries keyed by host and worker count).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from adsearch.io.atomic import atomic_path

RESULTS = Path(__file__).resolve().parent / "results" / "dask.json"
REAL = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "data"
    / "lhco_real"
    / "events_anomalydetection_tiny.h5"
)


def _make_input(path: Path, n: int) -> None:
    """``n`` events: the real example file repeated (LHCO HDF5, streamed)."""
    from adsearch.io import LHCOWriter, read_events

    ev = read_events(REAL)
    with LHCOWriter(path, with_label=True) as w:
        left = n
        while left > 0:
            k = min(left, len(ev))
            w.append(ev.particles[:k], ev.labels[:k])
            left -= k


def _worker_cpu() -> float:
    import psutil

    t = psutil.Process().cpu_times()
    return t.user + t.system


def _warm() -> bool:
    import adsearch.io
    import adsearch.jets  # noqa: F401  (fastjet, vector, pyarrow)

    return True


def _run(client, src: Path, out: Path, chunk: int) -> dict[str, float]:
    from adsearch.distributed import features_file_dask

    client.run(_warm)
    c0 = sum(client.run(_worker_cpu).values())
    t0 = time.perf_counter()
    s = features_file_dask(src, out, client, chunk_size=chunk, progress=False)
    wall = time.perf_counter() - t0
    cpu = sum(client.run(_worker_cpu).values()) - c0
    return {
        "events": s.n_input,
        "wall_s": wall,
        "events_per_s": s.n_input / wall,
        "worker_cpu_s": cpu,
        "events_per_cpu_s": s.n_input / cpu if cpu > 0 else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    from adsearch.distributed import dask_client
    from adsearch.jets import features_from_file

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--n", type=int, default=8000, help="events (real file repeated)")
    ap.add_argument("--input", type=Path, default=None, help="event file instead")
    ap.add_argument("--chunk-size", type=int, default=500, help="events per task")
    ap.add_argument("--scheduler", default=None, help="scheduler address (else LocalCluster)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON output")
    args = ap.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",") if w.strip()]

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        if args.input is not None:
            src = args.input
        else:
            src = d / "events.h5"
            _make_input(src, args.n)
        t0, c0 = time.perf_counter(), time.process_time()
        features_from_file(src, d / "ref.parquet", chunk_size=args.chunk_size, progress=False)
        ref_wall, ref_cpu = time.perf_counter() - t0, time.process_time() - c0
        from adsearch.io import num_events

        n = num_events(src)
        ref = {
            "events": n,
            "wall_s": ref_wall,
            "events_per_s": n / ref_wall,
            "events_per_cpu_s": n / ref_cpu,
        }
        print(f"single process: {n / ref_wall:,.0f} events/s ({n / ref_cpu:,.0f} per CPU-s)")
        runs: dict[str, dict] = {}
        specs = [args.scheduler] if args.scheduler else [f"local:{w}" for w in workers]
        for spec in specs:
            with dask_client(spec) as client:
                nw = len(client.nthreads())
                r = _run(client, src, d / f"dask{nw}.parquet", args.chunk_size)
            same = (d / f"dask{nw}.parquet").read_bytes() == (d / "ref.parquet").read_bytes()
            r["identical_to_single_process"] = same
            runs[str(nw)] = r
            print(
                f"{nw:3d} worker(s): {r['events_per_s']:,.0f} events/s wall, "
                f"{r['events_per_cpu_s']:,.0f} per worker CPU-s, identical output: {same}"
            )
        base = runs.get("1")
        for r in runs.values():
            if base:
                r["speedup_wall_vs_1_worker"] = r["events_per_s"] / base["events_per_s"]

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    entry = {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "load_avg_1min": load,
        "input": str(args.input or f"real LHCO example x{args.n // 1000}"),
        "chunk_size": args.chunk_size,
        "single_process": ref,
        "dask": runs,
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    data = json.loads(args.out.read_text()) if args.out.is_file() else {}
    data[f"{platform.node()}:{os.cpu_count()}cpu"] = entry
    with atomic_path(args.out) as t:
        t.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {args.out} (load average {load})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
