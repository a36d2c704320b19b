"""Representation quality of a pretrained encoder: embeddings and a linear probe.

:func:`embed` maps jets to the encoder's embeddings ``h = f(x, mask) [n, D]`` (batched, no
gradient, the encoder's mode restored afterwards); :func:`embed_jets` does the same for
padded tensors. :func:`linear_probe` measures how much of a label the embedding carries
*linearly*: a logistic regression on the standardised embedding,

    p(signal | h) = σ(w · (h - μ) / s + b),

fitted on one set of jets (``μ, s``: mean and standard deviation of the training
embeddings) and scored by its ROC AUC on another. A frozen encoder whose probe reaches a
high AUC has learned features that separate the classes without seeing a label
(the linear evaluation protocol of self-supervised learning, e.g. Chen et al., SimCLR,
ICML 2020; for jets: Dillon et al., JetCLR, SciPost Phys. 12, 188 (2022)). The 2-D view of
an embedding is :func:`adsearch.plot.embedding.plot_embedding`.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = np.repeat([0, 1], 100)
>>> h = rng.normal(size=(200, 4)) + 3.0 * y[:, None]  # the classes sit 3σ apart per axis
>>> linear_probe(h[::2], y[::2], h[1::2], y[1::2]) > 0.99
True
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from adsearch.train.data import InputBuilder, JetSample

__all__ = ["embed", "embed_jets", "linear_probe"]


def _device(encoder: nn.Module) -> torch.device:
    p = next(iter(encoder.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def embed_jets(encoder: nn.Module, x: Tensor, mask: Tensor, batch_size: int = 1024) -> np.ndarray:
    """Embeddings ``[B, D]`` (float64) of padded jets ``x [B, N, 3]``, ``mask [B, N]``
    (the ``basic`` features), in batches of ``batch_size`` jets."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    was, dev = encoder.training, _device(encoder)
    dtype = next(iter(encoder.parameters()), torch.empty(0)).dtype
    encoder.eval()
    try:
        out = [
            encoder((x[i : i + batch_size].to(dev, dtype), mask[i : i + batch_size].to(dev)))
            .double()
            .cpu()
            for i in range(0, x.shape[0], batch_size)
        ]
    finally:
        encoder.train(was)
    return torch.cat(out).numpy() if out else np.empty((0, 0))


def embed(
    encoder: nn.Module,
    sample: JetSample,
    idx: np.ndarray | None = None,
    *,
    max_constituents: int | None = 100,
    batch_size: int = 1024,
) -> np.ndarray:
    """Embeddings ``[len(idx), D]`` (float64) of the jets ``idx`` of ``sample`` (default:
    all), built as in pretraining: the ``basic`` features of the ``max_constituents``
    hardest constituents (use the pretraining's ``data.max_constituents``), padded per
    batch. The rows follow ``idx``."""
    idx = np.arange(len(sample)) if idx is None else np.asarray(idx, dtype=np.int64)
    graph = {"node_features": "basic", "max_constituents": max_constituents}
    builder = InputBuilder("dense", graph)
    rows = []
    for i in range(0, len(idx), batch_size):
        x, mask = builder.dense(sample, idx[i : i + batch_size])
        rows.append(embed_jets(encoder, x, mask, batch_size))
    return np.concatenate(rows) if rows else np.empty((0, 0))


def linear_probe(
    emb_train: np.ndarray,
    y_train: np.ndarray,
    emb_test: np.ndarray,
    y_test: np.ndarray,
    seed: int = 0,
) -> float:
    """ROC AUC on ``(emb_test [m, D], y_test [m])`` of a logistic regression on the
    standardised embedding fitted to ``(emb_train [n, D], y_train [n])`` (labels 0/1, both
    classes in each set; scikit-learn's ``StandardScaler`` + ``LogisticRegression``,
    L2-regularised with ``C = 1``, ``random_state=seed``)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xs = (np.asarray(emb_train, np.float64), np.asarray(emb_test, np.float64))
    ys = (np.asarray(y_train).astype(np.int64), np.asarray(y_test).astype(np.int64))
    for name, e, y in (("train", xs[0], ys[0]), ("test", xs[1], ys[1])):
        if e.ndim != 2 or y.shape != (e.shape[0],):
            raise ValueError(f"{name}: need emb [n, D] and y [n], got {e.shape} and {y.shape}")
        if set(np.unique(y).tolist()) != {0, 1}:
            raise ValueError(f"{name}: need labels 0 and 1, both present")
    if xs[0].shape[1] != xs[1].shape[1]:
        raise ValueError(f"embedding sizes differ: {xs[0].shape[1]} and {xs[1].shape[1]}")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed))
    clf.fit(xs[0], ys[0])
    return float(roc_auc_score(ys[1], clf.predict_proba(xs[1])[:, 1]))
