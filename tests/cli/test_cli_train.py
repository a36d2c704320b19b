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
