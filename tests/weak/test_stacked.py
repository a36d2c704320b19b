"""The stacked MLP ensemble trains each member exactly as a lone torch training would."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from adsearch.weak.classifiers import class_weights
from adsearch.weak.config import ClassifierConfig
from adsearch.weak.stacked import StackTask, mlp, train_mlp_stack

torch = pytest.importorskip("torch")


def lone_training(task: StackTask, cfg: ClassifierConfig):
    """The reference: one network, torch.optim.Adam, the member's own permutation per epoch,
    early stopping and the top-epochs bookkeeping."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(task.seed)
        net = mlp(task.z.shape[1], list(cfg.hidden))
    gen = torch.Generator().manual_seed(task.seed)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    xt, yt, wt = (torch.from_numpy(np.asarray(a, np.float32)) for a in (task.z, task.y, task.w))
    xv, yv, wv = (
        torch.from_numpy(np.asarray(a, np.float32)) for a in (task.z_val, task.y_val, task.w_val)
    )
    loss_fn = torch.nn.functional.binary_cross_entropy_with_logits
    best, stale, history, kept = np.inf, 0, [], []
    for epoch in range(cfg.max_epochs):
        for idx in torch.randperm(len(xt), generator=gen).split(cfg.batch_size):
            opt.zero_grad()
            loss_fn(net(xt[idx]).squeeze(1), yt[idx], weight=wt[idx]).backward()
            opt.step()
        with torch.no_grad():
            v = float(loss_fn(net(xv).squeeze(1), yv, weight=wv))
        history.append(v)
        kept.append((v, epoch, copy.deepcopy(net.state_dict())))
        kept = sorted(kept, key=lambda t: (t[0], t[1]))[: cfg.top_epochs]
        if v < best - 1e-7:
            best, stale = v, 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    return [{k: t.numpy() for k, t in st.items()} for _, _, st in kept], history


def make_tasks(sizes, seed=0, strength=0.2, n_val=150):
    """Class 1 more likely where z0 z1 > 0: no single feature carries it."""
    rng = np.random.default_rng(seed)
    tasks = []
    for m, n in enumerate(sizes):
        z = rng.normal(size=(n, 3))
        y = (rng.random(n) < 0.4 + strength * np.tanh(2 * z[:, 0] * z[:, 1])).astype(float)
        zv = rng.normal(size=(n_val, 3))
        yv = (rng.random(n_val) < 0.4 + strength * np.tanh(2 * zv[:, 0] * zv[:, 1])).astype(float)
        tasks.append(StackTask(z, y, class_weights(y), zv, yv, class_weights(yv), 50 + m))
    return tasks


def test_every_member_equals_its_lone_training():
    """Members of different sizes (a batch more or less per epoch, so some hold still while
    others step), weight decay, early stopping at different epochs, 2 kept epochs."""
    tasks = make_tasks([500, 437, 300, 610])
    cfg = ClassifierConfig(hidden=[16, 16], max_epochs=12, patience=2, top_epochs=2,
                           batch_size=64, weight_decay=1e-3, lr=3e-3)  # fmt: skip
    stacked = train_mlp_stack(tasks, cfg)
    lengths = set()
    for task, (states, history) in zip(tasks, stacked, strict=True):
        ref_states, ref_history = lone_training(task, cfg)
        np.testing.assert_allclose(history, ref_history, rtol=1e-5, atol=1e-7)
        assert len(states) == len(ref_states) == 2
        for got, ref in zip(states, ref_states, strict=True):
            assert got.keys() == ref.keys()
            for key in ref:
                np.testing.assert_allclose(got[key], ref[key], rtol=1e-4, atol=1e-6)
        lengths.add(len(history))
    assert len(lengths) > 1, "the check needs members that stop at different epochs"


def test_the_best_epoch_is_a_state_dict_and_seeds_decide():
    tasks = make_tasks([200, 200])
    cfg = ClassifierConfig(hidden=[8], max_epochs=3, batch_size=50)
    a = train_mlp_stack(tasks, cfg)
    b = train_mlp_stack(tasks, cfg)
    for (sa, ha), (sb, hb) in zip(a, b, strict=True):
        assert isinstance(sa, dict) and ha == hb
        for key in sa:
            np.testing.assert_array_equal(sa[key], sb[key])
    other = [StackTask(**{**t.__dict__, "seed": t.seed + 7}) for t in tasks]
    c = train_mlp_stack(other, cfg)
    assert not np.array_equal(a[0][0]["0.weight"], c[0][0]["0.weight"])
    assert train_mlp_stack([], cfg) == []


def test_a_stacked_member_learns():
    """A member trained beside others separates its classes (AUC on its validation rows)."""
    from sklearn.metrics import roc_auc_score

    from adsearch.weak.classifiers import Member

    tasks = make_tasks([800, 800, 800], strength=0.4, n_val=400)
    cfg = ClassifierConfig(hidden=[32, 32], max_epochs=30, patience=30, batch_size=64, lr=3e-3)
    for task, (state, _) in zip(tasks, train_mlp_stack(tasks, cfg), strict=True):
        m = Member(0, "mlp", np.zeros(3), np.ones(3), state, [32, 32])
        auc = roc_auc_score(task.y_val, m.predict(task.z_val))
        assert auc > 0.75  # the planted dependence on z0 z1 needs a non-linear model
