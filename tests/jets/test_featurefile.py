"""Features files: exact Parquet round trip, row-group streaming, LHCO HDF5 export, errors."""

import awkward as ak
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from adsearch.errors import InputError
from adsearch.io.events import Events, make_particles
from adsearch.jets import (
    COLUMNS,
    LHCO_COLUMNS,
    Features,
    FeaturesWriter,
    compute_features,
    export_lhco_features_h5,
    iter_features,
    read_features,
    read_features_metadata,
    write_features,
)


def _toy_events(n, seed, labels=True):
    """n events: two back-to-back sprays of 3-12 particles, every 4th event with one jet."""
    rng = np.random.default_rng(seed)
    pt, eta, phi = [], [], []
    for i in range(n):
        k1, k2 = rng.integers(3, 12, 2)
        p = [rng.exponential(80, k1) + 1, rng.exponential(60, k2) + 1]
        e = [rng.normal(0.2, 0.2, k1), rng.normal(-0.4, 0.2, k2)]
        f = [rng.normal(0.5, 0.2, k1), rng.normal(0.5 - np.pi, 0.2, k2)]
        if i % 4 == 3:  # drop the second spray
            p, e, f = p[:1], e[:1], f[:1]
        pt.append(np.concatenate(p).tolist())
        eta.append(np.concatenate(e).tolist())
        phi.append(np.angle(np.exp(1j * np.concatenate(f))).tolist())
    lab = rng.integers(0, 2, n) if labels else None
    return Events(make_particles(pt, eta, phi), lab, f"toy{seed}")


def _assert_same(a: Features, b: Features):
    assert list(a.table) == list(b.table) == list(COLUMNS)
    for c in COLUMNS:
        assert a.table[c].dtype == b.table[c].dtype, c
        np.testing.assert_array_equal(a.table[c], b.table[c], err_msg=c)
    assert ak.array_equal(a.constituents, b.constituents)
    assert str(a.constituents.type) == str(b.constituents.type)
    assert (a.n_input, a.n_fewer_than_two_jets, a.n_single_constituent_jets) == (
        b.n_input,
        b.n_fewer_than_two_jets,
        b.n_single_constituent_jets,
    )


def test_round_trip_is_exact(tmp_path):
    f = compute_features(_toy_events(40, 1), first_index=7)
    assert f.n_fewer_than_two_jets == 10
    out = write_features(tmp_path / "f.parquet", f)
    g = read_features(out)
    _assert_same(f, g)
    assert g.meta == f.meta
    head = read_features_metadata(out)
    assert head["n_input"] == 40 and head["n_fewer_than_two_jets"] == 10
    assert head["columns"] == list(COLUMNS)
    # plain pyarrow/pandas see the flat columns under their LHCO names
    flat = pq.read_table(out, columns=list(LHCO_COLUMNS)).to_pandas()
    np.testing.assert_array_equal(flat["mj1"].to_numpy(), f.table["mj1"])


def test_writer_batches_row_groups_and_iter(tmp_path):
    events = [_toy_events(9, s) for s in (2, 3, 4)]
    parts, first = [], 0
    for ev in events:
        parts.append(compute_features(ev, first_index=first))
        first += len(ev)
    empty = compute_features(Events(make_particles([], [], []), None))
    out = tmp_path / "b.parquet"
    with FeaturesWriter(out, {"note": "batched"}) as w:
        for p in (parts[0], empty, parts[1], parts[2]):
            w.write(p)
    assert pq.ParquetFile(out).metadata.num_row_groups == 4
    chunks = list(iter_features(out))
    assert [len(c) for c in chunks] == [len(parts[0]), 0, len(parts[1]), len(parts[2])]
    assert [c.n_input for c in chunks] == [9, 0, 9, 9]
    whole = read_features(out)
    _assert_same(whole, Features.concatenate(parts))
    assert whole.meta == {"note": "batched"}
    assert whole.table["event_index"][-1] <= 26 and np.all(np.diff(whole.table["event_index"]) > 0)


def test_failed_write_leaves_nothing(tmp_path):
    out = tmp_path / "x.parquet"
    f = compute_features(_toy_events(8, 5))
    with pytest.raises(RuntimeError), FeaturesWriter(out) as w:
        w.write(f)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_empty_file(tmp_path):
    out = tmp_path / "e.parquet"
    with FeaturesWriter(out, {"r": 1.0}):
        pass
    g = read_features(out)
    assert len(g) == 0 and g.n_input == 0 and tuple(g.table) == COLUMNS


def test_lhco_h5_export_layout(tmp_path):
    f = compute_features(_toy_events(12, 6))
    export_lhco_features_h5(tmp_path / "l.h5", f)
    df = pd.read_hdf(tmp_path / "l.h5", "df")
    assert tuple(df.columns) == LHCO_COLUMNS and len(df) == len(f)
    np.testing.assert_array_equal(df["tau2j2"].to_numpy(), f.table["tau2j2"])
    u = compute_features(_toy_events(12, 6, labels=False))
    export_lhco_features_h5(tmp_path / "u.h5", u)
    assert tuple(pd.read_hdf(tmp_path / "u.h5", "df").columns) == LHCO_COLUMNS[:-1]


def test_bad_files_give_one_line_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such features file"):
        read_features(tmp_path / "missing.parquet")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="not a Parquet features file"):
        read_features(junk)
    other = tmp_path / "other.parquet"
    ak.to_parquet(ak.Array([{"a": 1.0}]), other)
    with pytest.raises(InputError, match="not a features file"):
        read_features(other)


# ------------------------------------------------ the output extension says the format


def _batches(labels=True):
    return [compute_features(_toy_events(10, s, labels=labels)) for s in (21, 22)]


@pytest.mark.parametrize("name", ["f.h5", "f.hdf5", "f.HDF"])
def test_h5_name_gets_the_lhco_features_layout(tmp_path, name):
    from adsearch.jets.featurefile import read_lhco_features_h5
    from adsearch.stats.io import read_columns

    parts = _batches()
    out = tmp_path / name
    with FeaturesWriter(out, {"r": 1.0}) as w:
        for p in parts:
            w.write(p)
    with open(out, "rb") as fh:
        assert fh.read(8) == b"\x89HDF\r\n\x1a\n"  # HDF5, not Parquet under an .h5 name
    df = read_lhco_features_h5(out)
    whole = Features.concatenate(parts)
    assert tuple(df.columns) == LHCO_COLUMNS and len(df) == len(whole)
    for c in LHCO_COLUMNS:
        np.testing.assert_array_equal(df[c].to_numpy(), whole.table[c])
    header = df.attrs["adsearch.features"]
    assert header["n_input"] == whole.n_input == 20
    assert header["n_fewer_than_two_jets"] == whole.n_fewer_than_two_jets
    assert header["meta"] == {"r": 1.0} and header["constituent_columns"] == []
    # the plain pandas reader and the statistics verbs' reader see the same table
    np.testing.assert_array_equal(pd.read_hdf(out, "df")["mj1"], whole.table["mj1"])
    np.testing.assert_array_equal(read_columns(out, ["mj2"])["mj2"], whole.table["mj2"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_h5_name_unlabelled_and_empty(tmp_path):
    from adsearch.jets.featurefile import read_lhco_features_h5

    write_features(tmp_path / "u.h5", Features.concatenate(_batches(labels=False)))
    assert tuple(read_lhco_features_h5(tmp_path / "u.h5").columns) == LHCO_COLUMNS[:-1]
    with FeaturesWriter(tmp_path / "e.h5", {"r": 1.0}):
        pass
    e = read_lhco_features_h5(tmp_path / "e.h5")
    assert len(e) == 0 and tuple(e.columns) == LHCO_COLUMNS
    assert e.attrs["adsearch.features"]["n_input"] == 0


def test_parquet_names_still_parquet_other_extensions_refused(tmp_path):
    f = compute_features(_toy_events(8, 23))
    for name in ("f.parquet", "f.pq", "f"):
        write_features(tmp_path / name, f)
        assert read_features(tmp_path / name).n_input == 8
    for name in ("f.csv", "f.root", "f.json"):
        with pytest.raises(InputError, match=rf"f\{name[1:]}: unknown features-file extension"):
            write_features(tmp_path / name, f)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "f.parquet", "f.pq"]


def test_lhco_features_reader_refuses_other_files_in_one_line(tmp_path):
    from adsearch.jets.featurefile import read_lhco_features_h5

    with pytest.raises(InputError, match="no such features file"):
        read_lhco_features_h5(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(InputError, match=r"junk\.h5: not an LHCO features HDF5 file"):
        read_lhco_features_h5(tmp_path / "junk.h5")
    pd.DataFrame({"a": [1.0]}).to_hdf(tmp_path / "other.h5", key="other", mode="w")
    with pytest.raises(InputError, match=r"other\.h5: not an LHCO features HDF5 file"):
        read_lhco_features_h5(tmp_path / "other.h5")
    pd.DataFrame({"pxj1": [1.0]}).to_hdf(tmp_path / "cols.h5", key="df", mode="w")
    with pytest.raises(InputError, match=r"cols\.h5: columns pxj1 are not the LHCO"):
        read_lhco_features_h5(tmp_path / "cols.h5")
    frame = pd.DataFrame({c: np.zeros(2) for c in LHCO_COLUMNS}).astype({"mj1": np.float32})
    frame.to_hdf(tmp_path / "f32.h5", key="df", mode="w")
    with pytest.raises(InputError, match=r"f32\.h5: column 'mj1' is float32"):
        read_lhco_features_h5(tmp_path / "f32.h5")
    # the LHCO export (no header) reads back too
    export_lhco_features_h5(tmp_path / "x.h5", compute_features(_toy_events(6, 24)))
    assert "adsearch.features" not in read_lhco_features_h5(tmp_path / "x.h5").attrs
