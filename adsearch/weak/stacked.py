"""Train many small MLP classifiers at once, as one stacked network.

A k-fold ensemble of CATHODE's classifier (Hallin et al., PRD 106, 055006: 3 × 64 ReLU,
Adam, batch 128, 100 epochs) is ``k × n_members`` independent trainings of a network so small
that a CPU step is all per-step overhead (~0.6 ms for 256 rows, whatever the width). Here the
members' weights are stacked along a leading member axis (``W_l: (M, in, out)``) and each
step runs every member's own minibatch through batched matrix products (``torch.baddbmm``):
one step of overhead for ``M`` members.

The maths is that of :mod:`adsearch.weak.classifiers` training each member alone:

- the same initial weights (each member's ``torch.nn.Sequential`` built under its seed);
- the same minibatches (each member's own ``torch.Generator`` draws its permutation per
  epoch, as a lone training would);
- loss ``Σ_m mean_b(w l)_m``: its gradient with respect to member ``m``'s weights is that
  member's own gradient, since no weight is shared;
- Adam with one step count per member. ``torch.optim.Adam`` keeps one step count per tensor,
  so a stacked tensor would share it between members that have not made the same number of
  steps (members' training sets differ by a few rows, hence by a batch at an epoch's end, and
  a stopped member must not move). The update below is therefore written out: it is
  torch's documented Adam (L2 ``weight_decay``, no AMSGrad), applied to live members only;
- the same validation loss, early stopping and ``top_epochs`` bookkeeping per member.

Results agree with one-by-one training to float rounding (matrix products summed in another
order), not bit for bit; the same seed gives the same result.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> x = np.r_[rng.normal(0, 1, (200, 2)), rng.normal(1.5, 1, (200, 2))]
>>> y = np.r_[np.zeros(200), np.ones(200)]
>>> w = np.ones(400)
>>> tasks = [StackTask(x[::2], y[::2], w[::2], x[1::2], y[1::2], w[1::2], s) for s in (1, 2)]
>>> out = train_mlp_stack(tasks, ClassifierConfig(max_epochs=3))
>>> len(out), len(out[0][1])
(2, 3)
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from adsearch.progress import track
from adsearch.weak.config import ClassifierConfig

__all__ = ["StackTask", "mlp", "train_mlp_stack"]

_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults


@dataclass
class StackTask:
    """One member's standardised training and validation rows, weights and seed."""

    z: np.ndarray
    y: np.ndarray
    w: np.ndarray
    z_val: np.ndarray
    y_val: np.ndarray
    w_val: np.ndarray
    seed: int


def mlp(n_in: int, hidden: list[int]) -> Any:
    """CATHODE's classifier network: ``Linear`` + ReLU per hidden width, a ``Linear`` logit.

    >>> mlp(4, [64, 64, 64])[0]
    Linear(in_features=4, out_features=64, bias=True)
    """
    import torch

    layers: list[Any] = []
    for h in hidden:
        layers += [torch.nn.Linear(n_in, h), torch.nn.ReLU()]
        n_in = h
    layers.append(torch.nn.Linear(n_in, 1))
    return torch.nn.Sequential(*layers)


def _initial_weights(tasks: list[StackTask], n_in: int, cfg: ClassifierConfig) -> list[Any]:
    """Stacked ``[W_0, b_0, W_1, b_1, ...]`` (``W: (M, in, out)``, ``b: (M, 1, out)``) from
    each member's seeded ``torch.nn.Sequential``, exactly as a lone training builds it."""
    import torch

    nets = []
    for t in tasks:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(t.seed)
            nets.append(mlp(n_in, list(cfg.hidden)))
    linears = [[m for m in net if isinstance(m, torch.nn.Linear)] for net in nets]
    params = []
    for layer in range(len(linears[0])):
        w = torch.stack([ls[layer].weight.detach().T for ls in linears]).contiguous()
        b = torch.stack([ls[layer].bias.detach()[None, :] for ls in linears]).contiguous()
        params += [w.requires_grad_(), b.requires_grad_()]
    return params


def _forward(params: list[Any], x: Any) -> Any:
    """Logits ``(M, B)`` of stacked inputs ``x: (M, B, d)``."""
    import torch

    h = x
    n_layers = len(params) // 2
    for layer in range(n_layers):
        h = torch.baddbmm(params[2 * layer + 1], h, params[2 * layer])
        if layer < n_layers - 1:
            h = torch.relu(h)
    return h.squeeze(-1)


def _state_dict(params: list[Any], m: int) -> dict[str, np.ndarray]:
    """Member ``m``'s weights as the ``state_dict`` of :func:`mlp`
    (Linear layers at even indices of the Sequential)."""
    out = {}
    for layer in range(len(params) // 2):
        out[f"{2 * layer}.weight"] = params[2 * layer][m].detach().T.numpy().copy()
        out[f"{2 * layer}.bias"] = params[2 * layer + 1][m, 0].detach().numpy().copy()
    return out


def _padded(arrays: list[np.ndarray], n_max: int, dtype: Any) -> Any:
    import torch

    shape = (len(arrays), n_max, *arrays[0].shape[1:])
    out = np.zeros(shape, dtype=dtype)
    for m, a in enumerate(arrays):
        out[m, : len(a)] = a
    return torch.from_numpy(out)


def train_mlp_stack(
    tasks: list[StackTask], cfg: ClassifierConfig, progress: bool | None = False
) -> list[tuple[dict[str, np.ndarray] | list[dict[str, np.ndarray]], list[float]]]:
    """Train one MLP per task, all together; per task ``(weights, validation history)``.

    The weights are the best epoch's ``state_dict`` (numpy), or the ``cfg.top_epochs`` best,
    best first; the history is the validation loss of every epoch the member ran (it stops
    after ``cfg.patience`` epochs without improvement, as a lone training does).
    """
    import torch

    if not tasks:
        return []
    n_members = len(tasks)
    n_in = tasks[0].z.shape[1]
    params = _initial_weights(tasks, n_in, cfg)
    sizes = [len(t.z) for t in tasks]
    x = _padded([t.z for t in tasks], max(sizes), np.float32)
    y = _padded([t.y for t in tasks], max(sizes), np.float32)
    w = _padded([t.w for t in tasks], max(sizes), np.float32)
    val = [
        tuple(torch.from_numpy(np.asarray(a, np.float32)) for a in (t.z_val, t.y_val, t.w_val))
        for t in tasks
    ]
    gens = [torch.Generator().manual_seed(t.seed) for t in tasks]
    bsz = cfg.batch_size
    steps = np.array([math.ceil(n / bsz) for n in sizes])
    exp_avg = [torch.zeros_like(p) for p in params]
    exp_avg_sq = [torch.zeros_like(p) for p in params]
    n_steps = torch.zeros(n_members, dtype=torch.float64)
    rows = torch.arange(n_members)[:, None]
    running = np.ones(n_members, bool)
    best = np.full(n_members, np.inf)
    stale = np.zeros(n_members, int)
    history: list[list[float]] = [[] for _ in tasks]
    kept: list[list[tuple[float, int, dict[str, np.ndarray]]]] = [[] for _ in tasks]
    loss_fn = torch.nn.functional.binary_cross_entropy_with_logits
    epochs = track(range(cfg.max_epochs), cfg.max_epochs, "MLP ensemble epochs", progress)
    for epoch in epochs:
        if not running.any():
            continue  # every member stopped early: run out the progress bar
        n_batches = int(steps[running].max())
        # each running member's own permutation, cut into its batches; padding rows
        # (row 0, weight 0) fill the last batch and the batches it has fewer than others
        index = torch.zeros((n_members, n_batches * bsz), dtype=torch.long)
        mask = torch.zeros((n_members, n_batches * bsz))
        for m in map(int, np.flatnonzero(running)):
            index[m, : sizes[m]] = torch.randperm(sizes[m], generator=gens[m])
            mask[m, : sizes[m]] = 1.0
        # a lone member's batches are perm.split(bsz): the same rows, batch by batch
        index = index.view(n_members, n_batches, bsz)
        mask = mask.view(n_members, n_batches, bsz)
        count = mask.sum(-1)
        for s in range(n_batches):
            idx = index[:, s]
            live = count[:, s] > 0
            logits = _forward(params, x[rows, idx])
            per_row = loss_fn(logits, y[rows, idx], weight=w[rows, idx] * mask[:, s],
                              reduction="none")  # fmt: skip
            loss = (per_row.sum(1) / count[:, s].clamp(min=1.0)).sum()
            grads = torch.autograd.grad(loss, params)
            n_steps += live.double()
            _adam(params, grads, exp_avg, exp_avg_sq, n_steps, live, cfg)
        for m in map(int, np.flatnonzero(running)):
            zv, yv, wv = val[m]
            with torch.no_grad():
                single = [p[m : m + 1] for p in params]
                v = float(loss_fn(_forward(single, zv[None])[0], yv, weight=wv))
            history[m].append(v)
            top = kept[m]
            if len(top) < cfg.top_epochs or v < top[-1][0] - 1e-7:
                top.append((v, epoch, _state_dict(params, m)))
                top.sort(key=lambda t: (t[0], t[1]))
                del top[cfg.top_epochs :]
            if v < best[m] - 1e-7:
                best[m], stale[m] = v, 0
            else:
                stale[m] += 1
                if stale[m] >= cfg.patience:
                    running[m] = False
    out = []
    for top, hist in zip(kept, history, strict=True):
        states = [copy.deepcopy(st) for _, _, st in top]
        out.append((states[0] if cfg.top_epochs == 1 else states, hist))
    return out


def _adam(
    params: list[Any],
    grads: tuple[Any, ...],
    exp_avg: list[Any],
    exp_avg_sq: list[Any],
    n_steps: Any,
    live: Any,
    cfg: ClassifierConfig,
) -> None:
    """One Adam step (torch.optim.Adam's algorithm, L2 weight decay) of the live members,
    each with its own step count ``n_steps`` (already counting this step)."""
    import torch

    bc1 = (1.0 - _BETA1**n_steps).clamp(min=1e-300)
    bc2_sqrt = (1.0 - _BETA2**n_steps).clamp(min=1e-300).sqrt().float()
    step_size = (cfg.lr / bc1).float()
    every = bool(live.all())
    with torch.no_grad():
        for p, grad, m1, m2 in zip(params, grads, exp_avg, exp_avg_sq, strict=True):
            shape = (-1,) + (1,) * (p.dim() - 1)
            g = grad.add(p, alpha=cfg.weight_decay) if cfg.weight_decay else grad
            if every:  # the common step: no member to hold still
                m1.lerp_(g, 1.0 - _BETA1)
                m2.mul_(_BETA2).addcmul_(g, g, value=1.0 - _BETA2)
                denom = (m2.sqrt() / bc2_sqrt.view(shape)).add_(_EPS)
                p.sub_(m1 / denom * step_size.view(shape))
                continue
            on = live.view(shape)
            m1.copy_(torch.where(on, m1.lerp(g, 1.0 - _BETA1), m1))
            m2.copy_(torch.where(on, m2 * _BETA2 + (1.0 - _BETA2) * g * g, m2))
            denom = (m2.sqrt() / bc2_sqrt.view(shape)).add_(_EPS)
            p.sub_(torch.where(on, m1 / denom * step_size.view(shape), torch.zeros_like(p)))
