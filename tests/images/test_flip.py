import torch

from adsearch.images import flip_hardest_half
from tests.images.jets import dense_jets


def test_harder_half_is_at_positive_u_and_v():
    x, mask = dense_jets(16)
    w = x[..., 0] * mask
    u, v = flip_hardest_half(x[..., 1], x[..., 2], w)
    for t in (u, v):
        assert ((w * (t > 0)).sum(-1) >= (w * (t < 0)).sum(-1)).all()
    # idempotent, and reflecting the input first changes nothing
    again = flip_hardest_half(u, v, w)
    torch.testing.assert_close(again[0], u)
    torch.testing.assert_close(flip_hardest_half(-x[..., 1], -x[..., 2], w)[1], v)


def test_ties_are_kept():
    u, v = torch.tensor([[-0.5, 0.5]]), torch.tensor([[0.1, -0.1]])
    out = flip_hardest_half(u, v, torch.ones(1, 2))
    assert out[0].tolist() == u.tolist() and out[1].tolist() == v.tolist()
