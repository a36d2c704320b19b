"""Resumable sharded generation: shards are the one-file run cut in pieces, reruns resume
(after max_shards, a deleted shard, an exception or kill -9) to the bytes of an uninterrupted
run, other configurations are refused, and the merge equals the one-file run.

Samples are tiny: 3 shards of 20 W' events (blocks of 20 Pythia events, so shard boundaries
fall inside blocks), detector 'lhco'; the kill test makes 200 QCD events.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from adsearch.errors import ConfigError, InputError
from adsearch.generate import generate_to_file
from adsearch.generate.shards import MANIFEST, generate_shards, merge_shards, shard_name
from adsearch.io.lhco import LHCOWriter, lhco_attrs, read_lhco

ROOT = Path(__file__).resolve().parents[2]
KW = {"detector": "lhco", "shard_size": 20, "block_size": 20, "progress": False}
N, SEED, PROC = 60, 5, "wprime-2prong"


def _files(d: Path) -> dict[str, bytes]:
    """Every file of a directory (temporary ones included) by name, with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def _shards(d: Path) -> dict[str, bytes]:
    return {k: v for k, v in _files(d).items() if k.startswith("shard_")}


def _manifest(d: Path) -> dict:
    return json.loads((d / MANIFEST).read_text())


def _same_events(a, b) -> None:
    assert len(a) == len(b)
    assert ak.to_list(ak.num(a.particles)) == ak.to_list(ak.num(b.particles))
    for f in ("pt", "eta", "phi"):
        np.testing.assert_array_equal(
            ak.to_numpy(ak.flatten(a.particles[f])), ak.to_numpy(ak.flatten(b.particles[f]))
        )
    np.testing.assert_array_equal(a.labels, b.labels)


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    """An uninterrupted 3-shard run and the one-file run of the same sample."""
    d = tmp_path_factory.mktemp("ref")
    done = []
    s = generate_shards(d / "shards", PROC, N, SEED, on_shard=done.append, **KW)
    one = d / "one.h5"
    generate_to_file(one, PROC, N, SEED, detector="lhco", block_size=20, progress=False)
    return {"dir": d / "shards", "summary": s, "done": done, "one": one}


# ------------------------------------------------------------------- shards and merge


def test_shards_are_the_one_file_run_cut_in_pieces(ref, tmp_path):
    d, s = ref["dir"], ref["summary"]
    assert (s.n_shards, s.n_done, s.n_new, s.n_events_new, s.complete) == (3, 3, 3, N, True)
    assert [i.index for i in ref["done"]] == [0, 1, 2]
    assert set(_files(d)) == {MANIFEST, "shard_00000.h5", "shard_00001.h5", "shard_00002.h5"}
    one = read_lhco(ref["one"])
    for k in range(3):
        _same_events(read_lhco(d / shard_name(k)), one[20 * k : 20 * (k + 1)])
    m = _manifest(d)
    assert m["n_events"] == N and m["n_shards"] == 3 and m["config"]["seed"] == SEED
    assert [e["n_events"] for e in m["shards"]] == [20, 20, 20]
    # the boundaries fall inside blocks, so a resume must skip a block's first events
    assert all(e["end"]["used"] > 0 for e in m["shards"][:2])
    assert [e["start"] for e in m["shards"][1:]] == [e["end"] for e in m["shards"][:2]]
    # Pythia events: the shards' counts add up to the one-file run's
    one_attrs = lhco_attrs(ref["one"])
    assert sum(e["n_generated"] for e in m["shards"]) == one_attrs["n_generated"]
    shard1 = lhco_attrs(d / shard_name(1))
    assert shard1["n_events"] == 20 and shard1["seed"] == SEED
    assert shard1["shard"]["index"] == 1 and shard1["shard"]["first_event"] == 20

    merged = tmp_path / "merged.h5"
    ms = merge_shards(d, merged, chunk_size=7, progress=False)  # chunks across shard ends
    assert (ms.n_events, ms.n_shards, ms.n_generated) == (N, 3, one_attrs["n_generated"])
    _same_events(read_lhco(merged), one)
    assert lhco_attrs(merged) == one_attrs  # process, card, seed, counts, efficiency, ...
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged.h5"]  # no temporary file


def test_same_seed_same_bytes_for_any_worker_count_other_seed_other_events(ref, tmp_path):
    generate_shards(tmp_path / "w2", PROC, N, SEED, workers=2, **KW)
    assert _shards(tmp_path / "w2") == _shards(ref["dir"])
    assert _manifest(tmp_path / "w2")["shards"] == _manifest(ref["dir"])["shards"]
    generate_shards(tmp_path / "s6", PROC, 20, SEED + 1, **KW)
    other = read_lhco(tmp_path / "s6" / shard_name(0)).particles.pt
    assert ak.to_list(other) != ak.to_list(read_lhco(ref["dir"] / shard_name(0)).particles.pt)


# ------------------------------------------------------------------------------ resume


def test_interrupted_run_generates_only_the_missing_shards(ref, tmp_path):
    d = tmp_path / "shards"
    s = generate_shards(d, PROC, N, SEED, max_shards=2, **KW)
    assert (s.n_new, s.n_done, s.complete) == (2, 2, False)
    assert len(_manifest(d)["shards"]) == 2 and not (d / shard_name(2)).exists()
    first = _shards(d)
    done = []
    s = generate_shards(d, PROC, N, SEED, on_shard=done.append, **KW)
    assert [i.index for i in done] == [2] and (s.n_new, s.complete) == (1, True)
    assert s.n_events_new == 20 and s.n_events_done == N
    assert _files(d) == _files(ref["dir"])  # as uninterrupted, manifest included
    assert {k: v for k, v in _shards(d).items() if k in first} == first

    # a lost middle shard: regenerated alone, from the middle of the block it starts in
    (d / shard_name(1)).unlink()
    done.clear()
    assert generate_shards(d, PROC, N, SEED, on_shard=done.append, **KW).n_new == 1
    assert [i.index for i in done] == [1]
    assert _files(d) == _files(ref["dir"])

    # nothing to do: no shard is rewritten
    mtimes = {p.name: p.stat().st_mtime_ns for p in d.glob("shard_*.h5")}
    assert generate_shards(d, PROC, N, SEED, **KW).n_new == 0
    assert {p.name: p.stat().st_mtime_ns for p in d.glob("shard_*.h5")} == mtimes


def test_shard_not_as_recorded_is_generated_again(ref, tmp_path):
    d = tmp_path / "shards"
    shutil.copytree(ref["dir"], d)
    shutil.copy(d / shard_name(0), d / shard_name(2))  # a shard with the wrong content
    done = []
    generate_shards(d, PROC, N, SEED, on_shard=done.append, **KW)
    assert [i.index for i in done] == [2]
    assert _files(d) == _files(ref["dir"])


def test_exception_inside_a_shard_leaves_no_partial_file_nor_temp_files(ref, tmp_path, monkeypatch):
    d = tmp_path / "shards"
    append = LHCOWriter.append
    armed = []

    def failing_append(self, *args, **kwargs):
        if armed:  # shard 1 has started writing its temporary file
            raise KeyboardInterrupt
        append(self, *args, **kwargs)

    monkeypatch.setattr(LHCOWriter, "append", failing_append)
    with pytest.raises(KeyboardInterrupt):
        generate_shards(d, PROC, N, SEED, on_shard=lambda _: armed.append(1), **KW)
    assert set(_files(d)) == {MANIFEST, "shard_00000.h5"}  # no partial shard, no .tmp
    assert len(_manifest(d)["shards"]) == 1
    monkeypatch.setattr(LHCOWriter, "append", append)
    assert generate_shards(d, PROC, N, SEED, **KW).n_new == 2
    assert _files(d) == _files(ref["dir"])


def _spawn(argv: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "ADSEARCH_NO_PROGRESS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "adsearch.cli", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_kill_9_then_rerun_ends_as_an_uninterrupted_run(tmp_path):
    argv = ["generate", "qcd", "-n", "200", "--seed", "3", "--shard-size", "20",
            "--block-size", "20", "--shard-dir"]  # fmt: skip
    proc = _spawn([*argv, "killed"], tmp_path)
    t0 = time.monotonic()
    while not (tmp_path / "killed" / shard_name(0)).exists():
        if proc.poll() is not None:
            pytest.fail(f"ended before the kill: {proc.stderr.read().decode()[-2000:]}")
        assert time.monotonic() - t0 < 120, "no shard written"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL
    proc.stderr.close()
    killed = tmp_path / "killed"
    assert not (killed / shard_name(9)).exists()  # killed before the end

    rerun = _spawn([*argv, "killed", "-o", "qcd.h5"], tmp_path)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()[-2000:]
    generate_shards(tmp_path / "whole", "qcd", 200, 3, **KW)
    assert _files(killed) == _files(tmp_path / "whole")  # no temporary file left either
    merged = read_lhco(tmp_path / "qcd.h5")
    assert len(merged) == 200 and (merged.labels == 0).all()


# ------------------------------------------------------------- refused configurations


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"seed": SEED + 1}, "seed 5 -> 6"),
        ({"shard_size": 30}, "shard_size 20 -> 30"),
        ({"block_size": 10}, "block_size 20 -> 10"),
        ({"detector": "none"}, "detector"),
        ({"process": "wprime-3prong"}, "process, pythia_settings"),
        ({"n_events": 50}, "60-event sample; 50 events would change its shard 2"),
    ],
)
def test_other_configuration_in_the_directory_is_refused(ref, change, match):
    before = _files(ref["dir"])
    args = {"process": PROC, "n_events": N, "seed": SEED, **KW, **change}
    with pytest.raises(ConfigError, match=match) as e:
        generate_shards(ref["dir"], **args)
    assert "\n" not in str(e.value)
    assert _files(ref["dir"]) == before  # nothing written, nothing mixed


def test_more_events_add_shards_to_a_finished_directory(ref, tmp_path):
    d = tmp_path / "shards"
    shutil.copytree(ref["dir"], d)
    done = []
    s = generate_shards(d, PROC, 75, SEED, on_shard=done.append, **KW)
    assert [i.index for i in done] == [3] and s.n_events_done == 75
    assert {k: v for k, v in _shards(d).items() if k != shard_name(3)} == _shards(ref["dir"])
    one = tmp_path / "one75.h5"
    generate_to_file(one, PROC, 75, SEED, detector="lhco", block_size=20, progress=False)
    _same_events(read_lhco(d / shard_name(3)), read_lhco(one)[60:])
    assert lhco_attrs(d / shard_name(3))["n_events"] == 15


def test_bad_directories_and_arguments(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        generate_shards(tmp_path / "file", PROC, 5, 1, **KW)
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / shard_name(0)).write_text("x")
    with pytest.raises(ConfigError, match="shard files but no manifest.json"):
        generate_shards(stray, PROC, 5, 1, **KW)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / MANIFEST).write_text("{not json")
    with pytest.raises(InputError, match="not a readable manifest"):
        generate_shards(bad, PROC, 5, 1, **KW)
    with pytest.raises(ConfigError, match="shard_size must be an integer >= 1"):
        generate_shards(tmp_path / "x", PROC, 5, 1, **{**KW, "shard_size": 0})
    with pytest.raises(ConfigError, match="max_shards must be an integer >= 1"):
        generate_shards(tmp_path / "x", PROC, 5, 1, max_shards=0, **KW)
    assert not (tmp_path / "x").exists()


def test_merge_refuses_unfinished_or_foreign_directories(ref, tmp_path):
    d = tmp_path / "part"
    generate_shards(d, PROC, N, SEED, max_shards=1, **KW)
    with pytest.raises(InputError, match=r"1 of 3 shards finished \(shard_00001.h5 missing\)"):
        merge_shards(d, tmp_path / "m.h5", progress=False)
    with pytest.raises(InputError, match="no manifest.json"):
        merge_shards(tmp_path, tmp_path / "m.h5", progress=False)
    with pytest.raises(InputError, match="no such shard directory"):
        merge_shards(tmp_path / "nothing", tmp_path / "m.h5", progress=False)
    with pytest.raises(ConfigError, match="would overwrite a file of the shard directory"):
        merge_shards(ref["dir"], ref["dir"] / shard_name(1), progress=False)
    assert not (tmp_path / "m.h5").exists()
