"""`adsearch train`: `--set` and the four shortcut options go through the one override
mechanism (adsearch.config.apply_overrides / replace_key) and are checked by name."""

from __future__ import annotations

import json

import pytest
import yaml

from adsearch.cli import main
from adsearch.jets import write_features
from tests.train.toys import toy_features


@pytest.fixture
def config(tmp_path):
    write_features(tmp_path / "toy.parquet", toy_features(60, signal_fraction=0.25, seed=3))
    d = {
        "data": {"path": "toy.parquet", "train_fraction": 0.5, "val_fraction": 0.2},
        "model": {"backbone": "transformer", "objective": "deepsvdd", "width": 8, "heads": 2,
                  "layers": 1, "mlp_layers": 2},
        "optim": {"batch_size": 32, "epochs": 5, "patience": 10},
        "runtime": {"out_dir": "yaml_run", "device": "cpu", "progress": False},
    }  # fmt: skip
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(d))
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "optim.epochs=many"], "error: --set:optim:epochs: expected an integer"),
        (["--set", "optim.lr=-1"], "optim:lr: must be > 0, got -1"),
        (["--set", "optim.epoch=2"], "unknown key 'epoch'"),
        (["--set", "optim"], "--set 'optim': expected KEY=VALUE"),
        (["--epochs", "0"], "optim:epochs: must be >= 1, got 0"),
        (["--device", "tpu"], "command line:runtime:device: bad value 'tpu'"),
    ],
)
def test_bad_overrides_are_one_line_errors_before_any_work(config, args, message, capsys):
    out = config.parent / "run"
    assert main(["train", str(config), "--out-dir", str(out), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists() and not (config.parent / "yaml_run").exists()


def test_set_and_shortcuts_reach_the_training(config, capsys):
    out = config.parent / "run"
    argv = ["train", str(config), "--set", "optim.epochs=3", "--set", "optim.batch_size=16",
            "--out-dir", str(out), "--epochs", "1"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip().endswith(f"wrote {out}")
    metrics = json.loads((out / "metrics.json").read_text())
    rows = metrics if isinstance(metrics, list) else metrics["history"]
    assert len(rows) == 1  # the shortcut --epochs is applied after --set
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["optim"]["batch_size"] == 16 and saved["optim"]["epochs"] == 1
    assert saved["runtime"]["out_dir"] == str(out)
    assert not (config.parent / "yaml_run").exists()


def test_pretrain_verb_writes_the_encoder_and_resumes(tmp_path, capsys):
    """`adsearch pretrain CONFIG`: --set and the shortcuts reach the run; --resume continues;
    a bad value is one error line before any work."""
    path = write_features(tmp_path / "toy.parquet", toy_features(60, seed=4, labelled=False))
    conf = {
        "data": {"path": str(path), "train_fraction": 0.5, "val_fraction": 0.25, "norm_jets": 50},
        "encoder": {"width": 16, "heads": 2, "layers": 1, "mlp_layers": 2, "out_dim": 8},
        "projection": {"width": 16, "dim": 8},
        "optim": {"batch_size": 16, "epochs": 3, "lr": 3e-3},
        "out_dir": str(tmp_path / "unused"),
    }
    cfg = tmp_path / "pre.yaml"
    cfg.write_text(yaml.safe_dump(conf))
    out = tmp_path / "enc"
    args = ["pretrain", str(cfg), "--out-dir", str(out), "--epochs", "1"]
    assert main([*args, "--set", "temperature=0.2"]) == 0
    text = capsys.readouterr().out
    assert "epochs 1:" in text and f"wrote {out}" in text
    assert (out / "encoder.pt").is_file() and not (tmp_path / "unused").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    rows = metrics["history"] if isinstance(metrics, dict) else metrics
    assert len(rows) == 1
    more = ["pretrain", str(cfg), "--out-dir", str(out), "--epochs", "2", "--resume"]
    assert main(more) == 1  # without the same --set the config differs: refused, one line
    assert "cannot resume" in capsys.readouterr().err
    assert main([*more, "--set", "temperature=0.2"]) == 0
    assert "epochs 2:" in capsys.readouterr().out
    assert main([*args, "--set", "temperature=-1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "temperature" in err and len(err.strip().splitlines()) == 1


def test_pretrain_verb_runs_masked_particle_modelling(tmp_path, capsys):
    """`--set objective=mpm` switches the objective; the encoder file is the same kind."""
    path = write_features(tmp_path / "toy.parquet", toy_features(40, seed=5, labelled=False))
    conf = {
        "data": {"path": str(path), "train_fraction": 0.5, "val_fraction": 0.25, "norm_jets": 50},
        "encoder": {"width": 16, "heads": 2, "layers": 1, "mlp_layers": 2, "out_dim": 8},
        "optim": {"batch_size": 16, "epochs": 1},
    }
    cfg = tmp_path / "pre.yaml"
    cfg.write_text(yaml.safe_dump(conf))
    out = tmp_path / "mpm"
    args = ["pretrain", str(cfg), "--out-dir", str(out), "--set", "objective=mpm"]
    assert main([*args, "--set", "mpm.mask_fraction=0.5"]) == 0
    assert "epochs 1:" in capsys.readouterr().out and (out / "encoder.pt").is_file()
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["objective"] == "mpm" and saved["mpm"]["mask_fraction"] == 0.5
    assert main([*args, "--set", "mpm.mask_fraction=2"]) == 1
    assert "mpm:mask_fraction" in capsys.readouterr().err
