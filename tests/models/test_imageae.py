import numpy as np
import pytest
import torch

from adsearch.config import from_dict
from adsearch.errors import ConfigError
from adsearch.models import ModelConfig, build_model
from adsearch.models.imageae import ImageAutoencoder, ImageDecoder
from adsearch.score import check_onnx, export_onnx, parity_batches
from adsearch.score.scoring import score_jets
from adsearch.train import TrainConfig, train
from tests.images.jets import dense_jets
from tests.train.toys import toy_sample

SMALL = {"channels": [[4], [8]], "decoder_channels": [8, 4]}


@pytest.mark.parametrize("pixels", [25, 9, 16, 1])
def test_decoder_output_size(pixels):
    dec = ImageDecoder(4, pixels=pixels, width=8, channels=(4, 4))
    assert dec(torch.zeros(3, 4)).shape == (3, 1, pixels, pixels)


def test_bottleneck_is_required():
    with pytest.raises(ValueError, match="latent_dim"):
        ImageAutoencoder(16, latent_dim=25, pixels=5)
    with pytest.raises(ConfigError, match="cnn autoencoder"):
        build_model(ModelConfig(backbone="cnn", objective="ae", latent_dim=625))
    ae = build_model(ModelConfig(backbone="cnn", objective="ae", width=8, options=SMALL))
    assert ae.objective.latent_dim == 8  # model.latent_dim: 8 numbers for 625 pixels


def test_score_is_the_per_jet_pixel_mse():
    torch.manual_seed(0)
    model = build_model(ModelConfig(backbone="cnn", objective="ae", width=8, options=SMALL))
    model.eval()
    x, mask = dense_jets(5)
    x = x.float()
    with torch.no_grad():
        score = model((x, mask))
        img = model.backbone.prepare((x, mask))
        rec = model.objective.reconstruct(model.backbone(img))
        assert rec.shape == img.shape == (5, 1, 25, 25)
        torch.testing.assert_close(score, ((rec - img) ** 2).mean((1, 2, 3)))
        # one jet's score does not depend on the other jets of the batch (eval mode)
        torch.testing.assert_close(model((x[2:3], mask[2:3])), score[2:3])
    with pytest.raises(ValueError, match="images"):
        model.objective.score(torch.zeros(2, 8), (x, mask))


def test_cnn_autoencoder_trains_and_is_deterministic(tmp_path):
    sample = toy_sample(100, signal_fraction=0.0, seed=5)

    def cfg(out):
        return from_dict(
            TrainConfig,
            {
                "data": {"train_fraction": 0.5, "val_fraction": 0.2},
                "model": {"backbone": "cnn", "objective": "ae", "width": 16, "options": SMALL},
                "optim": {"batch_size": 32, "epochs": 4, "patience": 10, "lr": 3e-3},
                "runtime": {"out_dir": str(out), "device": "cpu", "progress": False},
            },
        )

    res = train(cfg(tmp_path / "a"), sample)
    h = res.history
    assert h[-1]["train_loss"] < h[0]["train_loss"] and h[-1]["val_loss"] < h[0]["val_loss"]
    s = score_jets(res.model, sample.take(np.arange(40)), None, 16, "cpu", False)
    assert s.shape == (40,) and np.isfinite(s).all() and (s >= 0).all()
    again = train(cfg(tmp_path / "b"), sample).history
    assert [r["train_loss"] for r in again] == [r["train_loss"] for r in h]


def test_onnx_parity(tmp_path):
    torch.manual_seed(0)
    model = build_model(ModelConfig(backbone="cnn", objective="ae", width=16, options=SMALL))
    model.eval()
    batches = parity_batches(model)
    path = export_onnx(model, tmp_path / "m.onnx", batches[1])
    assert check_onnx(model, path, batches) <= 1e-5
