from __future__ import annotations

import math

import pytest
import torch

from adsearch.pretrain.quality import alignment, uniformity


def test_alignment_and_uniformity_limits():
    g = torch.Generator().manual_seed(0)
    h = torch.randn((200, 16), generator=g, dtype=torch.float64)
    assert float(alignment(h, h)) == 0.0
    assert float(alignment(h, -h)) == pytest.approx(4.0)
    assert float(uniformity(torch.ones(5, 3))) == pytest.approx(0.0, abs=1e-12)  # collapse
    assert float(uniformity(h)) < -3.0  # spread on the sphere


def test_uniformity_matches_the_pairwise_mean():
    g = torch.Generator().manual_seed(1)
    h = torch.nn.functional.normalize(torch.randn((6, 4), generator=g, dtype=torch.float64))
    pairs = [
        math.exp(-2 * float((h[i] - h[j]).pow(2).sum())) for i in range(6) for j in range(i + 1, 6)
    ]
    assert float(uniformity(h)) == pytest.approx(math.log(sum(pairs) / len(pairs)), rel=1e-12)
