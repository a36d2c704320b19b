"""Streaming-read speed and memory of the LHCO reader on a full-size (1.1M-event) file.

Builds an LHCO-layout file (blosc, 2101 columns) under /tmp by repeating a pool of random
but LHCO-like events (objects/event: median ~166, q10 ~98, q90 ~250, like the real R&D
file; float32 values stored as float64 like the real files) through ``LHCOWriter``, then
reads it back with ``iter_lhco`` in a fresh subprocess (clean peak-RSS figure), and splits
the time into HDF5 read + blosc decompression (``read_direct`` alone) and the conversion to
awkward. Prints the figures, writes ``benchmarks/results/read.json``, deletes the big file.

    nice -n 10 python benchmarks/bench_read.py                 # 1.1M events (~3 GB file)
    python benchmarks/bench_read.py --events 100000            # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import awkward as ak
import numpy as np

from adsearch.io import lhco
from adsearch.io.atomic import atomic_path
from adsearch.io.events import make_particles
from adsearch.io.lhco import LHCOWriter, iter_lhco, open_values

RESULTS = Path(__file__).parent / "results" / "read.json"


def event_pool(n: int, seed: int) -> tuple[ak.Array, np.ndarray]:
    """``n`` LHCO-like events: log-normal multiplicity around 166, soft pT with a hard tail."""
    rng = np.random.default_rng(seed)
    counts = np.clip(np.rint(rng.lognormal(np.log(166.0), 0.37, n)), 5, 700).astype(np.int64)
    total = int(counts.sum())
    pt = rng.exponential(4.0, total) + 0.2
    hard = rng.random(total) < 0.02
    pt[hard] = rng.exponential(150.0, int(hard.sum())) + 20.0
    eta = np.clip(rng.normal(0.0, 1.8, total), -4.99, 4.99)
    phi = rng.uniform(-np.pi, np.pi, total)
    pt, eta, phi = (x.astype(np.float32).astype(np.float64) for x in (pt, eta, phi))
    particles = make_particles(
        ak.unflatten(pt, counts), ak.unflatten(eta, counts), ak.unflatten(phi, counts)
    )
    labels = (rng.random(n) < 100_000 / 1_100_000).astype(np.int8)
    return particles, labels


def build(path: Path, n_events: int, pool: int, chunk_rows: int, compression: str) -> float:
    particles, labels = event_pool(pool, seed=1)
    t0 = time.perf_counter()
    with LHCOWriter(path, with_label=True, chunk_rows=chunk_rows, compression=compression) as w:
        done = 0
        while done < n_events:
            k = min(pool, n_events - done)
            w.append(particles[:k], labels[:k])
            done += k
    return time.perf_counter() - t0


def read_child(path: str, chunk_size: int, raw_events: int) -> dict:
    """Run in a subprocess: stream the whole file, then time raw HDF5 reads alone."""

    def cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime

    load0 = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), cpu()
    n = n_obj = 0
    for ev in iter_lhco(path, chunk_size=chunk_size):
        n += len(ev)
        n_obj += int(ak.sum(ak.num(ev.particles, axis=1)))
    t_read, c_read = time.perf_counter() - t0, cpu() - c0
    rss_stream = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB -> MB
    load1 = os.getloadavg()[0]
    # Profile split on the first raw_events rows, in CPU seconds of this process (the wall
    # clock of a shared machine mostly measures the other processes): HDF5 + blosc alone
    # (read_direct into one buffer) vs the full reader with and without validation.
    with open_values(path) as dset:
        buf = np.empty((1024, dset.shape[1]))
        m = min(raw_events, dset.shape[0])
        c0 = cpu()
        for b0 in range(0, m, 1024):
            b1 = min(b0 + 1024, m)
            dset.read_direct(buf[: b1 - b0], np.s_[b0:b1], np.s_[0 : b1 - b0])
        t_raw = cpu() - c0
    c0 = cpu()
    for _ in iter_lhco(path, 0, m, chunk_size=chunk_size):
        pass
    t_full = cpu() - c0
    c0 = cpu()
    for _ in iter_lhco(path, 0, m, chunk_size=chunk_size, validate=False):
        pass
    t_noval = cpu() - c0
    # Read-ahead thread on/off (wall clock: the thread only helps with a free core).
    modes = {}
    for prefetch in (False, True):
        lhco._PREFETCH = prefetch
        t0 = time.perf_counter()
        for _ in iter_lhco(path, 0, m, chunk_size=chunk_size):
            pass
        modes["prefetch" if prefetch else "serial"] = m / (time.perf_counter() - t0)
    lhco._PREFETCH = True
    return {
        "events": n,
        "objects": n_obj,
        "seconds": t_read,
        "events_per_s": n / t_read,
        "cpu_seconds": c_read,
        "events_per_cpu_s": n / c_read,
        "load_average_1min": [load0, load1],
        "peak_rss_mb": rss_stream,
        "profile_events": m,
        "profile_hdf5_blosc_cpu_s": t_raw,
        "profile_full_reader_cpu_s": t_full,
        "profile_reader_no_validation_cpu_s": t_noval,
        "profile_events_per_s_serial": modes["serial"],
        "profile_events_per_s_prefetch": modes["prefetch"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_100_000, help="events in the test file")
    ap.add_argument("--pool", type=int, default=4096, help="distinct events repeated")
    ap.add_argument("--chunk-size", type=int, default=100_000, help="iter_lhco chunk_size")
    ap.add_argument("--chunk-rows", type=int, default=64, help="rows per HDF5 chunk")
    ap.add_argument("--compression", default="blosclz", help="blosc compressor")
    ap.add_argument("--profile-events", type=int, default=200_000, help="events for the split")
    ap.add_argument("--dir", default=tempfile.gettempdir(), help="where the big file goes")
    ap.add_argument("--no-json", action="store_true", help="do not write results/read.json")
    ap.add_argument("--child", nargs=3, metavar=("PATH", "CHUNK", "RAW"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        res = read_child(args.child[0], int(args.child[1]), int(args.child[2]))
        print(json.dumps(res))
        return 0

    path = Path(args.dir) / f"adsearch_bench_read_{os.getpid()}.h5"
    try:
        t_write = build(path, args.events, args.pool, args.chunk_rows, args.compression)
        size_gb = path.stat().st_size / 1e9
        print(
            f"wrote {args.events:,} events in {t_write:.1f} s "
            f"({args.events / t_write:,.0f} ev/s), {size_gb:.2f} GB"
        )
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                str(path),
                str(args.chunk_size),
                str(args.profile_events),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        res = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        path.unlink(missing_ok=True)

    pe = res["profile_events"]
    res.update(
        {
            "file_events": args.events,
            "file_gb": round(size_gb, 3),
            "chunk_rows": args.chunk_rows,
            "compression": args.compression,
            "chunk_size": args.chunk_size,
            "write_s": t_write,
            "write_events_per_s": args.events / t_write,
            "profile_hdf5_blosc_fraction": res["profile_hdf5_blosc_cpu_s"]
            / res["profile_full_reader_cpu_s"],
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        }
    )
    print(
        f"read  {res['events']:,} events in {res['seconds']:.1f} s: "
        f"{res['events_per_s']:,.0f} events/s, peak RSS {res['peak_rss_mb']:,.0f} MB"
    )
    print(
        f"      {res['cpu_seconds']:.1f} CPU s: {res['events_per_cpu_s']:,.0f} events per "
        f"CPU second; load average {res['load_average_1min'][0]:.1f} -> "
        f"{res['load_average_1min'][1]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"CPU split on {pe:,} events: HDF5+blosc {res['profile_hdf5_blosc_cpu_s']:.2f} s, "
        f"full reader {res['profile_full_reader_cpu_s']:.2f} s (without validation "
        f"{res['profile_reader_no_validation_cpu_s']:.2f} s)"
    )
    print(
        f"read-ahead thread: serial {res['profile_events_per_s_serial']:,.0f} events/s, "
        f"prefetch {res['profile_events_per_s_prefetch']:,.0f} events/s (wall, {pe:,} events)"
    )
    if not args.no_json:
        with atomic_path(RESULTS) as tmp:
            tmp.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
