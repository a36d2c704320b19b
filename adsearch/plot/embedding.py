"""2-D view of a jet embedding: background and signal on its first two principal components.

:func:`plot_embedding` projects the embeddings ``h [n, D]`` (e.g. of a pretrained encoder,
:func:`adsearch.pretrain.probe.embed`) onto the two directions of largest variance,

    u = (h - h̄) V₂,   V₂ [D, 2]: the leading eigenvectors of cov(h)

(scikit-learn's ``PCA``, fitted on all plotted jets), and scatters background and signal
jets in ``u``. The axis labels give each component's share of the variance. Mostly
overlapping clouds do not mean the classes are inseparable (the probe of
:func:`adsearch.pretrain.probe.linear_probe` uses every direction); a visible split means
the largest directions of the embedding carry the label.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adsearch.plot.stats import _figure, _save, _style

__all__ = ["embedding_figure", "plot_embedding", "project_2d"]


def project_2d(emb: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(u [n, 2], explained [2])``: the first two principal components of ``emb [n, D]``
    and their fractions of the total variance (``n >= 2``, ``D >= 2``)."""
    from sklearn.decomposition import PCA

    e = np.asarray(emb, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] < 2 or e.shape[1] < 2:
        raise ValueError(f"need an embedding [n >= 2, D >= 2], got shape {e.shape}")
    pca = PCA(n_components=2, random_state=seed)
    u = pca.fit_transform(e)
    return u, np.asarray(pca.explained_variance_ratio_, dtype=np.float64)


def _subsample(n: int, max_points: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, max_points, replace=False)) if n > max_points else np.arange(n)


def embedding_figure(
    emb: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    max_points: int = 5000,
    title: str | None = None,
) -> tuple[object, object]:
    """The figure and axes of :func:`plot_embedding` (call inside ``_style()``)."""
    y = np.asarray(labels)
    if y.shape != (np.shape(emb)[0],):
        raise ValueError(f"need labels [n] for emb [n, D], got {y.shape} and {np.shape(emb)}")
    u, ratio = project_2d(emb, seed)
    rng = np.random.default_rng(seed)
    fig, ax = _figure()
    styles = ((0, "background", "tab:blue", 0.3), (1, "signal", "tab:red", 0.6))
    for cls, name, color, alpha in styles:
        rows = np.flatnonzero(y == cls)
        if len(rows) == 0:
            continue
        rows = rows[_subsample(len(rows), max_points, rng)]
        ax.scatter(*u[rows].T, s=4, color=color, alpha=alpha, label=f"{name} ({len(rows)})")
    ax.set_xlabel(f"PC 1 ({100 * ratio[0]:.0f} % of the variance)")
    ax.set_ylabel(f"PC 2 ({100 * ratio[1]:.0f} % of the variance)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", markerscale=3)
    if title:
        ax.set_title(title)
    return fig, ax


def plot_embedding(
    emb: np.ndarray,
    labels: np.ndarray,
    path: str | Path,
    seed: int = 0,
    max_points: int = 5000,
    title: str | None = None,
) -> Path:
    """Scatter of background (``labels == 0``) and signal (``labels == 1``) jets on the first
    two principal components of ``emb [n, D]``; written atomically to ``path`` (PNG, or PDF
    / SVG by suffix).

    Parameters
    ----------
    emb : embeddings ``[n, D]`` (``n >= 2``, ``D >= 2``).
    labels : ``[n]``, 0 background, 1 signal; other values (unlabelled, -1) are not drawn
        but enter the projection.
    path : output file.
    seed : the PCA's and the subsampling's random state.
    max_points : at most this many jets of each class are drawn (a seeded subset).
    title : optional axes title.

    Returns
    -------
    Path of the written file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 50)
    >>> h = rng.normal(size=(100, 4)) + y[:, None]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = plot_embedding(h, y, pathlib.Path(d) / "emb.png")
    ...     p.read_bytes()[:4] == b"\\x89PNG"
    True
    """
    with _style():
        fig, _ = embedding_figure(emb, labels, seed, max_points, title)
        return _save(fig, path)
