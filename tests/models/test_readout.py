"""Tests of adsearch.models.readout: parse_readout and graph_readout."""

import pytest
import torch

from adsearch.models.gnn import build_backbone
from adsearch.models.readout import graph_readout, parse_readout


def test_ptsum_readout_is_the_pt_weighted_sum_and_order_free():
    h = torch.tensor([[1.0, -1.0], [3.0, -3.0], [5.0, 2.0]])
    w = torch.tensor([0.25, 0.75, 1.0])
    out = graph_readout(h, torch.tensor([0, 0, 1]), torch.tensor([0, 2, 3]), ("ptsum",), w)
    torch.testing.assert_close(out, torch.tensor([[2.5, -2.5], [5.0, 2.0]]))
    perm = torch.tensor([1, 0, 2])
    again = graph_readout(
        h[perm], torch.tensor([0, 0, 1]), torch.tensor([0, 2, 3]), ("ptsum",), w[perm]
    )
    torch.testing.assert_close(again, out)
    with pytest.raises(ValueError, match="pT fractions"):
        graph_readout(h, torch.tensor([0, 0, 1]), torch.tensor([0, 2, 3]), ("ptsum",))
    # a soft constituent at the edge moves max pooling, hardly the pT-weighted sum
    gin = build_backbone("gin", width=8, layers=1, readout="ptsum")
    assert gin.readout == ("ptsum",)


def test_graph_readout_concatenates_pools():
    h = torch.tensor([[1.0, -1.0], [3.0, -3.0], [5.0, 2.0]])
    out = graph_readout(h, torch.tensor([0, 0, 1]), torch.tensor([0, 2, 3]), ("max", "mean"))
    torch.testing.assert_close(out, torch.tensor([[3.0, -1.0, 2.0, -2.0], [5.0, 2.0, 5.0, 2.0]]))
    summed = graph_readout(h, torch.tensor([0, 0, 1]), torch.tensor([0, 2, 3]), ("sum",))
    torch.testing.assert_close(summed, torch.tensor([[4.0, -4.0], [5.0, 2.0]]))


def test_parse_readout():
    assert parse_readout(["max", " add"]) == ("max", "sum")
    assert parse_readout("ptsum+mean") == ("ptsum", "mean")
    for bad in ("median", "", "max+"):
        with pytest.raises(ValueError, match="unknown readout"):
            parse_readout(bad)
