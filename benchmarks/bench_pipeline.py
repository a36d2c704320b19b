"""Wall and CPU time of the quickstart (``adsearch run`` without a config), step by step.

Runs the built-in quickstart analysis from scratch in a fresh directory and records, per
step, the wall seconds; for the whole run the wall time, the CPU time of this process and its
children (generation and feature workers), and the load average before and after, since the
machine may be shared. Also records the physics summary (AUC, BumpHunter Z) of the run.
Results go to ``benchmarks/results/pipeline.json``.

    nice -n 10 python benchmarks/bench_pipeline.py [--out DIR] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from _common import cpu_seconds

from adsearch.io.atomic import atomic_path
from adsearch.pipeline import run_pipeline
from adsearch.pipeline.config import config_from_text
from adsearch.pipeline.defaults import QUICKSTART_YAML

RESULTS = Path(__file__).resolve().parent / "results" / "pipeline.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="run directory (default: a temp dir)")
    ap.add_argument("--set", action="append", default=[], help="config override KEY=VALUE")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="adsearch_quickstart_"))
    if (out / ".state").exists():
        sys.exit(f"{out} holds an earlier run; give an empty directory")
    cfg = config_from_text(QUICKSTART_YAML, "quickstart", overrides=args.set)
    load0 = os.getloadavg()
    w0, c0 = time.perf_counter(), cpu_seconds()
    res = run_pipeline(cfg, out, progress=False)
    wall, cpu = time.perf_counter() - w0, cpu_seconds() - c0
    load1 = os.getloadavg()
    r = res.results
    perf = r.get("performance") or {}
    data = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "python": platform.python_version(),
        "note": "shared machine: wall time depends on the load; CPU time does not",
        "overrides": args.set,
        "wall_s": wall,
        "cpu_s": cpu,
        "load_average_before": load0,
        "load_average_after": load1,
        "steps_wall_s": {s.name: s.seconds for s in res.steps},
        "n_events": r["input"]["n_events"],
        "auc_event": perf.get("auc_event"),
        "max_sic": perf.get("max_sic"),
        "bumphunt": {k: {"z_local": v.get("z_local"), "z_global": v.get("z_global"),
                         "window_mjj": v.get("window_mjj")} for k, v in r["bumphunt"].items()},
        "out": str(out),
    }  # fmt: skip
    with atomic_path(RESULTS) as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps({k: data[k] for k in ("wall_s", "cpu_s", "load_average_before",
                                            "steps_wall_s", "auc_event")}, indent=1))  # fmt: skip
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
