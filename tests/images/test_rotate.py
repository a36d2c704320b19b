import math

import torch

from adsearch.images import centre_on_centroid, principal_axis, rotate_principal_vertical
from tests.images.jets import dense_jets, rotated


def _moments(u, v, w):
    t = w.sum(-1)
    return (w * u * u).sum(-1) / t, (w * u * v).sum(-1) / t, (w * v * v).sum(-1) / t


def test_principal_axis_becomes_vertical():
    x, mask = dense_jets(16)
    w = x[..., 0] * mask
    u, v = centre_on_centroid(x[..., 1], x[..., 2], w)
    up, vp = rotate_principal_vertical(u, v, w)
    a, b, c = _moments(up, vp, w)
    assert b.abs().max() < 1e-12  # covariance diagonal after the rotation
    assert (c >= a).all()  # the larger spread along v
    # a rotation: distances to the origin are kept
    torch.testing.assert_close(up**2 + vp**2, u**2 + v**2)


def test_axis_matches_atan2_and_isotropic_jets_keep_theta_zero():
    x, mask = dense_jets(6)
    w = x[..., 0] * mask
    u, v = centre_on_centroid(x[..., 1], x[..., 2], w)
    cos, sin = principal_axis(u, v, w)
    a, b, c = _moments(u, v, w)
    theta = 0.5 * torch.atan2(2 * b, a - c)
    torch.testing.assert_close(torch.atan2(sin, cos).squeeze(-1), theta)
    one = principal_axis(torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]))
    assert [t.item() for t in one] == [1.0, 0.0]
    iso = torch.tensor([[1.0, -1.0, 0.0, 0.0]]), torch.tensor([[0.0, 0.0, 1.0, -1.0]])
    assert [t.item() for t in principal_axis(*iso, torch.ones(1, 4))] == [1.0, 0.0]


def test_rotated_jet_gives_the_same_axis_up_to_sign():
    x, mask = dense_jets(8)
    w = x[..., 0] * mask
    ref = rotate_principal_vertical(*centre_on_centroid(x[..., 1], x[..., 2], w), w)
    y = rotated(x, 1.1)
    got = rotate_principal_vertical(*centre_on_centroid(y[..., 1], y[..., 2], w), w)
    for r, g in zip(ref, got, strict=True):
        sign = torch.sign((r * g * w).sum(-1, keepdim=True))
        torch.testing.assert_close(g * sign, r)
    assert math.isfinite(float(got[0].sum()))
