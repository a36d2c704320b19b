from __future__ import annotations

import json

import pytest
import torch

from adsearch.config import from_dict
from adsearch.errors import ConfigError
from adsearch.pretrain.config import PretrainConfig
from adsearch.pretrain.encoder import load_encoder
from adsearch.pretrain.mpm import MPMModel, build_mpm, mask_constituents, masked_mse
from adsearch.pretrain.trainer import CHECKPOINT, pretrain
from tests.pretrain.jets import toy_batch
from tests.train.toys import toy_sample


def make(out_dir, **over) -> PretrainConfig:
    d = {
        "objective": "mpm",
        "data": {"train_fraction": 0.5, "val_fraction": 0.25, "norm_jets": 50},
        "encoder": {"width": 16, "heads": 2, "layers": 1, "mlp_layers": 2, "out_dim": 8},
        "mpm": {"mask_fraction": 0.3},
        "optim": {"batch_size": 16, "epochs": 2, "lr": 3e-3},
        "out_dir": str(out_dir),
    }
    for k, v in over.items():
        d[k] = {**d[k], **v} if isinstance(v, dict) else v
    return from_dict(PretrainConfig, d)


@pytest.fixture(scope="module")
def sample():
    return toy_sample(60, signal_fraction=0.2, seed=3)


def test_mask_hides_at_least_one_real_constituent_and_never_padding():
    _, mask = toy_batch(b=200, n=20, seed=1)
    mask[0, 1:] = False  # a jet of one constituent: it is hidden
    for fraction in (0.01, 0.3, 0.99):
        hide = mask_constituents(mask, fraction, torch.Generator().manual_seed(2))
        n = mask.sum(1)
        assert not (hide & ~mask).any()
        assert (hide.sum(1) >= 1).all() and (hide.sum(1) <= n).all()
        expected = torch.round(fraction * n.double()).long().clamp(min=1)
        assert torch.equal(hide.sum(1), torch.minimum(expected, n))
    # seeded: the same generator state gives the same hidden set, another seed another
    a = mask_constituents(mask, 0.3, torch.Generator().manual_seed(5))
    b = mask_constituents(mask, 0.3, torch.Generator().manual_seed(5))
    c = mask_constituents(mask, 0.3, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="fraction"):
        mask_constituents(mask, 0.0, torch.Generator())


def test_hidden_features_never_reach_the_encoder(tmp_path):
    model = build_mpm(make(tmp_path)).double().eval()
    x, mask = toy_batch(b=8, n=12, seed=4)
    model.encoder.input_norm.fit(x[mask])
    hide = mask_constituents(mask, 0.3, torch.Generator().manual_seed(0))
    changed = x.clone()
    changed[hide] = torch.tensor([0.9, 3.0, -2.0], dtype=x.dtype)  # other hidden values
    with torch.no_grad():
        t1, t2 = model.tokens(x, mask, hide), model.tokens(changed, mask, hide)
        assert torch.equal(t1, t2)
        assert torch.equal(model(x, mask, hide), model(changed, mask, hide))
        # the visible ones do reach it
        seen = x.clone()
        seen[mask & ~hide] *= 1.5
        assert not torch.equal(model.tokens(seen, mask, hide), t1)
    # and no gradient flows into the hidden inputs
    xg = x.clone().requires_grad_(True)
    model.loss(xg, mask, hide).backward()
    assert torch.count_nonzero(xg.grad[hide]) == 0
    with pytest.raises(ValueError, match="real constituents"):
        model.tokens(x, mask, hide | ~mask)


def test_masked_mse_uses_the_hidden_slots_only():
    pred, target = torch.zeros(2, 3, 3), torch.ones(2, 3, 3)
    target[0, 0] = 3.0  # a hidden slot: error 9 on each of its 3 features
    hide = torch.tensor([[True, False, False], [False, True, False]])
    assert float(masked_mse(pred, target, hide)) == pytest.approx((9 + 1) / 2)


def test_mpm_learns_to_fill_in_constituents_from_their_jet(tmp_path):
    # toy jets whose constituents share a per-jet direction: a hidden constituent's angles
    # are predictable from the visible ones (loss ~1 when predicting the mean)
    x, mask = _axis_toy()
    model = build_mpm(make(tmp_path)).double()
    losses = _fit(model, x, mask, 60)
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5


def _axis_toy():
    """Toy jets whose constituents share a per-jet direction (``x [64, 12, 3]``, ``mask``)."""
    x, mask = toy_batch(b=64, n=12, seed=7, width=0.02)
    g = torch.Generator().manual_seed(8)
    axis = torch.randn((64, 1, 2), generator=g, dtype=x.dtype)
    x[..., 1:] = (x[..., 1:] + axis) * mask.unsqueeze(-1)
    return x, mask


def _fit(model, x, mask, steps):
    """Standardise on ``x`` and train the trainable parameters of ``model`` for ``steps``
    Adam steps on the MPM loss (a new hidden set per step); returns the losses."""
    model.encoder.input_norm.fit(x[mask])
    optim = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for step in range(steps):
        hide = mask_constituents(mask, 0.3, torch.Generator().manual_seed(step))
        loss = model.loss(x, mask, hide)
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(float(loss.detach()))
    return losses


def test_mpm_pretraining_lowers_the_loss_and_writes_the_encoder(tmp_path):
    before = torch.random.get_rng_state()
    sample = toy_sample(100, signal_fraction=0.2, seed=3)
    res = pretrain(make(tmp_path / "a", optim={"epochs": 6, "lr": 1e-2}), sample=sample)
    assert torch.equal(torch.random.get_rng_state(), before)  # the global RNG is not used
    h = res.history
    assert h[-1]["train_loss"] < h[0]["train_loss"]
    assert res.best_epoch > 1 and res.best_val_loss < h[0]["val_loss"]
    assert all(set(r) >= {"val_loss", "uniformity"} for r in h)
    assert isinstance(res.model, MPMModel)
    enc, cfg = load_encoder(res.out_dir)  # the same encoder file as the contrastive run's
    assert cfg.objective == "mpm" and cfg.mpm.mask_fraction == 0.3
    x, mask = toy_batch(b=5, n=10)
    assert enc((x.float(), mask)).shape == (5, 8)


def test_mpm_resume_is_bit_identical(tmp_path, sample):
    full = pretrain(make(tmp_path / "full", optim={"epochs": 3}), sample=sample)
    pretrain(make(tmp_path / "part", optim={"epochs": 2}), sample=sample)
    resumed = pretrain(make(tmp_path / "part", optim={"epochs": 3}), resume=True, sample=sample)
    keys = ("train_loss", "val_loss", "uniformity")
    assert [[h[k] for k in keys] for h in resumed.history] == [
        [h[k] for k in keys] for h in full.history
    ]
    a = torch.load(tmp_path / "full" / CHECKPOINT, weights_only=True)["model"]
    b = torch.load(tmp_path / "part" / CHECKPOINT, weights_only=True)["model"]
    assert "mask_token" in a and all(torch.equal(a[k], b[k]) for k in a)
    rows = json.loads((tmp_path / "part" / "metrics.json").read_text())
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    # another objective or mask fraction cannot resume this run
    with pytest.raises(ConfigError, match="differs"):
        pretrain(make(tmp_path / "part", objective="contrastive"), resume=True, sample=sample)
    with pytest.raises(ConfigError, match="differs"):
        pretrain(make(tmp_path / "part", mpm={"mask_fraction": 0.5}), resume=True, sample=sample)


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"mpm": {"mask_fraction": 0.0}}, "mpm:mask_fraction"),
        ({"mpm": {"mask_fraction": 1.0}}, "mpm:mask_fraction"),
        ({"mpm": {"head_layers": 0}}, "mpm:head_layers"),
        ({"objective": "bert"}, "objective"),
        ({"mpm": {"ratio": 0.2}}, "unknown key 'ratio'"),
    ],
)
def test_bad_mpm_config_is_refused(tmp_path, over, match):
    with pytest.raises(ConfigError, match=match):
        make(tmp_path, **over)


def _rank_toy():
    """:func:`_axis_toy` jets, pT-ordered with constituent k carrying z ∝ 2^-k: a hidden
    constituent's ln z is known from its pT rank alone."""
    x, mask = _axis_toy()
    z = 0.5 ** torch.arange(12, dtype=x.dtype)[None, :] * mask
    x[..., 0] = z / z.sum(1, keepdim=True)
    return x, mask


@pytest.mark.parametrize("with_rank", [True, False])
def test_the_hidden_constituents_pt_rank_tells_them_apart(tmp_path, with_rank):
    """The encoder is permutation-equivariant: with one shared mask token the hidden
    constituents of a jet all get the same prediction (the ln z error stays at its variance,
    measured 0.8); with the rank embedding each is predicted on its own (measured 0.02)."""
    x, mask = _rank_toy()
    model = build_mpm(make(tmp_path)).double()
    if not with_rank:
        model.rank_embed.data.zero_()
        model.rank_embed.requires_grad_(False)
    _fit(model, x, mask, 80)
    with torch.no_grad():
        hide = mask_constituents(mask, 0.3, torch.Generator().manual_seed(999))
        pred = model(x, mask, hide)[..., 0]
        err = (pred - model.encoder.input_norm(x)[..., 0])[hide].pow(2).mean()
    two = hide.sum(1) >= 2
    spread = torch.stack([pred[b][hide[b]].std() for b in torch.nonzero(two).flatten()]).mean()
    if with_rank:
        assert float(err) < 0.1 and float(spread) > 0.3
    else:
        assert float(err) > 0.5 and float(spread) < 1e-6  # one prediction per jet


def test_rank_embedding_covers_the_slots(tmp_path):
    model = build_mpm(make(tmp_path, data={"max_constituents": 8}))
    x, mask = toy_batch(b=2, n=12)
    with pytest.raises(ValueError, match="12 constituent slots"):
        model.tokens(x.float(), mask, mask_constituents(mask, 0.3, torch.Generator()))


def test_a_checkpoint_of_another_model_layout_is_one_clear_error(tmp_path, sample):
    pretrain(make(tmp_path, optim={"epochs": 1}), sample=sample)
    ck = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    del ck["model"]["rank_embed"]  # as written before the rank embedding existed
    torch.save(ck, tmp_path / CHECKPOINT)
    with pytest.raises(ConfigError, match="does not match this version"):
        pretrain(make(tmp_path, optim={"epochs": 2}), resume=True, sample=sample)
