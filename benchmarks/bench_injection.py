"""Signal-injection scan: BumpHunter significance vs injected W' events, with and without a cut.

A **semi-toy** study (1M generated QCD events would take ~2 h of Pythia here):

* background: the dijet function (:func:`adsearch.stats.spectrum.fit_spectrum`, parameters by
  Wilks) fitted to the mjj spectrum of the generated QCD events of the features file
  (30k events by default) is scaled to ``--n-bkg`` (1M) triggered events and each
  pseudo-dataset draws Poisson counts from it (the same as drawing unbinned mjj from the
  fitted shape and histogramming). The background therefore *is* a dijet function: the
  study tests sensitivity, not fit-function mismodelling at 1M-event precision.
* anomaly-score cut: a working point with background efficiency ``eps_B`` (threshold = the
  ``1 - eps_B`` quantile of the QCD test-split event scores of a model trained by
  ``bench_auc.py``); the background after the cut is ``eps_B`` times the fitted shape, which
  assumes score/mjj independence for QCD. That assumption is *checked* on the generated
  events: KS test and binned ratio of the QCD mjj after vs before the cut.
* signal: ``n_inj`` W' events (all triggered events; LHCO's "1000 in 1M" convention) with mjj
  resampled from the generated W' events; with the cut each event passes with the measured
  signal efficiency ``eps_S`` and its mjj is resampled from the passing test-split signal
  events (so score/mjj correlations of the signal are kept).

For every injection and pseudo-dataset, BumpHunter (:func:`adsearch.stats.bumphunter.bumphunt`,
refit on every toy) gives the local significance at the signal mass (the most significant
window containing 3.5 TeV) and the global significance of the most significant window
anywhere. The background fit is blinded in 3.3–3.7 TeV (the LHCO signal region, known a
priori here; the toys are refitted the same way) — ``--no-blind`` fits the whole range.
Global p-values beyond the toys' reach (no toy with ``t >= t_obs``) are extrapolated with a
trials factor fitted to the toys (``p_glob = 1 - (1 - p_loc)^N_eff``) and marked as such.

    nice -n 10 python benchmarks/bench_injection.py --model auto --signal 2prong
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from adsearch.io.atomic import atomic_path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SIGNAL_FILES = {"2prong": "rnd2.parquet", "3prong": "rnd3.parquet"}
UNSUPERVISED = ["egat-deepsvdd", "gin-deepsvdd", "transformer-ae"]


def choose_model(name: str, signal: str, work_dir: Path) -> str:
    """``auto``: the unsupervised model with the largest max SIC in ``results/auc.json``."""
    if name != "auto":
        return name
    auc = RESULTS / "auc.json"
    best, best_sic = None, -1.0
    if auc.exists():
        r = json.loads(auc.read_text()).get("models", {})
        for m in UNSUPERVISED:
            x = r.get(m, {}).get(signal)
            if x and (work_dir / f"{m}_{signal}.npz").exists() and x["max_sic"] > best_sic:
                best, best_sic = m, x["max_sic"]
    if best is None:
        raise SystemExit("error: no unsupervised bench_auc.py scores found; run it first")
    return best


def trials_neff(t_toys: np.ndarray) -> float:
    """Effective number of independent windows from the toys' median ``t`` (min local p)."""
    p_med = np.exp(-np.median(t_toys))
    return float(np.log(0.5) / np.log1p(-p_med))


def global_z(bh: Any, neff: float) -> tuple[float, float, bool]:
    """(global p, global Z, extrapolated?) of a BumpHunter result."""
    if not bh.global_p_is_bound:
        return bh.global_p, bh.z_global, False
    p = float(-np.expm1(neff * np.log1p(-bh.p_local_min)))  # 1 - (1 - p_loc)^N_eff
    return p, float(stats.norm.isf(max(p, 1e-300))), True


def efficiency_slope(mjj: np.ndarray, passed: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Per-bin QCD cut efficiency relative to its mean, linear in ln(mjj) (weighted LSQ fit).

    A smooth model of the measured score/mjj dependence (too few generated events after a
    tight cut for a per-bin efficiency); returns the factor per bin of ``edges``.
    """
    ha, _ = np.histogram(mjj, edges)
    hb, _ = np.histogram(mjj[passed], edges)
    ok = ha > 0
    e0 = hb.sum() / max(ha.sum(), 1)
    x = np.log(np.sqrt(edges[:-1] * edges[1:]) / 3500.0)
    w = ha[ok] / max(e0 * (1 - e0), 1e-12)  # inverse binomial variance of eff per bin
    a = np.vstack([np.ones(ok.sum()), x[ok]]).T
    coef = np.linalg.lstsq(a * np.sqrt(w)[:, None], (hb[ok] / ha[ok]) * np.sqrt(w), rcond=None)[0]
    return np.clip((coef[0] + coef[1] * x) / e0, 0.0, None)


def sculpting_check(mjj: np.ndarray, passed: np.ndarray, edges: np.ndarray) -> dict[str, Any]:
    """QCD mjj shape after vs before the cut: KS p-value and binned ratio (chi2 vs flat)."""
    inr = (mjj >= edges[0]) & (mjj < edges[-1])
    a, b = mjj[inr], mjj[inr & passed]
    ks = stats.ks_2samp(b, a[~passed[inr]]) if 0 < len(b) < len(a) else None
    ha, _ = np.histogram(a, edges)
    hb, _ = np.histogram(b, edges)
    ok = ha > 0
    eff = hb[ok] / ha[ok]
    err = np.sqrt(np.maximum(hb[ok], 1)) / ha[ok]
    e0 = hb.sum() / ha.sum()
    chi2 = float(np.sum(((eff - e0) / err) ** 2))
    # ratio in the SR vs outside
    sr = (a >= 3300) & (a < 3700)
    psr = passed[inr][sr].mean() if sr.any() else float("nan")
    pout = passed[inr][~sr].mean()
    return {
        "ks_p_pass_vs_fail": float(ks.pvalue) if ks else float("nan"),
        "eps_b_in_range": float(e0),
        "eps_b_sr": float(psr),
        "eps_b_outside_sr": float(pout),
        "eps_b_sr_over_outside": float(psr / pout) if pout > 0 else float("nan"),
        "ratio_per_bin": (eff / e0).tolist(),
        "linear_ln_mjj_factor_per_bin": efficiency_slope(a, passed[inr], edges).tolist(),
        "chi2_flat": chi2,
        "ndf": int(ok.sum() - 1),
        "chi2_p": float(stats.chi2.sf(chi2, ok.sum() - 1)),
        "n_before": len(a),
        "n_after": len(b),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("scratch/data"))
    ap.add_argument(
        "--work-dir",
        type=Path,
        default=Path("scratch/bench_auc"),
        help="bench_auc.py work dir holding <model>_<signal>.npz test scores",
    )
    ap.add_argument("--model", default="auto", help="model name or 'auto' (best unsup. SIC)")
    ap.add_argument("--signal", default="2prong", choices=list(SIGNAL_FILES))
    ap.add_argument("--injections", default="0,300,600,1000,3000")
    ap.add_argument("--n-bkg", type=int, default=1_000_000, help="background events (total)")
    ap.add_argument(
        "--sb-at-1000",
        type=float,
        default=None,
        help="instead of --n-bkg: scale the background so that S/B in 3.3-3.7 TeV "
        "at 1000 injected signal events is this (LHCO R&D: 0.006)",
    )
    ap.add_argument("--tag", default="", help="suffix of the output names (injection<tag>.*)")
    ap.add_argument("--eps-b", default="0.1,0.01", help="working points (QCD efficiency)")
    ap.add_argument("--n-pseudo", type=int, default=20, help="pseudo-datasets per injection")
    ap.add_argument("--n-pseudo-null", type=int, default=100, help="... at 0 injected")
    ap.add_argument("--n-toys", type=int, default=2000, help="BumpHunter toys (refit)")
    ap.add_argument("--mjj-range", default="2800,6000")
    ap.add_argument(
        "--sculpting",
        choices=["independent", "measured"],
        default="measured",
        help="background after the cut: eps_B x fitted shape (independence), or "
        "x the measured QCD efficiency, linear in ln mjj",
    )
    ap.add_argument(
        "--npar",
        type=int,
        default=None,
        help="dijet parameters of the pseudo-data fits (default: Wilks' test)",
    )
    ap.add_argument(
        "--hypothetical",
        default="0.5:0.01,0.3:0.001",
        help="extra taggers 'eps_S:eps_B,...' (no model; independent of mjj): what the goal needs",
    )
    ap.add_argument("--blind", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--results-dir", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    from adsearch.stats.binning import Histogram, histogram, log_bins
    from adsearch.stats.bumphunter import BumpHunterConfig, bumphunt
    from adsearch.stats.fit import FitConfig
    from adsearch.stats.io import read_columns
    from adsearch.stats.spectrum import fit_spectrum

    t_start = time.perf_counter()
    model = choose_model(args.model, args.signal, args.work_dir)
    z = np.load(args.work_dir / f"{model}_{args.signal}.npz")
    score, label, mjj_test = z["score"], z["label"].astype(bool), z["mjj"]
    cols = read_columns(args.data_dir / SIGNAL_FILES[args.signal], ["mjj", "label"])
    mjj_all, lab_all = cols["mjj"], cols["label"].astype(bool)
    lo, hi = (float(v) for v in args.mjj_range.split(","))
    edges = log_bins(lo, hi, 0.05)
    qcd = mjj_all[~lab_all]
    in_range = (qcd >= lo) & (qcd < hi)
    f_range = float(in_range.mean())
    h_qcd = histogram(qcd, edges)
    base_fit = fit_spectrum(h_qcd, FitConfig())
    shape = base_fit.expected / base_fit.expected.sum()
    sig_all = mjj_all[lab_all]
    sig_in_sr = float(np.mean((sig_all >= 3300) & (sig_all < 3700)))
    qcd_sr = float(np.mean((qcd >= 3300) & (qcd < 3700)))
    if args.sb_at_1000 is not None:  # background size giving the LHCO S/B at 1000 injected
        args.n_bkg = round(1000 * sig_in_sr / args.sb_at_1000 / qcd_sr)
    n_bkg_range = args.n_bkg * f_range
    print(
        f"model {model} ({args.signal}); QCD fit: dijet npar {base_fit.npar}, "
        f"p = {base_fit.p_value:.3f}; {f_range:.3f} of QCD in {lo:g}-{hi:g} GeV",
        flush=True,
    )

    # working points
    qs, ss = score[~label], score[label]
    wps: list[dict[str, Any]] = [{"name": "no cut", "eps_b": 1.0, "eps_s": 1.0, "thr": None}]
    for e in (float(v) for v in args.eps_b.split(",") if v):
        thr = float(np.quantile(qs, 1 - e))
        wp = {
            "name": f"eps_B = {e:g}",
            "eps_b": float(np.mean(qs > thr)),
            "eps_s": float(np.mean(ss > thr)),
            "thr": thr,
        }
        wp["sculpting"] = sculpting_check(mjj_test[~label], qs > thr, edges)
        wps.append(wp)
        sc = wp["sculpting"]
        print(
            f"{wp['name']}: eps_S {wp['eps_s']:.3f}, KS p {sc['ks_p_pass_vs_fail']:.3g}, "
            f"chi2/ndf {sc['chi2_flat']:.1f}/{sc['ndf']}, eps_B SR/outside "
            f"{sc['eps_b_sr_over_outside']:.2f}",
            flush=True,
        )
    for h in (v for v in args.hypothetical.split(",") if v):
        e_s, e_b = (float(x) for x in h.split(":"))
        wps.append(
            {"name": f"hypothetical {e_s:g}/{e_b:g}", "eps_b": e_b, "eps_s": e_s, "thr": None}
        )
    b_sr = args.n_bkg * qcd_sr  # QCD events in 3.3-3.7 TeV
    sb_1000 = 1000 * sig_in_sr / b_sr

    injections = [int(v) for v in args.injections.split(",")]
    fcfg = FitConfig(npar=args.npar, blind=(3300.0, 3700.0) if args.blind else None)
    out: dict[str, Any] = {}
    for wi, wp in enumerate(wps):
        # no cut, or a hypothetical tagger independent of mjj
        pool = sig_all if wp["thr"] is None else mjj_test[label & (score > wp["thr"])]
        b_exp = n_bkg_range * wp["eps_b"] * shape
        if wp["thr"] is not None and args.sculpting == "measured":
            f = np.asarray(wp["sculpting"]["linear_ln_mjj_factor_per_bin"])
            b_exp = b_exp * f * shape.sum() / (shape * f).sum()  # same total, measured slope
        rows = []
        for ii, n_inj in enumerate(injections):
            n_ps = args.n_pseudo_null if n_inj == 0 else args.n_pseudo
            res = []
            for k in range(n_ps):
                rng = np.random.default_rng([args.seed, wi, ii, k])
                counts = rng.poisson(b_exp).astype(float)
                n_s = rng.binomial(n_inj, wp["eps_s"]) if n_inj else 0
                if n_s:
                    ms = rng.choice(pool, n_s, replace=True)
                    counts += np.histogram(ms, edges)[0]
                fit = fit_spectrum(Histogram(edges, counts), fcfg)
                bh = bumphunt(fit, BumpHunterConfig(n_toys=args.n_toys, seed=k + 1000 * ii))
                contains = (edges[bh.window_lo] <= 3500) & (
                    edges[bh.window_lo + bh.window_widths] > 3500
                )
                p_at = float(bh.p_local[contains].min())
                neff = trials_neff(bh.t_toys)
                gp, gz, extrap = global_z(bh, neff)
                res.append(
                    {
                        "z_local_at_mass": max(float(stats.norm.isf(p_at)), 0.0),
                        "z_local_max": bh.z_local,
                        "window": bh.window_mjj,
                        "global_p": gp,
                        "z_global": gz,
                        "global_extrapolated": extrap,
                        "n_eff": neff,
                        "npar": fit.npar,
                        "n_signal_passing": int(n_s),
                    }
                )
            zl = np.array([r["z_local_at_mass"] for r in res])
            zg = np.array([r["z_global"] for r in res])
            gps = np.array([r["global_p"] for r in res])
            row = {
                "n_injected": n_inj,
                "n_pseudo": n_ps,
                "z_local_median": float(np.median(zl)),
                "z_local_q16": float(np.quantile(zl, 0.16)),
                "z_local_q84": float(np.quantile(zl, 0.84)),
                "z_global_median": float(np.median(zg)),
                "z_global_q16": float(np.quantile(zg, 0.16)),
                "z_global_q84": float(np.quantile(zg, 0.84)),
                "frac_global_extrapolated": float(np.mean([r["global_extrapolated"] for r in res])),
                "frac_window_contains_3500": float(
                    np.mean([r["window"][0] <= 3500 < r["window"][1] for r in res])
                ),
                "s_over_b_sr": n_inj * wp["eps_s"] * sig_in_sr / (b_sr * wp["eps_b"]),
                "pseudo": res,
            }
            if n_inj == 0:
                row["global_p_ks_uniform_p"] = float(stats.kstest(gps, "uniform").pvalue)
                row["frac_global_p_below_0.05"] = float(np.mean(gps < 0.05))
            rows.append(row)
            print(
                f"[{time.strftime('%H:%M:%S')}] {wp['name']:>13} n_inj {n_inj:5d}: Z_loc(3.5 TeV) "
                f"{row['z_local_median']:.2f} [{row['z_local_q16']:.2f}, {row['z_local_q84']:.2f}]"
                f"  Z_glob {row['z_global_median']:.2f}",
                flush=True,
            )
        out[wp["name"]] = {k: v for k, v in wp.items()} | {"rows": rows}

    best_at_1000 = (
        max(
            (r["z_local_median"], name)
            for name, w in out.items()
            for r in w["rows"]
            if r["n_injected"] == 1000 and not name.startswith("hypothetical")
        )
        if 1000 in injections
        else (float("nan"), "")
    )
    null = {
        name: next((r for r in w["rows"] if r["n_injected"] == 0), None) for name, w in out.items()
    }
    result = {
        "study": "semi-toy: dijet fit to generated QCD scaled to n_bkg; signal resampled",
        "model": model,
        "signal": args.signal,
        "n_bkg": args.n_bkg,
        "n_bkg_from_sb_at_1000": args.sb_at_1000,
        "n_qcd_generated": int((~lab_all).sum()),
        "mjj_range": [lo, hi],
        "fraction_qcd_in_range": f_range,
        "base_fit": {"npar": base_fit.npar, "p_value": base_fit.p_value, "ndf": base_fit.ndf},
        "signal_fraction_in_sr": sig_in_sr,
        "s_over_b_sr_at_1000": sb_1000,
        "blind": args.blind,
        "sculpting": args.sculpting,
        "npar": args.npar,
        "n_toys": args.n_toys,
        "working_points": out,
        "goal_5sigma_local_at_1000": {
            "best_median_z": best_at_1000[0],
            "with": best_at_1000[1],
            "met": bool(best_at_1000[0] >= 5),
        },
        "null_test": {
            k: (
                {
                    "ks_uniform_p": v["global_p_ks_uniform_p"],
                    "frac_p_below_0.05": v["frac_global_p_below_0.05"],
                    "n": v["n_pseudo"],
                }
                if v
                else None
            )
            for k, v in null.items()
        },
        "runtime_s": time.perf_counter() - t_start,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stem = args.results_dir / f"injection{args.tag}"
    with atomic_path(stem.with_suffix(".json")) as tmp:
        Path(tmp).write_text(json.dumps(result, indent=1))
    write_md(result, stem.with_suffix(".md"))
    plot(result, stem.with_suffix(".png"))
    print(stem.with_suffix(".md").read_text())


def write_md(r: dict[str, Any], path: Path) -> None:
    sb_note = (
        f"(chosen so that S/B = {r['n_bkg_from_sb_at_1000']:.1%} at 1000 injected, as LHCO) "
        if r["n_bkg_from_sb_at_1000"]
        else ""
    )
    L = [
        "# Signal injection (semi-toy): BumpHunter significance vs injected W' events",
        "",
        f"Background: dijet fit (npar {r['base_fit']['npar']}, p = {r['base_fit']['p_value']:.2f}) "
        f"to {r['n_qcd_generated']} generated QCD events, scaled to {r['n_bkg']:,} events "
        + sb_note
        + f"({r['fraction_qcd_in_range']:.1%} in {r['mjj_range'][0]:g}–{r['mjj_range'][1]:g} "
        "GeV), Poisson pseudo-data — not generated events. Signal: W' "
        f"{r['signal']} mjj resampled from generated events ({r['signal_fraction_in_sr']:.0%} "
        f"in 3.3–3.7 TeV); S/B in 3.3–3.7 TeV at 1000 injected = {r['s_over_b_sr_at_1000']:.2%} "
        "(LHCO: ≈ 0.6 %). "
        f"Score: `{r['model']}` event score (bench_auc.py, test split). Background after the "
        + (
            "cut: fitted shape × eps_B × the measured QCD efficiency slope (linear in ln mjj). "
            if r["sculpting"] == "measured"
            else "cut: fitted shape × eps_B (score/mjj independence assumed). "
        )
        + (
            f"Dijet fit with {r['npar']} parameters, "
            if r["npar"]
            else "Dijet fit, npar by Wilks, "
        )
        + f"{'blinded in 3.3–3.7 TeV' if r['blind'] else 'unblinded'}; {r['n_toys']} refit toys "
        "per pseudo-dataset; global Z beyond the toys extrapolated with a fitted trials factor "
        "(marked `*` = fraction extrapolated).",
        "",
        "| working point | eps_S | n injected | S/B (SR) | Z local at 3.5 TeV, median [16 %, 84 %] "
        "| Z global median [16 %, 84 %] | window ∋ 3.5 TeV |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, w in r["working_points"].items():
        for row in w["rows"]:
            fx = row["frac_global_extrapolated"]
            star = f" *{fx:.0%}" if fx else ""
            L.append(
                f"| {name} | {w['eps_s']:.3f} | {row['n_injected']} ({row['n_pseudo']} ps.) | "
                f"{row['s_over_b_sr']:.2%} | {row['z_local_median']:.2f} "
                f"[{row['z_local_q16']:.2f}, {row['z_local_q84']:.2f}] | "
                f"{row['z_global_median']:.2f} [{row['z_global_q16']:.2f}, "
                f"{row['z_global_q84']:.2f}]{star} | {row['frac_window_contains_3500']:.0%} |"
            )
    L += [
        "",
        "Score/mjj independence check on the generated QCD test events (the assumption "
        "behind scaling the background by eps_B):",
        "",
        "| working point | eps_B | KS p (pass vs fail mjj) | χ²/ndf (ratio flat) | "
        "eps_B(SR) / eps_B(outside) | QCD events after cut |",
        "|---|---|---|---|---|---|",
    ]
    for name, w in r["working_points"].items():
        s = w.get("sculpting")
        if s:
            L.append(
                f"| {name} | {w['eps_b']:.3f} | {s['ks_p_pass_vs_fail']:.3g} | "
                f"{s['chi2_flat']:.1f}/{s['ndf']} (p {s['chi2_p']:.2g}) | "
                f"{s['eps_b_sr_over_outside']:.2f} | {s['n_after']} |"
            )
    g = r["goal_5sigma_local_at_1000"]
    L += [
        "",
        f"Goal >= 5σ local at 1000 injected: **{'met' if g['met'] else 'not met'}** "
        f"(best median {g['best_median_z']:.2f}σ, {g['with']}).",
        "",
    ]
    for name, v in r["null_test"].items():
        if v:
            L.append(
                f"- 0 injected, {name}: global p over {v['n']} pseudo-datasets KS-uniform p = "
                f"{v['ks_uniform_p']:.2f}, fraction with p < 0.05 = {v['frac_p_below_0.05']:.2f}"
            )
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(L) + "\n")


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for ax, key, title in (
        (axes[0], "z_local", "local Z at 3.5 TeV"),
        (axes[1], "z_global", "global Z (BumpHunter)"),
    ):
        for name, w in r["working_points"].items():
            x = np.array([row["n_injected"] for row in w["rows"]], float)
            med = np.array([row[f"{key}_median"] for row in w["rows"]])
            q16 = np.array([row[f"{key}_q16"] for row in w["rows"]])
            q84 = np.array([row[f"{key}_q84"] for row in w["rows"]])
            lab = name if name == "no cut" else f"{name} (eps_S = {w['eps_s']:.2f})"
            ls = "--" if name.startswith("hypothetical") else "-"
            (ln,) = ax.plot(x, med, marker="o", ls=ls, label=lab)
            ax.fill_between(x, q16, q84, color=ln.get_color(), alpha=0.2)
        ax.axhline(5, color="k", ls="--", lw=0.8)
        ax.axvline(1000, color="grey", ls=":", lw=0.8)
        ax.set_xscale("symlog", linthresh=300)
        ax.set_xlabel(f"injected W' events in {r['n_bkg']:,} background")
        ax.set_title(title)
    axes[0].set_ylabel("significance [σ] (median, 68 % band)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"semi-toy injection, {r['model']} score, W' {r['signal']}", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
