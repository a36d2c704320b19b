"""DDP on CPU: two processes with the gloo backend run an epoch and stay in sync."""

import json

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from adsearch.config import from_dict
from adsearch.train import TrainConfig, train
from tests.train.toys import toy_sample

MODEL = {"backbone": "part", "width": 8, "heads": 2, "layers": 1, "mlp_layers": 2}


def _worker(rank: int, world: int, tmp: str, model: dict | None = None) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{tmp}/pg", rank=rank, world_size=world)
    try:
        cfg = from_dict(
            TrainConfig,
            {
                "data": {"train_fraction": 0.6, "val_fraction": 0.2},
                "model": {**MODEL, "objective": "deepsvdd", **(model or {})},
                "optim": {"batch_size": 32, "epochs": 1},
                "runtime": {"out_dir": f"{tmp}/run", "device": "cpu", "progress": False},
            },
        )
        res = train(cfg, toy_sample(100, signal_fraction=0.2, seed=4))
        params = {k: v.tolist() for k, v in res.model.state_dict().items()}
        with open(f"{tmp}/rank{rank}.json", "w") as f:
            json.dump({"history": res.history, "params": params}, f)
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("objective", ["deepsvdd", "deepsvdd-ae"])
def test_ddp_two_cpu_processes_run_an_epoch_in_sync(tmp_path, objective):
    mp.spawn(_worker, args=(2, str(tmp_path), {"objective": objective}), nprocs=2, join=True)
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert len(r0["history"]) == 1
    # losses are all-reduced: both ranks report the same numbers
    assert r0["history"][0]["train_loss"] == r1["history"][0]["train_loss"]
    assert r0["history"][0]["val_loss"] == r1["history"][0]["val_loss"]
    # gradients were averaged: parameters (and the DeepSVDD centre, DASVDD's gamma from the
    # all-reduced initial pass) identical on both ranks
    assert r0["params"].keys() == r1["params"].keys()
    for k in r0["params"]:
        assert r0["params"][k] == r1["params"][k], k
    # rank 0 wrote the run files
    assert (tmp_path / "run" / "model.pt").is_file()
    assert (tmp_path / "run" / "metrics.csv").is_file()


def test_ddp_with_nothing_to_train_runs_one_pass(tmp_path):
    """DeepSVDD on a frozen backbone (model.init_mode: frozen) has no trainable parameter,
    which DistributedDataParallel refuses: the trainer runs it unwrapped on every rank."""
    ae = from_dict(
        TrainConfig,
        {
            "data": {"train_fraction": 0.6, "val_fraction": 0.2},
            "model": {**MODEL, "objective": "ae", "bias": False},
            "optim": {"batch_size": 32, "epochs": 1},
            "runtime": {"out_dir": str(tmp_path / "ae"), "device": "cpu", "progress": False},
        },
    )
    train(ae, toy_sample(100, signal_fraction=0.2, seed=4))
    frozen = {"init": str(tmp_path / "ae"), "init_mode": "frozen"}
    mp.spawn(_worker, args=(2, str(tmp_path), frozen), nprocs=2, join=True)
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert len(r0["history"]) == 1
    assert r0["history"][0]["val_loss"] == r1["history"][0]["val_loss"]
    assert r0["params"] == r1["params"]  # the loaded backbone and the all-reduced centre
