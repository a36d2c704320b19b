"""Tests of adsearch.models.mlp: MLP, the normalisation choice, He initialisation."""

import pytest
import torch
from torch import nn

from adsearch.models.mlp import MLP, _he_init, _norm, _norm_kind


def test_mlp_layers_bias_and_final_activation():
    net = MLP(3, 8, 2, layers=3, bias=False)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(3, 8), (8, 8), (8, 2)]
    assert all(m.bias is None for m in linears) and not isinstance(net[-1], nn.ReLU)
    assert isinstance(MLP(3, 8, 2, layers=1, final_act=True)[-1], nn.ReLU)
    with pytest.raises(ValueError, match="at least one layer"):
        MLP(3, 8, 2, layers=0)


def test_norm_choice():
    assert _norm_kind(None, True) == "batch" and _norm_kind(None, False) == "none"
    assert _norm_kind("layer", False) == "layer"
    assert isinstance(_norm(4, "batch", True), nn.BatchNorm1d)
    assert not list(_norm(4, "batch", False).parameters())  # affine-free: no shift
    assert not list(_norm(4, "layer", False).parameters())
    assert isinstance(_norm(4, "none", True), nn.Identity)
    with pytest.raises(ValueError, match="unknown norm"):
        _norm(4, "group", True)


def test_he_init_keeps_the_activation_scale():
    torch.manual_seed(0)
    net = MLP(64, 64, 64, layers=8, bias=False, final_act=True)
    _he_init(net)
    x = torch.randn(2048, 64)
    with torch.no_grad():
        ratio = float(net(x).pow(2).mean() / x.pow(2).mean())
    assert 0.2 < ratio < 5  # torch's default init would give ~1e-3 after 8 ReLU layers
