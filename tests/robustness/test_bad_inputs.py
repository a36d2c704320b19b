"""Bad-input corpus through the CLI: one ``error:`` line naming the file/field, exit != 0,
no traceback, inputs unchanged, no partial output — or a documented skip with counts."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from adsearch.cli import main
from tests.robustness.bad_inputs import (
    REAL,
    few_constituents_block,
    good_block,
    lhco,
    parquet_not_features,
    root,
    train_yaml,
)

Case = Callable[[Path, Path], tuple[list[str], str]]


def _bad_block(edit) -> Callable[[Path, Path], tuple[list[str], str]]:
    def case(d: Path, o: Path) -> tuple[list[str], str]:
        b = good_block()
        edit(b)
        f = lhco(d / "bad.h5", b)
        return ["features", str(f), "-o", str(o / "f.parquet")], r"bad\.h5: "

    return case


def _truncated(d, o):
    data = REAL.read_bytes()
    f = d / "cut.h5"
    f.write_bytes(data[: len(data) // 2])
    return ["features", str(f), "-o", str(o / "f.parquet")], r"cut\.h5: .*(truncated|corrupt)"


def _corrupt(d, o):
    data = bytearray(REAL.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 4096] = bytes(range(256)) * 16
    f = d / "corrupt.h5"
    f.write_bytes(bytes(data))
    return ["features", str(f), "-o", str(o / "f.parquet")], r"corrupt\.h5: "


def _superblock(d, o):
    data = bytearray(REAL.read_bytes())
    data[8:64] = b"\xff" * 56
    f = d / "super.h5"
    f.write_bytes(bytes(data))
    return ["info", str(f)], r"super\.h5: not a readable HDF5 file"


def _empty(d, o):
    f = d / "empty.h5"
    f.touch()
    return ["features", str(f), "-o", str(o / "f.parquet")], r"empty\.h5: empty file"


def _missing(d, o):
    return ["features", str(d / "nope.h5"), "-o", str(o / "f.parquet")], r"nope\.h5: no such"


def _text(d, o):
    f = d / "notes.h5"
    f.write_text("pT,eta,phi\n1,2,3\n")
    return ["info", str(f)], r"notes\.h5: unknown file format"


def _columns(d, o):
    f = lhco(d / "cols.h5", good_block(ncols=2102))
    return ["features", str(f), "-o", str(o / "f.parquet")], r"cols\.h5: 2102 columns"


def _root_branches(d, o):
    from adsearch.io import RootBranches

    f = root(d / "delphes.root", RootBranches(pt="PT", eta="Eta", phi="Phi", label=None))
    return ["features", str(f), "-o", str(o / "f.parquet")], r"delphes\.root: .*part_pt.*PT"


def _root_tree(d, o):
    f = root(d / "tree.root", tree="Delphes")
    return ["info", str(f)], r"tree\.root: .*'events'.*Delphes"


def _features_given_parquet(d, o):
    f = parquet_not_features(d / "table.parquet")
    return ["features", str(f), "-o", str(o / "f.parquet")], r"table\.parquet: is a parquet"


def _chunk_zero(d, o):
    f = lhco(d / "ok.h5", good_block())
    return ["features", str(f), "-o", str(o / "f.parquet"), "--chunk-size", "0"], "chunk size"


def _range(d, o):
    f = lhco(d / "ok.h5", good_block())
    argv = ["features", str(f), "-o", str(o / "f.parquet"), "--start", "50"]
    return argv, r"ok\.h5: empty event range \[50, 12\)"


def _generate_n(d, o):
    return ["generate", "qcd", "-n", "-5", "-o", str(o / "g.h5")], "n_events must be .* >= 1"


def _generate_process(d, o):
    return ["generate", "zprime", "-o", str(o / "g.h5")], "unknown process 'zprime'"


def _generate_card(d, o):
    import yaml

    from adsearch.detector import load_card, save_card

    card = save_card(load_card("lhco"), d / "card.yaml") or d / "card.yaml"
    c = yaml.safe_load(card.read_text())
    c["hcal"]["resolution"][0]["stochastic"] = -1.5
    card.write_text(yaml.safe_dump(c))
    return ["generate", "qcd", "-n", "5", "-o", str(o / "g.h5"), "--detector", str(card)], (
        r"card\.yaml: hcal:resolution\[0\]:stochastic: must be a finite number >= 0"
    )


def _process_yaml(d, o):
    cfg = d / "proc.yaml"
    cfg.write_text("process: wprime-2prong\nm_x: 500\nm_z: 80\n")
    return ["generate", "--config", str(cfg), "-n", "5", "-o", str(o / "g.h5")], (
        r"proc\.yaml.*m_z"
    )


def _train_unknown_key(d, o):
    f = train_yaml(d / "train.yaml", "x.parquet", optim={"learning_rate": 0.1})
    return ["train", str(f), "--out-dir", str(o / "run")], r"optim.*learning_rate"


def _train_wrong_type(d, o):
    f = train_yaml(d / "train.yaml", "x.parquet", optim={"epochs": "many"})
    return ["train", str(f), "--out-dir", str(o / "run")], r"optim:epochs"


def _train_yaml_syntax(d, o):
    f = d / "train.yaml"
    f.write_text("data: {path: x.parquet\nmodel: [gin\n")
    return ["train", str(f), "--out-dir", str(o / "run")], r"train\.yaml"


def _train_event_file(d, o):
    ev = lhco(d / "events.h5", good_block())
    f = train_yaml(d / "train.yaml", str(ev))
    return ["train", str(f), "--out-dir", str(o / "run")], r"events\.h5: .*(features|Parquet)"


def _train_too_few(d, o):
    from adsearch.io import read_events
    from adsearch.jets import compute_features, write_features

    feats = d / "few.parquet"
    write_features(feats, compute_features(read_events(REAL, 0, 1)))
    f = train_yaml(d / "train.yaml", str(feats))
    return ["train", str(f), "--out-dir", str(o / "run")], r"too few"


def _fit_too_few(d, o):
    f = d / "mjj.npy"
    np.save(f, np.array([2700.0, 2900.0, 3100.0, 3500.0, 4200.0]))
    return ["fit", str(f), "-o", str(o / "fit")], r"too few events to fit: 5 "


def _fit_bad_option(d, o):
    f = d / "mjj.npy"
    np.save(f, np.linspace(2600.0, 5000.0, 500))
    return ["bumphunt", str(f), "-o", str(o / "bh"), "--widths", "1,x"], r"--widths"


def _fit_nan(d, o):
    f = d / "mjj.npy"
    v = np.linspace(2600.0, 5000.0, 500)
    v[7] = np.nan
    np.save(f, v)
    return ["fit", str(f), "-o", str(o / "fit")], r"mjj\.npy.*(nan|NaN|finite)"


def _pipeline_unknown_key(d, o):
    f = d / "analysis.yaml"
    f.write_text("name: x\nregions: {workingpoints: [0.1]}\n")
    return ["run", str(f), "-o", str(o / "run")], r"analysis\.yaml:regions: unknown key"


def _pipeline_wrong_type(d, o):
    f = d / "analysis.yaml"
    f.write_text("name: x\nstats: {bumphunt: {n_toys: lots}}\n")
    return ["run", str(f), "-o", str(o / "run")], r"analysis\.yaml.*n_toys"


def _out_is_dir(d, o):
    f = lhco(d / "ok.h5", good_block())
    return ["features", str(f), "-o", str(o)], r"out: is a directory"


def _out_under_file(d, o):
    f = lhco(d / "ok.h5", good_block())
    return ["features", str(f), "-o", str(f / "x.parquet")], r"ok\.h5 is a file, not a directory"


def _float32(d, o):
    import pandas as pd

    f = d / "f32.h5"
    pd.DataFrame(good_block().astype(np.float32)).to_hdf(f, key="df", format="fixed")
    return ["features", str(f), "-o", str(o / "f.parquet")], r"f32\.h5: .*float32"


def _other_key(d, o):
    import pandas as pd

    f = d / "key.h5"
    pd.DataFrame(good_block()).to_hdf(f, key="data", format="fixed")
    return ["info", str(f)], r"key\.h5: no 'df/block0_values' dataset .*holds: data"


def _root_truncated(d, o):
    b = root(d / "r.root").read_bytes()
    f = d / "cut.root"
    f.write_bytes(b[: len(b) // 2])
    (d / "r.root").unlink()
    return ["features", str(f), "-o", str(o / "f.parquet")], r"cut\.root: "


def _mix_few_signal(d, o):
    b, s = good_block(), good_block(seed=1)
    b[:, 2100], s[:, 2100] = 0, 1
    bkg, sig = lhco(d / "bkg.h5", b), lhco(d / "sig.h5", s)
    argv = ["mix", "--background", str(bkg), "--signal", str(sig), "--n-signal", "50"]
    return [*argv, "-o", str(o / "m.h5")], r"sig\.h5: has only 12 events"


def _mix_signal_in_background(d, o):
    b = good_block()
    b[:, 2100] = 1
    bkg, sig = lhco(d / "bkg.h5", b), lhco(d / "sig.h5", b)
    argv = ["mix", "--background", str(bkg), "--signal", str(sig), "--n-signal", "5"]
    return [*argv, "-o", str(o / "m.h5")], r"bkg\.h5: event 0 is labelled 1"


def _simulate_lhco(d, o):
    f = lhco(d / "ev.h5", good_block())
    return ["simulate", str(f), "-o", str(o / "s.h5")], r"ev\.h5: not a truth file"


def _generate_masses(d, o):
    argv = ["generate", "wprime-2prong", "-n", "5", "-o", str(o / "g.h5"), "--m-x", "5000"]
    return argv, r"m_x \+ m_y = 5100 must be below m_wprime = 3500"


def _train_lr_nan(d, o):
    f = train_yaml(d / "train.yaml", "x.parquet", optim={"lr": float("nan")})
    return ["train", str(f), "--out-dir", str(o / "run")], r"optim:lr: must be > 0, got nan"


def _pipeline_missing_input(d, o):
    f = d / "analysis.yaml"
    f.write_text(f"name: x\ninput: {{kind: lhco, path: {d / 'missing.h5'}}}\n")
    return ["run", str(f), "-o", str(o / "run")], r"input:path: .*missing\.h5 not found"


CASES: dict[str, Case] = {
    "truncated-hdf5": _truncated,
    "corrupt-hdf5-data": _corrupt,
    "corrupt-hdf5-superblock": _superblock,
    "empty-file": _empty,
    "missing-file": _missing,
    "text-not-hdf5": _text,
    "wrong-column-count": _columns,
    "nan-pt": _bad_block(lambda b: b.__setitem__((4, 3), np.nan)),
    "inf-eta": _bad_block(lambda b: b.__setitem__((2, 4), np.inf)),
    "negative-pt": _bad_block(lambda b: b.__setitem__((6, 9), -1.0)),
    "phi-out-of-range": _bad_block(lambda b: b.__setitem__((3, 5), 12.0)),
    "all-zero-event": _bad_block(lambda b: b.__setitem__((7, slice(0, 2100)), 0.0)),
    "label-not-0-1": _bad_block(lambda b: b.__setitem__((8, 2100), 3.0)),
    "root-wrong-branches": _root_branches,
    "root-wrong-tree": _root_tree,
    "parquet-as-event-file": _features_given_parquet,
    "chunk-size-0": _chunk_zero,
    "empty-event-range": _range,
    "generate-negative-n": _generate_n,
    "generate-unknown-process": _generate_process,
    "detector-card-bad-value": _generate_card,
    "process-yaml-unknown-key": _process_yaml,
    "train-yaml-unknown-key": _train_unknown_key,
    "train-yaml-wrong-type": _train_wrong_type,
    "train-yaml-syntax": _train_yaml_syntax,
    "train-on-event-file": _train_event_file,
    "train-too-few-events": _train_too_few,
    "fit-too-few-events": _fit_too_few,
    "fit-nan-mjj": _fit_nan,
    "bumphunt-bad-option": _fit_bad_option,
    "pipeline-unknown-key": _pipeline_unknown_key,
    "pipeline-wrong-type": _pipeline_wrong_type,
    "pipeline-missing-input": _pipeline_missing_input,
    "output-is-a-directory": _out_is_dir,
    "output-under-a-file": _out_under_file,
    "lhco-float32-block": _float32,
    "hdf5-other-key": _other_key,
    "truncated-root": _root_truncated,
    "mix-too-few-signal": _mix_few_signal,
    "mix-signal-in-background": _mix_signal_in_background,
    "simulate-lhco-file": _simulate_lhco,
    "generate-masses-inconsistent": _generate_masses,
    "train-lr-nan": _train_lr_nan,
}


def _hashes(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_error(name, tmp_path, capsys, monkeypatch):
    d, o = tmp_path / "in", tmp_path / "out"
    d.mkdir()
    o.mkdir()
    monkeypatch.chdir(d)
    argv, pattern = CASES[name](d, o)
    before = _hashes(d)
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0, f"{name}: exit 0\n{err}"
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert "Traceback" not in err, err
    assert re.search(pattern, errors[0]), errors[0]
    assert _hashes(d) == before  # inputs never modified (and nothing written beside them)
    assert list(o.rglob("*")) == []  # no partial output


def test_single_constituent_and_one_jet_events_are_skipped_with_counts(tmp_path, capsys):
    from adsearch.jets import read_features

    f = lhco(tmp_path / "few.h5", few_constituents_block())
    out = tmp_path / "f.parquet"
    assert main(["features", str(f), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "events in:                 4" in text
    assert "fewer than two jets:       1 (25.000 %)" in text
    assert "single-constituent jets:   2" in text
    feats = read_features(out)
    assert feats.table["event_index"].tolist() == [0, 2, 3]
    assert feats.n_fewer_than_two_jets == 1 and feats.n_single_constituent_jets == 2
    # a one-constituent jet has tau_N = 0 and ratios 1 (documented), never NaN
    assert feats.table["tau21j1"][0] == 1.0 and feats.table["tau32j2"][0] == 1.0
    assert all(np.isfinite(v).all() for v in feats.table.values())


def test_duplicated_events_are_kept_as_independent_rows(tmp_path, capsys):
    b = good_block(6)
    b[3] = b[1]
    f = lhco(tmp_path / "dup.h5", b)
    out = tmp_path / "f.parquet"
    assert main(["features", str(f), "-o", str(out)]) == 0
    from adsearch.jets import read_features

    t = read_features(out).table
    assert t["event_index"].tolist() == list(range(6))
    assert t["mjj"][1] == t["mjj"][3]  # same features, both rows kept (not detected)
