"""The run report: ``report.md``, ``results.json`` and summary plots of a pipeline run.

Performance figures need the truth: the label column (R&D-like and generated samples) or a
Black-Box answer key (``input.key``); they are computed on the test split only and left out
(``null``) for unlabelled data. Everything else (working points, fits, BumpHunter, limits) is
data-driven and always reported.

ROC AUC, ROC and SIC come from :mod:`adsearch.stats.metrics` and the plots from
:mod:`adsearch.plot`; :func:`roc_auc`, :func:`roc_curve` and :func:`max_sic` here are aliases
of the metrics in the scores-first argument order of earlier versions.

Examples
--------
>>> import numpy as np
>>> roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
0.75
>>> roc_auc(np.array([1.0, 1.0]), np.array([0, 1]))  # a tie counts one half
0.5
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from adsearch import __version__
from adsearch.errors import FitError, InputError
from adsearch.graphs import mass_sculpting_report
from adsearch.io.atomic import atomic_path
from adsearch.io.jsonfile import write_json
from adsearch.jets import read_features, read_features_metadata
from adsearch.pipeline.products import Products
from adsearch.plot import plot_learning_curve, plot_mjj_selections, plot_roc_sic, plot_scores
from adsearch.score.baselines import GMMBaseline, proxy_report, proxy_scores
from adsearch.stats import metrics
from adsearch.stats.control import window_excess
from adsearch.stats.flatten import MjjQuantileMap
from adsearch.train.data import JetSample

__all__ = [
    "max_sic",
    "not_beaten_text",
    "roc_auc",
    "roc_curve",
    "sculpted_bump_text",
    "write_report",
]

#: pulls (ratio - 1) / error of the signal region's passing truth background over its
#: interpolation above which a cut is said to make its own bump
BUMP_PULL = 2.0


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """AUC of ``scores`` for 0/1 ``labels`` (note: scores first; see
    :func:`adsearch.stats.metrics.roc_auc`, which takes labels first)."""
    return metrics.roc_auc(labels, scores)


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(eff_background, eff_signal, threshold)`` of the cuts ``score >= threshold``.

    One point per distinct score value, from the tightest cut to the loosest
    (:func:`adsearch.stats.metrics.roc_points` in this module's argument and output order).
    """
    es, eb, thr = metrics.roc_points(labels, scores)
    return eb, es, thr


def max_sic(
    eff_b: np.ndarray, eff_s: np.ndarray, n_background: int, min_background: int = 20
) -> tuple[float, float]:
    """Largest significance improvement ``eff_s / sqrt(eff_b)`` and the ``eff_b`` it occurs at.

    Only cuts keeping at least ``min_background`` background events count, so the maximum is
    not set by the statistical fluctuation of a handful of events
    (:func:`adsearch.stats.metrics.sic_from_roc`).
    """
    best = metrics.sic_from_roc(eff_s, eff_b, n_background, min_background)[2]
    return best.sic, best.eps_b


# ---------------------------------------------------------------------------- helpers


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _truth(manifest: dict[str, Any], table: dict[str, np.ndarray]) -> tuple[np.ndarray | None, str]:
    """Per-event 0/1 truth of the scores table, from its labels or the answer key."""
    label = table["label"]
    if manifest.get("labelled") and np.all(label >= 0):
        return (label > 0).astype(np.int8), "labels"
    key = manifest.get("key")
    if key:
        try:
            k = np.loadtxt(key, dtype=float, ndmin=1)
        except (OSError, ValueError) as e:
            raise InputError(f"{key}: cannot read the answer key ({e})") from None
        idx = table["event_index"].astype(np.int64)
        if idx.size and idx.max() >= k.size:
            raise InputError(f"{key}: {k.size} lines but the events go up to row {idx.max()}")
        return (k[idx] > 0).astype(np.int8), f"answer key {Path(key).name}"
    return None, "none"


def _fmt(x: Any, nd: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        if not np.isfinite(x):
            return "–"
        return f"{x:.{nd}g}"
    return str(x)


def _proxies(
    cfg: Any,
    out: Path,
    manifest: dict[str, Any],
    table_all: dict[str, np.ndarray],
    test: np.ndarray,
    truth: np.ndarray,
    col: str,
) -> dict[str, Any]:
    """The model's score beside the jet mass, the girth and a GMM density baseline.

    Proxies and baseline are evaluated on the test events (as the model). The GMM
    (:class:`adsearch.score.baselines.GMMBaseline`) is fitted on the training-split background
    events when the features have labels, else on all training-split events.
    """
    n = table_all["mjj"].size
    feats = read_features(out / Products.FEATURES)
    if len(feats) != n:
        raise InputError(
            f"{out / Products.FEATURES}: {len(feats)} events, {Products.SCORES} has {n}"
        )
    # a features table (input.kind: features) has no constituents: no girth
    n_cons = ak.num(ak.flatten(feats.constituents, axis=1), axis=1)
    has_constituents = n > 0 and int(ak.sum(n_cons)) > 0
    sample = JetSample.from_features(feats, max_events=n) if has_constituents else None
    prox = proxy_scores(table_all, sample)
    labelled = bool(manifest.get("labelled")) and bool(np.all(table_all["label"] >= 0))
    split = table_all["split"]
    test_table = {c: v[test] for c, v in table_all.items()}
    scores: dict[str, np.ndarray] = {k: prox[k][test] for k in ("mass", "girth") if k in prox}
    what = "background" if labelled else "events"
    if (split == 0).any():
        halves = [(split == 0, test)]
        fit_sample = f"training-split {what}"
    else:  # a weakly supervised score: every event is a test event; fit on one half of
        # them, score the other (two folds by event position), so no event scores itself
        odd = (np.arange(split.size) % 2).astype(bool)
        halves = [(~odd, test & odd), (odd, test & ~odd)]
        fit_sample = f"{what} of the other half (2-fold)"
    gmm_info: dict[str, Any] = {"fit_sample": fit_sample}
    gmm_all = np.full(split.size, np.nan)
    try:
        for fit_on, apply in halves:
            fit_mask = fit_on & (table_all["label"] == 0) if labelled else fit_on
            gmm = GMMBaseline(seed=cfg.train.data.seed).fit(table_all, fit_mask)
            gmm_all[apply] = gmm.score({c: v[apply] for c, v in table_all.items()})
    except InputError as e:  # too few training events for the mixture
        gmm_info["error"] = str(e)
    else:
        scores["gmm"] = gmm_all[test]
        gmm_info["model"] = gmm.to_dict()
    mj = np.maximum(test_table["mj1"], test_table["mj2"])
    rep = proxy_report(truth, test_table[col], scores, mj, cfg.report.sic_min_background)
    rep["gmm"] = gmm_info
    rep["mj"] = "heavier jet mass; Spearman correlations over the background test events"
    return rep


# ---------------------------------------------------------------------------- report


def _read_run(out: Path) -> dict[str, Any]:
    """The products the report reads (JSON files, features metadata, training history)."""
    metrics_path = out / Products.TRAIN_METRICS
    history: Any = _load(metrics_path) if metrics_path.is_file() else []
    if isinstance(history, dict):
        history = history.get("history", history.get("epochs", []))
    return {
        "manifest": _load(out / Products.MANIFEST),
        "regions": _load(out / Products.REGIONS),
        "fits": _load(out / Products.FIT)["selections"],
        "bumphunts": _load(out / Products.BUMPHUNT)["selections"],
        "limits": _load(out / Products.LIMITS)["selections"],
        "features": read_features_metadata(out / Products.FEATURES),
        "history": history,
    }


_SCORE_TABLE_COLUMNS = [
    "mjj", "label", "event_index", "split", "score", "score_max", "score_min",
    "score_j1", "score_j2", "mj1", "mj2", "tau1j1", "tau2j1", "tau1j2", "tau2j2",
]  # fmt: skip


def _read_scores(out: Path) -> dict[str, np.ndarray]:
    import pyarrow.parquet as pq

    t = pq.read_table(out / Products.SCORES, columns=_SCORE_TABLE_COLUMNS)
    return {c: t[c].to_numpy() for c in _SCORE_TABLE_COLUMNS}


def _performance(
    cfg: Any,
    out: Path,
    manifest: dict[str, Any],
    table_all: dict[str, np.ndarray],
    test: np.ndarray,
    truth: np.ndarray,
    truth_source: str,
    col: str,
    in_sr: np.ndarray,
) -> dict[str, Any]:
    """AUC (event scores, jets), max SIC and the truth content of the signal region."""
    table = {c: v[test] for c, v in table_all.items()}
    n_b, n_s = int((truth == 0).sum()), int((truth == 1).sum())
    auc = {k: metrics.roc_auc(truth, table[c]) for k, c in
           (("mean", "score"), ("max", "score_max"), ("min", "score_min"))}  # fmt: skip
    jet_s = np.concatenate([table["score_j1"], table["score_j2"]])
    jet_y = np.concatenate([truth, truth])
    # a weakly supervised score is one per event: no jet scores (NaN), no jet AUC
    auc_jet = None if np.isnan(jet_s).all() else metrics.roc_auc(jet_y, jet_s)
    es, eb, _ = metrics.roc_points(truth, table[col])
    best = metrics.sic_from_roc(es, eb, n_b, cfg.report.sic_min_background)[2]
    perf = {
        "truth_from": truth_source,
        "n_signal_test": n_s,
        "n_background_test": n_b,
        "auc_event": auc,
        "auc_jet": auc_jet,
        "max_sic": best.sic,
        "max_sic_background_efficiency": best.eps_b,
        "sic_min_background_events": cfg.report.sic_min_background,
        "signal_in_sr": int((truth[in_sr] == 1).sum()),
        "background_in_sr": int((truth[in_sr] == 0).sum()),
    }
    perf["proxies"] = _proxies(cfg, out, manifest, table_all, test, truth, col)
    return perf


def _working_point_rows(
    regions: dict[str, Any],
    scores: np.ndarray,
    truth: np.ndarray | None,
    in_sr: np.ndarray,
) -> list[dict[str, Any]]:
    """The working points of regions.json, with their truth efficiencies when known."""
    rows = []
    for w in regions["working_points"]:
        row = dict(w)
        if truth is not None:
            sel = scores > w["threshold"]
            es_w = float(sel[truth == 1].mean())
            eb_w = float(sel[truth == 0].mean())
            s_sr = int((sel & in_sr & (truth == 1)).sum())
            b_sr = int((sel & in_sr & (truth == 0)).sum())
            row["truth"] = {
                "signal_efficiency": es_w,
                "background_efficiency": eb_w,
                "sic": es_w / np.sqrt(eb_w) if eb_w > 0 else None,
                "signal_in_sr": s_sr,
                "background_in_sr": b_sr,
                "s_over_b_sr": s_sr / b_sr if b_sr else None,
                "s_over_sqrt_b_sr": s_sr / np.sqrt(b_sr) if b_sr else None,
            }
        rows.append(row)
    return rows


def _fit_row(e: dict[str, Any]) -> dict[str, Any]:
    f = e.get("fit")
    if f is None:
        return {"error": e["error"]}
    return {
        "n_events": float(np.sum(e["histogram"]["counts"])),
        "family": f["family"],
        "method": f.get("method", "function"),
        "npar": f["npar"],
        "chi2": f["deviance"],
        "ndf": f["ndf"],
        "p_value": f["p_value"],
        "blind": f["blind"],
    }


def _model_text(fr: dict[str, Any]) -> str:
    """The background model of a fit row, as the report's table names it."""
    method = fr.get("method", "function")
    if method == "control":
        return f"failing events × transfer factor ({fr['npar']} par.)"
    return f"{fr['family']} {fr['npar']} par." + ("" if method == "function" else f" ({method})")


def _bumphunt_row(b: dict[str, Any]) -> dict[str, Any]:
    if "error" in b:
        return {"error": b["error"]}
    return {
        "window_mjj": [b["window"]["mjj_lo"], b["window"]["mjj_hi"]],
        "n_obs": b["window"]["n_obs"],
        "n_bkg": b["window"]["n_bkg"],
        "z_local": b["z_local"],
        "global_p": b["global_p"],
        "z_global": b["z_global"],
        "global_p_is_upper_bound": b["global_p_is_upper_bound"],
        "n_toys": b["n_toys"],
        "systematic": b.get("systematic"),
        "null_check": {
            src: {k: v[k] for k in ("n_pseudo", "fdr", "fdr_error", "ks_p", "alpha")}
            for src, v in b.get("null_check", {}).items()
        },
    }


def _null_check_lines(bumphunts: dict[str, Any]) -> list[str]:
    """The null-check table: is the global p-value calibrated for this selection?"""
    rows = [
        (name, src, v)
        for name, b in bumphunts.items()
        for src, v in b.get("null_check", {}).items()
    ]
    if not rows:
        return []
    alpha = rows[0][2]["alpha"]
    lines = [
        "**Null check.** Background-only pseudo-datasets drawn from the fitted background "
        "(`fit`) and, after a cut, from the control selection's shape (`control`: the events "
        "failing the cut, reweighted by the measured efficiency slope), each through the same "
        f"fit and BumpHunter. Calibrated: a fraction ≈ {alpha:g} with global p < {alpha:g}, "
        "uniform p-values (KS p > 0.05).",
        "",
        f"| selection | pseudo-data from | pseudo-datasets | P(global p < {alpha:g}) | KS p |",
        "|---|---|---|---|---|",
    ]
    for name, src, v in rows:
        lines.append(
            f"| {name} | {src} | {v['n_pseudo']} | {v['fdr']:.3f} ± {v['fdr_error']:.3f} | "
            f"{_fmt(v['ks_p'], 2)} |"
        )
    return lines


def _limit_rows(li: dict[str, Any]) -> dict[str, Any] | list[dict[str, Any]]:
    if "error" in li:
        return {"error": li["error"]}
    return [
        {
            "mass": m["mass"],
            "events_observed": m["events_observed"],
            "events_expected": m["events_expected"][2],
            "events_expected_1sigma": [m["events_expected"][1], m["events_expected"][3]],
            "z0": m["z0"],
        }
        for m in li["limits"]
    ]


def _pm(v: list[float] | None) -> str:
    """``value ± error`` of a ``[value, error]`` pair (``–`` when absent)."""
    return "–" if v is None else f"{v[0]:.3f} ± {v[1]:.3f}"


def _sculpting(
    regions: dict[str, Any],
    table: dict[str, np.ndarray],
    col: str,
    truth: np.ndarray | None,
    edges: np.ndarray,
) -> dict[str, Any]:
    """Mass sculpting of the background by each cut (truth background, else all test events)."""
    bkg = truth == 0 if truth is not None else np.ones(table["mjj"].size, dtype=bool)
    mj = np.maximum(table["mj1"], table["mj2"])[bkg]
    sculpt: dict[str, Any] = {"sample": "background (truth)" if truth is not None else "all"}
    lo, hi = regions["signal_region"]
    mjj = table["mjj"]
    in_sr = (mjj >= lo) & (mjj < hi)
    near = (mjj >= edges[0]) & (mjj < edges[-1]) & ~in_sr
    # the two windows of the SR's width next to it: a local bump, not the cut's smooth trend
    adjacent = ((mjj >= 2 * lo - hi) & (mjj < lo)) | ((mjj >= hi) & (mjj < 2 * hi - lo))
    for w in regions["working_points"]:
        rep = mass_sculpting_report(
            table[col][bkg], mj, table["mjj"][bkg], w["efficiency"], mjj_bins=edges
        )
        passed = table[col] > w["threshold"]
        # a score that learned the signal region's mjj (CWoLa's risk) passes more background
        # there than outside it: a bump made by the cut (truth background only)
        ratio = adj = None
        if truth is not None and (bkg & in_sr).any() and passed[bkg & near].any():
            ratio = float(passed[bkg & in_sr].mean() / passed[bkg & near].mean())
        if truth is not None and passed[bkg & in_sr].any() and passed[bkg & adjacent].any():
            a, b = passed[bkg & in_sr], passed[bkg & adjacent]
            r = float(a.mean() / b.mean())
            # binomial errors of the two efficiencies, propagated to the ratio
            rel = np.sqrt((1 - a.mean()) / a.sum() + (1 - b.mean()) / b.sum())
            adj = [r, float(r * rel)]
        interp = None
        if truth is not None and passed[bkg & in_sr].any():
            n_pass, _ = np.histogram(mjj[bkg & passed], edges)
            n_fail, _ = np.histogram(mjj[bkg & ~passed], edges)
            try:  # the SR's truth background over ε(mjj) interpolated from beside it
                interp = list(window_excess(n_pass, n_fail, edges, (lo, hi)))
            except (FitError, np.linalg.LinAlgError):
                interp = None
        sculpt[w["name"]] = {
            "background_efficiency_sr_over_outside": ratio,
            "background_efficiency_sr_over_adjacent": adj,
            "background_sr_over_interpolation": interp,
            "pearson_score_mj": rep.pearson_mj,
            "spearman_score_mj": rep.spearman_mj,
            "mjj_js_divergence": rep.mjj_js,
            "mj_js_divergence": rep.mj_js,
            "mjj_ratio_after_before": rep.mjj_ratio,
        }
    return sculpt


def _weak_info(cfg: Any, out: Path) -> dict[str, Any]:
    """What the weakly supervised scores step ran (``weak/weak.json``)."""
    w = _load(out / Products.WEAK_INFO)
    if cfg.score.method == "feature":
        return {k: w.get(k) for k in ("method", "feature", "direction", "n_data")}
    if cfg.score.method == "density":
        dkeys = ("method", "features", "n_data", "n_jets_fit", "flow_epochs", "val_nll")
        return {k: w.get(k) for k in dkeys}
    c = w.get("config", {})
    keys = ("n_data", "n_signal_region", "n_sidebands", "n_reference_signal_region",
            "n_samples", "members", "flow_epochs", "seconds_flow", "seconds_classifier",
            "auc_data_vs_template")  # fmt: skip
    info = {
        "method": cfg.score.method,
        "classifier": (c.get("classifier") or {}).get("kind"),
        "features": c.get("features"),
        "n_folds": c.get("n_folds"),
        "sideband_width": c.get("sideband_width"),
        **{k: w[k] for k in keys if k in w},
    }
    if cfg.score.latent_features:
        info["encoder"] = cfg.score.embed.encoder
    if cfg.score.method == "reference":
        ref = cfg.score.reference
        info["reference"] = ref.path or (
            f"generated QCD, {ref.n_events} events, mhat window {ref.mhat_window}"
        )
    return info


def _training_info(cfg: Any, history: list[dict[str, Any]]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "backbone": cfg.train.model.backbone,
        "objective": cfg.train.model.objective,
        "width": cfg.train.model.width,
        "mode": cfg.train.data.mode,
        "epochs_run": len(history),
    }
    if history:
        best = min(history, key=lambda h: h.get("val_loss", np.inf))
        info.update(
            best_epoch=best.get("epoch"),
            best_val_loss=best.get("val_loss"),
            train_jets_per_s=float(np.median([h.get("train_jets_per_s", np.nan) for h in history])),
        )
    return info


def _summary_plots(
    cfg: Any,
    out: Path,
    plot: Callable[[str], str],
    table: dict[str, np.ndarray],
    col: str,
    truth: np.ndarray | None,
    thresholds: list[tuple[str, float]],
    edges: np.ndarray,
    history: list[dict[str, Any]],
) -> list[str]:
    """Score distributions, mjj spectra, ROC/SIC (with truth) and the learning curve."""
    s = table[col]
    made = [plot("scores"), plot("mjj")]
    plot_scores(s, truth, thresholds, out / made[0], xlabel=f"event anomaly score ({col})")
    plot_mjj_selections(table["mjj"], s, thresholds, truth, edges, out / made[1])
    if truth is not None and truth.any() and (truth == 0).any():
        es, eb, _ = metrics.roc_points(truth, s)
        made.append(plot("roc"))
        plot_roc_sic(eb, es, metrics.roc_auc(truth, s), out / made[-1])
    if cfg.score.trains_model:
        made.append(plot("learning_curve"))
        title = f"{cfg.train.model.backbone} {cfg.train.model.objective}"
        plot_learning_curve(history, out / made[-1], title=title)
    return made


def write_report(
    cfg: Any,
    out: Path,
    plot: Callable[[str], str],
    timings: Mapping[str, float | None] | None = None,
) -> dict[str, Any]:
    """Write ``results.json``, ``report.md`` and the summary plots of the run in ``out``.

    ``plot(name)`` gives the product path of a plot; ``timings`` the seconds each step's
    product took (reported as they are).
    """
    out = Path(out)
    run = _read_run(out)
    manifest, regions = run["manifest"], run["regions"]
    fits, lims = run["fits"], run["limits"]
    col = cut_col = regions["score_column"]
    table_all = _read_scores(out)
    if regions.get("flatten"):  # the cuts are on the score's quantile at its own mjj
        qmap = MjjQuantileMap.from_dict(regions["flatten"])
        cut_col = "score_mjj_quantile"
        table_all[cut_col] = qmap.transform(table_all["mjj"], table_all[col])
    split = table_all["split"]
    test = split == 2
    table = {c: v[test] for c, v in table_all.items()}
    truth, truth_source = _truth(manifest, table)
    sr_lo, sr_hi = regions["signal_region"]
    in_sr = (table["mjj"] >= sr_lo) & (table["mjj"] < sr_hi)
    has_both = truth is not None and (truth == 1).any() and (truth == 0).any()
    perf = (
        _performance(cfg, out, manifest, table_all, test, truth, truth_source, col, in_sr)
        if has_both and truth is not None
        else None
    )
    edges = cfg.stats.edges()
    fmeta = run["features"]
    results = {
        "name": cfg.name,
        "adsearch_version": __version__,
        "input": {
            k: manifest.get(k)
            for k in ("source", "n_events", "labelled", "n_signal_injected", "generation")
        },
        "features": {
            "n_input": fmeta.get("n_input"),
            "n_fewer_than_two_jets": fmeta.get("n_fewer_than_two_jets"),
        },
        "split": {
            "train": int((split == 0).sum()),
            "validation": int((split == 1).sum()),
            "test": int(test.sum()),
        },
        "training": (_training_info(cfg, run["history"]) if cfg.score.trains_model else None),
        "weak": None if cfg.score.trains_model else _weak_info(cfg, out),
        "event_score": regions["event_score"],
        "signal_region": regions["signal_region"],
        "performance": perf,
        "cut_score": cut_col,
        "working_points": _working_point_rows(
            regions, table[cut_col], truth if perf is not None else None, in_sr
        ),
        "fit": {name: _fit_row(e) for name, e in fits.items()},
        "bumphunt": {name: _bumphunt_row(b) for name, b in run["bumphunts"].items()},
        "limits": {name: _limit_rows(li) for name, li in lims.items()},
        "sculpting": _sculpting(regions, table, cut_col, truth, edges),
        "timings_s": dict(timings or {}),
    }
    thresholds = [(w["name"], w["threshold"]) for w in regions["working_points"]]
    plots = _summary_plots(cfg, out, plot, table, cut_col, truth, thresholds, edges, run["history"])
    results["plots"] = (
        plots
        + [plot(f"{p}_{n}") for p in ("fit", "bumphunt", "tstat") for n in fits]
        + [plot(f"brazil_{n}") for n in lims]
    )
    write_json(out / Products.RESULTS, results)
    with atomic_path(out / Products.REPORT) as tmp:
        tmp.write_text(_markdown(cfg, results, plot))
    return results


def _process_name(p: Any) -> str:
    if isinstance(p, dict):
        name = str(p.get("process", "?"))
        if name.startswith("wprime"):
            m = (p.get("m_wprime"), p.get("m_x"), p.get("m_y"))
            return f"{name} (m_W' {m[0]:g}, m_X {m[1]:g}, m_Y {m[2]:g} GeV)"
        return name
    return str(p)


#: report rows of the proxy table: results key -> label
_PROXY_ROWS = {
    "mass": "jet mass alone (mean of the two jets)",
    "girth": "girth alone (mean of the two jets)",
    "gmm": "GMM density baseline (log m, τ21 of both jets)",
}


def _proxy_lines(px: dict[str, Any] | None, score_label: str) -> list[str]:
    """The "Score vs proxies" table of the performance section."""
    if not px:
        return []
    m = px["model"]
    lines = [
        "### Score vs proxies",
        "",
        "Is the anomaly score more than the jet mass, the jet girth or a plain density of the "
        "standard features? Same test events; a proxy's AUC is given as is and in its better "
        "direction (`lower`: small values are signal-like), its max SIC for cuts in that "
        "direction. Spearman: rank correlation with the heavier jet mass over the background "
        f"test events. Max SIC counts cuts keeping ≥ {px['min_background_events']} background "
        "events.",
        "",
        "| score | AUC | AUC (better direction) | max SIC | Spearman with m_j |",
        "|---|---|---|---|---|",
        f"| {score_label} | {_fmt(m['auc'])} | – | {_fmt(m['max_sic'])} | "
        f"{_fmt(m['spearman_mj'], 2)} |",
    ]
    for key, label in _PROXY_ROWS.items():
        q = px["proxies"].get(key)
        if q is None:
            continue
        lines.append(
            f"| {label} | {_fmt(q['auc'])} | {_fmt(q['auc_best'])} ({q['direction']}) | "
            f"{_fmt(q['max_sic'])} | {_fmt(q['spearman_mj'], 2)} |"
        )
    err = (px.get("gmm") or {}).get("error")
    if err:
        lines.append(f"| GMM density baseline | failed: {err} | | | |")
    lines += ["", f"Spearman(model score, m_j) = {_fmt(px['spearman_score_mj'], 2)}.", ""]
    lines += _verdict_lines(px)
    return lines


def sculpted_bump_text(sculpting: dict[str, Any]) -> str | None:
    """The working points whose cut makes a bump of truth background in the signal region,
    or None: the passing background there over its interpolation from beside it
    (``background_sr_over_interpolation`` of the report's sculpting table) more than
    :data:`BUMP_PULL` errors above 1. Such a cut can make BumpHunter report an excess in
    background-only data (measured: the quick start's CNN DASVDD, 1.215 ± 0.071 at 10 %, gave
    local Z 3.58, global 2.51 without any signal).

    Examples
    --------
    >>> sculpted_bump_text({"sample": "background (truth)",
    ...     "eff0.1": {"background_sr_over_interpolation": [1.215, 0.071]},
    ...     "eff0.02": {"background_sr_over_interpolation": [1.05, 0.14]}})
    'eff0.1: 1.215 ± 0.071 times the interpolated background in the signal region (3.0σ)'
    """
    found = []
    for name, v in sculpting.items():
        r = v.get("background_sr_over_interpolation") if isinstance(v, dict) else None
        if r is not None and r[1] > 0 and (r[0] - 1.0) / r[1] > BUMP_PULL:
            found.append(
                f"{name}: {r[0]:.3f} ± {r[1]:.3f} times the interpolated background in the "
                f"signal region ({(r[0] - 1.0) / r[1]:.1f}σ)"
            )
    return "; ".join(found) or None


def not_beaten_text(px: dict[str, Any]) -> str | None:
    """The proxies a score does not beat, with their AUCs, or None when it beats them all.

    ``px`` is the ``performance.proxies`` entry of ``results.json``
    (:func:`adsearch.score.baselines.proxy_report`).

    Examples
    --------
    >>> row = {"auc": 0.6, "auc_best": 0.81, "direction": "higher"}
    >>> not_beaten_text({"model": {"auc": 0.7}, "proxies": {"mass": row},
    ...                  "not_beaten": ["mass"]})
    'jet mass alone (mean of the two jets): 0.81 (score AUC 0.7)'
    """
    names = px.get("not_beaten") or []  # proxy_report's names, all keys of "proxies"
    if not names:
        return None
    listed = "; ".join(
        f"{_PROXY_ROWS.get(n, n)}: {_fmt(px['proxies'][n]['auc_best'])}" for n in names
    )
    return f"{listed} (score AUC {_fmt(px['model']['auc'])})"


def _verdict_lines(px: dict[str, Any]) -> list[str]:
    """One sentence: does the score beat every proxy (AUC against the proxy's better
    direction)? Older reports without ``not_beaten`` get none."""
    if "not_beaten" not in px:
        return []
    auc = px["model"]["auc"]
    text = not_beaten_text(px)
    if text is None:
        shown = [n for n in _PROXY_ROWS if n in px["proxies"]]
        if not shown:
            return []
        best = max(shown, key=lambda n: px["proxies"][n]["auc_best"])
        return [
            f"**Verdict**: the score beats every proxy (AUC {_fmt(auc)} against at most "
            f"{_fmt(px['proxies'][best]['auc_best'])}, {_PROXY_ROWS[best]}).",
            "",
        ]
    return [
        f"**Verdict: the score does not beat** {text}. It has learned no more than the "
        "standard variables hold: prefer the better one, or a "
        "scorer that beats it (docs/benchmarks.md compares the scorers).",
        "",
    ]


_WEAK_TEMPLATES = {
    "cwola": "the sideband data (CWoLa hunting)",
    "cathode": "samples of a conditional flow trained on the sidebands (CATHODE)",
    "lacathode": "standard-normal samples in the latent space of a conditional flow trained "
    "on the sidebands (LaCATHODE; every event is scored at its own latent point)",
    "reference": "the signal-region events of a background reference sample",
}


def _weak_lines(w: dict[str, Any], sr_txt: str) -> list[str]:
    """The "Score" paragraph of a weakly supervised (or feature-score) run."""
    if w["method"] == "feature":
        sign = "the largest" if w.get("direction") == "high" else "the smallest"
        return [
            f"**Score**: the event feature `{w.get('feature')}` itself (no training; the cuts "
            f"keep {sign} values); every event is a test event. {sr_txt}",
            "",
        ]
    if w["method"] == "density":
        return [
            f"**Score**: unsupervised, `density`: -log p of the two jets' "
            f"({', '.join(w.get('features') or [])}) under a normalizing flow fitted on "
            f"{w.get('n_jets_fit')} jets of the data ({w.get('flow_epochs')} epochs, "
            f"validation NLL {_fmt(w.get('val_nll'), 4)}); no label is used, every event is a "
            f"test event. {sr_txt}",
            "",
        ]
    n_t = w.get("n_sidebands") if w["method"] == "cwola" else (
        w.get("n_samples") or w.get("n_reference_signal_region"))  # fmt: skip
    lines = [
        f"**Score**: weakly supervised, `{w['method']}`: a {w.get('classifier')} ensemble "
        f"({w.get('members')} members, {w.get('n_folds')}-fold) tells the "
        f"{w.get('n_signal_region')} signal-region data events from {n_t} events of "
        f"{_WEAK_TEMPLATES[w['method']]}, on the features {', '.join(w.get('features') or [])}. "
        "Every event is scored by members that never trained on it (out of fold), so every "
        f"event is a test event. {sr_txt}",
        "",
        f"Signal-region data vs template, out-of-fold AUC: "
        f"{_fmt(w.get('auc_data_vs_template'))} (≈ 0.5 when the data hold nothing the "
        "template lacks).",
    ]
    if "reference" in w:
        lines.append(f"Reference: {w['reference']}.")
    if w.get("encoder"):
        lines.append(
            f"Latent features: the embedding of both jets by the pretrained encoder "
            f"`{w['encoder']}` (`embed` step)."
        )
    return [*lines, ""]


def _systematic_lines(bumphunt: dict[str, Any]) -> list[str]:
    """The sentence on BumpHunter's signal-region correction, when one was applied."""
    syst = {n: b["systematic"] for n, b in bumphunt.items() if b.get("systematic")}
    if not syst:
        return []
    txt = ", ".join(
        f"{n} {100 * v['shift']:+g} % ± {100 * v['uncertainty']:g} %" for n, v in syst.items()
    )
    return [
        "",
        "BumpHunter scanned against the background corrected in the signal region "
        "(`regions.signal_region_shift` ± `signal_region_uncertainty`: the score's "
        f"sculpting there, measured on background-only simulation): {txt}. The limits carry "
        "the same shift, and the uncertainty as the `sr_bias` nuisance parameter.",
    ]


def _sculpting_lines(sc: dict[str, Any]) -> list[str]:
    """The report's mass-sculpting table, and the warning when a cut makes a bump."""
    lines = [
        "",
        f"Mass sculpting ({sc['sample']} test events; the cut keeps the working point's "
        "fraction of them): correlation of the score with the heavier jet mass, and "
        "Jensen–Shannon divergence of the mjj and m_j shapes after / before the cut; with truth, "
        "the background efficiency of the cut inside the signal region over that outside it "
        "(in the fitted mjj range) and over that in the two adjacent windows of the signal "
        "region's width (± binomial error), and the passing background in the signal region "
        "over its prediction from the cut's efficiency interpolated from beside it (logit ε "
        "quadratic in ln mjj; ± Poisson and interpolation error): above 1, the cut itself "
        "makes a bump — the last is the local one the bump hunt sees, without the smooth "
        "curvature of ε(mjj) that the adjacent windows also compare.",
        "",
        "| selection | Pearson (score, m_j) | Spearman | JS mjj | JS m_j | ε_B SR / outside "
        "| ε_B SR / adjacent | SR / interpolation |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, v in sc.items():
        if name == "sample":
            continue
        lines.append(
            f"| {name} | {_fmt(v['pearson_score_mj'], 2)} | {_fmt(v['spearman_score_mj'], 2)} "
            f"| {_fmt(v['mjj_js_divergence'], 2)} | {_fmt(v['mj_js_divergence'], 2)} "
            f"| {_fmt(v.get('background_efficiency_sr_over_outside'), 3)} "
            f"| {_pm(v.get('background_efficiency_sr_over_adjacent'))} "
            f"| {_pm(v.get('background_sr_over_interpolation'))} |"
        )
    bump = sculpted_bump_text(sc)
    if bump:
        lines += [
            "",
            f"**The cut makes a bump**: {bump}. A bump hunt after this cut can find an excess "
            "in background-only data; its local and global Z are not evidence of a signal.",
        ]
    return lines


def _markdown(cfg: Any, r: dict[str, Any], plot: Callable[[str], str]) -> str:
    inp, sp = r["input"], r["split"]
    lines = [f"# adsearch report: {r['name']}", ""]
    if cfg.description:
        lines += [cfg.description.strip(), ""]
    src = inp["source"]
    if src == "generated":
        g = inp.get("generation") or {}
        parts = [
            f"{v.get('n_events')} {_process_name(v.get('process'))} events (trigger efficiency "
            f"{_fmt(v.get('trigger_efficiency'))})"
            for v in g.values()
        ]
        lines.append(f"**Input**: generated sample: {'; '.join(parts)}; "
                     f"{inp['n_signal_injected']} signal events injected.")  # fmt: skip
    else:
        lines.append(f"**Input**: `{src}`, {inp['n_events']} events"
                     + (f", {inp['n_signal_injected']} signal injected" if inp.get(
                         "n_signal_injected") else ""))  # fmt: skip
    lines.append(f"Labels: {'yes' if inp['labelled'] else 'no (black box)'}.")
    f = r["features"]
    lines += [
        "",
        f"**Events**: {f['n_input']} read, {f['n_fewer_than_two_jets']} with fewer than two "
        f"jets dropped; split train / validation / test = {sp['train']} / {sp['validation']} / "
        f"{sp['test']}. All statistics below use the {sp['test']} test events only.",
        "",
    ]
    t = r["training"]
    sr_txt = f"Signal region {r['signal_region'][0]:g}–{r['signal_region'][1]:g} GeV."
    if t is not None:
        lines += [
            f"**Model**: {t['backbone']} {t['objective']} (width {t['width']}, training mode "
            f"`{t['mode']}`), {t['epochs_run']} epochs, best epoch {t.get('best_epoch', '–')} "
            f"(validation loss {_fmt(t.get('best_val_loss'), 4)}).",
            "",
            f"![learning curve]({plot('learning_curve')})",
            "",
            f"**Event score**: `{r['event_score']}` of the two leading jets' scores. {sr_txt}",
            "",
        ]
    else:
        lines += _weak_lines(r["weak"], sr_txt)
    p = r["performance"]
    if p is not None:
        a = p["auc_event"]
        lines += [
            "## Performance (truth from " + p["truth_from"] + ")",
            "",
            f"{p['n_signal_test']} signal / {p['n_background_test']} background test events; "
            f"in the SR {p['signal_in_sr']} / {p['background_in_sr']}.",
            "",
            "| AUC event (mean) | AUC event (max) | AUC event (min) | AUC jet | max SIC |",
            "|---|---|---|---|---|",
            f"| {_fmt(a['mean'])} | {_fmt(a['max'])} | {_fmt(a['min'])} | "
            f"{_fmt(p['auc_jet'])} | {_fmt(p['max_sic'])} (at ε_B = "
            f"{_fmt(p['max_sic_background_efficiency'])}) |",
            "",
            f"![ROC]({plot('roc')})",
            "",
        ]
        label = (
            f"model event score ({r['event_score']})"
            if r["training"] is not None
            else f"{r['weak']['method']} event score"
        )
        lines += _proxy_lines(p.get("proxies"), label)
    else:
        lines += ["## Performance", "", "No truth labels: performance not computed.", ""]
    lines += [
        "## Working points",
        "",
        "Thresholds are quantiles of the scores of test events outside the SR"
        + (
            "; the cut score is the event score's quantile among events of the same mjj "
            "(mjj-flat cuts: `regions.flatten`)."
            if r.get("cut_score") == "score_mjj_quantile"
            else "."
        ),
        "",
        "| selection | ε_B target | threshold | events | in SR | ε_S | ε_B | S / B in SR |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for w in r["working_points"]:
        tr = w.get("truth") or {}
        lines.append(
            f"| {w['name']} | {_fmt(w['efficiency'])} | {_fmt(w['threshold'], 4)} | "
            f"{w['n_selected']} | {w['n_selected_sr']} | {_fmt(tr.get('signal_efficiency'))} | "
            f"{_fmt(tr.get('background_efficiency'))} | {_fmt(tr.get('s_over_b_sr'))} |"
        )
    lines += _sculpting_lines(r["sculpting"])
    lines += ["", f"![scores]({plot('scores')}) ![mjj]({plot('mjj')})", ""]
    lines += [
        "## Background fit and BumpHunter",
        "",
        "| selection | events | fit | χ²/ndf (p) | most significant window (GeV) | local Z "
        "| global p (Z) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, fr in r["fit"].items():
        b = r["bumphunt"].get(name, {})
        if "error" in fr:
            lines.append(f"| {name} | – | failed: {fr['error']} | | | | |")
            continue
        gp = b.get("global_p")
        bound = "<" if b.get("global_p_is_upper_bound") else ""
        gtxt = (
            f"{bound}{_fmt(max(gp, 1 / b['n_toys']) if bound else gp)} "
            f"({'≥' if bound else ''}{_fmt(b['z_global'], 2)})"
            if gp is not None
            else "–"
        )
        win = b.get("window_mjj")
        lines.append(
            f"| {name} | {fr['n_events']:.0f} | {_model_text(fr)} | "
            f"{fr['chi2']:.1f}/{fr['ndf']} ({_fmt(fr['p_value'], 2)}) | "
            + (f"{win[0]:.0f}–{win[1]:.0f}" if win else "–")
            + f" | {_fmt(b.get('z_local'), 2)} | {gtxt} |"
        )
    lines += [*_systematic_lines(r["bumphunt"]), "", *_null_check_lines(r["bumphunt"]), ""]
    for name in r["fit"]:
        lines.append(f"![fit {name}]({plot('fit_' + name)}) ![bumphunt {name}]"
                     f"({plot('bumphunt_' + name)})")  # fmt: skip
    lines += ["", "## Limits (95 % CL CLs on signal events, Gaussian signal)", ""]
    for name, rows in r["limits"].items():
        lines.append(f"**{name}**")
        lines.append("")
        if isinstance(rows, dict):
            lines += [f"failed: {rows['error']}", ""]
            continue
        lines += ["| mass (GeV) | observed | expected (±1σ) | Z0 |", "|---|---|---|---|"]
        for m in rows:
            lo, hi = m["events_expected_1sigma"]
            lines.append(
                f"| {m['mass']:.0f} | {m['events_observed']:.1f} | {m['events_expected']:.1f} "
                f"({lo:.1f}–{hi:.1f}) | {_fmt(m['z0'], 2)} |"
            )
        lines += ["", f"![brazil {name}]({plot('brazil_' + name)})", ""]
    lines += ["## Timing (seconds to make each product)", "", "| step | s |", "|---|---|"]
    for k, v in r["timings_s"].items():
        lines.append(f"| {k} | {_fmt(v, 3)} |")
    lines += ["", f"adsearch {r['adsearch_version']}; full numbers in `results.json`.", ""]
    return "\n".join(lines)
