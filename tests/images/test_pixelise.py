import numpy as np
import pytest
import torch

from adsearch.images import pixel_index, pixelise


def _random(b=12, n=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = (torch.rand(b, n, generator=g, dtype=torch.float64) - 0.5) * 3.0  # some outside
    v = (torch.rand(b, n, generator=g, dtype=torch.float64) - 0.5) * 3.0
    w = torch.rand(b, n, generator=g, dtype=torch.float64)
    w[:, n // 2 :] *= torch.rand(b, 1, generator=g, dtype=torch.float64) < 0.5  # padding
    return u, v, w


@pytest.mark.parametrize(("pixels", "extent"), [(25, 1.0), (8, 0.6), (1, 1.0)])
def test_pixel_sums_conserve_the_in_window_pt(pixels, extent):
    u, v, w = _random()
    img = pixelise(u, v, w, pixels, extent)
    inside = (u.abs() < extent) & (v.abs() < extent)
    torch.testing.assert_close(img.sum((1, 2)), (w * inside).sum(-1))


def test_matches_numpy_histogram2d():
    u, v, w = _random(b=5)
    img = pixelise(u, v, w, 25, 1.0).numpy()
    edges = np.linspace(-1.0, 1.0, 26)
    for b in range(5):  # the reference, jet by jet
        ref, _, _ = np.histogram2d(
            v[b].numpy(), u[b].numpy(), bins=[edges, edges], weights=w[b].numpy()
        )
        np.testing.assert_allclose(img[b], ref, atol=1e-12)


def test_window_edges_and_index():
    assert pixel_index(torch.tensor([-1.0, 0.999999]), 25, 1.0).tolist() == [0, 24]
    u = torch.tensor([[-1.0, 1.0, 0.0]])  # |u| = extent is outside (strict window)
    img = pixelise(u, torch.zeros(1, 3), torch.ones(1, 3), 5, 1.0)
    assert img.sum().item() == 1.0 and img[0, 2, 2].item() == 1.0
