import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from adsearch.cli import main
from adsearch.errors import InputError
from adsearch.io import write_lhco, write_root
from adsearch.io.info import describe


def test_describe_lhco_with_labels_and_attrs(tmp_path, rand_particles):
    p = rand_particles(120, seed=2, low=10, high=11)  # exactly 10 objects per event
    labels = (np.arange(120) < 30).astype(int)
    path = tmp_path / "rd.h5"
    write_lhco(path, p, labels, attrs={"seed": 5, "card": {"mass": 3500}})
    text = describe(path)
    assert "R&D-like" in text and "2101 columns" in text
    assert re.search(r"^events:\s+120$", text, re.M)
    assert "30 of 120 labelled signal (25.000 %)" in text
    assert "median 10, q10 10, q90 10, max 10 (first 120 events)" in text
    assert re.search(r"^attr seed:\s+5$", text, re.M)
    assert '{"mass": 3500}' in text


def test_describe_black_box_and_pandas_file(data_dir):
    text = describe(data_dir / "lhco_bb_tiny.h5")
    assert "Black-Box-like" in text and "signal" not in text
    assert re.search(r"^events:\s+20$", text, re.M)
    text = describe(data_dir / "lhco_rd_tiny.h5")
    assert "10 of 50 labelled signal (20.000 %)" in text


def test_describe_root_and_parquet(tmp_path, rand_particles):
    write_root(tmp_path / "e.root", rand_particles(40, seed=3), np.ones(40))
    text = describe(tmp_path / "e.root")
    assert "ROOT, TTree 'events'" in text.splitlines()[1]
    assert re.search(r"^events:\s+40$", text, re.M)
    assert "40 of 40 labelled signal (100.000 %)" in text
    table = pa.table({"mjj": np.arange(5.0), "tau21j1": np.ones(5), "label": np.zeros(5)})
    pq.write_table(table, tmp_path / "f.parquet")
    text = describe(tmp_path / "f.parquet")
    assert "parquet" in text and re.search(r"^rows:\s+5$", text, re.M)
    assert "3: mjj, tau21j1, label" in text


def test_describe_unknown_format(tmp_path):
    (tmp_path / "a.txt").write_text("pt eta phi\n")
    with pytest.raises(InputError, match="a.txt: unknown file format"):
        describe(tmp_path / "a.txt")


def test_cli_info_ok(tmp_path, rand_particles, capsys):
    write_lhco(tmp_path / "ev.h5", rand_particles(77, seed=1))
    assert main(["info", str(tmp_path / "ev.h5")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^events:\s+77$", out, re.M)


@pytest.mark.parametrize("kind", ["missing", "empty", "truncated", "columns"])
def test_cli_info_bad_file(tmp_path, rand_particles, capsys, kind):
    path = tmp_path / "bad.h5"
    if kind == "empty":
        path.touch()
    elif kind == "truncated":
        write_lhco(tmp_path / "good.h5", rand_particles(50, seed=1))
        data = (tmp_path / "good.h5").read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "columns":
        import pandas as pd

        pd.DataFrame(np.ones((3, 5))).to_hdf(path, key="df", format="fixed")
    assert main(["info", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: ") and err.count("\n") == 1


def test_cli_info_root_branches(tmp_path, rand_particles, capsys):
    from adsearch.io import RootBranches

    path = tmp_path / "d.root"
    br = RootBranches(pt="PT", eta="Eta", phi="Phi", label="y")
    write_root(path, rand_particles(12, seed=1), np.zeros(12), tree="Delphes", branches=br)
    # default names: one error line naming the file, the missing tree, what exists
    assert main(["info", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {path}: no TTree 'events' (TTrees in file: Delphes)\n"
    assert main(["info", str(path), "--tree", "Delphes"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: TTree 'Delphes' has no branch 'part_pt'")
    assert "(branches: Eta, PT, Phi," in err and err.count("\n") == 1
    # the right names
    args = ["info", str(path), "--tree", "Delphes", "--branches", "PT,Eta,Phi,y"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert re.search(r"^events:\s+12$", out, re.M) and "0 of 12 labelled signal" in out
    assert main(["info", str(path), "--branches", "PT,Eta"]) == 1
    assert "expected 'pt,eta,phi[,label]'" in capsys.readouterr().err
