import pytest
import torch

from adsearch.models.edgeconv import EdgeConvBlock
from adsearch.models.knn import knn


def _batch(b=4, n=10, f=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(b, n, f, generator=g)
    counts = torch.tensor([n, n - 4, 3, 1][:b])
    mask = torch.arange(n)[None, :] < counts[:, None]
    return h, mask


def _pad(h, mask, extra=6):
    """Garbage in the padded slots, plus ``extra`` padded slots of garbage."""
    b, _n, f = h.shape
    h = h.masked_fill(~mask.unsqueeze(-1), -3.0)
    h = torch.cat([h, torch.full((b, extra, f), 7.5)], 1)
    return h, torch.cat([mask, torch.zeros(b, extra, dtype=torch.bool)], 1)


@pytest.mark.parametrize(("bias", "norm"), [(True, "batch"), (True, "none"), (False, "none")])
@pytest.mark.parametrize("train", [True, False])
def test_edgeconv_is_permutation_equivariant_and_blind_to_padding(bias, norm, train):
    h, mask = _batch()
    torch.manual_seed(0)
    block = EdgeConvBlock(3, (8, 8, 8), k=4, bias=bias, norm=norm).train(train)

    def run(hh, mm):
        # fresh running statistics each call: training mode updates them
        block.load_state_dict(state)
        return block(hh, hh[..., 1:3], mm)

    state = {k: v.clone() for k, v in block.state_dict().items()}
    out = run(h, mask)
    assert out.shape == (4, 10, 8) and torch.isfinite(out).all()
    assert not out[~mask].any()  # padded outputs are 0
    # extra padding, with garbage in the padded slots: the real outputs do not move
    hp, mp = _pad(h, mask)
    torch.testing.assert_close(run(hp, mp)[:, :10][mask], out[mask], atol=1e-5, rtol=1e-5)
    # permuting the constituents permutes the outputs (pooled: invariant)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(run(h[:, perm], mask[:, perm]), out[:, perm], atol=1e-5, rtol=1e-5)
    # and the outputs depend on the inputs
    assert not torch.allclose(run(h * 1.5, mask), out)


def test_first_layer_split_equals_the_edge_feature_concatenation():
    # e_ij = W [h_i, h_j - h_i] + b, computed per edge, against the block (norm "none")
    h, mask = _batch(seed=2)
    torch.manual_seed(1)
    block = EdgeConvBlock(3, (5,), k=3, bias=True, norm="none")
    idx, valid = knn(h[..., 1:3], mask, 3)
    lin, sc = block.lins[0], block.shortcut
    out = torch.zeros(4, 10, 5)
    for b in range(4):
        for i in range(10):
            if not mask[b, i]:
                continue
            edges = [
                torch.relu(lin(torch.cat([h[b, i], h[b, j] - h[b, i]])))
                for j, ok in zip(idx[b, i].tolist(), valid[b, i].tolist(), strict=True)
                if ok
            ]
            agg = torch.stack(edges).mean(0) if edges else torch.zeros(5)
            out[b, i] = torch.relu(sc(h[b, i]) + agg)
    with torch.no_grad():
        torch.testing.assert_close(block(h, h[..., 1:3], mask), out.detach(), atol=1e-5, rtol=1e-5)


def test_a_lone_constituent_keeps_its_shortcut():
    h, mask = _batch()
    block = EdgeConvBlock(3, (6, 6), k=4, norm="none").eval()
    with torch.no_grad():
        out = block(h, h[..., 1:3], mask)
        assert torch.allclose(out[3, 0], torch.relu(block.shortcut(h[3, 0])))


def test_identity_shortcut_and_bias_free_block():
    block = EdgeConvBlock(8, (8, 8), k=2, bias=False, norm="none")
    assert block.shortcut is None
    assert not any(n.endswith("bias") for n, _ in block.named_parameters())
    with pytest.raises(ValueError, match="norm"):
        EdgeConvBlock(3, (8,), norm="layer")
    with pytest.raises(ValueError, match="channels"):
        EdgeConvBlock(3, ())
