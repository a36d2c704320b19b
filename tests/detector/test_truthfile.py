"""Truth files and the detector response applied to them afterwards."""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest

from adsearch.detector import (
    apply_detector,
    card_from_json,
    load_card,
    read_truth,
    simulate_file,
    write_truth,
)
from adsearch.errors import InputError


def _truth(n: int, seed: int = 0) -> ak.Array:
    rng = np.random.default_rng(seed)
    counts = rng.integers(5, 30, n)
    m = int(counts.sum())
    pid = rng.choice([22, 211, -211, 2112], m).astype(np.int32)
    rec = ak.zip({
        "pt": rng.uniform(5.0, 80.0, m), "eta": rng.uniform(-2.4, 2.4, m),
        "phi": rng.uniform(-np.pi, np.pi, m), "mass": np.zeros(m), "pid": pid,
        "charge": np.sign(pid) * (np.abs(pid) == 211).astype(float),
    })  # fmt: skip
    return ak.unflatten(rec, counts)


def test_truth_file_round_trip(tmp_path):
    truth = _truth(50)
    labels = np.arange(50) % 2
    write_truth(tmp_path / "t.h5", truth, labels=labels, attrs={"process": "qcd", "seed": 9})
    back, lab, attrs = read_truth(tmp_path / "t.h5")
    assert ak.to_list(back) == ak.to_list(truth)
    assert lab.tolist() == labels.tolist()
    assert attrs == {"process": "qcd", "seed": 9}
    part, lab2, _ = read_truth(tmp_path / "t.h5", 10, 20)
    assert ak.to_list(part) == ak.to_list(truth[10:20]) and lab2.tolist() == labels[10:20].tolist()


def test_simulate_file_records_card_and_seed(tmp_path):
    from adsearch.io import lhco_attrs, read_events

    truth = _truth(40, seed=1)
    write_truth(tmp_path / "t.h5", truth, labels=np.zeros(40), attrs={"seed": 5})
    n = simulate_file(tmp_path / "t.h5", tmp_path / "det.h5", "lhco", seed=3, trigger=False)
    assert n == 40
    attrs = lhco_attrs(tmp_path / "det.h5")
    card = attrs["detector"]
    card = card_from_json(card if isinstance(card, str) else json.dumps(card))
    assert card == load_card("lhco")
    assert attrs["detector_seed"] == 3
    ev = read_events(tmp_path / "det.h5")
    # one chunk: identical to apply_detector with the chunk's derived seed
    seed0 = int(np.random.SeedSequence(3).spawn(1)[0].generate_state(1)[0])
    direct = apply_detector(truth, load_card("lhco"), seed=seed0)
    assert ak.num(ev.particles).tolist() == ak.num(direct).tolist()
    np.testing.assert_allclose(
        ak.to_numpy(ak.flatten(ev.particles.pt)), ak.to_numpy(ak.flatten(direct.pt))
    )


def test_lhco_files_are_refused_with_a_reason(tmp_path):
    from adsearch.io import make_particles, write_lhco

    write_lhco(tmp_path / "lhco.h5", make_particles([[5.0]], [[0.1]], [[1.0]]), labels=[0])
    with pytest.raises(InputError, match="no particle id or charge"):
        simulate_file(tmp_path / "lhco.h5", tmp_path / "out.h5", "lhco", seed=1)
    assert not (tmp_path / "out.h5").exists()


def test_simulate_cli_verb(tmp_path, capsys):
    from adsearch.cli import main

    write_truth(tmp_path / "t.h5", _truth(12, seed=2), labels=np.ones(12))
    rc = main(["simulate", str(tmp_path / "t.h5"), "-o", str(tmp_path / "d.h5"), "--no-trigger"])
    assert rc == 0
    assert "wrote 12 detector-level events" in capsys.readouterr().out
    assert (tmp_path / "d.h5").is_file()
    rc = main(["simulate", str(tmp_path / "missing.h5"), "-o", str(tmp_path / "e.h5")])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("error:") and "missing.h5" in err
    assert not (tmp_path / "e.h5").exists()
