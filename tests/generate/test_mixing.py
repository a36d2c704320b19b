"""R&D-like and Black-Box-like mixing of small hand-made LHCO files."""

import awkward as ak
import numpy as np
import pytest

from adsearch.errors import ConfigError, InputError
from adsearch.generate.mixing import mix, read_key
from adsearch.io.events import make_particles
from adsearch.io.lhco import lhco_attrs, lhco_shape, read_lhco, write_lhco


def _file(path, first_pt, n, label, attrs=None):
    """n one-particle events with pT = first_pt, first_pt + 1, ... (pT identifies the event)."""
    pt = [[first_pt + i] for i in range(n)]
    zeros = [[0.1] for _ in range(n)]
    labels = None if label is None else np.full(n, label)
    write_lhco(path, make_particles(pt, zeros, zeros), labels=labels, attrs=attrs)
    return path


@pytest.fixture
def inputs(tmp_path):
    bkg = _file(tmp_path / "bkg.h5", 1000.0, 40, 0, {"detector": "none"})
    sig = _file(tmp_path / "sig.h5", 5000.0, 12, 1, {"detector": "none"})
    return bkg, sig


def _pts(path):
    return ak.to_numpy(ak.flatten(read_lhco(path).particles.pt))


def test_rnd_like(inputs, tmp_path):
    bkg, sig = inputs
    s = mix(bkg, sig, 7, tmp_path / "rd.h5", seed=3, chunk_size=9)  # several chunks
    assert (s.n_events, s.n_background, s.n_signal) == (47, 40, 7)
    ev = read_lhco(tmp_path / "rd.h5")
    pt = ak.to_numpy(ak.flatten(ev.particles.pt))
    assert lhco_shape(tmp_path / "rd.h5") == (47, 2101)
    assert ev.labels.sum() == 7
    np.testing.assert_array_equal(ev.labels == 1, pt >= 5000.0)  # labels follow the events
    # all background once, in order; the first 7 signal events, in order
    np.testing.assert_array_equal(pt[ev.labels == 0], 1000.0 + np.arange(40))
    np.testing.assert_array_equal(pt[ev.labels == 1], 5000.0 + np.arange(7))
    # shuffled: signal is spread through the file, not appended
    where = np.flatnonzero(ev.labels == 1)
    assert where.min() < 30 and not np.array_equal(where, np.arange(40, 47))
    attrs = lhco_attrs(tmp_path / "rd.h5")
    assert attrs["mix"]["n_signal"] == 7 and attrs["background_attrs"]["detector"] == "none"


def test_seeded_shuffle(inputs, tmp_path):
    bkg, sig = inputs
    mix(bkg, sig, 7, tmp_path / "a.h5", seed=3)
    mix(bkg, sig, 7, tmp_path / "b.h5", seed=3, chunk_size=5)
    mix(bkg, sig, 7, tmp_path / "c.h5", seed=4)
    np.testing.assert_array_equal(_pts(tmp_path / "a.h5"), _pts(tmp_path / "b.h5"))
    assert not np.array_equal(_pts(tmp_path / "a.h5"), _pts(tmp_path / "c.h5"))


def test_black_box_like(inputs, tmp_path):
    bkg, sig = inputs
    s = mix(bkg, sig, 5, tmp_path / "bb.h5", seed=8, blackbox=True, key=tmp_path / "bb.key")
    assert s.blackbox and lhco_shape(tmp_path / "bb.h5") == (45, 2100)
    ev = read_lhco(tmp_path / "bb.h5")
    assert ev.labels is None
    key = read_key(tmp_path / "bb.key")
    assert (tmp_path / "bb.key").read_text().splitlines()[:3] == [str(k) for k in key[:3]]
    assert len(key) == 45 and key.sum() == 5
    pt = ak.to_numpy(ak.flatten(ev.particles.pt))
    np.testing.assert_array_equal(key == 1, pt >= 5000.0)  # the key matches the events
    # same seed -> same positions as the R&D-like file
    mix(bkg, sig, 5, tmp_path / "rd.h5", seed=8)
    np.testing.assert_array_equal(read_lhco(tmp_path / "rd.h5").labels, key)
    assert "mix" not in lhco_attrs(tmp_path / "bb.h5")  # no hint about the signal


def test_zero_signal_and_background_subset(inputs, tmp_path):
    bkg, sig = inputs
    s = mix(bkg, sig, 0, tmp_path / "b.h5", seed=1, n_background=10)
    assert s.n_events == 10
    np.testing.assert_array_equal(_pts(tmp_path / "b.h5"), 1000.0 + np.arange(10))


def test_errors(inputs, tmp_path):
    bkg, sig = inputs
    out = tmp_path / "o.h5"
    with pytest.raises(InputError, match="has only 12 events, 13 signal events requested"):
        mix(bkg, sig, 13, out, seed=1)
    with pytest.raises(ConfigError, match="needs a key file"):
        mix(bkg, sig, 1, out, seed=1, blackbox=True)
    with pytest.raises(ConfigError, match="n_signal must be"):
        mix(bkg, sig, -1, out, seed=1)
    with pytest.raises(ConfigError, match="overwrite an input"):
        mix(bkg, sig, 1, bkg, seed=1)
    truth_vs_det = _file(tmp_path / "det.h5", 5000.0, 3, 1, {"detector": {"name": "lhco"}})
    with pytest.raises(InputError, match="different detector"):
        mix(bkg, truth_vs_det, 1, out, seed=1)
    labelled_signal = _file(tmp_path / "rd.h5", 5000.0, 3, 1)
    with pytest.raises(InputError, match="background file must hold only label 0"):
        mix(labelled_signal, sig, 1, out, seed=1)
    assert not out.exists()  # nothing half-written
