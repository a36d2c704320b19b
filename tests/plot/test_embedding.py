"""Embedding projection plot."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from adsearch.plot import plot_embedding
from adsearch.plot.embedding import embedding_figure, project_2d
from adsearch.plot.stats import _style

PNG = b"\x89PNG"


def toy(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    h = rng.normal(size=(n, 5)) * [5.0, 1.0, 1.0, 0.1, 0.1]
    h[:, 1] += 6.0 * y
    return h, y


def test_projection_keeps_the_largest_directions():
    h, _ = toy()
    u, ratio = project_2d(h)
    assert u.shape == (200, 2) and ratio[0] >= ratio[1] > 0 and ratio.sum() > 0.9
    np.testing.assert_allclose(u.mean(0), 0, atol=1e-9)
    with pytest.raises(ValueError, match="embedding"):
        project_2d(h[:, :1])


def test_scatter_per_class_subsampled_and_seeded():
    h, y = toy()
    y[:5] = -1  # unlabelled: projected, not drawn
    with _style():
        _, ax = embedding_figure(h, y, max_points=30)
    offsets = [c.get_offsets() for c in ax.collections]
    assert [len(o) for o in offsets] == [30, 30]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["background (30)", "signal (30)"]
    with _style():
        _, ax2 = embedding_figure(h, y, max_points=30)
    assert np.array_equal(ax2.collections[0].get_offsets(), offsets[0])
    with pytest.raises(ValueError, match="labels"):
        embedding_figure(h, y[:-1])


def test_file_written_without_global_state(tmp_path):
    rc_before = dict(matplotlib.rcParams)
    h, y = toy()
    p = plot_embedding(h, y, tmp_path / "emb.png", title="toy")
    assert p.read_bytes()[:4] == PNG and p.stat().st_size > 5000
    assert plot_embedding(h, y, tmp_path / "emb.pdf").read_bytes()[:4] == b"%PDF"
    assert dict(matplotlib.rcParams) == rc_before
    assert sorted(q.name for q in tmp_path.iterdir()) == ["emb.pdf", "emb.png"]
