"""The unsupervised substructure-density score (adsearch.score.density)."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from adsearch.errors import ConfigError, InputError
from adsearch.graphs.build import jet_axis
from adsearch.graphs.toy import toy_substructure_pair
from adsearch.jets.nsubjettiness import nsubjettiness
from adsearch.score.density import (
    DensityScoreConfig,
    JetDensity,
    density_score_table,
    jet_features,
)
from adsearch.stats.metrics import roc_auc

FAST = {"transforms": 2, "hidden": [32, 32], "max_epochs": 40, "patience": 4}


def _jet_columns(cons, j: int) -> dict[str, np.ndarray]:
    tau = nsubjettiness(cons, n_max=3)
    return {f"mj{j}": jet_axis(cons).mass, **{f"tau{k}j{j}": tau[:, k - 1] for k in (1, 2, 3)}}


def _toy_events(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` QCD-like events and ``n`` events of two 2-prong jets, same jet-mass spectra."""
    bkg, sig = toy_substructure_pair(2 * n, seed=seed)
    cols = {}
    for j, sl in ((1, slice(0, n)), (2, slice(n, 2 * n))):
        b, s = _jet_columns(bkg[sl], j), _jet_columns(sig[sl], j)
        cols.update({k: np.r_[b[k], s[k]] for k in b})
    label = np.r_[np.zeros(n), np.ones(n)]
    # back-to-back jets at mjj ~ 3.5 TeV: the event columns of a features table
    p = np.full(2 * n, 1700.0)
    zero = np.zeros(2 * n)
    cols.update(pxj1=p, pyj1=zero, pzj1=zero, pxj2=-p, pyj2=zero, pzj2=zero, mjj=2 * p + 100)
    cols["label"] = label
    return pd.DataFrame(cols), label


def test_jet_features_values_and_floors():
    t = {
        "mj1": np.array([100.0, 0.0]),
        "mj2": np.array([50.0, 20.0]),
        "tau1j1": np.array([0.5, 0.0]),
        "tau2j1": np.array([0.25, 0.0]),
        "tau3j1": np.array([0.2, 0.0]),
        "tau1j2": np.array([0.4, 0.3]),
        "tau2j2": np.array([0.1, 0.3]),
        "tau3j2": np.array([0.05, 0.15]),
    }
    x = jet_features(t, ["log_tau21", "log_tau32", "log_mass"])
    assert x.shape == (2, 2, 3)
    np.testing.assert_allclose(x[0, 0], np.log([0.25 / (0.5 + 1e-5), 0.2 / (0.25 + 1e-5), 100]))
    np.testing.assert_allclose(x[0, 1], np.log([0.1 / (0.4 + 1e-5), 0.05 / (0.1 + 1e-5), 50]))
    # an empty jet (tau = 0, m = 0) sits at the floors, not at -inf
    np.testing.assert_allclose(x[1, 0], np.log([1e-3, 1e-3, 1.0]))


def test_jet_features_bad_input_names_the_column():
    t = {"mj1": np.ones(2), "mj2": np.ones(2), "tau1j1": np.ones(2), "tau2j1": np.ones(2)}
    with pytest.raises(InputError, match="'tau3j1'"):
        jet_features(t, ["log_tau21"], "f.parquet")
    t.update(tau3j1=np.array([0.1, np.nan]))
    with pytest.raises(InputError, match="f.parquet: column 'tau3j1' contains NaN"):
        jet_features(t, ["log_tau21"], "f.parquet")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"features": ["log_girth"]}, "score:density:features: unknown feature 'log_girth'"),
        ({"features": []}, "need at least one feature"),
        ({"features": ["log_tau21", "log_tau21"]}, "named twice"),
        ({"max_jets": 5}, "score:density:max_jets"),
        ({"hidden": [0]}, "score:density:hidden"),
    ],
)
def test_config_errors_name_the_field(kw, match):
    with pytest.raises(ConfigError, match=match):
        DensityScoreConfig(**kw)


def test_density_learns_prong_structure_not_mass():
    """Same jet masses, different prong structure: the mass alone is at chance, the density
    of (log tau21, log tau32) fitted on data with 2 % anomalies finds them."""
    table, y = _toy_events(1500, seed=0)
    rng = np.random.default_rng(1)
    train = rng.random(len(y)) < 0.5
    train &= (y == 0) | (rng.random(len(y)) < 0.02)  # background-dominated training data
    test = ~((rng.random(len(y)) < 0) | train)
    dens = JetDensity(DensityScoreConfig(**FAST)).fit(table, mask=train)
    score = dens.score(table)
    mass = 0.5 * (table.mj1 + table.mj2).to_numpy()
    assert abs(roc_auc(y[test], mass[test]) - 0.5) < 0.06
    assert roc_auc(y[test], score[test]) > 0.85


def test_heavier_is_rarer_with_log_mass():
    """With log_mass, a jet far above the background's mass spectrum scores higher."""
    rng = np.random.default_rng(0)
    n = 3000
    t = {f"tau{k}j{j}": rng.uniform(0.2, 0.8, n) for k in (1, 2, 3) for j in (1, 2)}
    t.update(mj1=rng.lognormal(np.log(80), 0.3, n), mj2=rng.lognormal(np.log(60), 0.3, n))
    dens = JetDensity(DensityScoreConfig(features=["log_mass"], **FAST)).fit(t)
    probe = {k: v[:2].copy() for k, v in t.items()}
    probe["mj1"] = np.array([80.0, 500.0])
    probe["mj2"] = np.array([60.0, 60.0])
    s = dens.score(probe)
    assert s[1] > s[0] + 5  # a 500 GeV jet is ~6 sigma out in log m


def test_same_seed_same_scores_and_save_load(tmp_path):
    table, _ = _toy_events(300, seed=2)
    cfg = DensityScoreConfig(**{**FAST, "max_epochs": 5})
    a = JetDensity(cfg).fit(table)
    b = JetDensity(cfg).fit(table)
    np.testing.assert_array_equal(a.score(table), b.score(table))
    c = JetDensity(DensityScoreConfig(**{**FAST, "max_epochs": 5, "seed": 1})).fit(table)
    assert not np.array_equal(a.score(table), c.score(table))
    a.save(tmp_path / "density.pt")
    back = JetDensity.load(tmp_path / "density.pt")
    assert back.cfg == cfg
    np.testing.assert_allclose(back.score(table), a.score(table), rtol=0, atol=1e-12)


def test_load_refuses_other_files(tmp_path):
    bad = tmp_path / "x.pt"
    bad.write_text("not a torch file")
    with pytest.raises(InputError, match="x.pt: not a saved density"):
        JetDensity.load(bad)


def test_unfitted_and_too_few_jets():
    with pytest.raises(InputError, match="not fitted"):
        JetDensity().score({"mj1": np.ones(1)})
    table, _ = _toy_events(4, seed=0)  # 16 jets
    with pytest.raises(InputError, match="too few"):
        JetDensity().fit(table)


def test_score_table_never_reads_the_label(tmp_path):
    """The scores table's layout, and labels that cannot change the scores."""
    table, _ = _toy_events(300, seed=3)
    cfg = DensityScoreConfig(**{**FAST, "max_epochs": 5})
    table.to_parquet(tmp_path / "f.parquet")
    info = density_score_table(tmp_path / "f.parquet", tmp_path / "s.parquet", cfg, tmp_path / "o")
    flipped = table.assign(label=1 - table.label)
    flipped.to_parquet(tmp_path / "g.parquet")
    density_score_table(tmp_path / "g.parquet", tmp_path / "t.parquet", cfg)
    s = pq.read_table(tmp_path / "s.parquet").to_pandas()
    t = pq.read_table(tmp_path / "t.parquet").to_pandas()
    np.testing.assert_array_equal(s.score, t.score)
    assert info["n_data"] == len(table) and info["method"] == "density"
    assert (s.split == 2).all() and np.allclose(s.score, s.score_j1 + s.score_j2)
    assert (s.score == s.score_max).all()
    assert {"density.pt", "weak.json"} <= {p.name for p in (tmp_path / "o").iterdir()}
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []
