"""adsearch.io package level: format detection and the read_events/iter_events dispatch."""

import awkward as ak
import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.io import (
    detect_format,
    iter_events,
    num_events,
    read_events,
    write_lhco,
    write_root,
)


def test_dispatch_by_content_not_name(tmp_path, rand_particles):
    p = rand_particles(30, seed=8)
    labels = np.arange(30) % 2
    write_lhco(tmp_path / "a.root", p, labels)  # HDF5 despite the name
    write_root(tmp_path / "b.h5", p, labels)  # ROOT despite the name
    assert detect_format(tmp_path / "a.root") == "hdf5"
    assert detect_format(tmp_path / "b.h5") == "root"
    for name in ("a.root", "b.h5"):
        ev = read_events(tmp_path / name)
        assert ak.array_equal(ev.particles.pt, p.pt) and np.array_equal(ev.labels, labels)
        assert num_events(tmp_path / name) == 30
        chunks = list(iter_events(tmp_path / name, 5, 25, chunk_size=8))
        assert [len(c) for c in chunks] == [8, 8, 4]
        assert ak.array_equal(ak.concatenate([c.particles.eta for c in chunks]), p.eta[5:25])


def test_hdf5_with_user_block(tmp_path, rand_particles):
    """HDF5 signature at offset 512 (a user block) is still recognised."""
    import h5py

    with h5py.File(tmp_path / "ub.h5", "w", userblock_size=512) as f:
        f["x"] = np.zeros(2)
    assert detect_format(tmp_path / "ub.h5") == "hdf5"


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (None, "no such file"),
        (b"", "empty file"),
        (b"garbage bytes here", "unknown file format"),
        (b"PAR1....", "is a parquet .*not an event file"),
    ],
)
def test_bad_files(tmp_path, content, pattern):
    path = tmp_path / "x.dat"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=f"^{path}: {pattern}"):
        read_events(path)
    with pytest.raises(InputError, match=f"^{path}: "):
        iter_events(path)
