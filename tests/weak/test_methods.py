"""The three methods on toys: planted signal found, background-only at chance, labels unused,
seeded, and one-line errors for bad inputs with no output written."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.stats.metrics import max_sic, roc_auc
from adsearch.weak import (
    FlowConfig,
    cathode,
    cwola,
    lacathode,
    planted_toy,
    reference,
    regions,
    weak_scores,
)
from adsearch.weak.output import PRODUCTS, load_ensemble, write_outputs
from adsearch.weak.toys import toy_table
from tests.weak.common import small_config

_CACHE: dict = {}


def _run(method, toy, kind="hgb", x_test=None, seed=0):
    cfg = small_config(method, kind, seed=seed)
    if method == "reference":
        ref = planted_toy(10000, 0, seed=11)  # an independent true-background sample
        return cfg, reference(toy.x, toy.mjj, ref.x, ref.mjj, cfg, x_test)
    if method == "lacathode":
        return cfg, lacathode(toy.x, toy.mjj, cfg)
    return cfg, (cwola if method == "cwola" else cathode)(toy.x, toy.mjj, cfg, x_test)


def _efficiency_by_mass(res, toy, eff=0.1):
    """Background efficiency of the cut keeping ``eff`` of all background, in mjj bins."""
    bkg = toy.label == 0
    thr = np.quantile(res.scores[bkg], 1.0 - eff)
    edges = [2500, 2700, 2900, 3100, 3300, 3700, 4000, 4500, 6000]
    return np.array([
        (res.scores[bkg & (toy.mjj >= a) & (toy.mjj < b)] > thr).mean()
        for a, b in itertools.pairwise(edges)
    ])  # fmt: skip


def test_lacathode_cut_keeps_the_background_flat_in_mjj_where_cathode_sculpts_it():
    """Features that move with mjj (the lighter jet mass, 50 % per TeV here): CATHODE's
    classifier learns the signal's jet masses and, applied at every mjj, keeps 2.4 times more
    background at low than at high mjj; LaCATHODE's latent cut keeps the same fraction in
    every mjj bin and finds the signal as well (Hallin et al., PRD 107, 114012)."""
    toy = planted_toy(40000, 800, seed=0, drift=0.5)
    flow = FlowConfig(transforms=2, hidden=[32, 32], max_epochs=40, patience=4, lr=3e-3)
    cfg = small_config("cathode", flow=flow)
    sr, _ = regions(toy.mjj, cfg)
    la = lacathode(toy.x, toy.mjj, cfg)
    ca = cathode(toy.x, toy.mjj, cfg)
    for res in (la, ca):
        assert roc_auc(toy.label[sr], res.scores[sr]) > 0.97
    e_la, e_ca = _efficiency_by_mass(la, toy), _efficiency_by_mass(ca, toy)
    assert e_la.max() / e_la.min() < 1.2  # ±0.005-0.01 per bin at 10 %
    assert e_ca.max() / e_ca.min() > 2.0
    # the map of the flow trained on the sidebands: z is standard normal there
    np.testing.assert_allclose(la.info["latent_sidebands_mean"], 0.0, atol=0.05)
    np.testing.assert_allclose(la.info["latent_sidebands_std"], 1.0, atol=0.05)


def test_lacathode_scores_a_test_table_at_its_own_mass(tmp_path):
    toy = planted_toy(10000, 200, seed=0)
    test = planted_toy(4000, 400, seed=1)
    table, test_table = toy_table(toy), toy_table(test)
    cfg = small_config("lacathode")
    res = weak_scores(table, cfg, test=test_table, flow_cache=tmp_path)
    sr = (test.mjj >= 3300) & (test.mjj < 3700)
    assert roc_auc(test.label[sr], res.test_scores[sr]) > 0.9
    z = res.flow.latent(test.x, test.mjj / 1000.0)  # the ensemble takes latent coordinates
    np.testing.assert_allclose(res.ensemble.predict(z[:50]), res.test_scores[:50])
    # the same cached flow as CATHODE's: the second method does not train it again
    again = weak_scores(table, small_config("cathode"), flow_cache=tmp_path)
    assert again.info["flow_from_cache"]
    with pytest.raises(InputError, match="lacathode needs the mjj of every test event"):
        lacathode(toy.x, toy.mjj, cfg, x_test=test.x)


def _data_vs_template_auc(toy, cfg, res):
    sr, _ = regions(toy.mjj, cfg)
    y = np.r_[np.ones(int(sr.sum())), np.zeros(len(res.template_scores))]
    return roc_auc(y, np.r_[res.scores[sr], res.template_scores])


@pytest.mark.parametrize(("method", "kind"),
                         [("cwola", "hgb"), ("cathode", "hgb"), ("reference", "hgb"),
                          ("cathode", "mlp")])  # fmt: skip
def test_planted_signal_is_found(method, kind, planted, labelled_test):
    x_test, y_test = labelled_test
    cfg, res = _run(method, planted, kind, x_test)
    _CACHE[method, kind] = res
    assert res.scores.shape == planted.mjj.shape and np.isfinite(res.scores).all()
    assert max_sic(y_test, res.test_scores).sic > 3
    assert roc_auc(y_test, res.test_scores) > 0.9
    # the out-of-fold scores of the data itself single out the planted events
    sr, _ = regions(planted.mjj, cfg)
    assert max_sic(planted.label[sr], res.scores[sr]).sic > 3
    assert _data_vs_template_auc(planted, cfg, res) > 0.52


@pytest.mark.parametrize("method", ["cwola", "cathode", "lacathode", "reference"])
def test_background_only_is_at_chance(method, background_only):
    cfg, res = _run(method, background_only)
    assert abs(_data_vs_template_auc(background_only, cfg, res) - 0.5) < 0.04


def test_label_column_never_reaches_training(planted):
    """Same scores whether the table's label is the truth, scrambled, or absent."""
    table = toy_table(planted)
    cfg = small_config("cwola")
    a = weak_scores(table, cfg).scores
    scrambled = table.assign(label=np.random.default_rng(0).permutation(table["label"]))
    np.testing.assert_array_equal(a, weak_scores(scrambled, cfg).scores)
    np.testing.assert_array_equal(a, weak_scores(table.drop(columns="label"), cfg).scores)


def test_same_seed_same_scores(planted):
    small = planted_toy(4000, 100, seed=5)
    a = _run("cathode", small, seed=3)[1]
    b = _run("cathode", small, seed=3)[1]
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.template_scores, b.template_scores)
    c = _run("cathode", small, seed=4)[1]
    assert not np.array_equal(a.scores, c.scores)


def _bad(kind):
    toy = planted_toy(3000, 0, seed=7)
    cfg = small_config("cathode")
    table = toy_table(toy)
    if kind == "sr_outside":
        return table, small_config("cathode", signal_region=(8000.0, 9000.0)), None
    if kind == "empty_sidebands":
        return table[(table.mjj >= 3300) & (table.mjj < 3700)], cfg, None
    if kind == "too_few":
        return table.iloc[:200], cfg, None
    if kind == "nan":
        return (
            table.assign(tau2j2=np.where(np.arange(len(table)) == 5, np.nan, table.tau2j2)),
            cfg,
            None,
        )
    ref = table.drop(columns="tau3j1")
    return table, small_config("reference"), ref


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("sr_outside", "data: signal region 8000-9000 GeV lies outside the data's mjj range"),
        ("empty_sidebands", "data: the sidebands of 3300-3700 GeV hold no event"),
        ("too_few", "events in the signal region 3300-3700 GeV, too few (min_events = 100)"),
        ("nan", "data: feature 'tau21_heavier' has 1 NaN/inf value(s) (first at row 5)"),
        ("reference_columns", "reference: columns differ from the data's (missing: tau3j1)"),
    ],
)
def test_bad_inputs_are_one_line_errors(kind, message, tmp_path):
    table, cfg, ref = _bad(kind)
    out = tmp_path / "out"
    with pytest.raises(InputError) as e:
        res = weak_scores(table, cfg, reference_table=ref)
        write_outputs(out, res, cfg)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert not out.exists()


def test_outputs_are_written_and_reload(planted, labelled_test, tmp_path):
    x_test, _ = labelled_test
    res = _CACHE.get(("cathode", "hgb")) or _run("cathode", planted, "hgb", x_test)[1]
    cfg = small_config("cathode")
    paths = write_outputs(tmp_path, res, cfg, {"data": "toy"})
    assert sorted(paths) == sorted(PRODUCTS)
    import pandas as pd
    import torch

    np.testing.assert_array_equal(pd.read_parquet(paths["scores"])["score"], res.scores)
    np.testing.assert_array_equal(pd.read_parquet(paths["test_scores"])["score"], res.test_scores)
    ens = load_ensemble(paths["models"])
    np.testing.assert_allclose(ens.predict(x_test[:50]), res.test_scores[:50])
    blob = torch.load(paths["flow"], weights_only=True)
    assert blob["config"]["oversampling"] == 4 and blob["state"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_reference_reweighted_to_the_data_mjj_learns_no_mjj():
    """A template whose mjj shape in the SR differs from the data's (e.g. generated in an mhat
    window) teaches the classifier mjj through mjj-correlated features; reweighted, it does
    not: the data-vs-template AUC of pure background falls back to chance."""
    from adsearch.weak.methods import mjj_weights

    data = planted_toy(n_background=20000, n_signal=0, seed=5)
    ref = planted_toy(n_background=60000, n_signal=0, seed=6)
    rng = np.random.default_rng(0)
    sr_ref = (ref.mjj >= 3300) & (ref.mjj < 3700)
    # keep the template's low-mjj SR events with a probability rising with mjj
    keep = ~sr_ref | (rng.random(ref.mjj.size) < (ref.mjj - 3250.0) / 450.0)
    x_ref = ref.x[keep].copy()
    x_ref[:, 0] += 0.05 * (ref.mjj[keep] - 3500.0) / 200.0  # a feature correlated with mjj
    x = data.x.copy()
    x[:, 0] += 0.05 * (data.mjj - 3500.0) / 200.0
    sr = (data.mjj >= 3300) & (data.mjj < 3700)
    aucs = {}
    for rw in (False, True):
        res = reference(
            x, data.mjj, x_ref, ref.mjj[keep], small_config("reference", reweight_mjj=rw)
        )
        y = np.r_[np.ones(sr.sum()), np.zeros(res.template_scores.size)]
        aucs[rw] = roc_auc(y, np.r_[res.scores[sr], res.template_scores])
    assert aucs[False] > 0.53 and abs(aucs[True] - 0.5) < 0.025, aucs
    assert aucs[False] - aucs[True] > 0.03, aucs
    w = mjj_weights(data.mjj[sr], ref.mjj[keep][sr_ref[keep]], small_config("reference"))
    assert w.mean() == pytest.approx(1.0) and w.min() > 0


def test_the_flow_cache_reuses_a_flow_trained_on_the_same_sidebands(tmp_path):
    """A second CATHODE run with another classifier loads the flow (same samples, so the same
    template); another flow setting or other data trains a new one; a damaged entry is
    retrained, not fatal."""
    import dataclasses

    from adsearch.weak.methods import flow_key

    toy = planted_toy(4000, 100, seed=5)
    cfg = small_config("cathode", seed=3)
    first = cathode(toy.x, toy.mjj, cfg, flow_cache=tmp_path)
    assert first.info["flow_from_cache"] is False
    (entry,) = tmp_path.glob("flow-*.pt")
    plain = cathode(toy.x, toy.mjj, cfg)  # no cache: the same flow, trained again
    np.testing.assert_array_equal(first.template_scores, plain.template_scores)
    other_clf = dataclasses.replace(
        cfg, classifier=dataclasses.replace(cfg.classifier, hgb_learning_rate=0.05)
    )
    again = cathode(toy.x, toy.mjj, other_clf, flow_cache=tmp_path)
    assert again.info["flow_from_cache"] is True
    for key, value in first.flow.state.items():
        np.testing.assert_array_equal(again.flow.state[key], value)
    assert again.flow.history == first.flow.history
    assert not np.array_equal(again.scores, first.scores)  # the classifier did change
    # the key follows the flow's settings and the sideband data, not the classifier
    sb = regions(toy.mjj, cfg)[1]
    x, m = toy.x[sb], toy.mjj[sb] / 1000.0
    longer = dataclasses.replace(cfg, flow=dataclasses.replace(cfg.flow, max_epochs=21))
    assert flow_key(x, m, cfg) == flow_key(x, m, other_clf) == entry.stem.removeprefix("flow-")
    assert flow_key(x, m, longer) != flow_key(x, m, cfg)
    assert flow_key(x[1:], m[1:], cfg) != flow_key(x, m, cfg)
    entry.write_bytes(b"not a flow")
    redo = cathode(toy.x, toy.mjj, cfg, flow_cache=tmp_path)
    assert redo.info["flow_from_cache"] is False
    np.testing.assert_array_equal(redo.template_scores, first.template_scores)
    assert not list(tmp_path.glob(".*.tmp"))
