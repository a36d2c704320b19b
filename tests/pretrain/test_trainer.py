from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from adsearch.config import from_dict
from adsearch.errors import ConfigError, InputError
from adsearch.jets.featurefile import write_features
from adsearch.pretrain.config import PretrainConfig
from adsearch.pretrain.encoder import load_encoder
from adsearch.pretrain.trainer import CHECKPOINT, pretrain
from tests.pretrain.jets import toy_batch
from tests.train.toys import toy_features, toy_sample


def make(out_dir, **over) -> PretrainConfig:
    d = {
        "data": {"train_fraction": 0.5, "val_fraction": 0.25, "norm_jets": 50},
        "encoder": {"width": 16, "heads": 2, "layers": 1, "mlp_layers": 2, "out_dim": 8},
        "projection": {"width": 16, "dim": 8},
        "views": {"translation": 0.05, "collinear": 0.2, "soft": 1e-3, "pt_smear": 0.05},
        "optim": {"batch_size": 16, "epochs": 2, "lr": 3e-3},
        "out_dir": str(out_dir),
    }
    for k, v in over.items():
        d[k] = {**d[k], **v} if isinstance(v, dict) else v
    return from_dict(PretrainConfig, d)


@pytest.fixture(scope="module")
def sample():
    return toy_sample(60, signal_fraction=0.2, seed=3)


def test_resume_is_bit_identical(tmp_path, sample):
    full = pretrain(make(tmp_path / "full", optim={"epochs": 3}), sample=sample)
    pretrain(make(tmp_path / "part", optim={"epochs": 2}), sample=sample)
    resumed = pretrain(make(tmp_path / "part", optim={"epochs": 3}), resume=True, sample=sample)
    keys = ("train_loss", "val_loss", "alignment", "uniformity")
    assert [[h[k] for k in keys] for h in resumed.history] == [
        [h[k] for k in keys] for h in full.history
    ]
    a = torch.load(tmp_path / "full" / CHECKPOINT, weights_only=True)["model"]
    b = torch.load(tmp_path / "part" / CHECKPOINT, weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = json.loads((tmp_path / "part" / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2, 3]


def test_seed_changes_the_run_and_training_lowers_the_loss(tmp_path, sample):
    before = torch.random.get_rng_state()
    a = pretrain(make(tmp_path / "a", optim={"epochs": 4}), sample=sample).history
    b = pretrain(make(tmp_path / "b", seed=1, optim={"epochs": 1}), sample=sample).history
    assert torch.equal(torch.random.get_rng_state(), before)  # the global RNG is not used
    assert a[0]["train_loss"] != b[0]["train_loss"]
    assert a[-1]["train_loss"] < a[0]["train_loss"]
    assert all(np.isfinite([r["alignment"], r["uniformity"]]).all() for r in a)


def test_anomalous_negatives_train_and_resume(tmp_path, sample):
    """views.anomalous adds the prong-augmented negatives: another loss than plain NT-Xent
    (the denominators are larger), still lowered by training, resumable bit for bit."""
    plain = pretrain(make(tmp_path / "p", optim={"epochs": 1}), sample=sample).history
    anom = {"views": {"anomalous": 1, "prong_constituents": 4}}
    full = pretrain(make(tmp_path / "a", optim={"epochs": 3}, **anom), sample=sample).history
    assert full[0]["train_loss"] > plain[0]["train_loss"]
    two = {"views": {"anomalous": 2, "prong_constituents": 4}}  # 1- and 2-prong negatives
    more = pretrain(make(tmp_path / "t", optim={"epochs": 1}, **two), sample=sample).history
    assert more[0]["train_loss"] > full[0]["train_loss"]  # more negatives, larger denominators
    assert full[-1]["train_loss"] < full[0]["train_loss"]
    pretrain(make(tmp_path / "b", optim={"epochs": 2}, **anom), sample=sample)
    res = pretrain(make(tmp_path / "b", optim={"epochs": 3}, **anom), resume=True, sample=sample)
    assert [h["val_loss"] for h in res.history] == [h["val_loss"] for h in full]
    with pytest.raises(ConfigError, match="views:anomalous"):
        make(tmp_path / "c", views={"anomalous": -1})


def test_resume_refuses_another_config(tmp_path, sample):
    pretrain(make(tmp_path / "r", optim={"epochs": 1}), sample=sample)
    with pytest.raises(ConfigError, match="differs"):
        pretrain(make(tmp_path / "r", temperature=0.5), resume=True, sample=sample)
    with pytest.raises(InputError, match="no checkpoint"):
        pretrain(make(tmp_path / "none"), resume=True, sample=sample)


def test_from_a_features_file_and_load_encoder(tmp_path):
    path = write_features(tmp_path / "toy.parquet", toy_features(60, seed=4, labelled=False))
    res = pretrain(make(tmp_path / "out", data={"path": str(path)}, optim={"epochs": 1}))
    assert (res.out_dir / "encoder.pt").is_file() and res.best_epoch == 1
    enc, cfg = load_encoder(res.out_dir)
    assert cfg.encoder.width == 16 and not enc.training
    assert not any(p.requires_grad for p in enc.parameters())
    assert bool(enc.input_norm.fitted)
    x, mask = toy_batch(b=5, n=10)
    x = x.float()
    h1, h2 = enc((x, mask)), load_encoder(res.out_dir / "encoder.pt")[0]((x, mask))
    assert h1.shape == (x.shape[0], 8) and torch.equal(h1, h2)
    # padding does not change the embedding
    xp = torch.cat([x, torch.zeros(x.shape[0], 3, 3)], dim=1)
    mp = torch.cat([mask, torch.zeros(x.shape[0], 3, dtype=torch.bool)], dim=1)
    torch.testing.assert_close(enc((xp, mp)), h1)
