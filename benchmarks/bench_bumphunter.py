"""BumpHunter speed and agreement: adsearch.stats.bumphunter vs pyBumpHunter, side by side.

One histogram (60 log-spaced bins over 2.5-6 TeV, a dijet-function background with a small
bump at 3.5 TeV), 5 window widths (2-6 bins), 1e4 background-only toys, at two statistics:
1e5 events (LHCO-like: 1M events after a 10 % score working point) and 1e7 events (our
look-up-table fast path slows down with the count range per window, pyBumpHunter does not):

1. pyBumpHunter ``BumpHunter1D.bump_scan`` (fixed background, no refit), timed with
   ``nworker=1`` and with its default ``nworker=4`` threads;
2. ours without refit on pyBumpHunter's own toys (same ``RandomState`` stream): the test
   statistics must be identical; and on our own seeded toys (same global p-value within its
   binomial uncertainty); timed including toy generation;
3. ours with the background refitted on every toy (batched Fisher scoring).

Prints the figures and writes ``benchmarks/results/bumphunter.json``.

    nice -n 10 python benchmarks/bench_bumphunter.py
    python benchmarks/bench_bumphunter.py --toys 2000     # quicker
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from adsearch.io.atomic import atomic_path
from adsearch.stats.binning import Histogram
from adsearch.stats.bumphunter import BumpHunterConfig, bumphunt, bumphunt_hist
from adsearch.stats.fit import BinnedModel, FitConfig, gaussian_template
from adsearch.stats.spectrum import fit_spectrum

RESULTS = Path(__file__).parent / "results" / "bumphunter.json"


def best_of(fn, repeat: int) -> tuple[float, object]:
    """Smallest wall time of ``repeat`` calls (the machine is shared) and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def run_case(args: argparse.Namespace, n_events: float) -> dict:
    """Time and compare both implementations on one spectrum of ``n_events`` events."""
    from pyBumpHunter import BumpHunter1D

    edges = np.geomspace(2500.0, 6000.0, args.bins + 1)
    model = BinnedModel(edges, "dijet", 4)
    truth = model.theta_from_params([1.0, 8.0, -6.0, 0.1])
    truth[0] += np.log(n_events / model.expected(truth).sum())
    rng = np.random.default_rng(args.seed)
    sig = 0.3 * np.sqrt(n_events) * gaussian_template(edges, 3500.0, 175.0)
    counts = rng.poisson(model.expected(truth) + sig).astype(float)
    fit = fit_spectrum(Histogram(edges, counts), FitConfig())
    bkg = fit.expected
    widths = [2, 3, 4, 5, 6]
    cfg = BumpHunterConfig(widths=widths, n_toys=args.toys, seed=args.seed, refit=False)

    # 1. pyBumpHunter (prints progress: silenced)
    def run_pbh(nworker: int):
        bh = BumpHunter1D(
            width_min=2,
            width_max=6,
            width_step=1,
            scan_step=1,
            npe=args.toys,
            nworker=nworker,
            seed=args.seed,
        )
        with contextlib.redirect_stdout(io.StringIO()):
            bh.bump_scan(counts, bkg, is_hist=True)
        return bh

    t_pbh1, pbh = best_of(lambda: run_pbh(1), 1)
    t_pbh4, _ = best_of(lambda: run_pbh(4), 1)

    # 2. ours, no refit: on pyBumpHunter's toys (exact comparison) and on our own toys (timed)
    pbh_toys = (
        np.random.RandomState(args.seed).poisson(lam=bkg[:, None], size=(bkg.size, args.toys)).T
    )
    t_same, same = best_of(
        lambda: bumphunt_hist(counts, bkg, cfg, edges, toys=pbh_toys), args.repeat
    )
    t_ours, ours = best_of(lambda: bumphunt_hist(counts, bkg, cfg, edges), args.repeat)
    max_dt = float(np.max(np.abs(same.t_toys - pbh.t_ar[1:])))
    p_err = float(
        np.sqrt(max(pbh.global_Pval * (1 - pbh.global_Pval), 1.0 / args.toys) / args.toys)
    )

    # 3. ours with the background refitted on every toy
    cfg_refit = BumpHunterConfig(widths=widths, n_toys=args.toys, seed=args.seed, refit=True)
    t_refit, refit = best_of(lambda: bumphunt(fit, cfg_refit), args.repeat)

    res = {
        "events": n_events,
        "fit_npar": fit.npar,
        "pybumphunter_s": {"nworker_1": t_pbh1, "nworker_4": t_pbh4},
        "ours_norefit_s": t_ours,
        "ours_norefit_given_toys_s": t_same,
        "speedup_vs_pybumphunter_nworker1": t_pbh1 / t_ours,
        "speedup_vs_pybumphunter_nworker4": t_pbh4 / t_ours,
        "agreement": {
            "same_toys_max_abs_dt": max_dt,
            "same_toys_global_p": [same.global_p, float(pbh.global_Pval)],
            "t_obs": [same.t_obs, float(pbh.t_ar[0])],
            "window_lo_bin_width": [
                [same.window_lo_bin, same.window_width],
                [int(pbh.min_loc_ar[0]), int(pbh.min_width_ar[0])],
            ],
            "own_toys_global_p": ours.global_p,
            "own_toys_global_p_diff_in_binomial_sigma": abs(ours.global_p - pbh.global_Pval)
            / p_err,
        },
        "ours_refit_s": t_refit,
        "refit": {
            "global_p": refit.global_p,
            "z_global": refit.z_global,
            "n_toys_failed": refit.n_toys_failed,
            "mean_t_refit": float(refit.t_toys.mean()),
            "mean_t_norefit": float(ours.t_toys.mean()),
        },
        "data": {"z_local": ours.z_local, "window_mjj": list(ours.window_mjj)},
    }
    print(
        f"{n_events:.0e} events: pyBumpHunter {t_pbh1:.2f} s (nworker=1), "
        f"{t_pbh4:.2f} s (nworker=4)"
    )
    print(
        f"ours, no refit: {1e3 * t_ours:.1f} ms incl. toy generation "
        f"({1e3 * t_same:.1f} ms on given toys): {t_pbh1 / t_ours:.0f}x / {t_pbh4 / t_ours:.0f}x"
    )
    print(
        f"agreement on pyBumpHunter's toys: max |dt| = {max_dt:.1e}, global p "
        f"{same.global_p:.4f} vs {pbh.global_Pval:.4f}; own toys p = {ours.global_p:.4f}"
    )
    print(
        f"ours with refit: {t_refit:.2f} s for {args.toys} toys "
        f"({refit.n_toys_failed} failed), global p = {refit.global_p:.4f}"
    )
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--toys", type=int, default=10_000)
    ap.add_argument("--bins", type=int, default=60)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--events", type=float, nargs="+", default=[1e5, 1e7])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from pyBumpHunter.version import __version__ as pbh_version

    cases = [run_case(args, n_events) for n_events in args.events]
    res = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pyBumpHunter": pbh_version,
            "loadavg_1min": os.getloadavg()[0],
        },
        "setup": {
            "bins": args.bins,
            "widths": [2, 3, 4, 5, 6],
            "toys": args.toys,
            "timing": f"best of {args.repeat} for ours, 1 run for pyBumpHunter",
        },
        "cases": cases,
    }
    with atomic_path(RESULTS) as tmp:
        tmp.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
