"""``adsearch weak``: outputs in row order, labelled test metrics, one-line errors, no output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from adsearch.cli import main
from adsearch.weak import planted_toy
from adsearch.weak.toys import toy_table

FAST = ["--classifier", "hgb", "--threads", "1", "--set", "n_folds=3",
        "--set", "classifier.n_members=1", "--set", "classifier.hgb_max_iter=50"]  # fmt: skip


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    d = tmp_path_factory.mktemp("weak")
    toy_table(planted_toy(6000, 150, seed=0)).to_parquet(d / "data.parquet")
    toy_table(planted_toy(6000, 0, seed=1)).to_parquet(d / "ref.parquet")
    test = toy_table(planted_toy(4000, 400, seed=2)).drop(columns="mjj")
    test.to_hdf(d / "test.h5", key="df", mode="w", format="fixed")  # the LHCO features layout
    return d


def test_reference_method_writes_scores_in_row_order(tables, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["weak", str(tables / "data.parquet"), "--method", "reference",
            "--reference", str(tables / "ref.parquet"), "--test", str(tables / "test.h5"),
            "--signal-region", "3300,3700", "-o", str(out), *FAST]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "reference (hgb, 3 models)" in printed and "test (signal region): AUC" in printed
    data = pd.read_parquet(tables / "data.parquet")
    scores = pd.read_parquet(out / "scores.parquet")
    assert list(scores.columns) == ["score"] and len(scores) == len(data)
    test_scores = pd.read_parquet(out / "test_scores.parquet")
    assert len(test_scores) == 4400
    info = json.loads((out / "weak.json").read_text())
    assert info["config"]["method"] == "reference" and info["config"]["n_folds"] == 3
    assert info["test_metrics"]["max_sic"] > 3
    assert {p.name for p in out.iterdir()} == {
        "scores.parquet",
        "test_scores.parquet",
        "models.pkl",
        "weak.json",
    }
    # the data's own planted events get the highest out-of-fold scores
    sr = (data.mjj >= 3300) & (data.mjj < 3700)
    top = scores.score[sr].rank(ascending=False) <= 100
    assert data.label[sr][top].mean() > 0.5


def test_cwola_and_features_option(tables, tmp_path):
    out = tmp_path / "cw"
    args = ["weak", str(tables / "data.parquet"), "--method", "cwola", "--sideband-width",
            "300", "--features", "mj_lighter,delta_mj", "-o", str(out), *FAST]  # fmt: skip
    assert main(args) == 0
    info = json.loads((out / "weak.json").read_text())
    assert info["config"]["features"] == ["mj_lighter", "delta_mj"]
    assert np.isfinite(pd.read_parquet(out / "scores.parquet").score).all()


def test_cwola_hunt_scans_the_mass_hypotheses(tables, tmp_path, capsys):
    out = tmp_path / "hunt"
    args = ["weak", str(tables / "data.parquet"), "--method", "cwola", "--hunt",
            "--hunt-range", "2800,4800", "-o", str(out), *FAST]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "largest local Z" in printed and "3406-3757 GeV: AUC SR vs SB" in printed
    assert {p.name for p in out.iterdir()} == {"hunt.json", "hunt.md", "hunt.png"}
    hunt = json.loads((out / "hunt.json").read_text())
    assert hunt["config"]["mjj_range"] == [2800.0, 4800.0]
    assert len(hunt["hypotheses"]) == 6  # 11 bins: windows of 2 at bins 2..7, 2 sideband bins
    assert (out / "hunt.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "reference"], "method 'reference' needs a reference table (--reference)"),
        (["--signal-region", "20000,21000"], "data: signal region 20000-21000 GeV lies outside"),
        (["--features", "mj_lighter,label"], "weak:features: unknown feature 'label'"),
        (["--method", "svdd"], "options:method: bad value 'svdd'"),
        (["--method", "cathode", "--hunt"], "--hunt slides CWoLa hunting: use --method cwola"),
        (["--method", "cwola", "--hunt", "--hunt-range", "3000,3300"], "cannot hold a window"),
    ],
)
def test_errors_are_one_line_and_write_nothing(tables, tmp_path, capsys, extra, message):
    out = tmp_path / "bad"
    assert main(["weak", str(tables / "data.parquet"), "-o", str(out), *FAST, *extra]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not out.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("drop", "error: REF: lacks column(s) tau3j2 of an events table"),
        ("add", "error: reference: columns differ from the data's (extra: girthj1)"),
    ],
)
def test_reference_with_other_columns(tables, tmp_path, capsys, change, message):
    ref = pd.read_parquet(tables / "ref.parquet")
    ref = ref.drop(columns=["tau3j2"]) if change == "drop" else ref.assign(girthj1=0.1)
    ref.to_parquet(tmp_path / "ref.parquet")
    out = tmp_path / "bad"
    args = ["weak", str(tables / "data.parquet"), "--method", "reference", "--reference",
            str(tmp_path / "ref.parquet"), "-o", str(out), *FAST]  # fmt: skip
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err == message
    assert not out.exists()
