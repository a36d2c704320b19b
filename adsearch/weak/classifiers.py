"""Classifier ensembles trained with k-fold cross-validation, scored strictly out of fold.

The rows to classify are split into ``k`` folds. For held-out fold ``i``, ``n_members``
models are trained on the other folds: member ``j`` validates (early stopping) on one of
them — cycling through the ``k - 1`` others — and trains on the rest, with its own seed.
Fold ``i``'s rows are then scored by the mean of its members only, so every row is scored by
models that never saw it (the nested cross-validation of CWoLa hunting: Collins, Howe,
Nachman, PRL 121, 241803). Rows marked not trainable (e.g. sideband data in CATHODE) are
scored the same way but never used to train. A new sample is scored by all ``k × n_members``
models (:meth:`Ensemble.predict`). The members are independent (each has its own seed and
rows). The MLP members of one held-out fold train together as one stacked network
(:mod:`adsearch.weak.stacked`: each member's maths unchanged, ~2× less CPU than one by one);
``workers > 1`` trains the folds (MLP) or members (trees) in that many processes, one CPU
thread each, with the same members and scores as one process with one thread.

Two model kinds (:class:`~adsearch.weak.config.ClassifierConfig`): a torch MLP (weighted
binary cross-entropy, Adam, the best validation epoch kept, or the mean of the
``top_epochs`` best as in CATHODE) and scikit-learn's
HistGradientBoosting (early stopping on the validation fold). Both classes get equal total
weight when ``class_weight`` is set.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> x = np.r_[rng.normal(0, 1, (300, 2)), rng.normal(1.5, 1, (300, 2))]
>>> y = np.r_[np.zeros(300), np.ones(300)]
>>> cfg = ClassifierConfig(kind="hgb", n_members=2)
>>> res = kfold_classify(x, y, assign_folds(600, 3, seed=1), cfg, seed=1)
>>> res.scores.shape, len(res.ensemble.members)
((600,), 6)
>>> bool(res.scores[y == 1].mean() > res.scores[y == 0].mean() + 0.2)
True
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adsearch.errors import InputError
from adsearch.parallel import spawn_pool
from adsearch.progress import track
from adsearch.weak.config import ClassifierConfig
from adsearch.weak.stacked import StackTask, mlp, train_mlp_stack

__all__ = [
    "Ensemble",
    "KFoldResult",
    "Member",
    "assign_folds",
    "class_weights",
    "kfold_classify",
    "member_seed",
    "train_member",
]


def member_seed(seed: int, *keys: int) -> int:
    """A 32-bit seed derived from ``seed`` and integer ``keys`` (fold, member, ...).

    >>> member_seed(0, 1, 2) == member_seed(0, 1, 2) != member_seed(0, 2, 1)
    True
    """
    return int(np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(1)[0])


def assign_folds(n: int, n_folds: int, seed: int) -> np.ndarray:
    """Fold index ``0 .. n_folds-1`` of ``n`` rows: balanced sizes, seeded random order.

    >>> np.bincount(assign_folds(10, 3, seed=0)).tolist()
    [4, 3, 3]
    """
    rng = np.random.default_rng(member_seed(seed, 7919))
    folds = np.arange(n) % n_folds
    return folds[rng.permutation(n)]


def class_weights(
    y: np.ndarray, balanced: bool = True, base: np.ndarray | None = None
) -> np.ndarray:
    """Per-row weights giving both classes the same total weight (mean weight 1).

    ``base`` are per-row weights to start from (e.g. a template reweighted to the data's
    mjj); the classes are then balanced in total weight.

    >>> class_weights(np.array([1, 0, 0, 0])).tolist()
    [2.0, 0.6666666666666666, 0.6666666666666666, 0.6666666666666666]
    >>> class_weights(np.array([1, 0, 0]), base=np.array([1.0, 3.0, 1.0])).tolist()
    [1.5, 1.125, 0.375]
    """
    y = np.asarray(y)
    w = np.ones(y.shape, dtype=np.float64) if base is None else np.asarray(base, np.float64).copy()
    if not balanced:
        return w
    for cls in (0, 1):
        rows = y == cls
        total = w[rows].sum()
        if total > 0:
            w[rows] *= y.size / (2.0 * total)
    return w


@dataclass
class Member:
    """One trained model: its held-out fold, kind, input standardisation and parameters.

    ``params`` is the MLP's ``state_dict`` (numpy arrays), a list of them (the epochs of
    an epoch ensemble, ``top_epochs > 1``: the prediction is their mean probability) or the
    fitted scikit-learn estimator; ``history`` holds the per-epoch (iteration) validation
    loss.
    """

    fold: int
    kind: str
    mean: np.ndarray
    std: np.ndarray
    params: Any
    hidden: list[int] = field(default_factory=list)
    history: list[float] = field(default_factory=list)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probability of class 1 (data) for each row of ``x``."""
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.std
        if self.kind == "hgb":
            return np.asarray(self.params.predict_proba(z)[:, 1], dtype=np.float64)
        import torch

        states = self.params if isinstance(self.params, list) else [self.params]
        net = mlp(z.shape[1], self.hidden)
        zt = torch.from_numpy(z.astype(np.float32))
        out = np.zeros(len(z))
        for state in states:
            net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})
            net.eval()
            with torch.no_grad():
                out += torch.sigmoid(net(zt)).squeeze(1).numpy().astype(np.float64)
        return out / len(states)


def _train_hgb(
    z: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    val: tuple[np.ndarray, np.ndarray, np.ndarray],
    cfg: ClassifierConfig,
    seed: int,
) -> tuple[Any, list[float]]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(
        learning_rate=cfg.hgb_learning_rate,
        max_iter=cfg.hgb_max_iter,
        max_leaf_nodes=cfg.hgb_max_leaf_nodes,
        early_stopping=True,
        n_iter_no_change=cfg.hgb_patience,
        scoring="loss",
        random_state=seed % 2**31,
    )
    model.fit(z, y.astype(int), sample_weight=w, X_val=val[0], y_val=val[1].astype(int),
              sample_weight_val=val[2])  # fmt: skip
    return model, [float(-s) for s in model.validation_score_]


def _prepared(
    x: np.ndarray,
    y: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    cfg: ClassifierConfig,
    weight: np.ndarray | None,
    weight_val: np.ndarray | None,
) -> tuple[np.ndarray, ...]:
    """``(mean, std, z, z_val, w, w_val)``: inputs standardised with the training rows'
    mean and standard deviation, and the class-balanced weights of both sets."""
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    w = class_weights(y, cfg.class_weight, weight)
    wv = class_weights(y_val, cfg.class_weight, weight_val)
    return mean, std, (x - mean) / std, (x_val - mean) / std, w, wv


def train_member(
    x: np.ndarray,
    y: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    cfg: ClassifierConfig,
    seed: int,
    fold: int = -1,
    weight: np.ndarray | None = None,
    weight_val: np.ndarray | None = None,
) -> Member:
    """Train one model on ``(x, y)`` with early stopping on ``(x_val, y_val)``.

    The inputs are standardised with the training rows' mean and standard deviation.
    ``weight``/``weight_val`` are optional per-row weights (before class balancing).

    >>> rng = np.random.default_rng(0)
    >>> x = np.r_[rng.normal(0, 1, (200, 1)), rng.normal(2, 1, (200, 1))]
    >>> y = np.r_[np.zeros(200), np.ones(200)]
    >>> m = train_member(x[::2], y[::2], x[1::2], y[1::2], ClassifierConfig(max_epochs=5), 0)
    >>> bool(m.predict(np.array([[3.0]]))[0] > m.predict(np.array([[-1.0]]))[0])
    True
    """
    if cfg.kind != "hgb":
        return train_members([(x, y, x_val, y_val, cfg, seed, fold, weight, weight_val)])[0]
    mean, std, z, zv, w, wv = _prepared(x, y, x_val, y_val, cfg, weight, weight_val)
    params, history = _train_hgb(z, y, w, (zv, y_val, wv), cfg, seed)
    return Member(fold, "hgb", mean, std, params, [], history)


def train_members(jobs: list[tuple[Any, ...]], progress: bool | None = False) -> list[Member]:
    """Train the members described by ``jobs`` (the arguments of :func:`train_member`, in its
    order: ``x, y, x_val, y_val, cfg, seed, fold, weight, weight_val``), all with the same
    ``cfg``.

    MLP members train together as one stacked network (:mod:`adsearch.weak.stacked`: the
    same maths as one by one, ~2× faster on a CPU); boosted trees one after another.
    """
    if not jobs:
        return []
    cfg = jobs[0][4]
    if cfg.kind == "hgb":
        return [
            train_member(x, y, xv, yv, c, seed, fold=fold, weight=wt, weight_val=wv)
            for x, y, xv, yv, c, seed, fold, wt, wv in jobs
        ]
    tasks, prepared = [], []
    for x, y, x_val, y_val, _, seed, fold, weight, weight_val in jobs:
        mean, std, z, zv, w, wv = _prepared(x, y, x_val, y_val, cfg, weight, weight_val)
        tasks.append(StackTask(z, y, w, zv, y_val, wv, seed))
        prepared.append((fold, mean, std))
    trained = train_mlp_stack(tasks, cfg, progress)
    return [
        Member(fold, "mlp", mean, std, state, list(cfg.hidden), history)
        for (fold, mean, std), (state, history) in zip(prepared, trained, strict=True)
    ]


@dataclass
class Ensemble:
    """The k-fold ensemble: all members, with the fold each one never saw.

    :meth:`predict` averages every member (for events outside the training sample);
    :meth:`predict_out_of_fold` averages, for each row, the members of the row's fold.
    """

    members: list[Member]
    features: list[str] = field(default_factory=list)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Mean class-1 probability of all members."""
        if not self.members:
            raise InputError("the ensemble has no trained member")
        return np.mean([m.predict(x) for m in self.members], axis=0)

    def predict_out_of_fold(self, x: np.ndarray, folds: np.ndarray) -> np.ndarray:
        """Score row ``r`` with the members whose held-out fold is ``folds[r]`` only."""
        out = np.full(len(x), np.nan)
        for k in np.unique(folds):
            rows = folds == k
            members = [m for m in self.members if m.fold == k]
            if not members:
                raise InputError(f"no ensemble member held out fold {k}")
            out[rows] = np.mean([m.predict(x[rows]) for m in members], axis=0)
        return out

    def to_bytes(self) -> bytes:
        """Serialise (pickle of numpy arrays and, for trees, the scikit-learn estimators)."""
        buf = io.BytesIO()
        pickle.dump({"features": self.features, "members": self.members}, buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Ensemble:
        """Inverse of :meth:`to_bytes` (only load files you wrote: this is a pickle)."""
        obj = pickle.loads(data)  # our own model files only
        return cls(obj["members"], obj["features"])


@dataclass
class KFoldResult:
    """Out-of-fold scores of every row and the ensemble that made them."""

    scores: np.ndarray
    ensemble: Ensemble
    folds: np.ndarray
    labels: np.ndarray
    trainable: np.ndarray


def _unit_job(jobs: list[tuple[Any, ...]], threads: int | None = None) -> list[Member]:
    """Train the members of ``jobs`` (:func:`train_members`); ``threads`` limits torch and
    OpenMP (a worker process of :func:`kfold_classify`)."""
    if threads is None:
        return train_members(jobs)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    with threadpool_limits(limits=threads):
        return train_members(jobs)


def kfold_classify(
    x: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    cfg: ClassifierConfig,
    seed: int,
    trainable: np.ndarray | None = None,
    progress: bool | None = None,
    weight: np.ndarray | None = None,
    workers: int = 1,
) -> KFoldResult:
    """Train the k-fold ensemble on rows ``x`` with weak labels ``y`` and score out of fold.

    Parameters
    ----------
    x : ``(n, d)`` features.
    y : ``(n,)`` 1 (data) or 0 (template); ignored for rows that are not trainable.
    folds : ``(n,)`` fold of each row, ``0 .. k-1`` (:func:`assign_folds`).
    cfg : the classifier configuration (kind, members per fold, training).
    seed : seeds every member (:func:`member_seed` of seed, fold, member).
    trainable : rows that may be trained on (default all); the others are only scored.
    progress : show a progress bar (default: when stderr is a terminal).
    weight : optional ``(n,)`` per-row training weights (classes are balanced on top).
    workers : processes training members in parallel (each with one CPU thread); 1: here.

    Returns
    -------
    KFoldResult
        ``scores[r]`` is the mean of the members that held out ``folds[r]``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    folds = np.asarray(folds)
    train = np.ones(len(x), bool) if trainable is None else np.asarray(trainable, bool)
    k = int(folds.max()) + 1 if folds.size else 0
    if k < 3:
        raise InputError(f"k-fold classification needs at least 3 folds, got {k}")
    for f in range(k):
        for cls in (0, 1):
            if not np.any(train & (folds == f) & (y == cls)):
                raise InputError(
                    f"fold {f} holds no {'data' if cls else 'template'} event to train on "
                    "(too few events for the number of folds)"
                )
    if workers < 1:
        raise InputError(f"workers must be >= 1, got {workers}")

    def job(i: int, j: int) -> tuple[Any, ...]:
        others = [f for f in range(k) if f != i]
        v = others[j % len(others)]
        tr = train & (folds != i) & (folds != v)
        va = train & (folds == v)
        wt, wv = (None, None) if weight is None else (weight[tr], weight[va])
        return x[tr], y[tr], x[va], y[va], cfg, member_seed(seed, i, j), i, wt, wv

    if cfg.kind == "mlp":  # one fold's members train together, as one stacked network
        units = [[job(i, j) for j in range(cfg.n_members)] for i in range(k)]
    else:
        units = [[job(i, j)] for i in range(k) for j in range(cfg.n_members)]
    label = f"{cfg.kind} ensemble"
    if workers == 1:
        members = [m for u in track(units, len(units), label, progress) for m in _unit_job(u)]
    else:
        with spawn_pool(workers) as pool:
            futures = [pool.submit(_unit_job, u, 1) for u in units]
            members = [m for f in track(futures, len(futures), label, progress) for m in f.result()]
    ensemble = Ensemble(members)
    return KFoldResult(ensemble.predict_out_of_fold(x, folds), ensemble, folds, y, train)
