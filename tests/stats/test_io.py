import json

import awkward as ak
import h5py
import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.io.jsonfile import write_json
from adsearch.stats.binning import Histogram
from adsearch.stats.io import (
    SpectrumInput,
    is_histogram_file,
    load_spectrum,
    read_columns,
    read_histogram,
)


@pytest.fixture
def cols():
    rng = np.random.default_rng(0)
    return {"mjj": rng.uniform(2600, 5000, 2000), "score_event": rng.random(2000)}


def test_formats_roundtrip(tmp_path, cols):
    np.savez(tmp_path / "a.npz", **cols)
    with h5py.File(tmp_path / "a.h5", "w") as f:
        for k, v in cols.items():
            f[k] = v
    ak.to_parquet(ak.zip(cols), tmp_path / "a.parquet")  # as the features files are written
    rec = np.zeros(2000, dtype=[("mjj", float), ("score_event", float)])
    rec["mjj"], rec["score_event"] = cols["mjj"], cols["score_event"]
    np.save(tmp_path / "a.npy", rec)
    for name in ("a.npz", "a.h5", "a.parquet", "a.npy"):
        got = read_columns(tmp_path / name, ["mjj", "score_event"])
        assert np.array_equal(got["mjj"], cols["mjj"]), name
        assert np.array_equal(got["score_event"], cols["score_event"]), name


def test_bad_inputs(tmp_path, cols):
    with pytest.raises(InputError, match="no such file"):
        read_columns(tmp_path / "missing.npy", ["mjj"])
    np.savez(tmp_path / "a.npz", **cols)
    with pytest.raises(InputError, match=r"no column 'mass' \(available: mjj, score_event\)"):
        read_columns(tmp_path / "a.npz", ["mass"])
    bad = cols["mjj"].copy()
    bad[3] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(InputError, match="1 NaN/inf"):
        read_columns(tmp_path / "nan.npy", ["mjj"])
    np.save(tmp_path / "empty.npy", np.array([]))
    with pytest.raises(InputError, match="empty"):
        read_columns(tmp_path / "empty.npy", ["mjj"])
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(InputError, match="unsupported"):
        read_columns(tmp_path / "x.csv", ["mjj"])
    (tmp_path / "broken.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="cannot read"):
        read_columns(tmp_path / "broken.parquet", ["mjj"])


def test_histogram_files(tmp_path):
    h = Histogram([1.0, 2.0, 3.0], [4.0, 5.0])
    write_json(tmp_path / "h.json", h.to_dict())
    assert is_histogram_file(tmp_path / "h.json")
    assert read_histogram(tmp_path / "h.json").counts.tolist() == [4.0, 5.0]
    np.savez(tmp_path / "h.npz", edges=h.edges, counts=h.counts)
    assert is_histogram_file(tmp_path / "h.npz")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match="not valid JSON"):
        read_histogram(tmp_path / "bad.json")


def test_load_spectrum_with_working_point(tmp_path, cols):
    np.savez(tmp_path / "a.npz", **cols)
    h, info = load_spectrum(
        SpectrumInput(tmp_path / "a.npz", score_column="score_event", working_point=0.1)
    )
    assert info["working_point"]["efficiency"] == 0.1
    assert 150 < info["n_selected"] < 250
    assert h.counts.sum() == info["n_selected"]
    with pytest.raises(InputError, match="needs --score-column"):
        load_spectrum(SpectrumInput(tmp_path / "a.npz", working_point=0.1))


def test_write_json_atomic_and_nan(tmp_path):
    p = write_json(tmp_path / "r.json", {"a": np.float64(np.nan), "b": np.arange(2)})
    assert json.loads(p.read_text()) == {"a": None, "b": [0, 1]}
    assert [x.name for x in tmp_path.iterdir()] == ["r.json"]
