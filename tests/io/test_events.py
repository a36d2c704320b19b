import awkward as ak
import numpy as np
import pytest

from adsearch.errors import InputError
from adsearch.io.events import Events, make_particles, validate_labels, validate_particles


def _one(pt, eta=0.0, phi=0.0):
    return make_particles([[10.0, pt]], [[0.0, eta]], [[0.0, phi]])


def test_events_len_and_signal_fraction(rand_particles):
    ev = Events(rand_particles(10, 1), np.array([0, 1] * 5, dtype=np.int8), "f.h5")
    assert len(ev) == 10
    assert ev.signal_fraction == pytest.approx(0.5)
    assert Events(rand_particles(3, 1)).signal_fraction is None
    sig = ev[ev.labels == 1]
    assert len(sig) == 5 and sig.labels.tolist() == [1] * 5 and sig.source == "f.h5"
    assert ak.array_equal(ev[2:4].particles, ev.particles[2:4])


def test_events_label_length_mismatch(rand_particles):
    with pytest.raises(InputError, match="f.h5: 2 labels for 3 events"):
        Events(rand_particles(3, 1), np.array([0, 1]), "f.h5")


def test_make_particles_layout():
    p = make_particles([[1, 2], []], [[0.1, 0.2], []], [[0.0, 1.0], []])
    assert p.fields == ["pt", "eta", "phi", "mass"]
    assert p.pt.tolist() == [[1.0, 2.0], []]
    assert p.mass.tolist() == [[0.0, 0.0], []]


def test_valid_particles_pass(rand_particles):
    validate_particles(rand_particles(50, 2), "ok.h5")


@pytest.mark.parametrize(
    ("particles", "pattern"),
    [
        (_one(np.nan), r"f\.h5: non-finite pt \(NaN or inf\) in event 7"),
        (_one(1.0, eta=np.inf), r"f\.h5: non-finite eta .* in event 7"),
        (_one(-1.0), r"f\.h5: negative pt \(pt = -1\) in event 7"),
        (_one(1.0, eta=25.0), r"f\.h5: \|eta\| > 20 \(eta = 25\) in event 7"),
        (_one(1.0, phi=9.0), r"f\.h5: \|phi\| > 2 pi \(phi = 9\) in event 7"),
        (make_particles([[0.0, 0.0]], [[0.0, 0.0]], [[0.0, 0.0]]), r"event 7 has no particle"),
        (make_particles([[]], [[]], [[]]), r"f\.h5: event 7 has no particle with pt > 0"),
    ],
)
def test_invalid_particles_name_file_and_event(particles, pattern):
    with pytest.raises(InputError, match=pattern):
        validate_particles(particles, "f.h5", event_offset=7)


def test_first_bad_event_is_reported(rand_particles):
    p = rand_particles(20, 3)
    pt = p.pt.tolist()
    pt[13][0] = -2.0
    pt[17][0] = -3.0
    bad = make_particles(pt, p.eta, p.phi)
    with pytest.raises(InputError, match="in event 13$"):
        validate_particles(bad, "f.h5")


def test_missing_field():
    import awkward as ak

    with pytest.raises(InputError, match="lacks field.*phi"):
        validate_particles(ak.zip({"pt": [[1.0]], "eta": [[0.0]]}), "f.h5")


def test_labels():
    assert validate_labels(np.array([1.0, 0.0, 1.0]), "f").dtype == np.int8
    with pytest.raises(InputError, match=r"f\.h5: label of event 11 is 0\.5 \(expected 0 or 1\)"):
        validate_labels(np.array([0.0, 0.5]), "f.h5", event_offset=10)
    with pytest.raises(InputError, match="label of event 0"):
        validate_labels(np.array([np.nan]), "f.h5")
