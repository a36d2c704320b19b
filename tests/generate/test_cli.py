"""`adsearch generate` and `adsearch mix` through the CLI entry point."""

import awkward as ak
import numpy as np
import pytest

from adsearch.cli import main
from adsearch.generate.mixing import read_key
from adsearch.io.lhco import lhco_attrs, lhco_shape, read_lhco


def test_generate_and_mix(tmp_path, capsys):
    sig = tmp_path / "sig.h5"
    rc = main(["generate", "wprime-2prong", "-n", "20", "-o", str(sig), "--seed", "4",
               "--detector", "lhco", "--m-x", "450", "--wprime-mass-min", "2500",
               "--block-size", "30"])  # fmt: skip
    assert rc == 0
    out = capsys.readouterr().out
    assert "wrote 20 wprime-2prong events" in out and "events/s" in out
    ev = read_lhco(sig)
    assert len(ev) == 20 and (ev.labels == 1).all()
    attrs = lhco_attrs(sig)
    assert attrs["process"]["m_x"] == 450.0 and attrs["seed"] == 4
    assert "34:mMin = 2500.0" in attrs["pythia_settings"]

    cfg = tmp_path / "bkg.yaml"
    cfg.write_text("process: wprime-3prong\nm_y: 90.\n")  # stand-in background: fast to make
    bkg = tmp_path / "bkg.h5"
    rc = main(["generate", "--config", str(cfg), "-n", "15", "-o", str(bkg), "--detector",
               "lhco", "--no-trigger", "--block-size", "15"])  # fmt: skip
    assert rc == 0
    attrs = lhco_attrs(bkg)
    assert attrs["process"]["m_y"] == 90.0 and attrs["trigger"]["enabled"] is False
    assert attrs["n_generated"] == 15

    # mix needs a background-labelled file: rewrite bkg's events with label 0
    from adsearch.io.lhco import write_lhco

    b = read_lhco(bkg)
    write_lhco(bkg, b.particles, labels=np.zeros(len(b)), attrs={"detector": attrs["detector"]})
    rd, bb, key = tmp_path / "rd.h5", tmp_path / "bb.h5", tmp_path / "bb.txt"
    assert main(["mix", "--background", str(bkg), "--signal", str(sig), "--n-signal", "5",
                 "-o", str(rd), "--seed", "2"]) == 0  # fmt: skip
    assert lhco_shape(rd) == (20, 2101) and read_lhco(rd).labels.sum() == 5
    assert main(["mix", "--background", str(bkg), "--signal", str(sig), "--n-signal", "5",
                 "-o", str(bb), "--seed", "2", "--blackbox", "--key", str(key)]) == 0  # fmt: skip
    assert lhco_shape(bb) == (20, 2100)
    np.testing.assert_array_equal(read_key(key), read_lhco(rd).labels)
    capsys.readouterr()
    assert main(["mix", "--background", str(bkg), "--signal", str(sig), "--n-signal", "50",
                 "-o", str(tmp_path / "x.h5")]) == 1  # fmt: skip
    assert capsys.readouterr().err.strip().startswith("error: ")


def test_generate_truth_output(tmp_path, capsys):
    ev, truth = tmp_path / "ev.h5", tmp_path / "truth.h5"
    rc = main(["generate", "wprime-2prong", "-n", "6", "-o", str(ev), "--seed", "3", "--detector",
               "none", "--truth-output", str(truth), "--block-size", "20"])  # fmt: skip
    assert rc == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"wrote 6 truth-level wprime-2prong events to {ev} (")
    assert out.endswith(f"cut to 700 particles) and to the truth file {truth}")
    assert len(read_lhco(ev)) == 6 and truth.exists()
    assert main(["generate", "qcd", "-n", "5", "-o", str(ev), "--truth-output", str(truth)]) == 1
    assert "--truth-output needs --detector none" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["generate", "zprime", "-n", "5"], "unknown process 'zprime'"),
        (["generate", "qcd", "-n", "-5"], "n_events must be an integer >= 1"),
        (["generate", "qcd", "-n", "5", "--m-x", "300"], "unknown key 'm_x'"),
        (["generate", "wprime-2prong", "-n", "5", "--detector", "nope.yaml"], "nope.yaml"),
        (["generate", "wprime-2prong", "-n", "5", "--workers", "0"], "workers must be"),
        (["generate", "-n", "5"], "give a PROCESS"),
    ],
)
def test_generate_bad_options_one_line_error(args, match, tmp_path, capsys):
    assert main([*args, "-o", str(tmp_path / "o.h5")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and match in err and "\n" not in err
    assert not (tmp_path / "o.h5").exists()


def test_output_is_a_directory(tmp_path, capsys):
    args = ["generate", "wprime-2prong", "-n", "5", "--detector", "none", "-o", str(tmp_path)]
    assert main(args) == 1
    assert "is a directory" in capsys.readouterr().err


def test_generate_shards_resume_and_merge(tmp_path, capsys):
    d, merged = tmp_path / "sig", tmp_path / "sig.h5"
    args = ["generate", "wprime-2prong", "-n", "50", "--seed", "4", "--block-size", "20",
            "--shard-dir", str(d), "--shard-size", "20"]  # fmt: skip
    assert main([*args, "--max-shards", "2"]) == 0
    out = capsys.readouterr().out
    assert "shard 1/3 (shard_00000.h5): 20 events" in out and "shard 2/3" in out
    assert "2 of 3 shards done" in out and "rerun the same command" in out
    assert main(["generate", "--merge", str(d), "-o", str(merged)]) == 1
    assert "2 of 3 shards finished (shard_00002.h5 missing)" in capsys.readouterr().err
    assert main([*args, "-o", str(merged)]) == 0  # resumes, then merges
    out = capsys.readouterr().out
    assert "shard 3/3 (shard_00002.h5): 10 events" in out and "shard 1/3" not in out
    assert "3 of 3 shards done" in out and "merged 50 wprime-2prong events of 3 shards" in out
    again = tmp_path / "again.h5"
    assert main(["generate", "--merge", str(d), "-o", str(again)]) == 0
    assert "merged 50" in capsys.readouterr().out
    one = tmp_path / "one.h5"
    assert main(["generate", "wprime-2prong", "-n", "50", "--seed", "4", "--block-size", "20",
                 "-o", str(one)]) == 0  # fmt: skip
    a, b = read_lhco(merged), read_lhco(one)
    assert len(a) == 50 and np.array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(ak.to_numpy(ak.flatten(a.particles.pt)),
                                  ak.to_numpy(ak.flatten(b.particles.pt)))  # fmt: skip
    assert lhco_attrs(merged) == lhco_attrs(one) == lhco_attrs(again)
    assert main([*args, "--seed", "5"]) == 1  # another seed in the same directory
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "seed 4 -> 5" in err and "\n" not in err


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["generate", "--merge", "d"], "--merge needs -o FILE"),
        (["generate", "qcd", "--merge", "d", "-o", "x.h5"], "--merge takes no PROCESS"),
        (["generate", "qcd", "-n", "5", "--shard-size", "3"], "need --shard-dir"),
        (["generate", "qcd", "-n", "5", "--max-shards", "1"], "need --shard-dir"),
        (["generate", "qcd", "-n", "5", "--shard-dir", "d", "--shard-size", "0"],
         "shard_size must be an integer >= 1"),
        (["generate", "qcd", "-n", "5", "--shard-dir", "d", "--detector", "none",
          "--truth-output", "t.h5"], "--truth-output cannot be combined with --shard-dir"),
        (["generate", "--merge", "nowhere", "-o", "x.h5"], "nowhere: no such shard directory"),
    ],
)  # fmt: skip
def test_shard_options_one_line_errors(args, match, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and match in err and "\n" not in err
    assert list(tmp_path.iterdir()) == []


def test_shard_size_help_states_the_library_default():
    import typer.main

    from adsearch.cli import app
    from adsearch.generate import DEFAULT_SHARD_SIZE

    params = typer.main.get_command(app).commands["generate"].params
    (opt,) = [p for p in params if p.name == "shard_size"]
    assert opt.default is None and f"(default {DEFAULT_SHARD_SIZE})" in opt.help
