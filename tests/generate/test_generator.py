"""Event generation: reproducibility across worker counts, and reconstructed physics.

Samples are small (100-300 triggered events) and shared per module; the W' signal runs
without MPI (~900 events/s), QCD is the slow one (~130 events/s).
"""

import awkward as ak
import numpy as np
import pytest

from adsearch.detector import read_truth
from adsearch.errors import AdsearchError, ConfigError
from adsearch.generate import (
    TriggerConfig,
    generate,
    generate_to_file,
    generate_truth_to_files,
    generate_with_summary,
)
from adsearch.io.lhco import lhco_attrs, read_lhco
from adsearch.jets.features import compute_features


def _jets(events):
    """mjj, (heavier, lighter) jet masses, tau21 and tau32 of the heavier jet."""
    f = compute_features(events).table
    j1_heavier = f["mj1"] >= f["mj2"]
    return {
        "mjj": f["mjj"],
        "m_heavy": np.maximum(f["mj1"], f["mj2"]),
        "m_light": np.minimum(f["mj1"], f["mj2"]),
        "tau21_heavy": np.where(j1_heavier, f["tau21j1"], f["tau21j2"]),
        "tau32_heavy": np.where(j1_heavier, f["tau32j1"], f["tau32j2"]),
    }


@pytest.fixture(scope="module")
def qcd():
    return generate_with_summary("qcd", 100, seed=11, detector="none", progress=False)


@pytest.fixture(scope="module")
def sig2():
    return generate_with_summary("wprime-2prong", 300, seed=11, detector="none", progress=False)


@pytest.fixture(scope="module")
def sig3():
    return generate_with_summary("wprime-3prong", 300, seed=11, detector="none", progress=False)


# ------------------------------------------------------------------------ reproducibility


def test_same_seed_same_file_for_1_and_2_workers(tmp_path):
    kw = {"detector": "lhco", "block_size": 40, "progress": False}
    s1 = generate_to_file(tmp_path / "w1.h5", "wprime-2prong", 120, 5, workers=1, **kw)
    s2 = generate_to_file(tmp_path / "w2.h5", "wprime-2prong", 120, 5, workers=2, **kw)
    a, b = read_lhco(tmp_path / "w1.h5"), read_lhco(tmp_path / "w2.h5")
    assert len(a) == len(b) == 120
    assert s1.n_generated == s2.n_generated and s1.n_blocks >= 3  # several blocks in play
    assert ak.to_list(ak.num(a.particles)) == ak.to_list(ak.num(b.particles))
    for f in ("pt", "eta", "phi"):
        np.testing.assert_array_equal(
            ak.to_numpy(ak.flatten(a.particles[f])), ak.to_numpy(ak.flatten(b.particles[f]))
        )
    np.testing.assert_array_equal(a.labels, np.ones(120))
    attrs = lhco_attrs(tmp_path / "w1.h5")
    assert attrs == lhco_attrs(tmp_path / "w2.h5")  # no worker count or timing in the file
    assert attrs["seed"] == 5 and attrs["n_events"] == 120
    assert attrs["n_generated"] == s1.n_generated
    assert attrs["process"]["process"] == "wprime-2prong"
    assert attrs["detector"]["name"] == "lhco"  # the card, as JSON
    assert attrs["trigger"]["pt_min"] == 1200.0
    assert attrs["trigger_efficiency"] == pytest.approx(120 / s1.n_generated)
    # detector level: massless objects, far fewer than the truth-level particles
    assert 60 < np.mean(ak.num(a.particles)) < 250
    assert np.median(_jets(a)["mjj"]) == pytest.approx(3500.0, rel=0.07)


def test_seed_changes_events_and_shorter_runs_are_prefixes():
    kw = {"detector": "none", "block_size": 50, "progress": False}
    long = generate("wprime-2prong", 90, seed=21, **kw).particles
    short = generate("wprime-2prong", 40, seed=21, **kw).particles
    other = generate("wprime-2prong", 40, seed=22, **kw).particles
    assert ak.to_list(short.pt) == ak.to_list(long[:40].pt)
    assert ak.to_list(short.pid) == ak.to_list(long[:40].pid)
    assert ak.to_list(other.pt[:3]) != ak.to_list(short.pt[:3])


# -------------------------------------------------------------------------------- physics


def test_wprime_2prong_reconstructs_x_and_y(sig2):
    events, summary = sig2
    assert events.particles.fields == ["pt", "eta", "phi", "mass", "pid", "charge"]
    assert (events.labels == 1).all()
    j = _jets(events)
    assert np.median(j["mjj"]) == pytest.approx(3500.0, rel=0.05)
    assert np.median(j["m_heavy"]) == pytest.approx(500.0, rel=0.10)
    assert np.median(j["m_light"]) == pytest.approx(100.0, rel=0.15)
    # LHCO signal trigger efficiency ~0.70 (LHCO R&D sample); 300 events: +-0.03 statistical
    assert 0.6 < summary.trigger_efficiency < 0.8


def test_substructure_signal_vs_qcd_and_3prong_vs_2prong(qcd, sig2, sig3):
    jq, j2, j3 = _jets(qcd[0]), _jets(sig2[0]), _jets(sig3[0])
    # 2-prong X: much lower tau21 than QCD jets (truth level: ~0.2 vs ~0.5)
    assert np.median(j2["tau21_heavy"]) < np.median(jq["tau21_heavy"]) - 0.15
    # 3-prong X: lower tau32 than 2-prong X (~0.45 vs ~0.65)
    assert np.median(j3["tau32_heavy"]) < np.median(j2["tau32_heavy"]) - 0.1
    assert np.median(j3["m_heavy"]) == pytest.approx(500.0, rel=0.10)
    assert np.median(j3["mjj"]) == pytest.approx(3500.0, rel=0.05)


def test_qcd_trigger_efficiency_and_spectrum(qcd):
    events, summary = qcd
    assert (events.labels == 0).all()
    assert 0.3 < summary.trigger_efficiency < 0.6  # LHCO QCD: ~0.43
    j = _jets(events)
    assert 2000.0 < np.median(j["mjj"]) < 3500.0  # falling spectrum from the trigger
    # every kept event passes the trigger: a jet above 1.2 TeV within |eta| < 2.5
    f = compute_features(events).table
    lead_ok = (f["ptj1"] > 1200) & (abs(f["etaj1"]) < 2.5)
    sub_ok = (f["ptj2"] > 1200) & (abs(f["etaj2"]) < 2.5)
    assert (lead_ok | sub_ok).all()
    # truth level, MPI off (the default): ~350 visible particles per event (~565 with MPI)
    assert 250 < np.mean(ak.num(events.particles)) < 450


def test_trigger_off_keeps_every_event():
    events, summary = generate_with_summary(
        "wprime-2prong",
        30,
        seed=3,
        detector="none",
        trigger=TriggerConfig(enabled=False),
        block_size=30,
        progress=False,
    )
    assert len(events) == 30 and summary.n_generated == 30


def test_truth_to_files_writes_the_same_events_twice(tmp_path):
    lhco, truth = tmp_path / "ev.h5", tmp_path / "truth.h5"
    s = generate_truth_to_files(
        lhco, truth, "wprime-2prong", 8, seed=5, block_size=20, progress=False
    )
    assert (s.n_events, s.process) == (8, "wprime-2prong")
    assert (s.path, s.truth_path) == (str(lhco), str(truth))
    ref = generate("wprime-2prong", 8, seed=5, detector="none", block_size=20, progress=False)
    particles, labels, attrs = read_truth(truth)
    assert ak.fields(particles) == ["pt", "eta", "phi", "mass", "pid", "charge"]
    for k in ("pt", "pid"):
        got, want = (ak.to_numpy(ak.flatten(p[k])) for p in (particles, ref.particles))
        np.testing.assert_array_equal(got, want)
    assert labels.tolist() == [1] * 8
    ev = read_lhco(lhco)
    assert len(ev) == 8 and ev.labels.tolist() == [1] * 8
    assert s.n_truncated == int(np.sum(ak.num(ref.particles) > 700))
    assert attrs["seed"] == 5 and attrs["detector"] == "none"
    file_attrs = lhco_attrs(lhco)
    assert file_attrs["process"]["process"] == "wprime-2prong" and file_attrs["seed"] == 5


def test_truth_to_files_checks_both_paths_before_generating(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        generate_truth_to_files(tmp_path / "ev.h5", tmp_path, "wprime-2prong", 5, seed=1)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"n_events": 0}, "n_events must be an integer >= 1"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"workers": 0}, "workers must be an integer >= 1"),
        ({"detector": "/no/such/card.yaml"}, "card"),
        ({"trigger": TriggerConfig(r=-1.0)}, "r must be a positive"),
    ],
)
def test_bad_arguments(kw, match):
    args = {"process": "wprime-2prong", "n_events": 5, "seed": 1, "detector": "none"} | kw
    with pytest.raises(ConfigError, match=match):
        generate(**args, progress=False)


def test_impossible_trigger_stops_with_error():
    with pytest.raises(AdsearchError, match="passed the trigger"):
        generate(
            "wprime-2prong",
            5,
            seed=1,
            detector="none",
            trigger=TriggerConfig(pt_min=6000.0),
            block_size=20,
            max_generated=40,
            progress=False,
        )
