import numpy as np
import pytest
import torch

from adsearch.models.knn import gather_neighbours, knn


def _reference(points: np.ndarray, mask: np.ndarray, k: int) -> list[list[set[int]]]:
    """Brute force: for every real point, the k nearest other real points (set of indices)."""
    out = []
    for p, m in zip(points, mask, strict=True):
        rows = []
        real = np.flatnonzero(m)
        for i in range(len(p)):
            if not m[i]:
                rows.append(set())
                continue
            others = real[real != i]
            d = ((p[others] - p[i]) ** 2).sum(-1)
            rows.append(set(others[np.argsort(d, kind="stable")[:k]].tolist()))
        out.append(rows)
    return out


@pytest.mark.parametrize("k", [1, 3, 7, 16])
@pytest.mark.parametrize("dim", [2, 5])
def test_knn_equals_a_brute_force_reference_with_padding_and_small_jets(k, dim):
    rng = np.random.default_rng(k * 10 + dim)
    b, n = 6, 12
    points = rng.normal(size=(b, n, dim))
    counts = np.array([12, 9, 5, 2, 1, 0])  # full, padded, fewer than k, one, empty
    mask = np.arange(n)[None, :] < counts[:, None]
    points[~mask] = rng.normal(size=(int((~mask).sum()), dim)) * 1e-3  # near real points
    idx, valid = knn(torch.from_numpy(points), torch.from_numpy(mask), k)
    assert idx.shape == valid.shape == (b, n, k) and idx.dtype == torch.int64
    ref = _reference(points, mask, k)
    for j in range(b):
        for i in range(n):
            got = idx[j, i][valid[j, i]].tolist()
            assert len(got) == len(set(got))  # no neighbour twice
            assert set(got) == ref[j][i], (j, i)
            assert len(got) == (min(k, counts[j] - 1) if mask[j, i] else 0)
    # the valid slots come first, nearest first; invalid slots point at 0
    v = valid.numpy()
    assert np.all(v[..., :-1] >= v[..., 1:])
    d = ((points[:, :, None, :] - points[:, None, :, :]) ** 2).sum(-1)
    dn = np.take_along_axis(d, idx.numpy(), axis=2)
    assert np.all(np.diff(dn, axis=-1)[v[..., 1:]] >= 0)
    assert not idx[~valid].any()


def test_knn_works_when_the_batch_is_narrower_than_k():
    points = torch.randn(2, 3, 2)
    idx, valid = knn(points, torch.ones(2, 3, dtype=torch.bool), k=16)
    assert idx.shape == (2, 3, 16)
    assert valid.sum(-1).eq(2).all()  # the two other points of each jet


def test_knn_refuses_k_below_one():
    with pytest.raises(ValueError, match="k must be"):
        knn(torch.zeros(1, 2, 2), torch.ones(1, 2, dtype=torch.bool), 0)


def test_gather_neighbours_picks_the_rows_of_each_jet():
    h = torch.arange(12.0).reshape(2, 3, 2)
    idx = torch.tensor([[[1, 2], [0, 0], [2, 1]], [[2, 0], [1, 1], [0, 2]]])
    got = gather_neighbours(h, idx)
    assert got.shape == (2, 3, 2, 2)
    for b in range(2):
        for i in range(3):
            for s in range(2):
                assert torch.equal(got[b, i, s], h[b, idx[b, i, s]])
