import awkward as ak
import numpy as np
import pytest
import uproot

from adsearch.errors import InputError
from adsearch.io.events import make_particles
from adsearch.io.root import RootBranches, iter_root, read_root, root_num_entries, write_root


def _same(a, b) -> bool:
    return all(ak.array_equal(a[f], b[f]) for f in ("pt", "eta", "phi"))


def test_round_trip_exact(tmp_path, rand_particles):
    p = rand_particles(200, seed=21)
    labels = (np.arange(200) % 3 == 0).astype(np.int8)
    path = tmp_path / "ev.root"
    write_root(path, p, labels)
    with uproot.open(path) as f:
        t = f["events"]
        assert f.classnames()["events;1"] == "TTree"
        assert set(t.keys()) == {"npart", "part_pt", "part_eta", "part_phi", "label"}
        assert t["part_pt"].array(library="ak").type.content.content.primitive == "float64"
    ev = read_root(path)
    assert _same(ev.particles, p) and ak.all(ev.particles.mass == 0)
    assert np.array_equal(ev.labels, labels) and ev.labels.dtype == np.int8
    assert root_num_entries(path) == 200


def test_chunks_equal_whole(tmp_path, rand_particles):
    p = rand_particles(100, seed=22)
    path = tmp_path / "ev.root"
    write_root(path, p)
    for start, stop, chunk in [(0, None, 7), (10, 95, 20), (0, 500, 1000)]:
        chunks = list(iter_root(path, start=start, stop=stop, chunk_size=chunk))
        end = 100 if stop is None else min(stop, 100)
        assert sum(len(c) for c in chunks) == end - start
        assert _same(ak.concatenate([c.particles for c in chunks]), p[start:end])
        assert all(c.labels is None for c in chunks)


def test_configurable_branch_names_and_mass(tmp_path):
    p = make_particles(
        [[5.0, 1.0], [2.0]], [[0.1, 2.0], [1.0]], [[1.0, 0.0], [3.0]], [[0.14, 0.5], [0.0]]
    )
    br = RootBranches(pt="PT", eta="Eta", phi="Phi", label="is_signal", mass="M")
    path = tmp_path / "d.root"
    write_root(path, p, [0, 1], tree="Delphes", branches=br)
    ev = read_root(path, tree="Delphes", branches=br)
    assert ev.particles.mass.tolist() == [[0.14, 0.5], [0.0]]
    assert ev.labels.tolist() == [0, 1]
    # the default (massless) view of the same file
    ev = read_root(path, tree="Delphes", branches=RootBranches("PT", "Eta", "Phi", None))
    assert ev.labels is None and ak.all(ev.particles.mass == 0)


def test_missing_branch_names_file_branch_and_lists_available(tmp_path):
    path = tmp_path / "other.root"
    with uproot.recreate(path) as f:
        t = f.mktree("events", {"jet_pt": "var * float64", "weight": np.float64})
        t.extend({"jet_pt": ak.Array([[1.0], [2.0]]), "weight": np.ones(2)})
    with pytest.raises(
        InputError,
        match=rf"^{path}: TTree 'events' has no branch 'part_pt', 'part_eta', 'part_phi' "
        r"\(branches: jet_pt, njet_pt, weight;",
    ):
        read_root(path)
    with pytest.raises(InputError, match=rf"^{path}: no TTree 'tree' \(TTrees in file: events\)"):
        read_root(path, tree="tree")


def test_bad_root_inputs(tmp_path, rand_particles):
    with pytest.raises(InputError, match="nope.root: no such file"):
        read_root(tmp_path / "nope.root")
    (tmp_path / "e.root").touch()
    with pytest.raises(InputError, match="e.root: empty file"):
        read_root(tmp_path / "e.root")
    good = tmp_path / "g.root"
    write_root(good, rand_particles(50, seed=1))
    data = good.read_bytes()
    cut = tmp_path / "cut.root"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=f"^{cut}: "):
        read_root(cut)
    # invalid values inside a ROOT file are reported like for HDF5
    bad = tmp_path / "nan.root"
    with uproot.recreate(bad) as f:
        t = f.mktree("events", {"part": ak.Array([[{"pt": 1.0, "eta": 0.0, "phi": 0.0}]]).type})
        t.extend({"part": ak.Array([[{"pt": 1.0, "eta": np.nan, "phi": 0.0}]])})
    with pytest.raises(InputError, match=f"^{bad}: non-finite eta .* in event 0"):
        read_root(bad)


def test_failed_write_leaves_no_file(tmp_path):
    p = make_particles([[5.0], [-1.0]], [[0.0], [0.0]], [[0.0], [0.0]])
    with pytest.raises(InputError, match="negative pt .* in event 1"):
        write_root(tmp_path / "x.root", p)
    assert list(tmp_path.iterdir()) == []
