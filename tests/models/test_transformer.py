import math

import pytest
import torch

from adsearch.models.objectives import Autoencoder
from adsearch.models.setloss import chamfer_distance
from adsearch.models.transformer import (
    ParticleTransformerBackbone,
    SetDecoder,
    TransformerBackbone,
    masked_readout,
    pair_features,
)


def _batch(b=4, n=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, n, 3, generator=g)
    x[..., 1:] = x[..., 1:] - 0.5
    counts = torch.tensor([n, n - 3, 2, n - 1][:b])
    mask = torch.arange(n)[None, :] < counts[:, None]
    return x, mask


def _pad(x, mask, extra=5):
    """Append padded constituents carrying garbage values."""
    b, _n, f = x.shape
    junk = torch.full((b, extra, f), 7.5)
    # also put garbage into already-padded slots
    x = x.masked_fill(~mask.unsqueeze(-1), -3.0)
    return torch.cat([x, junk], 1), torch.cat([mask, torch.zeros(b, extra, dtype=torch.bool)], 1)


@pytest.mark.parametrize("cls", [TransformerBackbone, ParticleTransformerBackbone])
@pytest.mark.parametrize("readout", ["sum", "mean", "max"])
@pytest.mark.parametrize("bias", [True, False])
def test_shape_padding_and_permutation_invariance(cls, readout, bias):
    torch.manual_seed(0)
    net = cls(width=16, heads=4, layers=2, readout=readout, bias=bias).eval()
    x, mask = _batch()
    with torch.no_grad():
        out = net((x, mask))
        assert out.shape == (4, 16)
        assert torch.isfinite(out).all()
        xp, mp = _pad(x, mask)
        torch.testing.assert_close(net((xp, mp)), out, atol=1e-5, rtol=1e-5)
        # permute constituents inside every jet (real ones stay real)
        perm = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(3))
        torch.testing.assert_close(net(x[:, perm], mask[:, perm]), out, atol=1e-5, rtol=1e-5)
        # and the output does depend on the constituents
        assert not torch.allclose(net((x * 1.3, mask)), out)


def test_no_bias_means_no_additive_parameters():
    net = ParticleTransformerBackbone(width=16, heads=2, layers=1, bias=False)
    names = [n for n, _ in net.named_parameters()]
    assert names and not any(n.endswith("bias") for n in names)


def test_masked_readout_ignores_padding():
    h = torch.tensor([[[1.0, -5.0], [3.0, -1.0], [50.0, 50.0]]])
    m = torch.tensor([[True, True, False]])
    assert masked_readout(h, m, "sum").tolist() == [[4.0, -6.0]]
    assert masked_readout(h, m, "mean").tolist() == [[2.0, -3.0]]
    assert masked_readout(h, m, "max").tolist() == [[3.0, -1.0]]


def test_pair_features_physics():
    # two massless constituents: pT 3 and 1, separated by deta = 0.3, dphi = 0.4 (dR = 0.5)
    x = torch.tensor([[[3.0, 0.0, 0.0], [1.0, 0.3, 0.4]]], dtype=torch.float64)
    f = pair_features(x)
    assert f.shape == (1, 2, 2, 4)
    lnkt, lnz, lndr, lnm2 = f[0, 0, 1].tolist()
    assert lndr == pytest.approx(math.log(0.5))
    assert lnkt == pytest.approx(math.log(1.0 * 0.5))
    assert lnz == pytest.approx(math.log(1.0 / 4.0))
    m2 = 2 * 3.0 * 1.0 * (math.cosh(0.3) - math.cos(0.4))
    assert lnm2 == pytest.approx(math.log(m2))
    # symmetric, and Δφ wraps: φ = ±3.1 are 0.083 apart
    assert torch.allclose(f[0, 0, 1], f[0, 1, 0])
    w = torch.tensor([[[1.0, 0.0, 3.1], [1.0, 0.0, -3.1]]], dtype=torch.float64)
    assert pair_features(w)[0, 0, 1, 2].item() == pytest.approx(math.log(2 * math.pi - 6.2))
    # padded pairs are zero and finite
    m = torch.tensor([[True, False]])
    g = pair_features(x, m)
    assert torch.isfinite(g).all() and g[0, 0, 1].abs().sum() == 0


def test_autoencoder_score_is_padding_invariant_and_decoder_shapes():
    torch.manual_seed(1)
    enc = TransformerBackbone(width=16, heads=2, layers=1).eval()
    ae = Autoencoder(16, width=16, layers=1, heads=2, max_len=32).eval()
    x, mask = _batch()
    with torch.no_grad():
        z = enc((x, mask))
        s = ae.score(z, (x, mask))
        assert s.shape == (4,) and (s > 0).all()
        xp, mp = _pad(x, mask)
        torch.testing.assert_close(ae.score(enc((xp, mp)), (xp, mp)), s, atol=1e-5, rtol=1e-5)
        # the score is the per-jet Chamfer distance to the set decoded from the latent
        rec = ae.decoder(ae.to_latent(z), mask)
        assert rec.shape == x.shape and ae.to_latent.out_features == 8  # default bottleneck
        torch.testing.assert_close(s, chamfer_distance(x, rec, mask, mask))
    dec = SetDecoder(8, width=8, layers=1, heads=2, max_len=4)
    with pytest.raises(ValueError, match="max_len"):
        dec(torch.zeros(1, 8), torch.ones(1, 5, dtype=torch.bool))


def test_width_heads_mismatch_is_refused():
    with pytest.raises(ValueError, match="divisible"):
        TransformerBackbone(width=10, heads=4)


def test_encode_replace_swaps_input_embeddings_for_the_token():
    torch.manual_seed(0)
    net = TransformerBackbone(width=8, heads=2, layers=2).eval()
    x, mask = torch.rand(3, 5, 3), torch.ones(3, 5, dtype=torch.bool)
    mask[0, 3:] = False
    hide = torch.zeros(3, 5, dtype=torch.bool)
    hide[:, 1] = True
    token = torch.randn(8)
    with torch.no_grad():
        a = net.encode(x, mask, replace=hide, token=token)
        y = x.clone()
        y[:, 1] = torch.tensor([0.9, -2.0, 3.0])  # the replaced constituents' features
        assert torch.equal(net.encode(y, mask, replace=hide, token=token), a)
        # nothing replaced: the plain token outputs, which forward pools
        none = torch.zeros_like(hide)
        torch.testing.assert_close(
            net.encode(x, mask, replace=none, token=token), net.encode(x, mask)
        )
    part = ParticleTransformerBackbone(width=8, heads=2, layers=1)
    with pytest.raises(ValueError, match="pair-feature"):
        part.encode(x, mask, replace=hide, token=token)
    with pytest.raises(ValueError, match="token"):
        net.encode(x, mask, replace=hide)
