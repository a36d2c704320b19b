"""Tests of adsearch.models.edges: scalar edge weights and degree normalisation."""

import pytest
import torch

from adsearch.models.edges import EDGE_WEIGHTS, _edge_input, degree_normalise, edge_weight


def test_edge_weight_kinds():
    inv_dr = torch.tensor([0.0, 10.0, 5.0])  # 0: self-loop
    assert EDGE_WEIGHTS == ("gauss", "inv_dr")
    torch.testing.assert_close(edge_weight(inv_dr, "inv_dr", 0.2), torch.tensor([0.0, 2.0, 1.0]))
    gauss = edge_weight(inv_dr, "gauss", 0.1)
    assert gauss[0] == 0 and ((gauss >= 0) & (gauss < 1)).all() and gauss[1] > gauss[2]
    with pytest.raises(ValueError, match="unknown edge_weight"):
        edge_weight(inv_dr, "cosine", 0.1)


def test_edge_input_replaces_column_zero_only():
    attr = torch.tensor([[10.0, 7.0], [5.0, -1.0]])
    e = _edge_input(attr, "inv_dr", 0.5)
    torch.testing.assert_close(e, torch.tensor([[5.0, 7.0], [2.5, -1.0]]))
    assert _edge_input(attr[:, :1], "inv_dr", 0.5).shape == (2, 1)


def test_degree_normalise():
    ei, w = torch.tensor([[0, 1, 2], [2, 2, 0]]), torch.tensor([1.0, 3.0, 2.0])
    # in-degrees: node 2 collects 4, node 0 collects 2
    torch.testing.assert_close(degree_normalise(ei, w, 3), torch.tensor([0.2, 0.6, 2.0 / 3.0]))
    sym = degree_normalise(ei, w, 3, "sym")
    torch.testing.assert_close(sym[2], torch.tensor(2.0 / (3.0 * 5.0) ** 0.5))
    with pytest.raises(ValueError, match="degree normalisation"):
        degree_normalise(ei, w, 3, "max")
