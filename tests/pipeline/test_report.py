"""ROC AUC, ROC curve and SIC of the report, checked against brute force."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.pipeline.report import max_sic, roc_auc, roc_curve


def _auc_pairs(s, y):
    """P(score_sig > score_bkg) + 1/2 P(tie), over all pairs."""
    a, b = s[y == 1][:, None], s[y == 0][None, :]
    return float(np.mean((a > b) + 0.5 * (a == b)))


@pytest.mark.parametrize("seed", [0, 1])
def test_auc_equals_pair_counting_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(400) < 0.3
    s = np.round(rng.normal(y * 0.8, 1.0), 1)  # rounding makes many ties
    assert roc_auc(s, y) == pytest.approx(_auc_pairs(s, y), abs=1e-12)
    # Gaussian shift 0.8: AUC = Phi(0.8 / sqrt(2)) = 0.714, within sampling error
    assert abs(roc_auc(s, y) - 0.714) < 0.08
    assert roc_auc(-s, y) == pytest.approx(1 - roc_auc(s, y))


def test_roc_curve_points_and_sic():
    s = np.array([0.9, 0.8, 0.8, 0.3, 0.2, 0.1])
    y = np.array([1, 1, 0, 0, 1, 0])
    eb, es, thr = roc_curve(s, y)
    assert thr.tolist() == [0.9, 0.8, 0.3, 0.2, 0.1]
    assert es.tolist() == pytest.approx([1 / 3, 2 / 3, 2 / 3, 1.0, 1.0])
    assert eb.tolist() == pytest.approx([0.0, 1 / 3, 2 / 3, 2 / 3, 1.0])
    # trapezoid area of the ROC = AUC
    assert np.trapezoid(np.r_[0, es], np.r_[0, eb]) == pytest.approx(roc_auc(s, y))
    # best cut: score >= 0.2 (all signal, 2 of 3 background): SIC = 1 / sqrt(2/3)
    sic, at = max_sic(eb, es, n_background=3, min_background=1)
    assert sic == pytest.approx(1 / np.sqrt(2 / 3)) and at == pytest.approx(2 / 3)
    # with a steeper ROC the tightest cut (one background event) would win ...
    eb2, es2 = np.array([1 / 3, 1.0]), np.array([0.9, 1.0])
    assert max_sic(eb2, es2, n_background=3, min_background=1)[1] == pytest.approx(1 / 3)
    # ... unless cuts keeping fewer than min_background background events are excluded
    assert max_sic(eb2, es2, n_background=3, min_background=2) == pytest.approx((1.0, 1.0))
    assert np.isnan(max_sic(eb, es, n_background=3, min_background=4)[0])


def test_auc_needs_both_classes():
    with pytest.raises(InputError, match="both signal and background"):
        roc_auc(np.array([0.1, 0.2]), np.array([1, 1]))


# ---------------------------------------------------------------------------- proxy table


def _fake_run(out, rng, *, labelled=True, key=False, n_b=1500, n_s=300):
    """A run directory with the products the report reads: mass-matched toy jets (QCD-like
    background, two-prong signal) and a model score that learned tau21, not the mass."""
    import awkward as ak
    import pyarrow as pa
    import pyarrow.parquet as pq

    from adsearch.graphs import jet_axis
    from adsearch.graphs.toy import toy_substructure_pair
    from adsearch.io.jsonfile import write_json
    from adsearch.jets import COLUMNS, Features, nsubjettiness, tau_ratio, write_features

    n = n_b + n_s
    b, a = toy_substructure_pair(2 * n_b, seed=rng)
    jets = ak.concatenate([b, a[: 2 * n_s]])  # event k: jets 2k, 2k + 1
    ax = jet_axis(jets)
    tau = nsubjettiness(jets, 3)
    label = np.r_[np.zeros(n_b), np.ones(n_s)]
    t = {}
    for i, s in ((1, slice(0, None, 2)), (2, slice(1, None, 2))):
        pt, eta, phi = ax.pt[s], ax.eta[s], ax.phi[s]
        t |= {f"pxj{i}": pt * np.cos(phi), f"pyj{i}": pt * np.sin(phi),
              f"pzj{i}": pt * np.sinh(eta), f"mj{i}": ax.mass[s], f"tau1j{i}": tau[s, 0],
              f"tau2j{i}": tau[s, 1], f"tau3j{i}": tau[s, 2], f"ptj{i}": pt, f"etaj{i}": eta,
              f"phij{i}": phi, f"tau21j{i}": tau_ratio(tau[s, 1], tau[s, 0]),
              f"tau32j{i}": tau_ratio(tau[s, 2], tau[s, 1])}  # fmt: skip
    t["label"] = label if labelled else np.full(n, -1.0)
    t["mjj"] = rng.uniform(2600.0, 5500.0, n)
    t["event_index"] = np.arange(n)
    feats = Features({c: np.asarray(t[c]) for c in COLUMNS}, ak.unflatten(jets, 2), n, 0)
    write_features(out / "features.parquet", feats)

    sj = -np.stack([t["tau21j1"], t["tau21j2"]], axis=1) + rng.normal(0, 0.05, (n, 2))
    split = rng.choice(np.array([0, 1, 2], dtype=np.int8), n, p=[0.3, 0.05, 0.65])
    cols = {**{c: np.asarray(t[c]) for c in COLUMNS}, "score_j1": sj[:, 0],
            "score_j2": sj[:, 1], "score": sj.mean(1), "score_max": sj.max(1),
            "score_min": sj.min(1), "split": split}  # fmt: skip
    pq.write_table(pa.table(cols), out / "scores.parquet")
    keyfile = None
    if key:
        keyfile = out / "key.txt"
        keyfile.write_text("\n".join(str(int(v)) for v in label) + "\n")
    write_json(out / "events.json", {"source": "toy", "n_events": n, "labelled": labelled,
               "n_signal_injected": n_s, "key": str(keyfile) if keyfile else None})  # fmt: skip
    write_json(out / "regions.json", {"score_column": "score", "event_score": "mean",
               "signal_region": [3300.0, 3700.0], "working_points": []})  # fmt: skip
    for name in ("fit", "bumphunt", "limits"):
        write_json(out / f"{name}.json", {"selections": {}})
    (out / "train").mkdir()
    hist = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e} for e in (1, 2, 3)]
    write_json(out / "train/metrics.json", hist)  # type: ignore[arg-type]
    return split, label


def _report(out):
    from adsearch.pipeline.config import PipelineConfig
    from adsearch.pipeline.report import write_report

    cfg = PipelineConfig(name="fake")
    return write_report(cfg, out, lambda name: f"plots/{name}.png")


def test_report_score_vs_proxies_table(tmp_path):
    rng = np.random.default_rng(11)
    split, label = _fake_run(tmp_path, rng)
    res = _report(tmp_path)
    px = res["performance"]["proxies"]
    m, q = px["model"], px["proxies"]
    assert set(q) == {"mass", "girth", "gmm"}
    assert m["auc"] > 0.85  # the score learned tau21 ...
    assert 0.4 < q["mass"]["auc"] < 0.6  # ... on a sample where the mass does not separate
    assert q["girth"]["auc_best"] > 0.7 and q["gmm"]["auc_best"] > 0.6
    for v in q.values():
        assert v["auc_best"] == pytest.approx(max(v["auc"], 1 - v["auc"]))
        assert v["direction"] == ("higher" if v["auc"] >= 0.5 else "lower")
    test = split == 2
    import pyarrow.parquet as pq
    from scipy.stats import spearmanr

    sc = pq.read_table(tmp_path / "scores.parquet").to_pydict()
    bkg = test & (label == 0)
    mj = np.maximum(sc["mj1"], sc["mj2"])[bkg]
    ref = spearmanr(np.asarray(sc["score"])[bkg], mj)[0]
    assert px["spearman_score_mj"] == pytest.approx(ref) == m["spearman_mj"]
    assert q["mass"]["spearman_mj"] > 0.8
    assert px["n_signal"] == int(label[test].sum()) == res["performance"]["n_signal_test"]
    # the GMM is fitted on the training-split background only
    g = px["gmm"]
    assert g["fit_sample"] == "training-split background"
    assert g["model"]["n_fit"] == int(((split == 0) & (label == 0)).sum())
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["performance"]["proxies"]["proxies"]["girth"]["auc"] == pytest.approx(
        q["girth"]["auc"]
    )
    md = (tmp_path / "report.md").read_text()
    assert "### Score vs proxies" in md
    row = next(line for line in md.splitlines() if line.startswith("| girth alone"))
    assert f"{q['girth']['auc']:.3g}" in row and f"({q['girth']['direction']})" in row
    assert md.count("| model event score (mean) |") == 1
    assert "| GMM density baseline (log m, τ21 of both jets) |" in md
    # the GMM holds tau21 itself and does at least as well as the fake score: named
    assert px["not_beaten"] == [k for k, v in q.items() if v["auc_best"] >= m["auc"]] == ["gmm"]
    assert "**Verdict: the score does not beat** GMM density baseline" in md
    # the learning curve is drawn and shown
    assert (tmp_path / "plots/learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert "![learning curve](plots/learning_curve.png)" in md
    assert "plots/learning_curve.png" in res["plots"]


def test_report_proxies_black_box_and_unlabelled(tmp_path):
    rng = np.random.default_rng(12)
    (tmp_path / "bb").mkdir()
    split, _ = _fake_run(tmp_path / "bb", rng, labelled=False, key=True, n_b=400, n_s=80)
    px = _report(tmp_path / "bb")["performance"]["proxies"]
    # no labels in the features: the GMM is fitted on every training-split event
    assert px["gmm"]["fit_sample"] == "training-split events"
    assert px["gmm"]["model"]["n_fit"] == int((split == 0).sum())
    assert 0.0 <= px["proxies"]["gmm"]["auc"] <= 1.0
    # no truth at all: no performance, no proxy table, the learning curve still
    (tmp_path / "nt").mkdir()
    _fake_run(tmp_path / "nt", rng, labelled=False, n_b=100, n_s=20)
    res = _report(tmp_path / "nt")
    md = (tmp_path / "nt/report.md").read_text()
    assert res["performance"] is None and "Score vs proxies" not in md
    assert (tmp_path / "nt/plots/learning_curve.png").is_file()


def test_sculpting_ratios_see_a_cut_made_bump_in_the_signal_region():
    """A cut that passes twice as much background inside 3.3-3.7 TeV shows ε_B ratios of 2;
    a cut independent of mjj shows 1 within the stated binomial error."""
    from adsearch.pipeline.report import _sculpting

    rng = np.random.default_rng(0)
    n = 200_000
    mjj = rng.uniform(2800, 6000, n)
    in_sr = (mjj >= 3300) & (mjj < 3700)
    flat = rng.random(n)
    bumped = np.where(in_sr, flat * 0.5, flat)  # low scores pass: invert below
    table = {
        "mjj": mjj,
        "mj1": rng.uniform(50, 500, n),
        "mj2": rng.uniform(50, 500, n),
        "flat": flat,
        "bumped": 1 - bumped,
    }
    wp = {"name": "eff0.1", "efficiency": 0.1, "threshold": 0.9}
    regions = {"signal_region": [3300, 3700], "working_points": [wp]}
    edges = np.geomspace(2800, 6000, 17)
    truth = np.zeros(n, int)
    v = _sculpting(regions, table, "flat", truth, edges)["eff0.1"]
    r, err = v["background_efficiency_sr_over_adjacent"]
    assert abs(r - 1) < 3 * err and 0 < err < 0.05
    assert v["background_efficiency_sr_over_outside"] == pytest.approx(1, abs=0.06)
    r, err = v["background_sr_over_interpolation"]
    assert abs(r - 1) < 3 * err and 0 < err < 0.1
    v = _sculpting(regions, table, "bumped", truth, edges)["eff0.1"]
    r, err = v["background_efficiency_sr_over_adjacent"]
    assert r == pytest.approx(2, abs=3 * err)
    r, err = v["background_sr_over_interpolation"]
    assert r == pytest.approx(2, abs=3 * err) and r > 1 + 5 * err
    assert v["background_efficiency_sr_over_outside"] == pytest.approx(2, rel=0.06)
    # without truth labels there is no background to measure the ratios on
    v = _sculpting(regions, table, "flat", None, edges)["eff0.1"]
    assert v["background_efficiency_sr_over_adjacent"] is None
    assert v["background_sr_over_interpolation"] is None
    # the report and `adsearch run` warn about the bumped cut, not about the flat one
    from adsearch.pipeline.report import _sculpting_lines, sculpted_bump_text

    assert sculpted_bump_text(_sculpting(regions, table, "flat", truth, edges)) is None
    bumped = _sculpting(regions, table, "bumped", truth, edges)
    assert sculpted_bump_text(bumped).startswith("eff0.1: 2.")
    assert any(line.startswith("**The cut makes a bump**") for line in _sculpting_lines(bumped))
    assert sculpted_bump_text(_sculpting(regions, table, "flat", None, edges)) is None


@pytest.mark.parametrize(
    ("ratio", "flagged"),
    [([1.2, 0.099], True), ([1.2, 0.1], False), ([0.7, 0.05], False), (None, False)],
)
def test_a_bump_is_flagged_beyond_two_errors_above_one(ratio, flagged):
    from adsearch.pipeline.report import sculpted_bump_text

    sc = {"sample": "background (truth)", "eff0.1": {"background_sr_over_interpolation": ratio}}
    assert (sculpted_bump_text(sc) is not None) == flagged


def test_report_verdict_names_the_proxies_not_beaten():
    from adsearch.pipeline.report import _verdict_lines

    row = {"auc": 0.6, "auc_best": 0.6, "direction": "higher"}
    px = {
        "model": {"auc": 0.7},
        "proxies": {"mass": {**row, "auc_best": 0.81}, "girth": row, "gmm": row},
        "not_beaten": ["mass"],
    }
    text = " ".join(_verdict_lines(px))
    assert "does not beat** jet mass alone (mean of the two jets): 0.81" in text
    assert "GMM" not in text and "0.7)" in text
    all_beaten = {**px, "model": {"auc": 0.9}, "not_beaten": []}
    all_beaten["proxies"] = {**px["proxies"], "mass": row}
    text = " ".join(_verdict_lines(all_beaten))
    assert "beats every proxy (AUC 0.9 against at most 0.6, jet mass" in text
    assert _verdict_lines({k: v for k, v in px.items() if k != "not_beaten"}) == []
