from __future__ import annotations

import pytest
import torch

from adsearch.pretrain.augment import (
    add_prong,
    collinear_split,
    pad_slots,
    random_view,
    rotate,
    smear_pt,
    smear_soft,
    translate,
)
from tests.pretrain.jets import girth, jet_mass, jet_pt, toy_batch


def gen(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


ALL = [
    lambda x, m, g: rotate(x, m, g),
    lambda x, m, g: translate(x, m, g, 0.1),
    lambda x, m, g: collinear_split(x, m, g, 0.5),
    lambda x, m, g: smear_soft(x, m, g, 1e-3),
    lambda x, m, g: smear_pt(x, m, g, 0.1),
    lambda x, m, g: random_view(x, m, g, translation=0.1, collinear=0.3, soft=1e-3, pt_smear=0.1),
]


def test_rotation_keeps_jet_pt_and_mass():
    x, mask = toy_batch(width=0.05)
    xr, mr = rotate(x, mask, gen())
    assert torch.equal(mr, mask)
    assert torch.equal(xr[..., 0], x[..., 0])  # pT fractions untouched
    # rotation is exact on ΔR; mass and pT of massless vectors only in the small-angle limit
    dr = torch.hypot(x[..., 1], x[..., 2])
    torch.testing.assert_close(torch.hypot(xr[..., 1], xr[..., 2]), dr)
    torch.testing.assert_close(jet_mass(xr, mask), jet_mass(x, mask), rtol=5e-3, atol=0)
    torch.testing.assert_close(jet_pt(xr, mask), jet_pt(x, mask), rtol=5e-3, atol=0)
    assert not torch.allclose(xr[..., 1], x[..., 1])


def test_collinear_split_keeps_pt_and_irc_safe_observables():
    x, mask = toy_batch()
    xs, ms = collinear_split(x, mask, gen(), fraction=0.5)
    assert int(ms.sum()) > int(mask.sum())  # constituents were added
    assert torch.equal(ms & mask, mask)  # old constituents stay
    torch.testing.assert_close((xs[..., 0] * ms).sum(1), (x[..., 0] * mask).sum(1))
    torch.testing.assert_close(girth(xs, ms), girth(x, mask))
    torch.testing.assert_close(jet_mass(xs, ms), jet_mass(x, mask))
    torch.testing.assert_close(jet_pt(xs, ms), jet_pt(x, mask))


def test_collinear_split_needs_free_slots():
    x, mask = toy_batch(b=4, n=8)
    full = torch.ones_like(mask)
    xs, ms = collinear_split(x, full, gen(), fraction=1.0)  # no free slot: nothing to split
    assert torch.equal(xs, x) and torch.equal(ms, full)
    xp, mp = pad_slots(x, mask, 8)
    _, ms = collinear_split(xp, mp, gen(), fraction=1.0)
    assert torch.equal(ms.sum(1), 2 * mask.sum(1))  # every constituent split once


@pytest.mark.parametrize("aug", range(len(ALL)))
def test_padding_untouched_and_seeded(aug):
    f = ALL[aug]
    x, mask = toy_batch()
    x0 = x.clone()
    xa, ma = f(x, mask, gen(3))
    xb, mb = f(x, mask, gen(3))
    assert torch.equal(x, x0)  # inputs not modified
    assert torch.equal(xa, xb) and torch.equal(ma, mb)  # same seed, same view
    xc, _ = f(x, mask, gen(4))
    assert not torch.equal(xa, xc)  # another seed, another view
    assert torch.all(xa[~ma] == 0)  # padding stays zero
    assert torch.equal(ma[:, : mask.shape[1]] & mask, mask)  # real stays real


def test_smearings_keep_total_pt_and_soft_moves_most():
    x, mask = toy_batch()
    xs, _ = smear_pt(x, mask, gen(), 0.2)
    torch.testing.assert_close((xs[..., 0] * mask).sum(1), (x[..., 0] * mask).sum(1))
    xq, _ = smear_soft(x, mask, gen(), 1e-3)
    shift = torch.hypot(xq[..., 1] - x[..., 1], xq[..., 2] - x[..., 2])[mask]
    z = x[..., 0][mask]
    soft, hard = z < z.median(), z >= z.median()
    assert shift[soft].mean() > 3 * shift[hard].mean()


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="x \\[B, N, 3\\]"):
        rotate(torch.zeros(2, 3, 4), torch.ones(2, 3, dtype=torch.bool), gen())


def test_add_prong_keeps_pt_and_axis_and_raises_the_mass():
    """The anomalous view: a second prong at ΔR = d with share f; the pT sum and the
    pT-weighted axis are kept, m²/pT² grows by about f (1 - f) d² (two-prong system)."""
    x, mask = toy_batch(width=0.03)
    xa, ma = add_prong(x, mask, gen(), constituents=8, share=(0.3, 0.3), separation=(0.5, 0.5))
    assert xa.shape == (x.shape[0], x.shape[1] + 8, 3) and ma.shape == xa.shape[:2]
    za = xa[..., 0] * ma
    torch.testing.assert_close(za.sum(1), (x[..., 0] * mask).sum(1))
    axis = (za[..., None] * xa[..., 1:]).sum(1)
    axis0 = ((x[..., 0] * mask)[..., None] * x[..., 1:]).sum(1)
    torch.testing.assert_close(axis, axis0, atol=1e-12, rtol=0)
    m2, m2a = jet_mass(x, mask) ** 2, jet_mass(xa, ma) ** 2
    torch.testing.assert_close(m2a - m2, torch.full_like(m2, 0.3 * 0.7 * 0.25), rtol=0.1, atol=0)
    # padding stays zero; the new prong's slots are real only where the jet had constituents
    assert torch.equal(xa[~ma], torch.zeros_like(xa[~ma]))
    assert int(ma.sum()) == int(mask.sum()) + int(mask.sum(1).clamp(max=8).sum())
    again = add_prong(x, mask, gen(), constituents=8)
    assert torch.equal(again[0], add_prong(x, mask, gen(), constituents=8)[0])  # seeded
    with pytest.raises(ValueError, match="share"):
        add_prong(x, mask, gen(), share=(0.5, 0.2))
