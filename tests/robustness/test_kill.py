"""kill -9 during ``adsearch train`` and ``adsearch run``: the rerun resumes from the last
checkpoint / completed step and ends exactly where an uninterrupted run ends (CPU)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import yaml

from adsearch.cli import main
from tests.robustness.bad_inputs import REAL

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _spawn(argv: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "ADSEARCH_NO_PROGRESS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "adsearch.cli", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120.0) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` is true; fail if it ends first."""
    t0 = time.monotonic()
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"finished before the kill: {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            pytest.fail("the kill condition never came")
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL
    proc.stderr.close()


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    from adsearch.jets import features_from_file

    out = tmp_path_factory.mktemp("feat") / "real600.parquet"
    features_from_file(REAL, out, stop=600, progress=False)
    return out


def _train_cfg(path: Path, features: Path, out: str, epochs: int) -> Path:
    d = {
        "data": {"path": str(features), "train_fraction": 0.6, "val_fraction": 0.1},
        "graph": {"max_constituents": 24},
        "model": {"backbone": "gin", "objective": "deepsvdd", "width": 8, "layers": 1},
        "optim": {"batch_size": 32, "epochs": epochs, "patience": 100},
        "runtime": {"out_dir": out, "device": "cpu", "num_threads": 1, "progress": False},
    }
    path.write_text(yaml.safe_dump(d))
    return path


def _epoch(ckpt: Path) -> int:
    try:
        return int(torch.load(ckpt, map_location="cpu", weights_only=True)["epoch"])
    except Exception:  # not there yet (it is renamed into place only when complete)
        return 0


def test_kill_during_training_then_resume_equals_uninterrupted(tmp_path, features, capsys):
    epochs = 6
    full_cfg = _train_cfg(tmp_path / "full.yaml", features, "full", epochs)
    assert main(["train", str(full_cfg)]) == 0
    full = json.loads((tmp_path / "full" / "metrics.json").read_text())

    cfg = _train_cfg(tmp_path / "part.yaml", features, "part", epochs)
    ckpt = tmp_path / "part" / "checkpoint.pt"
    proc = _spawn(["train", str(cfg)], tmp_path)
    _kill_when(proc, lambda: ckpt.is_file())
    done = _epoch(ckpt)
    assert 1 <= done < epochs  # killed mid-run, the last checkpoint is whole
    capsys.readouterr()
    assert main(["train", str(cfg), "--resume"]) == 0
    part = json.loads((tmp_path / "part" / "metrics.json").read_text())
    rows = part if isinstance(part, list) else part["history"]
    want = full if isinstance(full, list) else full["history"]
    assert [r["epoch"] for r in rows] == list(range(1, epochs + 1))
    for key in ("train_loss", "val_loss"):
        assert [r[key] for r in rows] == [r[key] for r in want], key
    a = torch.load(tmp_path / "full" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "part" / "model.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


PIPELINE = textwrap.dedent(
    """\
    name: killtest
    input: {{kind: lhco, path: {path}, max_events: 600}}
    features: {{chunk_size: 200}}
    train:
      data: {{train_fraction: 0.4, val_fraction: 0.1}}
      graph: {{max_constituents: 24}}
      model: {{backbone: gin, objective: deepsvdd, width: 8, layers: 1}}
      optim: {{epochs: 5, batch_size: 32, patience: 100}}
      runtime: {{device: cpu, num_threads: 1}}
    regions: {{working_points: [0.3]}}
    stats:
      fit: {{min_events: 20}}
      bumphunt: {{n_toys: 30, widths: [1, 2]}}
      null_check: {{n_pseudo: 4, n_toys: 20}}
      limits: {{masses: [3500]}}
    """
)


def _untimed(obj):
    """Drop wall-clock figures (timings, rates): everything else must be identical."""
    if isinstance(obj, dict):
        return {
            k: _untimed(v)
            for k, v in obj.items()
            if not (k.startswith("timings") or k.endswith(("_per_s", "_time_s", "seconds")))
        }
    if isinstance(obj, list):
        return [_untimed(v) for v in obj]
    return obj


def _results(out: Path) -> dict:
    r = json.loads((out / "results.json").read_text())
    return _untimed(json.loads(json.dumps(r).replace(str(out), "OUT")))


def test_kill_during_a_pipeline_run_then_rerun_equals_uninterrupted(tmp_path):
    from adsearch.pipeline import run_pipeline

    cfg = tmp_path / "kill.yaml"
    cfg.write_text(PIPELINE.format(path=REAL))
    full = tmp_path / "full"
    run_pipeline(cfg, full, log=None, progress=False)

    out = tmp_path / "part"
    proc = _spawn(["run", str(cfg), "-o", str(out), "--no-progress"], tmp_path)
    _kill_when(proc, lambda: (out / "train" / "checkpoint.pt").is_file())
    lines: list[str] = []
    res = run_pipeline(cfg, out, log=lines.append, progress=False)
    st = res.statuses
    assert st["events"] == st["features"] == "skipped"  # completed steps are not redone
    assert st["train"] == "ran" and st["report"] == "ran"
    assert any("resuming the interrupted training" in line for line in lines)
    assert _results(out) == _results(full)


def test_kill_during_features_leaves_no_output_and_the_rerun_is_complete(tmp_path):
    from adsearch.jets import features_from_file

    out = tmp_path / "f.parquet"
    proc = _spawn(["features", str(REAL), "-o", str(out), "--chunk-size", "100"], tmp_path)
    _kill_when(proc, lambda: any(tmp_path.glob(".f.parquet.*.tmp")))
    assert not out.exists()  # never a truncated file under the final name
    assert main(["features", str(REAL), "-o", str(out), "--chunk-size", "100"]) == 0
    ref = tmp_path / "ref.parquet"
    features_from_file(REAL, ref, chunk_size=100, progress=False)
    assert out.read_bytes() == ref.read_bytes()
