import torch

from adsearch.images import centre_on_centroid, pt_centroid
from tests.images.jets import dense_jets


def test_centroid_moves_to_origin_and_padding_is_ignored():
    x, mask = dense_jets(8)
    w = x[..., 0] * mask
    u, v = centre_on_centroid(x[..., 1], x[..., 2], w)
    cu, cv = pt_centroid(u, v, w)
    assert cu.abs().max() < 1e-12 and cv.abs().max() < 1e-12
    # garbage in padded slots (weight 0) changes nothing
    u2, _ = centre_on_centroid(x[..., 1] + 50.0 * ~mask, x[..., 2], w)
    torch.testing.assert_close(u2[mask], u[mask])


def test_empty_jet_stays_finite():
    u, v = centre_on_centroid(torch.ones(1, 3), torch.ones(1, 3), torch.zeros(1, 3))
    assert torch.isfinite(u).all() and torch.isfinite(v).all()
