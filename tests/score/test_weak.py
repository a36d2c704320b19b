"""adsearch.score.weak: the scores table of a weakly supervised search over a features file."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from adsearch.errors import InputError
from adsearch.stats.metrics import roc_auc
from adsearch.weak import ClassifierConfig, WeakConfig, planted_toy
from adsearch.weak.toys import toy_table

FAST = ClassifierConfig(kind="hgb", n_members=1)


def _cfg(method: str = "cwola", seed: int = 0) -> WeakConfig:
    return WeakConfig(method=method, n_folds=3, classifier=FAST, seed=seed)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    d = tmp_path_factory.mktemp("weak_table")
    planted = toy_table(planted_toy(n_background=6000, n_signal=300, seed=1))
    planted.to_parquet(d / "planted.parquet")
    toy_table(planted_toy(n_background=6000, n_signal=0, seed=2)).to_parquet(d / "bkg.parquet")
    toy_table(planted_toy(n_background=6000, n_signal=0, seed=4)).to_parquet(d / "ref.parquet")
    return d


def test_layout_of_the_scores_table(tables, tmp_path):
    from adsearch.score import weak_score_table

    info = weak_score_table(
        tables / "planted.parquet", tmp_path / "s.parquet", _cfg(), products_dir=tmp_path / "w"
    )
    t = pq.read_table(tmp_path / "s.parquet").to_pandas()
    src = pq.read_table(tables / "planted.parquet").to_pandas()
    assert len(t) == len(src) and np.array_equal(t["mjj"], src["mjj"])  # input order kept
    assert (t["split"] == 2).all()  # out of fold: every event is a test event
    assert np.array_equal(t["score"], t["score_max"]) and np.array_equal(t["score"], t["score_min"])
    assert t["score_j1"].isna().all() and t["score_j2"].isna().all()  # one score per event
    assert json.loads((tmp_path / "w/weak.json").read_text())["method"] == "cwola"
    assert (tmp_path / "w/models.pkl").is_file()
    # the planted signal (inside the SR) is found, the SR data differ from the sidebands
    assert roc_auc(t["label"].to_numpy(), t["score"].to_numpy()) > 0.75
    assert info["auc_data_vs_template"] > 0.55


def test_label_column_never_reaches_training(tables, tmp_path):
    from adsearch.score import weak_score_table

    t = pq.read_table(tables / "planted.parquet").to_pandas()
    t["label"] = np.random.default_rng(0).permutation(t["label"].to_numpy())
    t.to_parquet(tmp_path / "shuffled.parquet")
    weak_score_table(tables / "planted.parquet", tmp_path / "a.parquet", _cfg())
    weak_score_table(tmp_path / "shuffled.parquet", tmp_path / "b.parquet", _cfg())
    a = pq.read_table(tmp_path / "a.parquet")["score"].to_numpy()
    b = pq.read_table(tmp_path / "b.parquet")["score"].to_numpy()
    assert np.array_equal(a, b)  # same seed, same scores; labels play no part


def test_reference_template_of_pure_background_gives_chance(tables, tmp_path):
    from adsearch.score import weak_score_table

    info = weak_score_table(
        tables / "bkg.parquet",
        tmp_path / "s.parquet",
        _cfg("reference"),
        reference_path=tables / "ref.parquet",
    )
    assert abs(info["auc_data_vs_template"] - 0.5) < 0.05
    assert info["n_reference_signal_region"] > 100


def test_bad_inputs_one_error_no_output(tables, tmp_path):
    from adsearch.score import weak_score_table

    out = tmp_path / "s.parquet"
    with pytest.raises(InputError, match="no reference table"):
        weak_score_table(tables / "bkg.parquet", out, _cfg("reference"))
    with pytest.raises(InputError, match="nope.parquet: no such file"):
        weak_score_table(tables / "bkg.parquet", out, _cfg("reference"), tmp_path / "nope.parquet")
    far = WeakConfig(method="cwola", n_folds=3, classifier=FAST, signal_region=(9000.0, 9500.0))
    with pytest.raises(InputError, match="lies outside the data's mjj range"):
        weak_score_table(tables / "bkg.parquet", out, far)
    assert list(tmp_path.iterdir()) == []


def test_auc_without_template_scores_is_none():
    from adsearch.score.weak import _auc

    assert _auc(np.ones(3), None) is None and _auc(np.ones(3), np.zeros(0)) is None
    assert _auc(np.ones(3), np.ones(2)) == pytest.approx(0.5)
    assert _auc(np.ones(3), np.zeros(2)) == pytest.approx(1.0)


def test_score_config_weak_config():
    from adsearch.errors import ConfigError
    from adsearch.score.config import ScoreConfig

    w = ScoreConfig(method="reference").weak_config([3400.0, 3600.0])  # a YAML list
    assert w.method == "reference" and w.signal_region == (3400.0, 3600.0)
    with pytest.raises(ConfigError, match="'model' is not a weakly supervised method"):
        ScoreConfig().weak_config((3300.0, 3700.0))


def test_feature_score_table(tables, tmp_path):
    """method feature: the score is the feature (or minus it), every event a test event,
    weak.json says what ran, and a NaN feature is one error line with no output."""
    from adsearch.score import feature_score_table
    from adsearch.weak.features import feature_matrix, read_table

    src = tables / "planted.parquet"
    info = feature_score_table(src, tmp_path / "s.parquet", "tau21_lighter", "low", tmp_path / "w")
    t = pq.read_table(tmp_path / "s.parquet").to_pandas()
    want = -feature_matrix(read_table(src), ["tau21_lighter"])[:, 0]
    np.testing.assert_array_equal(t["score"].to_numpy(), want)
    assert (t["split"] == 2).all() and t["score_j1"].isna().all()
    assert json.loads((tmp_path / "w/weak.json").read_text())["feature"] == "tau21_lighter"
    assert info["n_data"] == len(t)
    bad = read_table(src)
    bad.loc[3, "mj1"] = np.nan
    bad.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(InputError, match="feature 'mj_heavier' has 1 NaN/inf value"):
        feature_score_table(tmp_path / "bad.parquet", tmp_path / "b.parquet", "mj_heavier")
    assert not (tmp_path / "b.parquet").exists()
