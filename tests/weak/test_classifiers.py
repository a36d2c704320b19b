"""k-fold ensembles: strictly out-of-fold scores, seeded, both model kinds."""

from __future__ import annotations

import numpy as np
import pytest

import adsearch.weak.classifiers as clf
from adsearch.errors import InputError
from adsearch.stats.metrics import roc_auc
from adsearch.weak import ClassifierConfig
from adsearch.weak.classifiers import assign_folds, class_weights, kfold_classify


def test_folds_are_balanced_and_seeded():
    a = assign_folds(1001, 5, seed=3)
    assert np.bincount(a).tolist() == [201, 200, 200, 200, 200]
    np.testing.assert_array_equal(a, assign_folds(1001, 5, seed=3))
    assert not np.array_equal(a, assign_folds(1001, 5, seed=4))


def test_class_weights_balance_the_classes():
    y = np.r_[np.ones(10), np.zeros(90)]
    w = class_weights(y)
    assert w[y == 1].sum() == pytest.approx(w[y == 0].sum())
    assert class_weights(y, balanced=False).tolist() == [1.0] * 100


def test_no_member_trains_or_validates_on_the_fold_it_scores(monkeypatch):
    """Every row carries its id; the members' training and validation rows are recorded."""
    seen: list[tuple[int, set, set]] = []
    real = clf.train_member

    def spy(x, y, x_val, y_val, cfg, seed, fold=-1, **weights):
        seen.append((fold, set(x[:, 0].astype(int)), set(x_val[:, 0].astype(int))))
        return real(x, y, x_val, y_val, cfg, seed, fold, **weights)

    monkeypatch.setattr(clf, "train_member", spy)
    rng = np.random.default_rng(0)
    n = 600
    x = np.c_[np.arange(n), rng.normal(size=(n, 2))]
    y = rng.integers(0, 2, n).astype(float)
    folds = assign_folds(n, 4, seed=0)
    trainable = rng.random(n) > 0.2
    cfg = ClassifierConfig(kind="hgb", n_members=3, hgb_max_iter=5)
    res = kfold_classify(x, y, folds, cfg, seed=0, trainable=trainable)
    assert len(seen) == 4 * 3 == len(res.ensemble.members)
    for fold, train_ids, val_ids in seen:
        held_out = set(np.flatnonzero(folds == fold))
        assert not (train_ids | val_ids) & held_out
        assert not (train_ids | val_ids) & set(np.flatnonzero(~trainable))
        assert not train_ids & val_ids
    # the members of one fold validate on different folds
    vals = [frozenset(folds[list(v)]) for f, _, v in seen if f == 0]
    assert len(set(vals)) == 3
    # a row's score is the mean of its fold's members only
    k = 2
    rows = folds == k
    mine = [m for m in res.ensemble.members if m.fold == k]
    np.testing.assert_allclose(res.scores[rows], np.mean([m.predict(x[rows]) for m in mine], 0))


@pytest.mark.parametrize("kind", ["hgb", "mlp"])
def test_memorising_models_score_noise_at_chance_out_of_fold(kind):
    """Random labels: in-sample a flexible model memorises them, out of fold it cannot."""
    rng = np.random.default_rng(1)
    n = 1500
    x = rng.normal(size=(n, 3))
    y = rng.integers(0, 2, n).astype(float)
    cfg = ClassifierConfig(kind=kind, n_members=1, hgb_max_iter=200, hgb_patience=200,
                           hgb_max_leaf_nodes=63, max_epochs=5, patience=5)  # fmt: skip
    res = kfold_classify(x, y, assign_folds(n, 3, seed=1), cfg, seed=1)
    assert abs(roc_auc(y, res.scores) - 0.5) < 0.05
    if kind == "hgb":  # the same models on the rows they trained on
        assert roc_auc(y, res.ensemble.predict(x)) > 0.6


@pytest.mark.parametrize("kind", ["hgb", "mlp"])
def test_same_seed_same_scores(kind):
    rng = np.random.default_rng(2)
    x = np.r_[rng.normal(0, 1, (300, 2)), rng.normal(1, 1, (300, 2))]
    y = np.r_[np.zeros(300), np.ones(300)]
    folds = assign_folds(600, 3, seed=0)
    cfg = ClassifierConfig(kind=kind, n_members=2, max_epochs=4, hgb_max_iter=20)
    a = kfold_classify(x, y, folds, cfg, seed=5).scores
    np.testing.assert_array_equal(a, kfold_classify(x, y, folds, cfg, seed=5).scores)
    if kind == "mlp":  # the trees draw no random numbers with a given validation fold
        assert not np.array_equal(a, kfold_classify(x, y, folds, cfg, seed=6).scores)


def test_parallel_members_equal_one_process():
    """workers=2 (spawned processes, one thread each) trains the same members as one process
    with one thread: identical out-of-fold scores, members in the same order."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(4)
    x = np.r_[rng.normal(0, 1, (200, 2)), rng.normal(1, 1, (200, 2))]
    y = np.r_[np.zeros(200), np.ones(200)]
    folds = assign_folds(400, 3, seed=0)
    cfg = ClassifierConfig(kind="mlp", n_members=2, max_epochs=3)
    with threadpool_limits(limits=1):
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            one = kfold_classify(x, y, folds, cfg, seed=5)
        finally:
            torch.set_num_threads(before)
    two = kfold_classify(x, y, folds, cfg, seed=5, workers=2)
    np.testing.assert_array_equal(one.scores, two.scores)
    assert [m.fold for m in one.ensemble.members] == [m.fold for m in two.ensemble.members]
    with pytest.raises(InputError, match="workers must be >= 1"):
        kfold_classify(x, y, folds, cfg, seed=5, workers=0)


def test_a_fold_without_one_class_is_an_error():
    x = np.zeros((9, 1))
    y = np.r_[np.ones(8), 0.0]
    with pytest.raises(InputError, match="fold 0 holds no template event"):
        kfold_classify(x, y, np.arange(9) % 3, ClassifierConfig(kind="hgb"), seed=0)


def test_ensemble_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(300, 2)), np.r_[np.zeros(150), np.ones(150)]
    cfg = ClassifierConfig(kind="mlp", n_members=1, max_epochs=2)
    ens = kfold_classify(x, y, assign_folds(300, 3, 0), cfg, seed=0).ensemble
    back = clf.Ensemble.from_bytes(ens.to_bytes())
    np.testing.assert_array_equal(back.predict(x), ens.predict(x))


def test_epoch_ensemble_keeps_the_lowest_validation_epochs_and_averages_them():
    """top_epochs = 3 (CATHODE's epoch ensemble): the member holds the 3 epochs of lowest
    validation loss, best first, and predicts with the mean of their probabilities."""
    rng = np.random.default_rng(4)
    x = np.r_[rng.normal(0, 1, (400, 2)), rng.normal(0.7, 1, (400, 2))]
    y = np.r_[np.zeros(400), np.ones(400)]
    cfg = ClassifierConfig(max_epochs=8, patience=8, top_epochs=3)
    m = clf.train_member(x[::2], y[::2], x[1::2], y[1::2], cfg, seed=2)
    assert isinstance(m.params, list) and len(m.params) == 3
    assert len(m.history) == 8  # patience >= max_epochs: every epoch runs
    # the kept epochs are those of lowest validation loss: rebuild each one's prediction
    singles = [clf.Member(-1, "mlp", m.mean, m.std, p, m.hidden) for p in m.params]
    preds = np.array([s.predict(x) for s in singles])
    np.testing.assert_allclose(m.predict(x), preds.mean(axis=0), rtol=1e-12)
    assert not np.allclose(preds[0], preds[1])  # different epochs, not one state repeated
    # top_epochs = 1 keeps exactly the best epoch of the same training
    best = clf.train_member(x[::2], y[::2], x[1::2], y[1::2],
                            ClassifierConfig(max_epochs=8, patience=8), seed=2)  # fmt: skip
    assert isinstance(best.params, dict)
    np.testing.assert_allclose(best.predict(x), preds[0], rtol=1e-12)
    assert best.history == m.history
    assert m.history.index(min(m.history)) == int(np.argmin(best.history))


def test_top_epochs_cannot_exceed_max_epochs():
    from adsearch.errors import ConfigError

    with pytest.raises(ConfigError, match="top_epochs"):
        ClassifierConfig(max_epochs=5, top_epochs=6)
    with pytest.raises(ConfigError, match="top_epochs"):
        ClassifierConfig(top_epochs=0)
