"""The pretraining loop: contrastive (two views, NT-Xent) or masked-particle modelling.

:func:`pretrain` runs a :class:`~adsearch.pretrain.config.PretrainConfig`:

1. jets from the features file (:func:`adsearch.train.data.load_jets`), the per-event split
   of :func:`adsearch.train.data.split_events`, training and validation jets
   (:func:`adsearch.train.data.training_jets`); padded ``basic`` inputs
   ``(x [B, N, 3], mask [B, N])`` from :class:`adsearch.train.data.InputBuilder`;
2. encoder and projection head (contrastive) or mask token and prediction head (``mpm``)
   initialised from ``seed``; the encoder's input standardisation fitted on
   ``data.norm_jets`` training jets;
3. epochs of AdamW. ``contrastive``: per batch two views of every jet
   (:func:`~adsearch.pretrain.augment.random_view`), loss
   :func:`~adsearch.pretrain.losses.nt_xent` of their projections; after each epoch the
   held-out contrastive loss on the validation jets (with views fixed once for the run, so
   epochs compare) and the alignment and uniformity of the normalised validation
   embeddings (:mod:`adsearch.pretrain.quality`). ``mpm``: per batch a random
   ``mpm.mask_fraction`` of every jet's constituents hidden
   (:func:`~adsearch.pretrain.mpm.mask_constituents`), loss the masked-slot MSE of
   :class:`~adsearch.pretrain.mpm.MPMModel`; after each epoch the held-out MPM loss (hidden
   constituents fixed once for the run) and the uniformity of the validation embeddings of
   the whole jets (a collapse monitor). Early stopping after ``optim.patience`` epochs
   without improvement of the held-out loss;
4. after every epoch, atomically: ``checkpoint.pt`` (weights, optimiser, progress: what a
   resume needs), ``metrics.json`` (one row per epoch) and, when the held-out loss
   improved, ``encoder.pt`` (:mod:`adsearch.pretrain.encoder`).

Every random draw has its own ``torch.Generator``, seeded from ``seed`` and its position
(epoch, batch) only: a run resumed after epoch ``k`` replays the uninterrupted run bit for
bit (deterministic kernels on; a batch of a single jet, which has no negative, is skipped).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import Tensor

from adsearch.config import from_dict, to_dict
from adsearch.errors import ConfigError, InputError, TrainingError
from adsearch.io.atomic import atomic_path
from adsearch.models.files import read_blob
from adsearch.pretrain.augment import add_prong, random_view
from adsearch.pretrain.config import PretrainConfig
from adsearch.pretrain.encoder import ENCODER, ContrastiveModel, build_contrastive, encoder_blob
from adsearch.pretrain.losses import nt_xent
from adsearch.pretrain.mpm import MPMModel, build_mpm, mask_constituents
from adsearch.pretrain.quality import alignment, uniformity
from adsearch.progress import progress_bar
from adsearch.train.data import InputBuilder, JetSample, load_jets, split_events, training_jets

__all__ = ["CHECKPOINT", "METRICS", "PretrainResult", "pretrain"]

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_FORMAT = "adsearch-pretrain-checkpoint"
METRICS = "metrics.json"
FORMAT_VERSION = 1

# stream names of the seeded generators (first key after the seed); views or hidden sets
_ORDER, _TRAIN_VIEWS, _VAL_VIEWS, _NORM = 0, 1, 2, 3


@dataclass
class PretrainResult:
    """What :func:`pretrain` did: metrics per epoch, the best epoch and the output folder.

    ``model`` holds the last epoch's weights (the best epoch's encoder is in ``encoder.pt``).
    """

    history: list[dict[str, float]]
    best_epoch: int
    best_val_loss: float
    stopped_early: bool
    out_dir: Path
    model: ContrastiveModel | MPMModel | None = field(default=None, repr=False)


def _generator(seed: int, *keys: int) -> torch.Generator:
    """A CPU generator seeded from ``seed`` and non-negative ``keys`` (independent streams)."""
    state = np.random.SeedSequence([seed, *keys]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def _device(want: str) -> torch.device:
    if want == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: 'cuda' requested but CUDA is not available")
    if want == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


def _batches(order: np.ndarray, size: int) -> list[np.ndarray]:
    """Consecutive batches of ``order``; a last batch of one jet is dropped (no negative)."""
    out = [order[i : i + size] for i in range(0, len(order), size)]
    return [b for b in out if len(b) >= 2]


@dataclass
class _Run:
    """What the epochs of one pretraining share."""

    cfg: PretrainConfig
    model: ContrastiveModel | MPMModel
    builder: InputBuilder
    sample: JetSample
    optim: torch.optim.Optimizer
    device: torch.device

    def views(
        self, idx: np.ndarray, g: torch.Generator
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, list[tuple[Tensor, Tensor]]]:
        """Two random views ``(x1, m1, x2, m2)`` of the jets ``idx`` (on the run's device)
        and their ``views.anomalous`` anomalous views ``[(xa, ma), ...]``: the k-th a
        further random view with k prongs added (an empty list when off)."""
        x, mask = self.builder.dense(self.sample, idx)
        v = self.cfg.views
        kw: dict[str, Any] = {
            "rotation": v.rotation,
            "translation": v.translation,
            "collinear": v.collinear,
            "soft": v.soft,
            "pt_smear": v.pt_smear,
        }
        x1, m1 = random_view(x.cpu(), mask.cpu(), g, **kw)
        x2, m2 = random_view(x.cpu(), mask.cpu(), g, **kw)
        d = self.device
        anomalous = []
        for k in range(1, v.anomalous + 1):
            xa, ma = random_view(x.cpu(), mask.cpu(), g, **kw)
            for _ in range(k):
                xa, ma = add_prong(xa, ma, g, constituents=v.prong_constituents)
            anomalous.append((xa.to(d), ma.to(d)))
        return x1.to(d), m1.to(d), x2.to(d), m2.to(d), anomalous

    def contrastive(
        self, idx: np.ndarray, g: torch.Generator
    ) -> tuple[Tensor, tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
        """NT-Xent of the jets ``idx`` (with the anomalous views as extra negatives when on)
        and the ``(embedding, projection)`` of both views."""
        assert isinstance(self.model, ContrastiveModel)
        x1, m1, x2, m2, anomalous = self.views(idx, g)
        o1, o2 = self.model(x1, m1), self.model(x2, m2)
        neg = torch.cat([self.model(*a)[1] for a in anomalous]) if anomalous else None
        return nt_xent(o1[1], o2[1], self.cfg.temperature, negatives=neg), o1, o2

    def hidden(self, idx: np.ndarray, g: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """The jets ``idx`` and the constituents to hide: ``(x, mask, hide)``."""
        x, mask = self.builder.dense(self.sample, idx)
        mask = mask.to(torch.bool)
        hide = mask_constituents(mask.cpu(), self.cfg.mpm.mask_fraction, g)
        return x, mask, hide.to(self.device)

    def loss(self, idx: np.ndarray, g: torch.Generator) -> Tensor:
        """The objective's loss of the jets ``idx`` (views or hidden sets from ``g``)."""
        if isinstance(self.model, MPMModel):
            return self.model.loss(*self.hidden(idx, g))
        return self.contrastive(idx, g)[0]


@dataclass
class _Book:
    """Progress of a run (saved in ``checkpoint.pt``): metrics rows, best epoch, bad epochs."""

    history: list[dict[str, float]] = field(default_factory=list)
    epochs_done: int = 0
    best_val: float = math.inf
    best_epoch: int = -1
    bad: int = 0

    def stopped(self, patience: int) -> bool:
        return self.bad >= patience

    def record(self, row: dict[str, float], min_delta: float) -> bool:
        """Append an epoch's row; whether its held-out loss beat the best by ``min_delta``."""
        self.history.append(row)
        self.epochs_done = int(row["epoch"])
        improved = row["val_loss"] < self.best_val - min_delta
        if improved:
            self.best_val, self.best_epoch, self.bad = row["val_loss"], self.epochs_done, 0
        else:
            self.bad += 1
        return improved


def _data(
    cfg: PretrainConfig, sample: JetSample | None
) -> tuple[JetSample, np.ndarray, np.ndarray]:
    d = cfg.data
    if sample is None:
        sample, _ = load_jets(d.path, d.max_events)
    elif d.max_events is not None:
        sample = sample.take(np.flatnonzero(sample.event < d.max_events))
    split = split_events(sample.n_events, d.train_fraction, d.val_fraction, d.seed)
    tr = training_jets(sample, split, 0, d.mode, "pretrain")
    va = training_jets(sample, split, 1, d.mode, "pretrain")
    if len(tr) < 2 or len(va) < 2:
        raise InputError(
            f"{d.path or 'data'}: too few jets to pretrain ({len(tr)} train, {len(va)} "
            "validation; at least 2 each); use more events or larger fractions"
        )
    return sample, tr, va


@torch.no_grad()
def _fit_input_norm(run: _Run, tr_idx: np.ndarray) -> None:
    """Fit the encoder's input standardisation on the real constituents of norm jets."""
    perm = torch.randperm(len(tr_idx), generator=_generator(run.cfg.seed, _NORM)).numpy()
    idx = np.sort(tr_idx[perm[: run.cfg.data.norm_jets]])
    rows = []
    for i in range(0, len(idx), 4096):
        x, mask = run.builder.dense(run.sample, idx[i : i + 4096])
        rows.append(x[mask.to(torch.bool)].cpu())
    run.model.encoder.input_norm.fit(torch.cat(rows))


def _train_epoch(run: _Run, epoch: int, tr_idx: np.ndarray, bar: Any) -> float:
    """One epoch of optimisation steps; the jet-weighted mean training loss."""
    cfg = run.cfg
    run.model.train()
    perm = torch.randperm(len(tr_idx), generator=_generator(cfg.seed, _ORDER, epoch)).numpy()
    batches = _batches(tr_idx[perm], cfg.optim.batch_size)
    task = bar.add_task(f"epoch {epoch + 1}/{cfg.optim.epochs}", total=len(batches))
    s, n = 0.0, 0
    for b, idx in enumerate(batches):
        loss = run.loss(idx, _generator(cfg.seed, _TRAIN_VIEWS, epoch, b))
        if not torch.isfinite(loss):
            raise TrainingError(f"epoch {epoch + 1}: loss is {float(loss)}; lower optim:lr")
        run.optim.zero_grad(set_to_none=True)
        loss.backward()
        run.optim.step()
        s += float(loss.detach()) * len(idx)
        n += len(idx)
        bar.advance(task)
    bar.remove_task(task)
    return s / max(n, 1)


@torch.no_grad()
def _validate(run: _Run, va_idx: np.ndarray) -> dict[str, float]:
    """Held-out loss (jet-weighted) and embedding quality on the validation jets, with views
    or hidden sets seeded by ``seed`` and batch only: contrastive, alignment and uniformity
    of the encoder embeddings; ``mpm``, uniformity of the embeddings of the whole jets."""
    cfg = run.cfg
    run.model.eval()
    if isinstance(run.model, MPMModel):
        return _validate_mpm(run, run.model, va_idx)
    s, n = 0.0, 0
    h1s, h2s = [], []
    for b, idx in enumerate(_batches(va_idx, cfg.optim.batch_size)):
        loss, (h1, _), (h2, _) = run.contrastive(idx, _generator(cfg.seed, _VAL_VIEWS, b))
        s += float(loss) * len(idx)
        n += len(idx)
        h1s.append(h1.double().cpu())
        h2s.append(h2.double().cpu())
    h1, h2 = torch.cat(h1s), torch.cat(h2s)
    return {
        "val_loss": s / max(n, 1),
        "alignment": float(alignment(h1, h2)),
        "uniformity": float(uniformity(h1)),
    }


def _validate_mpm(run: _Run, model: MPMModel, va_idx: np.ndarray) -> dict[str, float]:
    s, n, hs = 0.0, 0, []
    for b, idx in enumerate(_batches(va_idx, run.cfg.optim.batch_size)):
        x, mask, hide = run.hidden(idx, _generator(run.cfg.seed, _VAL_VIEWS, b))
        s += float(model.loss(x, mask, hide)) * len(idx)
        n += len(idx)
        hs.append(model.encoder((x, mask)).double().cpu())
    return {"val_loss": s / max(n, 1), "uniformity": float(uniformity(torch.cat(hs)))}


def _resume_key(config: dict[str, Any]) -> dict[str, Any]:
    """The config a resumed run must share with its checkpoint: all but ``out_dir``,
    ``device`` and the stopping rule (``optim.epochs``, ``optim.patience``)."""
    key = {k: v for k, v in config.items() if k not in ("out_dir", "device")}
    key["optim"] = {k: v for k, v in key["optim"].items() if k not in ("epochs", "patience")}
    return key


def _resume(path: Path, cfg_dict: dict[str, Any], run: _Run) -> _Book:
    ck = read_blob(
        path, CHECKPOINT_FORMAT, "a pretraining checkpoint", "no checkpoint to resume from"
    )
    saved = to_dict(from_dict(PretrainConfig, ck["config"], source=str(path)))  # new defaults
    if _resume_key(saved) != _resume_key(cfg_dict):
        raise ConfigError(f"{path}: config differs from the checkpoint's; cannot resume")
    try:
        run.model.load_state_dict(ck["model"])
    except RuntimeError:  # e.g. an MPM checkpoint from before the rank embedding
        raise ConfigError(
            f"{path}: the checkpoint's model does not match this version's; cannot resume"
        ) from None
    run.optim.load_state_dict(ck["optimizer"])
    return _Book(
        history=list(ck["history"]),
        epochs_done=int(ck["epoch"]),
        best_val=float(ck["best_val"]),
        best_epoch=int(ck["best_epoch"]),
        bad=int(ck["bad_epochs"]),
    )


def _save(obj: dict[str, Any], path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _save_epoch(out: Path, run: _Run, cfg_dict: dict[str, Any], book: _Book, best: bool) -> None:
    """``encoder.pt`` (if ``best``), ``checkpoint.pt`` and ``metrics.json``, atomically."""
    if best:
        _save(encoder_blob(run.model, cfg_dict, book.epochs_done), out / ENCODER)
    state = {k: v.detach().cpu().clone() for k, v in run.model.state_dict().items()}
    _save(
        {
            "format": CHECKPOINT_FORMAT,
            "version": FORMAT_VERSION,
            "config": cfg_dict,
            "epoch": book.epochs_done,
            "model": state,
            "optimizer": run.optim.state_dict(),
            "best_val": book.best_val,
            "best_epoch": book.best_epoch,
            "bad_epochs": book.bad,
            "history": book.history,
        },
        out / CHECKPOINT,
    )
    with atomic_path(out / METRICS) as tmp:
        tmp.write_text(json.dumps(book.history, indent=1))


def pretrain(
    cfg: PretrainConfig,
    resume: bool = False,
    progress: bool | None = None,
    sample: JetSample | None = None,
) -> PretrainResult:
    """Pretrain the encoder of ``cfg`` (``cfg.objective``); see the module docstring.

    Parameters
    ----------
    cfg : the pretraining configuration.
    resume : continue from ``out_dir/checkpoint.pt`` (the config must match, except
        ``out_dir``, ``device``, ``optim.epochs`` and ``optim.patience``).
    progress : show a progress bar (default: on a terminal).
    sample : jets to use instead of reading ``cfg.data.path`` (tests, pipelines).
    """
    det = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        return _pretrain(cfg, resume, progress, sample)
    finally:  # leave the caller's torch settings as they were
        torch.use_deterministic_algorithms(det[0], warn_only=det[1])


def _pretrain(
    cfg: PretrainConfig, resume: bool, progress: bool | None, sample: JetSample | None
) -> PretrainResult:
    device = _device(cfg.device)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sample, tr_idx, va_idx = _data(cfg, sample)
    graph = {"node_features": "basic", "max_constituents": cfg.data.max_constituents}
    model = (build_mpm(cfg) if cfg.objective == "mpm" else build_contrastive(cfg)).to(device)
    optim = torch.optim.AdamW(
        model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay
    )
    run = _Run(cfg, model, InputBuilder("dense", graph, device), sample, optim, device)
    cfg_dict = to_dict(cfg)
    if resume:
        book = _resume(out / CHECKPOINT, cfg_dict, run)
    else:
        book = _Book()
        _fit_input_norm(run, tr_idx)
    with atomic_path(out / "config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(cfg_dict, sort_keys=False))
    with progress_bar(progress) as bar:
        for epoch in range(book.epochs_done, cfg.optim.epochs):
            if book.stopped(cfg.optim.patience):
                break
            t0 = time.perf_counter()
            train_loss = _train_epoch(run, epoch, tr_idx, bar)
            row = {"epoch": epoch + 1, "train_loss": train_loss, **_validate(run, va_idx)}
            row["epoch_time_s"] = time.perf_counter() - t0
            best = book.record(row, cfg.optim.min_delta)
            _save_epoch(out, run, cfg_dict, book, best)
    return PretrainResult(
        book.history,
        book.best_epoch,
        book.best_val,
        book.stopped(cfg.optim.patience),
        out,
        model,
    )
