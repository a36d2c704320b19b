import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from adsearch.models.setloss import chamfer_distance, masked_sq_dist


def _sets(b=5, n=11, f=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(b, n, f, generator=g, dtype=torch.float64)
    c = torch.randn(b, n, f, generator=g, dtype=torch.float64)
    counts_a = torch.tensor([n, 1, 4, n - 2, 7][:b])
    counts_c = torch.tensor([n - 1, 3, 4, n, 2][:b])
    ma = torch.arange(n)[None] < counts_a[:, None]
    mc = torch.arange(n)[None] < counts_c[:, None]
    w = torch.rand(b, n, generator=g, dtype=torch.float64)
    return a, c, ma, mc, w


def _reference(a, c, ma, mc, wa=None, wc=None):
    """Chamfer distance of one set pair at a time with scipy (independent of the torch code)."""
    out = []
    for i in range(len(a)):
        x, y = a[i][ma[i]].numpy(), c[i][mc[i]].numpy()
        d = cdist(x, y, "sqeuclidean")
        pa = np.ones(len(x)) if wa is None else wa[i][ma[i]].numpy()
        pc = np.ones(len(y)) if wc is None else wc[i][mc[i]].numpy()
        out.append(np.average(d.min(1), weights=pa) + np.average(d.min(0), weights=pc))
    return np.array(out)


def _shuffle_and_pad(x, m, w, extra, seed):
    """Permute every set (padding included, so real and padded slots interleave) and append
    ``extra`` padded slots holding garbage."""
    g = torch.Generator().manual_seed(seed)
    b, n, f = x.shape
    perm = torch.stack([torch.randperm(n + extra, generator=g) for _ in range(b)])
    xp = torch.cat([x.masked_fill(~m.unsqueeze(-1), 1e3), torch.full((b, extra, f), -50.0)], 1)
    mp = torch.cat([m, torch.zeros(b, extra, dtype=torch.bool)], 1)
    wp = torch.cat([w, torch.full((b, extra), 9.0, dtype=w.dtype)], 1)
    idx = perm.unsqueeze(-1).expand(-1, -1, f)
    return xp.gather(1, idx), mp.gather(1, perm), wp.gather(1, perm)


def test_chamfer_matches_scipy_reference_weighted_and_not():
    a, c, ma, mc, w = _sets()
    got = chamfer_distance(a, c, ma, mc)
    np.testing.assert_allclose(got.numpy(), _reference(a, c, ma, mc), rtol=1e-12)
    got_w = chamfer_distance(a, c, ma, mc, weight_a=w, weight_b=w)
    np.testing.assert_allclose(got_w.numpy(), _reference(a, c, ma, mc, w, w), rtol=1e-12)
    # weights change the value (so they are used), uniform weights do not
    assert not torch.allclose(got_w, got)
    torch.testing.assert_close(chamfer_distance(a, c, ma, mc, torch.full_like(w, 3.0)), got)


@pytest.mark.parametrize("extra", [0, 1, 6])
def test_chamfer_invariant_to_permutation_and_padding(extra):
    a, c, ma, mc, w = _sets(seed=1)
    ref = chamfer_distance(a, c, ma, mc, weight_a=w, weight_b="nearest")
    ap, map_, wp = _shuffle_and_pad(a, ma, w, extra, seed=2)
    cp, mcp, _ = _shuffle_and_pad(c, mc, w, extra + 2, seed=3)
    got = chamfer_distance(ap, cp, map_, mcp, weight_a=wp, weight_b="nearest")
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=0)
    assert torch.isfinite(got).all()


def test_chamfer_zero_only_for_identical_sets_and_symmetric():
    a, c, ma, mc, _w = _sets(seed=4)
    same = chamfer_distance(a, a, ma, ma)
    assert torch.equal(same, torch.zeros(len(a), dtype=a.dtype))
    # the same set in another order and with other padding is still identical
    ap, map_, _ = _shuffle_and_pad(a, ma, _w, 3, seed=5)
    assert torch.equal(chamfer_distance(a, ap, ma, map_), torch.zeros(len(a), dtype=a.dtype))
    d = chamfer_distance(a, c, ma, mc)
    assert (d > 0).all()
    torch.testing.assert_close(d, chamfer_distance(c, a, mc, ma))
    # moving a single real point of one set makes it > 0
    moved = a.clone()
    moved[2, 1, 0] += 0.1
    d1 = chamfer_distance(a, moved, ma, ma)
    assert d1[2] > 0 and torch.equal(d1[[0, 1, 3, 4]], torch.zeros(4, dtype=a.dtype))


def test_nearest_weights_and_gradients_are_finite():
    a, c, ma, mc, w = _sets(seed=6)
    c = c.clone().requires_grad_(True)
    d = chamfer_distance(a, c, ma, mc, weight_a=w, weight_b="nearest")
    # "nearest": each reconstructed point takes the weight of its nearest input point
    d2 = masked_sq_dist(a, c.detach(), ma, mc)
    wc = w.gather(1, d2.argmin(1))
    np.testing.assert_allclose(d.detach().numpy(), _reference(a, c.detach(), ma, mc, w, wc))
    d.sum().backward()
    assert torch.isfinite(c.grad).all()
    assert (c.grad[~mc] == 0).all() and (c.grad[mc] != 0).any()


def test_float32_input_and_bad_shapes():
    a = torch.zeros(2, 3, 2, dtype=torch.float16)
    assert chamfer_distance(a, a).dtype == torch.float32
    with pytest.raises(ValueError, match=r"\[B, N, F\]"):
        chamfer_distance(torch.zeros(2, 3, 2), torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="nearest"):
        chamfer_distance(a, a, weight_b="closest")
