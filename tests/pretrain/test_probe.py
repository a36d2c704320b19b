from __future__ import annotations

import numpy as np
import pytest
import torch

from adsearch.config import from_dict
from adsearch.pretrain.config import PretrainConfig
from adsearch.pretrain.encoder import build_encoder
from adsearch.pretrain.probe import embed, embed_jets, linear_probe
from adsearch.train.data import InputBuilder
from tests.pretrain.jets import toy_batch
from tests.train.toys import toy_sample


@pytest.fixture(scope="module")
def encoder():
    cfg = from_dict(PretrainConfig, {"encoder": {"width": 8, "heads": 2, "layers": 1}})
    torch.manual_seed(0)
    return build_encoder(cfg)


def test_embed_jets_is_batched_without_gradients(encoder):
    x, mask = toy_batch(b=10, n=8)
    x = x.float()
    encoder.train()
    full = embed_jets(encoder, x, mask, batch_size=100)
    parts = embed_jets(encoder, x, mask, batch_size=3)
    assert full.shape == (10, 8) and full.dtype == np.float64
    np.testing.assert_allclose(parts, full, rtol=1e-5, atol=1e-6)
    assert encoder.training  # the mode is restored
    assert all(p.grad is None for p in encoder.parameters())


def test_embed_a_sample_follows_idx(encoder):
    sample = toy_sample(10, seed=1)
    idx = np.array([5, 0, 7])
    e = embed(encoder, sample, idx, batch_size=2)
    x, mask = InputBuilder("dense", {"node_features": "basic", "max_constituents": 100}).dense(
        sample, idx
    )
    np.testing.assert_allclose(e, embed_jets(encoder, x, mask), rtol=1e-5, atol=1e-6)
    assert embed(encoder, sample).shape == (len(sample), 8)


def test_linear_probe_separates_a_trivial_toy_and_is_seeded():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    h = rng.normal(size=(400, 6))
    h[:, 2] += 4.0 * y  # one direction carries the label
    auc = linear_probe(h[:200], y[:200], h[200:], y[200:], seed=1)
    assert auc > 0.9
    assert linear_probe(h[:200], y[:200], h[200:], y[200:], seed=1) == auc
    # no information: about 0.5
    noise = rng.normal(size=(400, 6))
    assert abs(linear_probe(noise[:200], y[:200], noise[200:], y[200:]) - 0.5) < 0.1


@pytest.mark.parametrize(
    ("y_train", "match"),
    [(np.zeros(20), "labels 0 and 1"), (np.zeros(19), r"y \[n\]")],
)
def test_linear_probe_refuses_bad_inputs(y_train, match):
    h, y = np.zeros((20, 2)), np.repeat([0, 1], 10)
    with pytest.raises(ValueError, match=match):
        linear_probe(h, y_train, h, y)
    with pytest.raises(ValueError, match="sizes differ"):
        linear_probe(h, y, np.zeros((20, 3)), y)
