import awkward as ak
import h5py
import numpy as np
import pandas as pd
import pytest

from adsearch.errors import InputError
from adsearch.io.events import make_particles
from adsearch.io.lhco import (
    LHCOWriter,
    iter_lhco,
    lhco_attrs,
    lhco_shape,
    read_lhco,
    write_lhco,
)


def _same(a: ak.Array, b: ak.Array) -> bool:
    """Exact equality (structure and float64 values) of two particle arrays."""
    return all(
        ak.array_equal(a[f], b[f]) and ak.to_numpy(ak.flatten(b[f])).dtype == np.float64
        for f in ("pt", "eta", "phi")
    ) and ak.all(ak.num(a) == ak.num(b))


def _from_pandas(df: pd.DataFrame):
    """Independent conversion of a pandas LHCO frame: a per-row loop, no shared code."""
    values = df.to_numpy()
    pts, etas, phis = [], [], []
    for row in values:
        obj = row[:2100].reshape(700, 3)
        keep = obj[:, 0] > 0
        pts.append(obj[keep, 0].tolist())
        etas.append(obj[keep, 1].tolist())
        phis.append(obj[keep, 2].tolist())
    labels = values[:, 2100] if values.shape[1] == 2101 else None
    return make_particles(pts, etas, phis), labels


@pytest.fixture
def rd_file(tmp_path, rand_particles):
    p = rand_particles(300, seed=11)
    labels = (np.arange(300) % 7 == 0).astype(np.int8)
    path = tmp_path / "rd.h5"
    write_lhco(path, p, labels, attrs={"seed": 11, "card": {"process": "qcd", "pthat": 1000}})
    return path, p, labels


def test_round_trip_exact(rd_file):
    path, p, labels = rd_file
    ev = read_lhco(path)
    assert len(ev) == 300
    assert _same(ev.particles, p)
    assert ev.particles.fields == ["pt", "eta", "phi", "mass"]
    assert ak.all(ev.particles.mass == 0)
    assert np.array_equal(ev.labels, labels) and ev.labels.dtype == np.int8
    assert ev.source == str(path)


def test_pandas_reads_our_file_exactly(rd_file):
    path, p, labels = rd_file
    df = pd.read_hdf(path, "df")
    assert df.shape == (300, 2101)
    assert list(df.columns) == list(range(2101))
    assert list(df.index) == list(range(300))
    assert (df.dtypes == np.float64).all()
    q, lab = _from_pandas(df)
    assert _same(q, p)
    assert np.array_equal(lab, labels)
    # the padding is zero and at the end of the row, as in the real files
    n0 = len(p[0])
    assert (df.iloc[0, 3 * n0 : 2100] == 0).all() and df.iloc[0, 3 * n0 - 3] > 0


def test_attrs_round_trip_and_do_not_disturb_pandas(rd_file):
    path, _, _ = rd_file
    assert lhco_attrs(path) == {"seed": 11, "card": {"process": "qcd", "pthat": 1000}}
    assert pd.read_hdf(path, "df").shape == (300, 2101)


def test_layout_matches_pandas_written_file(rd_file, data_dir):
    """Every attribute pandas/PyTables write is present with the same HDF5 type."""
    ours, _, _ = rd_file

    def attr_types(path):
        out = {}
        with h5py.File(path) as f:
            objs = {"/": f}
            f.visititems(objs.__setitem__)
            for name, obj in objs.items():
                for key in obj.attrs:
                    a = h5py.h5a.open(obj.id, key.encode())
                    t = a.get_type()
                    is_str = t.get_class() == h5py.h5t.STRING
                    out[name, key] = (
                        t.get_class(),
                        t.get_strpad() if is_str else t.get_size(),
                        t.get_cset() if is_str else None,
                        a.get_space().get_simple_extent_type(),
                    )
        return out

    real, mine = attr_types(data_dir / "lhco_rd_tiny.h5"), attr_types(ours)
    mine = {k: v for k, v in mine.items() if k[1] not in ("seed", "card")}
    assert mine == real


@pytest.mark.parametrize(
    ("start", "stop", "chunk"),
    [(0, None, 1), (0, None, 7), (0, None, 64), (0, None, 10_000), (5, 123, 17), (299, 400, 3)],
)
def test_chunked_equals_whole(rd_file, start, stop, chunk):
    path, p, labels = rd_file
    chunks = list(iter_lhco(path, start, stop, chunk_size=chunk))
    end = 300 if stop is None else min(stop, 300)
    assert [len(c) for c in chunks] == [min(chunk, end - s) for s in range(start, end, chunk)]
    got = ak.concatenate([c.particles for c in chunks])
    assert _same(got, p[start:end])
    assert np.array_equal(np.concatenate([c.labels for c in chunks]), labels[start:end])
    whole = read_lhco(path, start, stop, chunk_size=chunk)
    assert _same(whole.particles, p[start:end])


def test_internal_block_boundaries(tmp_path, rand_particles, monkeypatch):
    """Chunks spanning several internal read blocks (4096 rows normally) join correctly."""
    from adsearch.io import lhco

    monkeypatch.setattr(lhco, "_READ_ROWS", 5)
    p = rand_particles(40, seed=3, high=20)
    write_lhco(tmp_path / "b.h5", p)
    chunks = list(iter_lhco(tmp_path / "b.h5", 3, 38, chunk_size=12))
    assert [len(c) for c in chunks] == [12, 12, 11]
    assert _same(ak.concatenate([c.particles for c in chunks]), p[3:38])


def test_empty_range(rd_file):
    path, _, _ = rd_file
    assert list(iter_lhco(path, 500)) == []
    ev = read_lhco(path, 10, 10)
    assert len(ev) == 0 and ev.labels is not None and len(ev.labels) == 0


def test_pandas_written_tiny_file(data_dir):
    """The reader on a file written by pandas.DataFrame.to_hdf itself (fixed, blosc)."""
    path = data_dir / "lhco_rd_tiny.h5"
    ev = read_lhco(path)
    expected, labels = _from_pandas(pd.read_hdf(path, "df"))
    assert len(ev) == 50 and lhco_shape(path) == (50, 2101)
    assert _same(ev.particles, expected)
    assert np.array_equal(ev.labels, labels) and ev.labels.sum() == 10
    assert ak.min(ak.num(ev.particles)) >= 20
    # not sorted by pT (as in the real files), and the reader keeps the file order
    assert not ak.all(ev.particles.pt[:, :-1] >= ev.particles.pt[:, 1:])
    # chunked on the pandas chunk layout (2 rows per HDF5 chunk here)
    assert _same(
        ak.concatenate([c.particles for c in iter_lhco(path, 3, 40, 9)]), ev.particles[3:40]
    )


def test_black_box_layout_has_no_labels(data_dir, tmp_path, rand_particles):
    ev = read_lhco(data_dir / "lhco_bb_tiny.h5")
    assert len(ev) == 20 and ev.labels is None
    expected, _ = _from_pandas(pd.read_hdf(data_dir / "lhco_bb_tiny.h5", "df"))
    assert _same(ev.particles, expected)
    p = rand_particles(30, seed=5)
    write_lhco(tmp_path / "bb.h5", p)
    assert lhco_shape(tmp_path / "bb.h5") == (30, 2100)
    assert pd.read_hdf(tmp_path / "bb.h5", "df").shape == (30, 2100)
    assert read_lhco(tmp_path / "bb.h5").labels is None


def test_streaming_writer_equals_one_shot(tmp_path, rand_particles):
    p = rand_particles(100, seed=9)
    labels = np.arange(100) % 2
    with LHCOWriter(tmp_path / "s.h5", with_label=True) as w:
        for b in range(0, 100, 33):
            w.append(p[b : b + 33], labels[b : b + 33])
    assert w.n_written == 100
    ev = read_lhco(tmp_path / "s.h5")
    assert _same(ev.particles, p) and np.array_equal(ev.labels, labels)
    assert list(pd.read_hdf(tmp_path / "s.h5", "df").index) == list(range(100))


def test_attrs_set_at_the_end_are_in_the_file_when_it_appears(tmp_path, rand_particles):
    path = tmp_path / "late.h5"
    with LHCOWriter(path, with_label=False, attrs={"n_events": -1, "seed": 3}) as w:
        w.append(rand_particles(5, seed=2))
        assert not path.exists()
        w.set_attrs({"n_events": w.n_written, "counts": {"kept": 5, "tried": [7, 8]}})
        with pytest.raises(InputError, match="reserved"):
            w.set_attrs({"n_events": 0, "pandas_type": "x"})  # refused as a whole
    assert lhco_attrs(path) == {"n_events": 5, "seed": 3, "counts": {"kept": 5, "tried": [7, 8]}}
    assert pd.read_hdf(path, "df").shape == (5, 2100)
    with pytest.raises(RuntimeError, match="outside its 'with' block"):
        w.set_attrs({"x": 1})


def test_truncation_keeps_hardest(tmp_path):
    rng = np.random.default_rng(1)
    pt = [rng.uniform(1, 100, 720).tolist(), [3.0, 1.0, 2.0]]
    eta = [rng.uniform(-2, 2, 720).tolist(), [0.1, 0.2, 0.3]]
    phi = [rng.uniform(-3, 3, 720).tolist(), [0.0, 0.5, 1.0]]
    p = make_particles(pt, eta, phi)
    assert write_lhco(tmp_path / "t.h5", p) == 1
    ev = read_lhco(tmp_path / "t.h5")
    assert ak.num(ev.particles).tolist() == [700, 3]
    order = np.argsort(-np.array(pt[0]), kind="stable")[:700]
    assert ev.particles.pt[0].tolist() == np.array(pt[0])[order].tolist()
    assert ev.particles.eta[0].tolist() == np.array(eta[0])[order].tolist()
    assert ev.particles.pt[1].tolist() == [3.0, 1.0, 2.0]  # events that fit keep order
    assert write_lhco(tmp_path / "t2.h5", p, max_particles=2) == 2
    assert read_lhco(tmp_path / "t2.h5").particles.pt[1].tolist() == [3.0, 2.0]


def test_mass_is_dropped_with_a_warning(tmp_path):
    p = make_particles([[5.0]], [[0.1]], [[0.2]], [[0.14]])
    with pytest.warns(UserWarning, match="masses are not stored"):
        write_lhco(tmp_path / "m.h5", p)
    assert read_lhco(tmp_path / "m.h5").particles.mass.tolist() == [[0.0]]


# ------------------------------------------------------------------------- bad inputs


def _raw_file(path, block: np.ndarray) -> None:
    pd.DataFrame(block).to_hdf(path, key="df", format="fixed", complib="blosc", complevel=5)


def _good_block(n=10, ncols=2101) -> np.ndarray:
    rng = np.random.default_rng(0)
    block = np.zeros((n, ncols))
    block[:, 0:30:3] = rng.uniform(1, 50, (n, 10))
    block[:, 1:30:3] = rng.uniform(-2, 2, (n, 10))
    block[:, 2:30:3] = rng.uniform(-3, 3, (n, 10))
    return block


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda b: b.__setitem__((4, 3), np.nan), r"pT_1 \(column 3\) is nan in event 4"),
        (lambda b: b.__setitem__((6, 9), -1.0), r"pT_3 \(column 9\) is -1\.0 in event 6"),
        (lambda b: b.__setitem__((2, 4), np.inf), r"non-finite value .* in eta of event 2"),
        (lambda b: b.__setitem__((3, 5), -np.inf), r"non-finite value .* in phi of event 3"),
        (lambda b: b.__setitem__((5, 1), 99.0), r"\|eta\| > 20 in eta of event 5"),
        (lambda b: b.__setitem__((7, slice(0, 2100)), 0.0), r"event 7 has no object with pT"),
        (lambda b: b.__setitem__((8, 2100), 3.0), r"label of event 8 is 3\.0"),
        (lambda b: b.__setitem__((9, 2100), np.nan), r"label of event 9 is nan"),
    ],
)
def test_bad_values_name_file_event_and_column(tmp_path, edit, pattern):
    block = _good_block()
    edit(block)
    path = tmp_path / "bad.h5"
    _raw_file(path, block)
    with pytest.raises(InputError, match=f"^{path}: .*{pattern}"):
        read_lhco(path)
    with pytest.raises(InputError, match=pattern):  # also when it is not in the first chunk
        list(iter_lhco(path, chunk_size=2))


def test_wrong_column_count(tmp_path):
    path = tmp_path / "cols.h5"
    _raw_file(path, _good_block(ncols=2102))
    with pytest.raises(InputError, match=f"^{path}: 2102 columns; LHCO files have 2100"):
        read_lhco(path)


def test_not_an_lhco_hdf5(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(InputError, match=r"no 'df/block0_values' dataset .*holds: x"):
        read_lhco(path)


def test_missing_and_empty_file(tmp_path):
    with pytest.raises(InputError, match=f"^{tmp_path / 'nope.h5'}: no such file$"):
        read_lhco(tmp_path / "nope.h5")
    (tmp_path / "empty.h5").touch()
    with pytest.raises(InputError, match="empty.h5: empty file$"):
        read_lhco(tmp_path / "empty.h5")


def test_truncated_file(tmp_path, rd_file):
    path, _, _ = rd_file
    data = path.read_bytes()
    for frac in (0.5, 0.98):
        cut = tmp_path / f"cut{frac}.h5"
        cut.write_bytes(data[: int(len(data) * frac)])
        with pytest.raises(InputError, match=f"^{cut}: .*(truncated|corrupt)"):
            read_lhco(cut)


def test_corrupt_bytes(tmp_path, rd_file):
    path, _, _ = rd_file
    data = bytearray(path.read_bytes())
    # overwrite the middle of the compressed data (after the metadata at the start)
    mid = len(data) // 2
    data[mid : mid + 4096] = bytes(range(256)) * 16
    bad = tmp_path / "corrupt.h5"
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError, match=f"^{bad}: "):
        read_lhco(bad)
    # a damaged superblock
    data = bytearray(path.read_bytes())
    data[8:64] = b"\xff" * 56
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError, match=f"^{bad}: not a readable HDF5 file"):
        read_lhco(bad)


def test_failed_write_leaves_no_file(tmp_path, rand_particles):
    p = rand_particles(20, seed=4)
    pt = p.pt.tolist()
    pt[15][2] = np.nan
    bad = make_particles(pt, p.eta, p.phi)
    path = tmp_path / "out.h5"
    with pytest.raises(InputError, match=f"^{path}: non-finite pt .* event 15"):
        write_lhco(path, bad)
    assert list(tmp_path.iterdir()) == []
    # streaming: a good batch then a bad one -> nothing at path either
    with pytest.raises(InputError, match="event 35"), LHCOWriter(path, with_label=False) as w:
        w.append(p)
        w.append(bad)
    assert list(tmp_path.iterdir()) == []
    # an existing file is left untouched by a failed overwrite
    write_lhco(path, p)
    before = path.read_bytes()
    with pytest.raises(InputError):
        write_lhco(path, bad)
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


def test_writer_argument_errors(tmp_path, rand_particles):
    p = rand_particles(3, seed=1)
    with (
        pytest.raises(InputError, match="labels are required"),
        LHCOWriter(tmp_path / "a.h5", with_label=True) as w,
    ):
        w.append(p)
    with pytest.raises(InputError, match="3 labels for 2 events"):
        write_lhco(tmp_path / "b.h5", p[:2], labels=[0, 1, 0])
    with pytest.raises(InputError, match="max_particles must be in 1..700"):
        write_lhco(tmp_path / "c.h5", p, max_particles=701)
    with pytest.raises(InputError, match="reserved"):
        write_lhco(tmp_path / "d.h5", p, attrs={"pandas_type": "x"})
    assert list(tmp_path.iterdir()) == []


def test_rows_with_holes_or_unpadded_layout(tmp_path):
    """Rows that break the usual layout (a zero-pT hole, a full row) still read right."""
    block = _good_block(n=6)
    block[1, 3:6] = 0.0  # hole: object 1 missing, objects 2..9 follow
    block[2, :2100] = np.tile([1.5, 0.5, 0.25], 700)  # all 700 slots used
    block[3, 2098] = 0.5  # stray non-zero eta in the padding of a zero-pT slot: ignored
    block[4, 2099] = -0.0  # negative zero in the padding is still padding
    path = tmp_path / "holes.h5"
    _raw_file(path, block)
    ev = read_lhco(path)
    assert ak.num(ev.particles).tolist() == [10, 9, 700, 10, 10, 10]
    assert ev.particles.pt[1].tolist() == block[1, [0, *range(6, 30, 3)]].tolist()
    expected, _ = _from_pandas(pd.read_hdf(path, "df"))
    assert _same(ev.particles, expected)


@pytest.fixture(params=[True, False], ids=["prefetch", "serial"])
def small_blocks(request, monkeypatch):
    """Force many internal read blocks, with and without the read-ahead thread."""
    from adsearch.io import lhco

    monkeypatch.setattr(lhco, "_READ_ROWS", 7)
    monkeypatch.setattr(lhco, "_PREFETCH", request.param)
    return request.param


def test_many_blocks_both_read_modes(rd_file, small_blocks):
    path, p, labels = rd_file
    for start, stop, chunk in [(0, None, 50), (3, 250, 13), (0, 300, 7)]:
        chunks = list(iter_lhco(path, start, stop, chunk_size=chunk))
        end = 300 if stop is None else stop
        assert _same(ak.concatenate([c.particles for c in chunks]), p[start:end])
        assert np.array_equal(np.concatenate([c.labels for c in chunks]), labels[start:end])


def test_early_stop_and_errors_leave_no_thread(rd_file, tmp_path, small_blocks):
    import threading

    path, p, _ = rd_file
    before = threading.active_count()
    it = iter_lhco(path, chunk_size=10)
    first = next(it)
    it.close()
    assert _same(first.particles, p[:10])
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 4096] = bytes(range(256)) * 16
    bad = tmp_path / "corrupt.h5"
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError, match=f"^{bad}: cannot read rows"):
        read_lhco(bad)
    assert threading.active_count() == before


def test_read_while_writing_another_file(rd_file, tmp_path, small_blocks):
    """Stream one file into a writer (as a mixing step does), read-ahead thread included."""
    path, p, labels = rd_file
    out = tmp_path / "copy.h5"
    with LHCOWriter(out, with_label=True) as w:
        for ev in iter_lhco(path, chunk_size=11):
            w.append(ev.particles, ev.labels)
    ev = read_lhco(out)
    assert _same(ev.particles, p) and np.array_equal(ev.labels, labels)
