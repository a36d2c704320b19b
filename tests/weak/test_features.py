"""Features and tables: values, the label column never read, LHCO HDF5 and Parquet inputs."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest

from adsearch.errors import InputError
from adsearch.weak import DEFAULT_FEATURES, FEATURES, feature_matrix, planted_toy, read_table
from adsearch.weak.features import check_same_columns
from adsearch.weak.toys import toy_table


class NoLabel(Mapping):
    """A table whose ``label`` column raises when read."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def __getitem__(self, key):
        if key == "label":
            raise AssertionError("the label column was read")
        return self.frame[key]

    def __contains__(self, key):
        return key in self.frame.columns

    def __iter__(self):
        return iter(self.frame.columns)

    def __len__(self):
        return len(self.frame.columns)


def test_default_features_reproduce_the_toy():
    toy = planted_toy(500, 50, seed=0)
    x = feature_matrix(toy_table(toy), DEFAULT_FEATURES)
    np.testing.assert_allclose(x, toy.x, atol=1e-9)


def test_no_feature_reads_the_label():
    table = NoLabel(toy_table(planted_toy(50, 5, seed=0)))
    assert "label" in table
    x = feature_matrix(table, list(FEATURES))
    assert x.shape == (55, len(FEATURES)) and np.isfinite(x).all()


def test_lighter_and_heavier_follow_the_jet_masses():
    t = {"mj1": [300.0], "mj2": [100.0], "tau1j1": [0.5], "tau2j1": [0.1], "tau3j1": [0.05],
         "tau1j2": [0.2], "tau2j2": [0.1], "tau3j2": [0.0]}  # fmt: skip
    x = feature_matrix(t, ["mj_lighter", "mj_heavier", "tau21_lighter", "tau21_heavier"])
    np.testing.assert_allclose(x, [[0.1, 0.3, 0.5, 0.2]])


def test_missing_column_is_one_line():
    with pytest.raises(InputError, match=r"^data: feature 'tau21_lighter' needs column\(s\)"):
        feature_matrix({"mj1": [1.0], "mj2": [2.0]}, ["tau21_lighter"], "data")


def test_parquet_and_lhco_h5_tables_agree(tmp_path):
    frame = toy_table(planted_toy(200, 20, seed=2))
    lhco = frame.drop(columns=["mjj"])  # the LHCO features file has no mjj
    lhco.to_hdf(tmp_path / "t.h5", key="df", mode="w", format="fixed")
    full = read_table(tmp_path / "t.h5")
    full.to_parquet(tmp_path / "t.parquet")
    back = read_table(tmp_path / "t.parquet")
    np.testing.assert_allclose(full["mjj"], frame["mjj"], rtol=1e-9)
    check_same_columns(full, back)  # the HDF5 reader adds the columns a features file has
    np.testing.assert_allclose(
        feature_matrix(full, list(FEATURES)), feature_matrix(back, list(FEATURES))
    )


def test_read_table_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "none.parquet")
    pd.DataFrame({"a": [1.0]}).to_parquet(tmp_path / "a.parquet")
    with pytest.raises(InputError, match=r"lacks column\(s\) mjj, pxj1"):
        read_table(tmp_path / "a.parquet")
    (tmp_path / "a.csv").write_text("a\n1\n")
    with pytest.raises(InputError, match="unknown table extension '.csv'"):
        read_table(tmp_path / "a.csv")
