"""Pipeline inputs: ROOT tree and branch names reach the readers; a bad input writes nothing."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from adsearch.cli import main
from adsearch.errors import InputError
from adsearch.io import RootBranches
from adsearch.jets import features_from_file, read_features
from adsearch.pipeline import config_from_dict, run_pipeline

N_EVENTS = 40
BRANCHES = RootBranches(pt="cand_pt", eta="cand_eta", phi="cand_phi", label="truth")


@pytest.fixture
def delphes_like(tmp_path):
    """A ROOT file with TTree ``jets`` and branches ``cand_pt/eta/phi`` + ``truth``, written by
    uproot itself (not by adsearch): two hard back-to-back objects and soft ones per event."""
    rng = np.random.default_rng(3)
    n = rng.integers(4, 9, N_EVENTS)
    pt, eta, phi = [], [], []
    for k in n:
        pt.append([1300.0, 1100.0, *rng.uniform(5, 50, k - 2)])
        eta.append([0.2, -0.4, *rng.uniform(-2, 2, k - 2)])
        phi.append([0.0, 3.0, *rng.uniform(-3, 3, k - 2)])
    cand = ak.zip({"pt": ak.Array(pt), "eta": ak.Array(eta), "phi": ak.Array(phi)})
    path = tmp_path / "delphes_like.root"
    truth = (np.arange(N_EVENTS) % 5 == 0).astype(np.int8)
    with uproot.recreate(path) as f:  # a TTree (assignment would write an RNTuple)
        f.mktree("jets", {"cand": cand.type, "truth": truth.dtype})
        f["jets"].extend({"cand": cand, "truth": truth})
    return path


def test_features_from_file_reads_the_named_tree_and_branches(delphes_like, tmp_path):
    s = features_from_file(
        delphes_like, tmp_path / "f.parquet", tree="jets", branches=BRANCHES, progress=False
    )
    assert s.n_input == N_EVENTS and s.n_kept == N_EVENTS
    f = read_features(tmp_path / "f.parquet")
    assert (f.table["label"] == 1).sum() == N_EVENTS // 5
    with pytest.raises(InputError, match=r"no TTree 'events'"):
        features_from_file(delphes_like, tmp_path / "g.parquet", progress=False)
    with pytest.raises(InputError, match=r"no branch 'part_pt'"):
        features_from_file(delphes_like, tmp_path / "g.parquet", tree="jets", progress=False)
    assert not (tmp_path / "g.parquet").exists()


def _root_config(path, **input_options):
    return config_from_dict(
        {
            "input": {"kind": "root", "path": str(path), **input_options},
            "features": {"chunk_size": 16},
        },
        source="root.yaml",
    )


def test_pipeline_passes_tree_and_branches(delphes_like, tmp_path):
    branches = {"pt": "cand_pt", "eta": "cand_eta", "phi": "cand_phi", "label": "truth"}
    cfg = _root_config(delphes_like, tree="jets", branches=branches)
    assert cfg.input.branches == BRANCHES
    res = run_pipeline(cfg, tmp_path / "run", until="features", log=None, progress=False)
    assert list(res.statuses) == ["events", "features"]
    f = read_features(tmp_path / "run/features.parquet")
    assert len(f.table["label"]) == N_EVENTS and (f.table["label"] == 1).sum() == N_EVENTS // 5


def test_bad_root_names_leave_no_run_directory(delphes_like, tmp_path):
    with pytest.raises(InputError, match=r"no TTree 'events'"):
        run_pipeline(_root_config(delphes_like), tmp_path / "a", log=None, progress=False)
    assert not (tmp_path / "a").exists()
    cfg = _root_config(delphes_like, tree="jets")
    with pytest.raises(InputError, match=r"no branch 'part_pt'"):
        run_pipeline(cfg, tmp_path / "b", log=None, progress=False)
    assert not (tmp_path / "b").exists()


def test_run_with_a_bad_input_file_writes_nothing(tmp_path, capsys):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    text = tmp_path / "notes.h5"
    text.write_text("not an event file\n")
    for bad in (junk, text):
        cfg = tmp_path / "a.yaml"
        cfg.write_text(f"input:\n  kind: lhco\n  path: {bad}\n")
        out = tmp_path / f"out_{bad.stem}"
        assert main(["run", str(cfg), "-o", str(out), "--no-progress"]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and str(bad) in err and "\n" not in err
        assert not out.exists()
