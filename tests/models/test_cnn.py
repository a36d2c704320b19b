import numpy as np
import pytest
import torch
from torch import nn

from adsearch.config import from_dict
from adsearch.errors import ConfigError
from adsearch.models import ModelConfig, build_model
from adsearch.models.cnn import CNNBackbone
from adsearch.score import check_onnx, export_onnx, parity_batches
from adsearch.score.scoring import score_jets
from adsearch.stats.metrics import roc_auc
from adsearch.train import TrainConfig, train
from adsearch.train.data import split_events
from tests.images.jets import dense_jets
from tests.train.toys import toy_sample

SMALL = {"channels": [[4], [8]]}


@pytest.mark.parametrize("bias", [True, False])
def test_padding_and_permutation_invariance(bias):
    torch.manual_seed(0)
    net = CNNBackbone(width=16, bias=bias, **SMALL).eval()
    x, mask = dense_jets(6, max_n=60)
    x = x.float()
    with torch.no_grad():
        out = net((x, mask))
        assert out.shape == (6, 16) and torch.isfinite(out).all()
        pad_x = torch.cat([x, torch.rand(6, 5, 3)], 1)  # garbage in the padded slots
        pad_m = torch.cat([mask, torch.zeros(6, 5, dtype=torch.bool)], 1)
        torch.testing.assert_close(net((pad_x, pad_m)), out, atol=1e-5, rtol=1e-5)
        perm = torch.randperm(65, generator=torch.Generator().manual_seed(1))
        torch.testing.assert_close(net((pad_x[:, perm], pad_m[:, perm])), out, atol=1e-5, rtol=1e-5)
        # images in, same embedding
        torch.testing.assert_close(net(net.prepare((x, mask))), out)


def test_sizes_and_option_errors():
    net = CNNBackbone(width=8, images={"pixels": 33, "extent": 1.2})
    assert net.images.pixels == 33 and net.side == 4  # 33 -> 16 -> 8 -> 4
    assert net.prepare(torch.rand(2, 5, 3)).shape == (2, 1, 33, 33)
    with pytest.raises(ValueError, match="at least 8 pixels"):
        CNNBackbone(images={"pixels": 5})
    with pytest.raises(ValueError, match="channels"):
        CNNBackbone(channels=[])
    with pytest.raises(ValueError, match="image columns"):
        CNNBackbone(in_dim=2)
    with pytest.raises(ConfigError, match="model:options:images"):
        CNNBackbone(images={"pixel": 25})


@pytest.mark.parametrize(
    "objective", ["deepsvdd", "deepsvdd-soft", "deepsvdd-ae", "supervised", "ae"]
)
def test_registry_bias_free_deepsvdd_and_batch_norm_otherwise(objective):
    model = build_model(ModelConfig(backbone="cnn", objective=objective, width=8, options=SMALL))
    assert model.input_kind == "dense"
    names = [n for n, _ in model.backbone.named_parameters()]
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in model.backbone.modules())
    if objective.startswith("deepsvdd"):
        assert names and not any(n.endswith("bias") for n in names)
        assert not has_bn
    else:
        assert has_bn and any(n.endswith("bias") for n in names)
    with pytest.raises(ConfigError, match="norm"):
        ModelConfig(backbone="cnn", options={"norm": "batch"}).validate()
    for bad in ({"layers": 2}, {"heads": 2}):
        with pytest.raises(ConfigError, match="cnn has no 'layers' or 'heads'"):
            from_dict(ModelConfig, {"backbone": "cnn", **bad})
    with pytest.raises(ConfigError, match="cnn backbone"):
        build_model(ModelConfig(backbone="cnn", options={"channels": [[0]]}))


def _cfg(out, seed=0, objective="supervised", epochs=4, options=None):
    return from_dict(
        TrainConfig,
        {
            "data": {"train_fraction": 0.5, "val_fraction": 0.2},
            "model": {
                "backbone": "cnn",
                "objective": objective,
                "width": 16,
                "mlp_layers": 2,
                "options": options or SMALL,
            },
            "optim": {"batch_size": 32, "epochs": epochs, "patience": 10, "lr": 3e-3},
            "runtime": {"out_dir": str(out), "device": "cpu", "progress": False, "seed": seed},
        },
    )


@pytest.fixture(scope="module")
def sample():
    return toy_sample(100, signal_fraction=0.5, seed=4)


def test_short_supervised_training_lowers_the_loss_and_is_deterministic(tmp_path, sample):
    res = train(_cfg(tmp_path / "a"), sample)
    a = res.history
    assert a[-1]["train_loss"] < a[0]["train_loss"]
    assert a[-1]["val_loss"] < a[0]["val_loss"]
    test = np.flatnonzero(split_events(sample.n_events, 0.5, 0.2, 0) == 2)
    jets = np.flatnonzero(np.isin(sample.event, test))
    s = score_jets(res.model, sample.take(jets), None, 64, "cpu", False)
    assert np.isfinite(s).all() and roc_auc(sample.label[jets], s) > 0.9
    b = train(_cfg(tmp_path / "b"), sample).history
    assert [h["train_loss"] for h in a] == [h["train_loss"] for h in b]
    assert [h["val_loss"] for h in a] == [h["val_loss"] for h in b]
    c = train(_cfg(tmp_path / "c", seed=1, epochs=1), sample).history
    assert c[0]["train_loss"] != a[0]["train_loss"]


def test_deepsvdd_trains(tmp_path, sample):
    res = train(_cfg(tmp_path, objective="deepsvdd", epochs=2), sample)
    assert len(res.history) == 2
    assert all(np.isfinite(h["train_loss"]) for h in res.history)


def test_augmentation_is_seeded_training_only_and_resumable(tmp_path, sample):
    opts = {**SMALL, "images": {"augment": True, "rotate": False, "flip": False, "seed": 3}}
    net = CNNBackbone(width=8, **opts)
    x, mask = dense_jets(4)
    x = x.float()
    start = net.augment_state.clone()
    with torch.no_grad():
        eval_img = net.eval().prepare((x, mask))
        assert torch.equal(net.augment_state, start)  # eval: no augmentation
        a = net.train().prepare((x, mask))
        assert not torch.equal(net.augment_state, start) and not torch.equal(a, eval_img)
        twin = CNNBackbone(width=8, **opts).train()
        assert torch.equal(twin.prepare((x, mask)), a)  # same seed, same draw
    # a training with augmentation is deterministic under its seed
    h1 = train(_cfg(tmp_path / "a", epochs=3, options=opts), sample).history
    h2 = train(_cfg(tmp_path / "b", epochs=3, options=opts), sample).history
    assert [h["train_loss"] for h in h1] == [h["train_loss"] for h in h2]
    # the generator state is saved with the model: a resumed training continues the draws
    train(_cfg(tmp_path / "c", epochs=2, options=opts), sample)
    resumed = train(_cfg(tmp_path / "c", epochs=3, options=opts), sample, resume=True).history
    assert resumed[2]["train_loss"] == h1[2]["train_loss"]


@pytest.mark.parametrize(
    ("objective", "metric"),
    [
        ("supervised", "mahalanobis"),
        ("deepsvdd", "mahalanobis"),
        ("deepsvdd-ae", "euclidean"),  # DASVDD's score: the image decoder runs in the graph
    ],
)
def test_onnx_parity(tmp_path, objective, metric):
    torch.manual_seed(0)
    cfg = ModelConfig(
        backbone="cnn", objective=objective, width=16, options=SMALL, svdd_metric=metric
    )
    model = build_model(cfg)
    model.eval()
    batches = parity_batches(model)  # 3 batches: different jet and constituent counts
    assert len({tuple(b[0].shape[:2]) for b in batches}) == 3
    path = export_onnx(model, tmp_path / "m.onnx", batches[1])
    assert check_onnx(model, path, batches) <= 1e-5
