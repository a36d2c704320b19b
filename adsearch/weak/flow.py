"""The conditional density estimator of CATHODE: a zuko normalizing flow ``p(x | m)``.

Trained on the sidebands, it is sampled inside the signal region at the data's mjj and so
interpolates the background into the signal region (Hallin et al., PRD 106, 055006). The
flow is zuko's masked autoregressive flow (affine, as CATHODE) or neural spline flow with
one context variable.

Preprocessing (CATHODE's): each feature is min-max scaled to ``(0, 1)`` over the training
range (widened by :data:`MARGIN` on both sides), logit-transformed and standardised; the
condition ``m`` is standardised. Samples are mapped back, so they stay inside the widened
training range. :meth:`ConditionalFlow.log_prob` includes the Jacobian of the
preprocessing: it is the density of the original features.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> m = rng.uniform(0, 1, 2000)
>>> x = rng.normal(m, 0.2)[:, None]
>>> flow = ConditionalFlow(FlowConfig(transforms=2, hidden=[16], max_epochs=3)).fit(x, m, 0)
>>> flow.sample(np.full(5, 0.5), seed=1).shape
(5, 1)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adsearch.errors import InputError
from adsearch.progress import track
from adsearch.weak.config import FlowConfig

__all__ = ["MARGIN", "ConditionalFlow", "Preprocessor"]

#: widening of the min-max range (fraction of the width, each side) before the logit
MARGIN = 0.01
_EPS = 1e-6


@dataclass
class Preprocessor:
    """Min-max + logit + standardisation of the features, standardisation of the condition.

    >>> p = Preprocessor.fit(np.array([[0.0], [1.0], [2.0]]), np.array([1.0, 2.0, 3.0]))
    >>> z, _ = p.forward(np.array([[1.0]]))
    >>> np.allclose(p.inverse(z), 1.0)
    True
    """

    lo: np.ndarray
    hi: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    m_mean: float
    m_std: float
    logit: bool = True

    @classmethod
    def fit(cls, x: np.ndarray, m: np.ndarray, logit: bool = True) -> Preprocessor:
        """The transformation fitted to training features ``x`` and conditions ``m``."""
        lo, hi = x.min(axis=0), x.max(axis=0)
        width = np.where(hi > lo, hi - lo, 1.0)
        lo, hi = lo - MARGIN * width, hi + MARGIN * width
        p = cls(lo, hi, np.zeros(x.shape[1]), np.ones(x.shape[1]), 0.0, 1.0, logit)
        z, _ = p._unstandardised(x)
        std = z.std(axis=0)
        p.mean, p.std = z.mean(axis=0), np.where(std > 0, std, 1.0)
        m_std = float(np.std(m))
        p.m_mean, p.m_std = float(np.mean(m)), m_std if m_std > 0 else 1.0
        return p

    def _unstandardised(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.logit:
            return x.copy(), np.zeros(len(x))
        u = np.clip((x - self.lo) / (self.hi - self.lo), _EPS, 1 - _EPS)
        logdet = -np.log(u) - np.log1p(-u) - np.log(self.hi - self.lo)
        return np.log(u) - np.log1p(-u), logdet.sum(axis=1)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(z, log|dz/dx|)`` of features ``x``."""
        z, logdet = self._unstandardised(np.asarray(x, dtype=np.float64))
        return (z - self.mean) / self.std, logdet - np.log(self.std).sum()

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Features of flow-space points ``z``."""
        t = np.asarray(z, dtype=np.float64) * self.std + self.mean
        if not self.logit:
            return t
        return self.lo + (self.hi - self.lo) / (1.0 + np.exp(-np.clip(t, -50, 50)))

    def condition(self, m: np.ndarray) -> np.ndarray:
        """Standardised condition, shape ``(n, 1)``."""
        return ((np.asarray(m, dtype=np.float64) - self.m_mean) / self.m_std)[:, None]


@dataclass
class ConditionalFlow:
    """A conditional normalizing flow ``p(x | m)`` with a scikit-learn-like interface.

    ``fit(x, m, seed)`` trains it (early stopping on a seeded validation split, best epoch
    kept); ``sample(m, seed)`` draws one ``x`` per condition; ``log_prob(x, m)`` evaluates
    the density. Same seed, same flow and samples.
    """

    cfg: FlowConfig = field(default_factory=FlowConfig)
    n_features: int = 0
    pre: Preprocessor | None = None
    state: dict[str, np.ndarray] | None = None
    history: list[float] = field(default_factory=list)
    states: list[dict[str, np.ndarray]] = field(default_factory=list)
    restarts: list[int] = field(default_factory=list)
    #: validation-loss history of each training (``n_flows``); ``history`` joins them
    histories: list[list[float]] = field(default_factory=list)

    def _build(self, state: dict[str, np.ndarray] | None) -> Any:
        import torch
        import zuko

        kind = zuko.flows.MAF if self.cfg.kind == "maf" else zuko.flows.NSF
        flow = kind(
            self.n_features,
            context=1,
            transforms=self.cfg.transforms,
            hidden_features=tuple(self.cfg.hidden),
        )
        if state is not None:
            flow.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
        flow.eval()
        return flow

    def fit(
        self, x: np.ndarray, m: np.ndarray, seed: int, progress: bool | None = None
    ) -> ConditionalFlow:
        """Train on features ``x`` ``(n, d)`` with conditions ``m`` ``(n,)``; returns self."""
        import torch

        x = np.asarray(x, dtype=np.float64)
        m = np.asarray(m, dtype=np.float64)
        if x.ndim != 2 or m.shape != (len(x),):
            raise InputError(f"flow: features {x.shape} and condition {m.shape} do not match")
        if not (np.isfinite(x).all() and np.isfinite(m).all()):
            raise InputError("flow: the training features or conditions contain NaN/inf")
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(x))
        n_val = max(1, round(self.cfg.val_fraction * len(x)))
        if len(x) - n_val < 2:
            raise InputError(f"flow: {len(x)} training events are too few")
        self.n_features = x.shape[1]
        self.state, self.states, self.restarts = None, [], []
        tr, va = order[n_val:], order[:n_val]
        self.pre = Preprocessor.fit(x[tr], m[tr], self.cfg.logit)
        z, _ = self.pre.forward(x)
        c = self.pre.condition(m)
        zt, ct = (torch.from_numpy(a[tr].astype(np.float32)) for a in (z, c))
        zv, cv = (torch.from_numpy(a[va].astype(np.float32)) for a in (z, c))
        self.history, self.histories, pooled = [], [], []
        for i in range(self.cfg.n_flows):
            kept, history = self._train_one(zt, ct, zv, cv, _member_seed(seed, i), progress)
            pooled += kept
            self.histories.append(history)
            self.history += history
        self.states = [{k: t.numpy().copy() for k, t in st.items()} for st in pooled]
        self.state = self.states[0]
        return self

    def _train_one(
        self, zt: Any, ct: Any, zv: Any, cv: Any, seed: int, progress: bool | None
    ) -> tuple[list[dict[str, Any]], list[float]]:
        """One training from the seeded initialisation: its ``n_best`` kept epochs' states
        (best first) and its validation-loss history."""
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            flow = self._build(None)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(flow.parameters(), lr=self.cfg.lr)
        sched = _scheduler(opt, self.cfg)
        kept: list[tuple[float, int, dict[str, Any]]] = []  # (val loss, epoch, state), best first
        best, stale, history = np.inf, 0, []
        for epoch in track(range(self.cfg.max_epochs), self.cfg.max_epochs, "flow", progress):
            flow.train()
            for idx in torch.randperm(len(zt), generator=gen).split(self.cfg.batch_size):
                opt.zero_grad()
                loss = -flow(ct[idx]).log_prob(zt[idx]).mean()
                loss.backward()
                opt.step()
            flow.eval()
            with torch.no_grad():
                v = float(-flow(cv).log_prob(zv).mean())
            history.append(v)
            if np.isfinite(v) and (len(kept) < self.cfg.n_best or v < kept[-1][0]):
                kept.append((v, epoch, copy.deepcopy(flow.state_dict())))
                kept = sorted(kept, key=lambda t: (t[0], t[1]))[: self.cfg.n_best]
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                lr = opt.param_groups[0]["lr"]
                sched.step(v)
                if opt.param_groups[0]["lr"] < lr and kept:
                    # restart from the best epoch at the lower rate, Adam's moments reset: a
                    # training knocked off by a loss spike resumes where it was best instead
                    # of creeping back at the lowered rate
                    flow.load_state_dict(kept[0][2])
                    opt.state.clear()
                    self.restarts.append(epoch)
            elif sched is not None:
                sched.step()
            if v < best - 1e-6:
                best, stale = v, 0
            else:
                stale += 1
                if stale >= self.cfg.patience and self.cfg.lr_schedule != "cosine":
                    break
        if not kept:  # every epoch gave a non-finite loss
            raise InputError("flow: training diverged (non-finite validation loss)")
        return [st for _, _, st in kept], history

    def _ready(self) -> tuple[list[Any], Preprocessor]:
        if self.state is None or self.pre is None:
            raise InputError("flow: not trained (call fit first)")
        return [self._build(st) for st in (self.states or [self.state])], self.pre

    def sample(self, m: np.ndarray, seed: int, batch: int = 65536) -> np.ndarray:
        """One sample ``x ~ p(x | m_i)`` per condition ``m_i``; ``(len(m), d)``.

        With several kept epochs (``n_best`` of each of ``n_flows`` trainings) each condition
        draws its epoch uniformly (seeded), i.e. samples the equal mixture.
        """
        import torch

        flows, pre = self._ready()
        cond = pre.condition(m).astype(np.float32)
        which = np.random.default_rng(seed).integers(len(flows), size=len(cond))
        z = np.zeros((len(cond), self.n_features))
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            for i, flow in enumerate(flows):
                rows = np.flatnonzero(which == i) if len(flows) > 1 else np.arange(len(cond))
                for start in range(0, len(rows), batch):
                    part = rows[start : start + batch]
                    c = torch.from_numpy(cond[part])
                    z[part] = flow(c).sample().numpy().astype(np.float64)
        return pre.inverse(z)

    def latent(self, x: np.ndarray, m: np.ndarray, batch: int = 65536) -> np.ndarray:
        """The flow's base-space image ``z = f(x; m)`` of each event, ``(len(x), d)``.

        The map of the best kept epoch (``state``), through the preprocessing: on the
        training distribution ``z`` is standard normal at every ``m``, so a region of ``z``
        holds the same background fraction at every mass (the latent space of LaCATHODE:
        Hallin et al., "Resonant anomaly detection without background sculpting", PRD 107,
        114012). Features outside the widened training range are clipped to its edge first.

        >>> rng = np.random.default_rng(0)
        >>> m = rng.uniform(0, 1, 4000)
        >>> x = rng.normal(3 * m, 0.2)[:, None]
        >>> cfg = FlowConfig(transforms=2, hidden=[16], max_epochs=30, lr=1e-2, batch_size=256)
        >>> z = ConditionalFlow(cfg).fit(x, m, 0).latent(x, m)
        >>> bool(abs(np.corrcoef(z[:, 0], m)[0, 1]) < 0.15 < 0.9 < np.corrcoef(x[:, 0], m)[0, 1])
        True
        """
        import torch

        if self.state is None or self.pre is None:
            raise InputError("flow: not trained (call fit first)")
        flow = self._build(self.state)
        u, _ = self.pre.forward(np.asarray(x, dtype=np.float64))
        cond = self.pre.condition(m).astype(np.float32)
        z = np.empty_like(u)
        with torch.no_grad():
            for start in range(0, len(u), batch):
                sl = slice(start, start + batch)
                dist = flow(torch.from_numpy(cond[sl]))
                z[sl] = dist.transform(torch.from_numpy(u[sl].astype(np.float32))).numpy()
        return z

    def to_blob(self) -> dict[str, Any]:
        """The trained flow as a ``torch.save``-able dict: configuration, preprocessing,
        the kept epochs' weights and the validation-loss histories (:meth:`from_blob`)."""
        import dataclasses

        import torch

        if self.state is None or self.pre is None:
            raise InputError("flow: not trained (call fit first)")
        pre = {
            k: np.asarray(v, dtype=np.float64)
            for k, v in dataclasses.asdict(self.pre).items()
            if k != "logit"
        }
        return {
            "config": dataclasses.asdict(self.cfg),
            "n_features": self.n_features,
            "preprocessing": {k: torch.from_numpy(np.atleast_1d(v)) for k, v in pre.items()},
            "logit": self.pre.logit,
            "state": {k: torch.from_numpy(v) for k, v in self.state.items()},
            # the n_best kept epochs (the first is ``state``): the flow is their mixture
            "states": [{k: torch.from_numpy(v) for k, v in st.items()} for st in self.states],
            "history": self.history,
            "histories": self.histories,
        }

    @classmethod
    def from_blob(cls, blob: dict[str, Any]) -> ConditionalFlow:
        """Inverse of :meth:`to_blob`: the same densities and samples as the saved flow."""
        try:
            pre = {k: v.numpy().astype(np.float64) for k, v in blob["preprocessing"].items()}
            flow = cls(
                cfg=FlowConfig(**blob["config"]),
                n_features=int(blob["n_features"]),
                pre=Preprocessor(
                    lo=pre["lo"],
                    hi=pre["hi"],
                    mean=pre["mean"],
                    std=pre["std"],
                    m_mean=float(pre["m_mean"][0]),
                    m_std=float(pre["m_std"][0]),
                    logit=bool(blob["logit"]),
                ),
                state={k: v.numpy() for k, v in blob["state"].items()},
                history=list(blob.get("history", [])),
                histories=[list(h) for h in blob.get("histories", [])],
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise InputError(f"flow: not a saved flow ({type(e).__name__}: {e})") from None
        flow.states = [{k: v.numpy() for k, v in st.items()} for st in blob.get("states", [])]
        return flow

    def log_prob(self, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """``log p(x | m)`` of the original features (preprocessing Jacobian included).

        With several kept epochs: the log of the mixture's mean density.
        """
        import torch

        flows, pre = self._ready()
        z, logdet = pre.forward(np.asarray(x, dtype=np.float64))
        c = torch.from_numpy(pre.condition(m).astype(np.float32))
        zt = torch.from_numpy(z.astype(np.float32))
        with torch.no_grad():
            lps = torch.stack([f(c).log_prob(zt) for f in flows])
            lp = (torch.logsumexp(lps.double(), 0) - np.log(len(flows))).numpy()
        return lp + logdet


def _member_seed(seed: int, i: int) -> int:
    """Seed of training ``i`` of ``n_flows``: ``seed`` itself for the first (one training
    reproduces the single-flow default), independent streams for the others."""
    if i == 0:
        return seed
    return int(np.random.SeedSequence([seed, i]).generate_state(1)[0])


def _scheduler(opt: Any, cfg: FlowConfig) -> Any:
    """The learning-rate schedule of ``cfg.lr_schedule`` (``None``: constant)."""
    import torch

    if cfg.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.max_epochs)
    if cfg.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.2, patience=2)
    return None
