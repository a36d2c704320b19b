import pytest
import torch

from adsearch.models.norm import InputNorm


def test_fit_standardises_with_logs_on_flagged_columns():
    g = torch.Generator().manual_seed(0)
    x = torch.stack([torch.rand(500, generator=g) * 0.1 + 1e-3, torch.randn(500, generator=g)], 1)
    norm = InputNorm(2, log_columns=[0])
    norm.fit(x)
    y = norm(x)
    torch.testing.assert_close(y.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(0, unbiased=False), torch.ones(2), atol=1e-5, rtol=0)
    # column 0 enters as a logarithm: its shift is the mean of ln x
    assert abs(float(norm.shift[0]) - float(torch.log(x[:, 0]).mean())) < 1e-5
    assert bool(norm.fitted)


def test_identity_before_fit_and_constant_feature_keeps_scale_one():
    norm = InputNorm(3)
    x = torch.randn(10, 3)
    torch.testing.assert_close(norm(x), x)
    x[:, 1] = 4.0
    norm.fit(x)
    assert float(norm.scale[1]) == 1.0 and float(norm.shift[1]) == 4.0


def test_round_trip_through_state_dict():
    a = InputNorm(3, log_columns=[0, 2])
    a.fit(torch.rand(50, 3) + 0.1)
    b = InputNorm(3)  # log columns come from the state dict
    b.load_state_dict(a.state_dict())
    x = torch.rand(7, 3) + 0.1
    torch.testing.assert_close(a(x), b(x))


def test_bad_inputs():
    with pytest.raises(ValueError, match="log column"):
        InputNorm(2, log_columns=[2])
    with pytest.raises(ValueError, match="fit needs"):
        InputNorm(2).fit(torch.zeros(5, 3))
