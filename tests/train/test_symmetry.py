"""``data.symmetry``: random rotations, η reflections and boosts of the training jets."""

import numpy as np
import pytest
import torch

from adsearch.config import apply_overrides, from_dict, to_dict
from adsearch.errors import ConfigError
from adsearch.models.registry import default_svdd_metric
from adsearch.pipeline.cache import step_key
from adsearch.train import TrainConfig, train
from adsearch.train.config import AugmentConfig, SymmetryConfig, key_dict
from adsearch.train.data import InputBuilder
from adsearch.train.trainer import _batch_rng, _resume_key
from tests.train.test_trainer import make
from tests.train.toys import toy_sample

ON = {"rotate": True, "reflect": True, "boost": 0.1}


@pytest.fixture(scope="module")
def sample():
    return toy_sample(120, signal_fraction=0.2, seed=5)


@pytest.mark.parametrize("boost", [-0.1, 0.6, float("nan")])
def test_boost_out_of_range_is_refused_in_one_line(boost):
    with pytest.raises(ConfigError) as e:
        from_dict(TrainConfig, {"data": {"symmetry": {"boost": boost}}})
    msg = str(e.value)
    assert msg.startswith("data:symmetry:boost: must be in [0, 0.5]") and "\n" not in msg
    with pytest.raises(ConfigError, match="symmetry:rotate: expected true/false"):
        from_dict(TrainConfig, {"data": {"symmetry": {"rotate": "yes"}}})


def test_off_by_default_and_reachable_by_set():
    cfg = TrainConfig()
    assert cfg.data.symmetry == SymmetryConfig() and not cfg.data.symmetry.active
    on = apply_overrides(cfg, ["data.symmetry.rotate=true", "data.symmetry.boost=0.2"])
    assert on.data.symmetry == SymmetryConfig(rotate=True, reflect=False, boost=0.2)
    assert on.data.symmetry.active and on.data.augment == AugmentConfig()
    with pytest.raises(ConfigError, match="data:symmetry:boost"):
        apply_overrides(cfg, ["data.symmetry.boost=1"])


def test_pipeline_set_and_unchanged_cache_keys():
    from adsearch.pipeline import override_config, quickstart_config
    from adsearch.pipeline.steps import _report_key_config, _train_key_config

    q = quickstart_config()
    # the key of a default config is the one of the config before data.symmetry existed
    old = to_dict(q.train)
    del old["data"]["symmetry"]
    # added later, left out of the key when unset
    for k in ("encoder", "encoder_mode", "init", "init_mode"):
        old["model"].pop(k, None)
    # written out before it became optional: the objective's default
    old["model"]["svdd_metric"] = default_svdd_metric(old["model"]["objective"])
    old["runtime"].pop("progress")
    assert step_key(_train_key_config(q), []) == step_key(old, [])
    assert "symmetry" not in _report_key_config(q)["train"]["data"]
    on = override_config(q, ["train.data.symmetry.rotate=true", "train.data.symmetry.reflect=true"])
    assert on.train.data.symmetry.rotate and on.train.data.symmetry.reflect
    assert _train_key_config(on)["data"]["symmetry"]["rotate"] is True
    assert step_key(_train_key_config(on), []) != step_key(old, [])
    with pytest.raises(ConfigError, match="data:symmetry:boost"):
        override_config(q, ["train.data.symmetry.boost=0.9"])


def test_resume_key_ignores_a_default_symmetry():
    new = to_dict(TrainConfig())
    old = to_dict(TrainConfig())
    del old["data"]["symmetry"]  # a checkpoint written before the option existed
    assert _resume_key(old) == _resume_key(new)
    on = to_dict(from_dict(TrainConfig, {"data": {"symmetry": ON}}))
    assert _resume_key(on) != _resume_key(new)
    assert key_dict(on)["data"]["symmetry"] == ON


def test_an_unset_svdd_metric_keys_as_its_default():
    """Checkpoints and cache keys written when ``svdd_metric`` was always spelled out match
    the same config with it unset; deepsvdd-ae's default is another value."""
    new = to_dict(TrainConfig())
    assert new["model"]["svdd_metric"] is None
    old = to_dict(TrainConfig())
    old["model"]["svdd_metric"] = "mahalanobis"
    assert _resume_key(old) == _resume_key(new)
    euclid = to_dict(from_dict(TrainConfig, {"model": {"svdd_metric": "euclidean"}}))
    assert _resume_key(euclid) != _resume_key(new)
    dasvdd = {"model": {"backbone": "cnn", "objective": "deepsvdd-ae"}}
    d = to_dict(from_dict(TrainConfig, dasvdd))
    assert key_dict(d)["model"]["svdd_metric"] == "euclidean"


@pytest.mark.parametrize("kind", ["dense", "pyg"])
def test_only_training_batches_are_augmented(sample, kind):
    idx = np.arange(40)
    plain = InputBuilder(kind, {})
    sym = InputBuilder(kind, {}, symmetry=SymmetryConfig(**ON))

    def arrays(inputs):
        if kind == "dense":
            return [t.numpy() for t in inputs]
        return [inputs.x.numpy(), inputs.edge_index.numpy()]

    # validation and scoring (no rng): the jets as they are, bit for bit
    for a, b in zip(arrays(plain(sample, idx)), arrays(sym(sample, idx)), strict=True):
        assert np.array_equal(a, b)
    # training: a function of the batch's position only; another epoch draws anew
    r1 = arrays(sym(sample, idx, _batch_rng(0, 1, 3, 0)))
    r2 = arrays(sym(sample, idx, _batch_rng(0, 1, 3, 0)))
    r3 = arrays(sym(sample, idx, _batch_rng(0, 2, 3, 0)))
    assert all(np.array_equal(a, b) for a, b in zip(r1, r2, strict=True))
    assert not np.array_equal(r1[0], r3[0])
    assert not np.array_equal(r1[0], arrays(plain(sample, idx))[0])
    if kind == "dense":  # padding stays padding: same mask, zeros where masked
        x, mask = r1
        assert np.array_equal(mask, arrays(plain(sample, idx))[1])
        assert np.all(x[~mask] == 0)
    # composable with the mass augmentation: random-mass first, then the symmetry
    both = InputBuilder(
        kind, {}, augment=AugmentConfig(kind="random-mass"), symmetry=SymmetryConfig(**ON)
    )
    mass = InputBuilder(kind, {}, augment=AugmentConfig(kind="random-mass"))
    rb, rm = both(sample, idx, _batch_rng(0, 1, 3, 0)), mass(sample, idx, _batch_rng(0, 1, 3, 0))
    assert not np.array_equal(arrays(rb)[0], arrays(rm)[0])


def test_rotation_and_reflection_act_on_the_node_features_exactly(sample):
    """Dense features (pT/pT_jet, Δη, Δφ): a rotation/reflection of the last two columns."""
    idx = np.arange(20)
    x0, m0 = InputBuilder("dense", {})(sample, idx)
    sym = InputBuilder("dense", {}, symmetry=SymmetryConfig(rotate=True, reflect=True))
    x1, m1 = sym(sample, idx, np.random.default_rng(0))
    assert torch.equal(m0, m1) and torch.equal(x0[..., 0], x1[..., 0])
    r0 = x0[..., 1] ** 2 + x0[..., 2] ** 2
    r1 = x1[..., 1] ** 2 + x1[..., 2] ** 2
    assert torch.allclose(r0, r1, atol=1e-5)


@pytest.mark.parametrize(
    "model",
    [
        {"backbone": "gin", "objective": "deepsvdd", "heads": None},
        {"backbone": "transformer", "objective": "deepsvdd"},
    ],
)
def test_training_with_symmetry_runs_is_deterministic_and_learns(tmp_path, sample, model):
    over = {"model": model, "data": {"symmetry": ON}, "optim": {"epochs": 2}}
    a = train(make(tmp_path / "a", **over), sample).history
    b = train(make(tmp_path / "b", **over), sample).history
    off = train(make(tmp_path / "off", model=model, optim={"epochs": 2}), sample).history
    loss = [h["train_loss"] for h in a]
    assert loss == [h["train_loss"] for h in b]  # same seed: bit for bit
    assert loss != [h["train_loss"] for h in off]  # the training jets were transformed
    assert all(np.isfinite(loss)) and loss[-1] < loss[0]
    # validation sees the jets as they are: the same validation jets, another model
    assert all(np.isfinite(h["val_loss"]) for h in a)


def test_resume_with_symmetry_is_bit_identical(tmp_path, sample):
    over = {"data": {"symmetry": ON}}
    full = train(make(tmp_path / "full", optim={"epochs": 3}, **over), sample).history
    train(make(tmp_path / "part", optim={"epochs": 2}, **over), sample)
    resumed = train(make(tmp_path / "part", optim={"epochs": 3}, **over), sample, resume=True)
    assert resumed.history[2]["train_loss"] == full[2]["train_loss"]
    assert resumed.history[2]["val_loss"] == full[2]["val_loss"]
    with pytest.raises(ConfigError, match="differs"):  # symmetry on vs off: no resume
        train(make(tmp_path / "part", optim={"epochs": 4}), sample, resume=True)
