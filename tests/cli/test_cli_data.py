"""`adsearch features` writes what the output's extension says; ROOT names reach the reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adsearch.cli import main
from adsearch.io import RootBranches, make_particles, write_lhco, write_root
from adsearch.jets import read_features
from adsearch.jets.featurefile import read_lhco_features_h5
from adsearch.jets.features import LHCO_COLUMNS


def _particles(n: int, seed: int):
    """``n`` events of two back-to-back sprays (two jets each)."""
    rng = np.random.default_rng(seed)
    pt, eta, phi = [], [], []
    for _ in range(n):
        k1, k2 = rng.integers(4, 15, 2)
        pt.append(np.r_[rng.exponential(60, k1) + 1, rng.exponential(50, k2) + 1].tolist())
        eta.append(np.r_[rng.normal(0.1, 0.2, k1), rng.normal(-0.5, 0.2, k2)].tolist())
        f = np.r_[rng.normal(0.5, 0.2, k1), rng.normal(0.5 - np.pi, 0.2, k2)]
        phi.append(np.angle(np.exp(1j * f)).tolist())
    return make_particles(pt, eta, phi)


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ev") / "ev.h5"
    write_lhco(path, _particles(17, 3), np.arange(17) % 2)
    return path


def test_features_h5_output_is_the_lhco_features_layout(events, tmp_path, capsys):
    out = tmp_path / "out.h5"
    assert main(["features", str(events), "-o", str(out), "--chunk-size", "5"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    with open(out, "rb") as fh:
        assert fh.read(8) == b"\x89HDF\r\n\x1a\n"  # was: Parquet bytes under the .h5 name
    df = read_lhco_features_h5(out)
    # the same rows as the Parquet output's LHCO columns
    assert main(["features", str(events), "-o", str(tmp_path / "f.parquet")]) == 0
    ref = read_features(tmp_path / "f.parquet")
    assert tuple(df.columns) == LHCO_COLUMNS and len(df) == len(ref) == 17
    for c in LHCO_COLUMNS:
        np.testing.assert_array_equal(df[c].to_numpy(), ref.table[c], err_msg=c)
    assert df.attrs["adsearch.features"]["n_input"] == 17
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.parquet", "out.h5"]


def test_features_unknown_extension_is_refused_before_any_output(events, tmp_path, capsys):
    rc = main(["features", str(events), "-o", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "\n" not in err
    assert err.startswith(f"error: {tmp_path / 'out.csv'}: unknown features-file extension")
    assert not any(tmp_path.iterdir())  # no output, no temporary file


def test_features_reads_root_tree_and_branches_by_name(tmp_path, capsys):
    src = tmp_path / "ev.root"
    names = RootBranches("jet_pt", "jet_eta", "jet_phi", None)
    write_root(src, _particles(9, 5), tree="Delphes", branches=names)
    out = tmp_path / "f.parquet"
    rc = main(["features", str(src), "-o", str(out), "--tree", "Delphes",
               "--branches", "jet_pt,jet_eta,jet_phi"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert read_features(out).n_input == 9
    # the default names are not in this file: one line naming what is there
    assert main(["features", str(src), "-o", str(tmp_path / "g.parquet")]) == 1
    err = capsys.readouterr().err
    assert "Delphes" in err and err.count("\n") == 1
    rc = main(["features", str(src), "-o", str(out), "--branches", "a,b"])
    assert rc == 1 and "--branches: expected 'pt,eta,phi[,label]'" in capsys.readouterr().err
