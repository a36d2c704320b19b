import torch

from adsearch.models.batchnorm import MaskedBatchNorm


def test_without_padding_it_is_batchnorm1d():
    torch.manual_seed(0)
    h = torch.randn(4, 5, 3) * 2.0 + 1.0
    ours, ref = MaskedBatchNorm(3), torch.nn.BatchNorm1d(3)
    for _ in range(2):  # training mode: batch statistics and the running update
        out = ours(h, torch.ones(4, 5, dtype=torch.bool))
        exp = ref(h.reshape(-1, 3)).reshape(4, 5, 3)
        torch.testing.assert_close(out, exp)
    torch.testing.assert_close(ours.running_mean, ref.running_mean)
    torch.testing.assert_close(ours.running_var, ref.running_var)
    ours.eval()
    ref.eval()
    out = ours(h, torch.ones(4, 5, dtype=torch.bool))
    torch.testing.assert_close(out, ref(h.reshape(-1, 3)).reshape(4, 5, 3))


def test_padding_changes_neither_outputs_nor_running_statistics():
    torch.manual_seed(1)
    h = torch.randn(3, 6, 4)
    mask = torch.arange(6)[None, :] < torch.tensor([[6], [2], [4]])
    hp = torch.cat([h.masked_fill(~mask.unsqueeze(-1), 50.0), torch.full((3, 5, 4), -9.0)], 1)
    mp = torch.cat([mask, torch.zeros(3, 5, dtype=torch.bool)], 1)
    a, b = MaskedBatchNorm(4), MaskedBatchNorm(4)
    ya, yb = a(h, mask), b(hp, mp)
    torch.testing.assert_close(ya[mask], yb[:, :6][mask])
    torch.testing.assert_close(a.running_mean, b.running_mean)
    torch.testing.assert_close(a.running_var, b.running_var)


def test_affine_false_has_no_parameters():
    assert not list(MaskedBatchNorm(8, affine=False).parameters())
