"""`adsearch features` (adsearch.jets.stream): LHCO file in, features file out, in chunks."""

import numpy as np
import pandas as pd
import pytest

from adsearch.cli import main
from adsearch.io import make_particles, read_events, write_lhco
from adsearch.jets import compute_features, features_from_file, iter_features, read_features


@pytest.fixture(scope="module")
def lhco_file(tmp_path_factory):
    """A small LHCO R&D-like file: 23 events, rows 5 and 17 with a single jet."""
    rng = np.random.default_rng(8)
    pt, eta, phi, labels = [], [], [], []
    for i in range(23):
        n1, n2 = rng.integers(5, 30, 2)
        p = np.r_[rng.exponential(40, n1) + 0.5, rng.exponential(30, n2) + 0.5]
        e = np.r_[rng.normal(0.0, 0.2, n1), rng.normal(0.8, 0.2, n2)]
        f = np.r_[rng.normal(1.0, 0.2, n1), rng.normal(1.0 - np.pi, 0.2, n2)]
        if i in (5, 17):
            p, e, f = p[:n1], e[:n1], f[:n1]
        pt.append(p.tolist())
        eta.append(e.tolist())
        phi.append(np.angle(np.exp(1j * f)).tolist())
        labels.append(int(i % 3 == 0))
    path = tmp_path_factory.mktemp("lhco") / "rd.h5"
    write_lhco(path, make_particles(pt, eta, phi), labels=labels)
    return path


def test_cli_features_chunks_equal_one_shot(lhco_file, tmp_path, capsys):
    out = tmp_path / "f.parquet"
    h5 = tmp_path / "f_lhco.h5"
    rc = main(["features", str(lhco_file), "-o", str(out), "--chunk-size", "5",
               "--lhco-h5", str(h5)])  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    assert "events in:                 23" in text and "fewer than two jets:       2" in text
    f = read_features(out)
    assert (f.n_input, f.n_fewer_than_two_jets, len(f)) == (23, 2, 21)
    assert 5 not in f.table["event_index"] and 17 not in f.table["event_index"]
    assert len(list(iter_features(out))) == 5  # one row group per chunk
    # identical to computing everything at once
    ref = compute_features(read_events(lhco_file))
    for c in ref.table:
        np.testing.assert_array_equal(f.table[c], ref.table[c], err_msg=c)
    assert f.meta["input"] == str(lhco_file) and f.meta["r"] == 1.0
    assert pd.read_hdf(h5, "df").shape == (21, 15)


def test_cli_start_stop_index_rows_of_the_file(lhco_file, tmp_path):
    out = tmp_path / "s.parquet"
    s = features_from_file(lhco_file, out, start=4, stop=19, chunk_size=4, progress=False)
    assert (s.n_input, s.n_fewer_than_two_jets, s.n_kept) == (15, 2, 13)
    idx = read_features(out).table["event_index"]
    assert idx[0] == 4 and idx[-1] == 18 and 17 not in idx
    assert read_features(out).meta["start"] == 4


def test_workers_give_identical_output(lhco_file, tmp_path):
    one = features_from_file(lhco_file, tmp_path / "1.parquet", chunk_size=6, progress=False)
    two = features_from_file(
        lhco_file, tmp_path / "2.parquet", chunk_size=6, workers=2, progress=False
    )
    assert one.n_kept == two.n_kept == 21
    a, b = read_features(tmp_path / "1.parquet"), read_features(tmp_path / "2.parquet")
    for c in a.table:
        np.testing.assert_array_equal(a.table[c], b.table[c], err_msg=c)
    assert a.constituents.tolist() == b.constituents.tolist()


def test_cli_bad_input_is_one_line_error(lhco_file, tmp_path, capsys):
    cases = [
        (["features", str(tmp_path / "nope.h5"), "-o", str(tmp_path / "o.parquet")], "no such"),
        (["features", str(lhco_file), "-o", str(tmp_path / "o.parquet"), "--chunk-size", "0"],
         "chunk size"),
        (["features", str(lhco_file), "-o", str(tmp_path / "o.parquet"), "--start", "99"],
         "empty event range"),
        (["features", str(lhco_file), "-o", str(tmp_path / "o.parquet"), "--r", "-1"],
         "radius"),
    ]  # fmt: skip
    for argv, msg in cases:
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and msg in err and "\n" not in err
    assert not (tmp_path / "o.parquet").exists()
    bad = tmp_path / "junk.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    assert main(["features", str(bad), "-o", str(tmp_path / "o.parquet")]) == 1
    assert capsys.readouterr().err.startswith("error: ")
