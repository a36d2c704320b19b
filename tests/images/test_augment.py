import torch

from adsearch.images import random_symmetry
from tests.images.jets import dense_jets


def test_seeded_rotation_and_reflection():
    x, _ = dense_jets(64)
    u, v = x[..., 1], x[..., 2]
    a = random_symmetry(u, v, torch.Generator().manual_seed(3))
    b = random_symmetry(u, v, torch.Generator().manual_seed(3))
    c = random_symmetry(u, v, torch.Generator().manual_seed(4))
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))  # same seed, same draw
    assert not torch.equal(a[0], c[0])
    torch.testing.assert_close(a[0] ** 2 + a[1] ** 2, u**2 + v**2)  # isometry about the axis
    # about half of the jets are reflected: the orientation (cross product) changes sign
    i, j = 0, 1
    cross = u[:, i] * v[:, j] - u[:, j] * v[:, i]
    cross_a = a[0][:, i] * a[1][:, j] - a[0][:, j] * a[1][:, i]
    flipped = (torch.sign(cross) != torch.sign(cross_a)).float().mean().item()
    assert 0.3 < flipped < 0.7
