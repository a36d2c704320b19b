"""`adsearch info` on LHCO features HDF5 files (adsearch.jets.info), and the fall-through to
adsearch.io.info for event files."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adsearch.cli import main
from adsearch.errors import InputError
from adsearch.jets import LHCO_COLUMNS
from adsearch.jets.info import describe, is_lhco_features_h5, lhco_features_info, lhco_mjj

RD_TINY = Path(__file__).parents[1] / "data" / "io" / "lhco_rd_tiny.h5"


def _frame(labels=(0.0, 0.0, 1.0)) -> pd.DataFrame:
    """Back-to-back massless jets of 1, 2, 3 TeV pT (mjj 2, 4, 6 TeV) plus jet masses 0."""
    n = len(labels)
    cols = {c: np.zeros(n) for c in LHCO_COLUMNS}
    pt = 1000.0 * np.arange(1, n + 1)
    cols["pxj1"], cols["pxj2"] = pt, -pt
    cols["label"] = np.asarray(labels, dtype=np.float64)
    return pd.DataFrame(cols)


def _write(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_hdf(path, key="df", mode="w", format="fixed")  # the LHCO 2020 layout
    return path


def test_lhco_mjj_of_jets_with_mass_and_pz():
    row = {"pxj1": 300.0, "pyj1": 400.0, "pzj1": 1200.0, "mj1": 100.0,
           "pxj2": -300.0, "pyj2": -400.0, "pzj2": 0.0, "mj2": 50.0}  # fmt: skip
    e1, e2 = np.sqrt(500.0**2 + 1200.0**2 + 100.0**2), np.sqrt(500.0**2 + 50.0**2)
    expected = np.sqrt((e1 + e2) ** 2 - 1200.0**2)
    np.testing.assert_allclose(lhco_mjj(pd.DataFrame([row])), [expected], rtol=1e-12)


def test_features_info_labelled_and_unlabelled(tmp_path):
    info = lhco_features_info(_write(tmp_path / "f.h5", _frame()))
    assert info.n_events == 3 and info.columns == LHCO_COLUMNS
    assert info.label_counts == {0.0: 2, 1.0: 1}
    np.testing.assert_allclose(info.mjj_range, (2000.0, 6000.0))
    assert info.header == {}
    bb = _write(tmp_path / "bb.h5", _frame().drop(columns="label"))
    info = lhco_features_info(bb)
    assert info.label_counts is None and len(info.columns) == 14


def test_is_lhco_features_h5(tmp_path):
    assert is_lhco_features_h5(_write(tmp_path / "f.h5", _frame()))
    assert not is_lhco_features_h5(RD_TINY)  # an LHCO event file
    assert not is_lhco_features_h5(_write(tmp_path / "o.h5", pd.DataFrame({"a": [1.0]})))
    (tmp_path / "t.txt").write_text("pxj1\n")
    assert not is_lhco_features_h5(tmp_path / "t.txt")
    assert not is_lhco_features_h5(tmp_path / "missing.h5")


def test_describe_features_and_event_files(tmp_path):
    text = describe(_write(tmp_path / "f.h5", _frame()))
    assert re.search(r"^format:\s+LHCO features", text, re.M)
    assert re.search(r"^events:\s+3$", text, re.M)
    assert f"15: {', '.join(LHCO_COLUMNS)}" in text
    assert re.search(r"^labels:\s+0: 2, 1: 1$", text, re.M)
    assert re.search(r"^mjj:\s+2000\.0 - 6000\.0 GeV$", text, re.M)
    empty = describe(_write(tmp_path / "e.h5", _frame(labels=())))
    assert re.search(r"^events:\s+0$", empty, re.M)
    assert re.search(r"^mjj:\s+no events$", empty, re.M)
    assert "R&D-like" in describe(RD_TINY)  # event files: adsearch.io.info


def test_cli_info_features_file(tmp_path, capsys):
    f = tmp_path / "x.h5"
    assert main(["features", str(RD_TINY), "-o", str(f)]) == 0
    capsys.readouterr()
    assert main(["info", str(f)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^format:\s+LHCO features", out, re.M)
    assert re.search(r"^events:\s+50$", out, re.M)
    assert re.search(r"^labels:\s+0: 40, 1: 10$", out, re.M)
    assert re.search(r"^mjj:\s+[\d.]+ - [\d.]+ GeV$", out, re.M)
    assert re.search(rf"^source:\s+{re.escape(str(RD_TINY))}$", out, re.M)


def test_cli_info_bad_features_file_one_line_error(tmp_path, capsys):
    bad = _frame()
    bad["label"] = bad["label"].astype(np.int64)
    path = _write(tmp_path / "bad.h5", bad)
    with pytest.raises(InputError, match="'label' is int64, expected float64"):
        lhco_features_info(path)
    assert main(["info", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "expected float64" in err and "\n" not in err
