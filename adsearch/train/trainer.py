"""The training loop: CPU or CUDA, AMP, DDP (torchrun), checkpoints, resume, early stopping.

:func:`train` runs a :class:`~adsearch.train.config.TrainConfig` end to end:

1. jets from the features file, per-event split (train / val / test), training jets
   (background only, or the unlabelled mixture in ``data-like`` mode);
2. model from the registry (initialised from ``runtime.seed``); its input standardisation
   fitted on ``data.norm_jets`` training jets (a pretrained encoder, ``model.encoder``,
   keeps its own); DeepSVDD centre ``c`` fixed from the initial
   embeddings of the first training batches (training mode, guard relative to their RMS);
3. epochs of AdamW on shuffled mini-batches (order from ``seed`` and epoch only, so a resumed
   run replays the uninterrupted one exactly); validation loss after each epoch; soft-boundary
   radius update; DeepSVDD collapse monitor (``spread``, ``dist_mean``, ``dist_cv`` in the
   metrics; an error when collapsed) and the shrinkage of its Mahalanobis metric
   (``metric_shrinkage``); early stopping after ``patience`` epochs without
   improvement;
4. after every epoch, atomically: ``checkpoint.pt`` (everything needed to resume),
   ``metrics.csv`` / ``metrics.json`` (loss, time, throughput per epoch), and ``model.pt``
   (best weights so far, with the config to rebuild the model).

Under ``torchrun`` (or any initialised ``torch.distributed`` process group) each rank trains
on its shard of every epoch's permutation with ``DistributedDataParallel``; ``batch_size``
is the global batch. Rank 0 writes the files.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np
import torch
import torch.distributed as dist
from rich.progress import Progress, TaskID

from adsearch.config import from_dict, to_dict
from adsearch.errors import ConfigError, InputError, TrainingError
from adsearch.graphs import GraphConfig
from adsearch.io.atomic import atomic_path
from adsearch.models.files import read_blob
from adsearch.models.objectives import AutoencodingSVDD, DeepSVDD
from adsearch.models.pretrained import PretrainedBackbone
from adsearch.models.registry import AnomalyModel, build_model, input_kind, log_columns
from adsearch.progress import progress_bar
from adsearch.train.config import TrainConfig, key_dict
from adsearch.train.data import InputBuilder, JetSample, load_jets, split_events, training_jets

__all__ = ["TrainResult", "load_model", "train"]

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_FORMAT = "adsearch-checkpoint"
MODEL = "model.pt"
MODEL_FORMAT = "adsearch-model"
FORMAT_VERSION = 1


@dataclass
class TrainResult:
    """What :func:`train` did: per-epoch metrics, best epoch, and the output files.

    ``model`` is the best epoch's model, as saved in ``model.pt`` (the last epoch's weights
    are in ``checkpoint.pt``).
    """

    history: list[dict[str, float]]
    best_epoch: int
    best_val_loss: float
    stopped_early: bool
    out_dir: Path
    model: AnomalyModel | None = field(default=None, repr=False)


# ------------------------------------------------------------------ runtime


def _device(cfg: TrainConfig) -> torch.device:
    want = cfg.runtime.device
    if want == "cuda" and not torch.cuda.is_available():
        raise ConfigError("runtime:device: 'cuda' requested but CUDA is not available")
    if want == "cpu" or (want == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return torch.device("cuda", local)


def _init_distributed(device: torch.device) -> tuple[int, int, bool]:
    """(rank, world_size, we_initialised). Initialises from torchrun's env when present."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), False
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        return dist.get_rank(), dist.get_world_size(), True
    return 0, 1, False


def _all_sum(values: list[float], device: torch.device, world: int) -> list[float]:
    if world == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def _epoch_order(n: int, seed: int, epoch: int, rank: int, world: int) -> np.ndarray:
    """This rank's share of the epoch permutation (padded by wrap-around to equal shards)."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    perm = torch.randperm(n, generator=g).numpy()
    if world > 1:
        per = math.ceil(n / world)
        perm = np.resize(perm, per * world)  # np.resize repeats from the start
        perm = perm[rank::world]
    return perm


def _batch_rng(seed: int, epoch: int, batch: int, rank: int) -> np.random.Generator:
    """Random stream of one training batch (augmentation): a function of its position only,
    so a resumed run draws exactly what the uninterrupted one did."""
    return np.random.default_rng([seed, epoch + 1, batch, rank])


def _batches(order: np.ndarray, size: int) -> list[np.ndarray]:
    return [order[i : i + size] for i in range(0, len(order), size)]


# ------------------------------------------------------------------ files


def _write_metrics(out: Path, history: list[dict[str, float]]) -> None:
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(history, indent=1))
    if history:
        keys = list(history[0])
        for h in history:
            keys += [k for k in h if k not in keys]
        with atomic_path(out / "metrics.csv") as tmp, tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(history)


def _save(obj: dict[str, Any], path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def model_file(path: str | Path) -> Path:
    """The model file named by ``path``: the file itself, or ``model.pt`` in a run directory.

    >>> model_file("runs/gin/model.pt").name
    'model.pt'
    """
    p = Path(path)
    return p / MODEL if p.is_dir() else p


def read_model_file(path: str | Path) -> dict[str, Any]:
    """The dict saved in ``model.pt`` (or in a run directory's), unbuilt.

    Raises :class:`~adsearch.errors.InputError` naming the file when it is missing or not
    an adsearch model file.
    """
    return read_blob(
        model_file(path),
        MODEL_FORMAT,
        "an adsearch model file",
        "no such model file (train first: adsearch train CONFIG)",
    )


def load_model(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[AnomalyModel, TrainConfig]:
    """Rebuild a trained model from ``model.pt`` (or a run directory holding it).

    Returns the model in eval mode and its :class:`TrainConfig`.
    """
    p = model_file(path)
    blob = read_model_file(p)
    cfg = from_dict(TrainConfig, blob["config"], source=str(p))
    meta = blob["meta"]
    model = build_model(
        cfg.model,
        meta["in_dim"],
        meta["edge_dim"],
        meta.get("pos_weight", 1.0),
        encoder=meta.get("encoder"),  # a pretrained encoder's architecture: no file read
    )
    model.load_state_dict(blob["state_dict"])
    model.train_meta = dict(meta)  # feature sizes, class weight: to rebuild twins (export)
    return model.to(device).eval(), cfg


# ------------------------------------------------------------------ steps


@runtime_checkable
class _FitsDegree(Protocol):
    """A backbone with a fitted degree scale (GIN's ``aggr="scaled"``)."""

    def fit_degree(self, edge_index: torch.Tensor, edge_attr: torch.Tensor, num_nodes: int) -> None:
        """Fit the scale on the graphs of one batch."""


def _autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager[Any]:
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


@torch.no_grad()
def _init_center(
    model: AnomalyModel,
    builder: InputBuilder,
    sample: JetSample,
    order: np.ndarray,
    cfg: TrainConfig,
    device: torch.device,
    world: int,
) -> None:
    obj = model.objective
    assert isinstance(obj, DeepSVDD)
    was = model.training
    model.train()  # the mode of the loss (normalisation layers differ between modes)
    total = torch.zeros(obj.c.shape, dtype=torch.float64, device=device)
    # sum of |z|², of the reconstruction error (deepsvdd-ae), and the jet count
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    per_rank = max(1, cfg.optim.batch_size // world)
    for b, idx in enumerate(_batches(order, per_rank)[: cfg.optim.center_batches]):
        rng = _batch_rng(cfg.runtime.seed, -1, b, dist.get_rank() if world > 1 else 0)
        inputs = model.prepare(builder(sample, idx, rng))
        z = model.backbone(inputs)
        if isinstance(obj, AutoencodingSVDD):
            err = obj.autoencoder.score(z, model.objective_inputs(inputs))
            sums[1] += err.double().sum()
        z = z.double()
        total += z.sum(0)
        sums[0] += (z * z).sum()
        sums[2] += len(idx)
    if world > 1:
        dist.all_reduce(total)
        dist.all_reduce(sums)
    count = max(float(sums[2]), 1.0)
    rms = torch.sqrt(sums[0] / (count * obj.c.numel()))
    obj.set_center(total / count, scale=float(rms))
    if isinstance(obj, AutoencodingSVDD):
        # mean |z - c|² = mean |z|² - 2 c . mean z + |c|² (c is guarded, not the mean)
        c = obj.c.double()
        dist_mean = sums[0] / count - 2 * (c @ total) / count + c @ c
        obj.set_gamma(float(sums[1] / count), float(dist_mean))
    model.train(was)


@torch.no_grad()
def _fit_input_norm(
    model: AnomalyModel, builder: InputBuilder, sample: JetSample, idx: np.ndarray
) -> None:
    """Fit the backbone's input standardisation on the node features of jets ``idx`` (and
    the GIN degree scale on their first 4096 graphs; a pretrained encoder's embedding
    standardisation on their embeddings)."""
    fit_embedding = getattr(model.backbone, "fit_embedding_norm", None)
    if fit_embedding is not None:
        fit_embedding(builder(sample, b) for b in _batches(idx, 4096))
    norm = getattr(model.backbone, "input_norm", None)
    if norm is None:
        return
    rows = []
    for b in _batches(idx, 4096):
        inputs = builder(sample, b)
        if builder.kind == "dense":
            x, mask = inputs
            rows.append(x[mask.to(torch.bool)])
        elif builder.kind == "pyg":
            rows.append(inputs.x)
            if isinstance(model.backbone, _FitsDegree) and len(rows) == 1:  # GIN degree scale
                model.backbone.fit_degree(inputs.edge_index, inputs.edge_attr, inputs.x.shape[0])
        else:
            rows.append(inputs.ndata["x"])
    norm.fit(torch.cat(rows).cpu())


@torch.no_grad()
def _collapse_check(
    model: AnomalyModel,
    builder: InputBuilder,
    sample: JetSample,
    idx: np.ndarray,
    bs: int,
    threshold: float,
    epoch: int,
) -> dict[str, float]:
    """DeepSVDD collapse monitor on the validation jets; raises when collapsed. Fits the
    Mahalanobis score metric on the same embeddings (background-only validation jets)."""
    obj = model.objective
    assert isinstance(obj, DeepSVDD)
    was = model.training
    model.eval()
    z = torch.cat([model.embed(builder(sample, b)).float().cpu() for b in _batches(idx, bs)])
    model.train(was)
    stats = obj.collapse_stats(z)
    if obj.metric == "mahalanobis":  # the whitening saved with this epoch's weights
        obj.fit_metric(z)
        stats["metric_shrinkage"] = float(obj.fitted_shrinkage or 0.0)
    if not stats["spread"] >= threshold:
        raise TrainingError(
            f"epoch {epoch}: DeepSVDD collapsed (trace cov(z) / |c|^2 = {stats['spread']:.3g} "
            f"< optim:collapse_threshold {threshold:g}): every jet maps to the same point. "
            "Use a bias-free network without normalisation layers, a larger weight_decay or "
            "a lower lr"
        )
    return stats


def _gather(t: torch.Tensor, world: int) -> torch.Tensor:
    if world == 1:
        return t
    out: list[Any] = [None] * world
    dist.all_gather_object(out, t.cpu())
    return torch.cat(out)


@torch.no_grad()
def _evaluate(
    net: torch.nn.Module,
    builder: InputBuilder,
    sample: JetSample,
    idx_all: np.ndarray,
    bs: int,
    device: torch.device,
    amp: bool,
    rank: int,
    world: int,
) -> float:
    net.eval()
    mine = idx_all[rank::world] if world > 1 else idx_all
    s, n = 0.0, 0
    for idx in _batches(mine, bs):
        with _autocast(device, amp):
            loss, _ = net(builder(sample, idx), builder.labels(sample, idx), loss=True)
        s += float(loss) * len(idx)
        n += len(idx)
    total, count = _all_sum([s, float(n)], device, world)
    return total / max(count, 1)


# ------------------------------------------------------------------ main


def train(
    cfg: TrainConfig,
    sample: JetSample | None = None,
    *,
    resume: bool = False,
    progress: bool | None = None,
) -> TrainResult:
    """Train the model described by ``cfg``; see the module docstring.

    Parameters
    ----------
    cfg : the training configuration.
    sample : jets to use instead of reading ``cfg.data.path`` (tests, pipelines).
    resume : continue from ``out_dir/checkpoint.pt`` (the config must match).
    progress : show a progress bar (default: ``cfg.runtime.progress``, else on a terminal).
    """
    device = _device(cfg)
    rank, world, own_pg = _init_distributed(device)
    det = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    threads = torch.get_num_threads()
    try:
        return _train(cfg, sample, resume, progress, device, rank, world)
    finally:  # leave the caller's torch settings as they were
        torch.use_deterministic_algorithms(det[0], warn_only=det[1])
        torch.set_num_threads(threads)
        if own_pg:
            dist.destroy_process_group()


def _train(
    cfg: TrainConfig,
    sample: JetSample | None,
    resume: bool,
    progress: bool | None,
    device: torch.device,
    rank: int,
    world: int,
) -> TrainResult:
    """:func:`train` on this process: set up, then epochs until done or stopped early."""
    rt, opt_cfg = cfg.runtime, cfg.optim
    out = Path(rt.out_dir)
    _setup_runtime(cfg, device, world)
    sample, tr_idx, va_idx = _training_data(cfg, sample)
    model, builder, meta = _build(cfg, sample, tr_idx, device)
    optim = torch.optim.AdamW(model.parameters(), lr=opt_cfg.lr, weight_decay=opt_cfg.weight_decay)
    use_amp = rt.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    cfg_dict = to_dict(cfg)
    if resume:
        book = _resume(out / CHECKPOINT, cfg_dict, model, optim, scaler)
    else:
        book = _Bookkeeping()
        _initialise(model, builder, sample, tr_idx, cfg, device, rank, world)
    if rank == 0:
        import yaml

        with atomic_path(out / "config.yaml") as tmp:
            tmp.write_text(yaml.safe_dump(cfg_dict, sort_keys=False))

    per_rank = max(1, opt_cfg.batch_size // world)
    loop = _Loop(
        cfg=cfg,
        model=model,
        net=_wrap(model, device, world, rt.compile),
        builder=builder,
        sample=sample,
        optim=optim,
        scaler=scaler,
        device=device,
        rank=rank,
        world=world,
        use_amp=use_amp,
        per_rank=per_rank,
        eval_bs=rt.eval_batch_size or per_rank,
    )
    show = (rt.progress if progress is None else progress) if rank == 0 else False
    with progress_bar(show) as bar:
        # with no trainable parameter every epoch is the same: one pass, for the metrics
        trainable = any(p.requires_grad for p in model.parameters())
        for epoch in range(book.epochs_done, opt_cfg.epochs if trainable else 1):
            if book.stopped(opt_cfg.patience):
                break
            row = _run_epoch(loop, epoch, tr_idx, va_idx, bar)
            improved = book.record(row, epoch + 1, opt_cfg.min_delta)
            if rank == 0:
                _save_epoch(out, loop, cfg_dict, meta, book, improved)
    _finish(loop, tr_idx, out)
    return TrainResult(
        book.history, book.best_epoch, book.best_val, book.stopped(opt_cfg.patience), out, model
    )


# ------------------------------------------------------------------ run setup


def _setup_runtime(cfg: TrainConfig, device: torch.device, world: int) -> None:
    """Threads, deterministic kernels, and the batch size check against the process count."""
    rt = cfg.runtime
    if rt.num_threads:
        torch.set_num_threads(rt.num_threads)
    if rt.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        if device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.benchmark = False
    if cfg.optim.batch_size < world:
        raise ConfigError(f"optim:batch_size: {cfg.optim.batch_size} < {world} processes")


def _training_data(
    cfg: TrainConfig, sample: JetSample | None
) -> tuple[JetSample, np.ndarray, np.ndarray]:
    """The jets (read from ``data.path`` unless given) and the training and validation jets."""
    if sample is None:
        sample, _ = load_jets(cfg.data.path, cfg.data.max_events)
    elif cfg.data.max_events is not None:
        sample = sample.take(np.flatnonzero(sample.event < cfg.data.max_events))
    split = split_events(
        sample.n_events, cfg.data.train_fraction, cfg.data.val_fraction, cfg.data.seed
    )
    tr_idx = training_jets(sample, split, 0, cfg.data.mode, cfg.model.objective)
    va_idx = training_jets(sample, split, 1, cfg.data.mode, cfg.model.objective)
    if len(tr_idx) < 2 or len(va_idx) < 1:
        raise InputError(
            f"{cfg.data.path or 'data'}: too few jets to train ({len(tr_idx)} train, "
            f"{len(va_idx)} validation); use more events or larger fractions"
        )
    return sample, tr_idx, va_idx


def _pos_weight(cfg: TrainConfig, sample: JetSample, tr_idx: np.ndarray) -> float:
    """Signal-class weight of the supervised loss (``n_background / n_signal`` if balanced)."""
    if cfg.model.objective != "supervised":
        return 1.0
    n_sig = int((sample.label[tr_idx] == 1).sum())
    n_bkg = len(tr_idx) - n_sig
    if n_sig == 0 or n_bkg == 0:
        raise InputError("features: the supervised objective needs both classes in training")
    return n_bkg / n_sig if cfg.model.balance_classes else 1.0


def _build(
    cfg: TrainConfig, sample: JetSample, tr_idx: np.ndarray, device: torch.device
) -> tuple[AnomalyModel, InputBuilder, dict[str, Any]]:
    """The model (initialised from ``runtime.seed`` without touching the global RNG state),
    its input builder, and the metadata saved with it (feature sizes, class weight)."""
    mcfg = cfg.model
    pos_weight = _pos_weight(cfg, sample, tr_idx)
    probe = InputBuilder(input_kind(mcfg), cfg.graph)
    in_dim, edge_dim = probe.dims(sample)
    logs = log_columns(probe.graph_config.node_features)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.runtime.seed)
        model = build_model(
            mcfg, in_dim=in_dim, edge_dim=edge_dim, pos_weight=pos_weight, log_columns=logs
        )
    model.to(device)
    builder = InputBuilder(model.input_kind, cfg.graph, device, cfg.data.augment, cfg.data.symmetry)
    meta: dict[str, Any] = {"in_dim": in_dim, "edge_dim": edge_dim, "pos_weight": pos_weight}
    if isinstance(model.backbone, PretrainedBackbone):  # rebuilt without the encoder file
        meta["encoder"] = model.backbone.arch
    return model, builder, meta


def _backbone_id(cfg: TrainConfig) -> dict[str, Any]:
    features = cfg.graph.get("node_features", GraphConfig.node_features)
    return {"backbone": cfg.model.backbone, "options": cfg.model.options, "features": features}


def init_backbone(model: AnomalyModel, cfg: TrainConfig) -> None:
    """Load the backbone of the trained model ``cfg.model.init`` into ``model`` (its
    weights, input standardisation and other fitted buffers).

    Raises :class:`~adsearch.errors.InputError` when the file is missing or not a model, and
    :class:`~adsearch.errors.ConfigError` naming ``model:init`` when its backbone differs
    from ``model``'s (backbone, options, node features, parameter names or shapes).
    """
    path = str(cfg.model.init)
    src, src_cfg = load_model(path)
    mine, theirs = _backbone_id(cfg), _backbone_id(src_cfg)
    diff = [f"{k} {theirs[k]!r} (here {mine[k]!r})" for k in mine if mine[k] != theirs[k]]
    own, state = model.backbone.state_dict(), src.backbone.state_dict()
    extra, missing = sorted(set(state) - set(own)), sorted(set(own) - set(state))
    if extra:
        diff.append(f"parameters this one lacks: {', '.join(extra[:3])} (bias? norm?)")
    if missing:
        diff.append(f"no {', '.join(missing[:3])}")
    diff += [
        f"{k} of shape {tuple(v.shape)} (here {tuple(own[k].shape)})"
        for k, v in state.items()
        if k in own and v.shape != own[k].shape
    ][:3]
    if diff:
        raise ConfigError(f"model:init: {path}: its backbone differs: {'; '.join(diff)}")
    model.backbone.load_state_dict(state)  # copies into the tensors, on their device


def _norm_jets(tr_idx: np.ndarray, cfg: TrainConfig) -> np.ndarray:
    """The ``data.norm_jets`` training jets that fit the input standardisation (sorted); the
    same jets on every rank (a permutation of the seed only): identical transforms."""
    norm_idx = tr_idx[_epoch_order(len(tr_idx), cfg.runtime.seed, -2, 0, 1)[: cfg.data.norm_jets]]
    return np.sort(norm_idx)


def _initialise(
    model: AnomalyModel,
    builder: InputBuilder,
    sample: JetSample,
    tr_idx: np.ndarray,
    cfg: TrainConfig,
    device: torch.device,
    rank: int,
    world: int,
) -> None:
    """A new run: fit the input standardisation (or take the backbone of ``model.init``),
    then fix the DeepSVDD centre."""
    if cfg.model.init is not None:
        init_backbone(model, cfg)
    else:
        _fit_input_norm(model, builder, sample, _norm_jets(tr_idx, cfg))
    if isinstance(model.objective, DeepSVDD):
        first = tr_idx[_epoch_order(len(tr_idx), cfg.runtime.seed, -1, rank, world)]
        _init_center(model, builder, sample, first, cfg, device, world)


def _wrap(
    model: AnomalyModel, device: torch.device, world: int, compile_model: bool
) -> torch.nn.Module:
    """The module the epochs call: ``model``, in DDP on several processes, compiled if asked."""
    net: torch.nn.Module = model
    # DDP refuses a module with nothing to train (a frozen backbone under DeepSVDD): every
    # rank then runs its own forward passes, and the losses are all-reduced as usual
    if world > 1 and any(p.requires_grad for p in model.parameters()):
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if compile_model:  # an OptimizedModule (a Module); torch types the result as a callable
        net = cast(torch.nn.Module, torch.compile(net, dynamic=True))
    return net


# ------------------------------------------------------------------ bookkeeping


@dataclass
class _Bookkeeping:
    """Progress of a run: the metrics rows, the best epoch and the early-stopping count.

    Saved in ``checkpoint.pt`` after every epoch and restored by a resume.
    """

    history: list[dict[str, float]] = field(default_factory=list)
    epochs_done: int = 0
    best_val: float = math.inf
    best_epoch: int = -1
    bad: int = 0

    def stopped(self, patience: int) -> bool:
        """Whether early stopping has ended the run (``patience`` epochs without gain)."""
        return self.bad >= patience

    def record(self, row: dict[str, float], epoch: int, min_delta: float) -> bool:
        """Append the metrics of (1-based) ``epoch``; return whether its validation loss
        improved on the best by more than ``min_delta``."""
        self.history.append(row)
        self.epochs_done = epoch
        val = row["val_loss"]
        improved = val < self.best_val - min_delta
        if improved:
            self.best_val, self.best_epoch, self.bad = val, epoch, 0
        else:
            self.bad += 1
        return improved


def _resume_key(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a config a resumed run must share with its checkpoint: all but the
    runtime section and the stopping rule (``optim.epochs``, ``optim.patience``); a
    ``data.symmetry`` at its default (off) counts as absent (:func:`key_dict`: checkpoints
    written before that option existed resume)."""
    key = {k: v for k, v in key_dict(config).items() if k != "runtime"}
    key["optim"] = {k: v for k, v in key["optim"].items() if k not in ("epochs", "patience")}
    return key


def _resume(
    ckpt_path: Path,
    cfg_dict: dict[str, Any],
    model: AnomalyModel,
    optim: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
) -> _Bookkeeping:
    """Load weights, optimiser and scaler state from ``checkpoint.pt``; its progress."""
    ck = read_blob(
        ckpt_path, CHECKPOINT_FORMAT, "an adsearch checkpoint", "no checkpoint to resume from"
    )
    if _resume_key(ck["config"]) != _resume_key(cfg_dict):
        raise ConfigError(f"{ckpt_path}: config differs from the checkpoint's; cannot resume")
    model.load_state_dict(ck["model"])
    optim.load_state_dict(ck["optimizer"])
    scaler.load_state_dict(ck["scaler"])
    return _Bookkeeping(
        history=list(ck["history"]),
        epochs_done=ck["epoch"],
        best_val=ck["best_val"],
        best_epoch=ck["best_epoch"],
        bad=ck["bad_epochs"],
    )


def _save_epoch(
    out: Path,
    loop: _Loop,
    cfg_dict: dict[str, Any],
    meta: dict[str, Any],
    book: _Bookkeeping,
    improved: bool,
) -> None:
    """After an epoch (rank 0): ``model.pt`` if it improved, ``checkpoint.pt``, the metrics."""
    if improved:
        _save(
            {
                "format": MODEL_FORMAT,
                "version": FORMAT_VERSION,
                "config": cfg_dict,
                "meta": meta,
                "state_dict": _state(loop.model),
                "epoch": book.epochs_done,
            },
            out / MODEL,
        )
    _save(
        {
            "format": CHECKPOINT_FORMAT,
            "version": FORMAT_VERSION,
            "config": cfg_dict,
            "meta": meta,
            "epoch": book.epochs_done,
            "model": _state(loop.model),
            "optimizer": loop.optim.state_dict(),
            "scaler": loop.scaler.state_dict(),
            "best_val": book.best_val,
            "best_epoch": book.best_epoch,
            "bad_epochs": book.bad,
            "history": book.history,
        },
        out / CHECKPOINT,
    )
    _write_metrics(out, book.history)


# ------------------------------------------------------------------ epochs


@dataclass
class _Loop:
    """What the epochs of one run share."""

    cfg: TrainConfig
    model: AnomalyModel
    net: torch.nn.Module  # the model, or its DDP / compiled wrapper
    builder: InputBuilder
    sample: JetSample
    optim: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    device: torch.device
    rank: int
    world: int
    use_amp: bool
    per_rank: int  # training batch size of this process
    eval_bs: int


def _run_epoch(
    loop: _Loop, epoch: int, tr_idx: np.ndarray, va_idx: np.ndarray, bar: Progress
) -> dict[str, float]:
    """Train one (0-based) ``epoch``, update the soft-boundary radius, validate and run the
    collapse monitor; return the epoch's metrics row."""
    rt, obj = loop.cfg.runtime, loop.model.objective
    loop.net.train()
    t0 = time.perf_counter()
    order = tr_idx[_epoch_order(len(tr_idx), rt.seed, epoch, loop.rank, loop.world)]
    batches = _batches(order, loop.per_rank)
    task = bar.add_task(f"epoch {epoch + 1}/{loop.cfg.optim.epochs}", total=len(batches))
    loss_sum, n, dists = _train_batches(loop, epoch, batches, bar, task)
    loss_sum, n_jets = _all_sum([loss_sum, float(n)], loop.device, loop.world)
    t_train = time.perf_counter() - t0
    if isinstance(obj, DeepSVDD) and obj.soft and epoch + 1 >= loop.cfg.model.radius_warmup_epochs:
        obj.update_radius(_gather(torch.cat(dists), loop.world))
    val = _evaluate(
        loop.net,
        loop.builder,
        loop.sample,
        va_idx,
        loop.eval_bs,
        loop.device,
        loop.use_amp,
        loop.rank,
        loop.world,
    )
    dt = time.perf_counter() - t0
    row = {
        "epoch": epoch + 1,
        "train_loss": loss_sum / max(n_jets, 1),
        "val_loss": val,
        "epoch_time_s": dt,
        "train_time_s": t_train,
        "train_jets_per_s": n_jets / t_train if t_train > 0 else float("nan"),
        "lr": loop.optim.param_groups[0]["lr"],
    }
    if isinstance(obj, DeepSVDD) and obj.soft:
        row["radius"] = float(obj.radius)
    if isinstance(obj, DeepSVDD):
        threshold = loop.cfg.optim.collapse_threshold
        row.update(
            _collapse_check(
                loop.model, loop.builder, loop.sample, va_idx, loop.eval_bs, threshold, epoch + 1
            )
        )
    bar.remove_task(task)
    return row


def _train_batches(
    loop: _Loop, epoch: int, batches: list[np.ndarray], bar: Progress, task: TaskID
) -> tuple[float, int, list[torch.Tensor]]:
    """The optimisation steps of one epoch: (sum of batch loss x jets, jets, and the per-jet
    distances of a soft-boundary DeepSVDD for its radius update)."""
    rt, opt_cfg = loop.cfg.runtime, loop.cfg.optim
    s, n = 0.0, 0
    dists: list[torch.Tensor] = []
    for b, idx in enumerate(batches):
        inputs = loop.builder(loop.sample, idx, _batch_rng(rt.seed, epoch, b, loop.rank))
        labels = loop.builder.labels(loop.sample, idx)
        with _autocast(loop.device, loop.use_amp):
            loss, per = loop.net(inputs, labels, loss=True)
        if not torch.isfinite(loss):
            raise InputError(
                f"epoch {epoch + 1}: loss is {float(loss)}; lower optim:lr or check inputs"
            )
        if not loss.requires_grad:  # nothing to train (DeepSVDD on a frozen encoder, no head)
            s += float(loss.detach()) * len(idx)
            n += len(idx)
            bar.advance(task)
            continue
        loop.optim.zero_grad(set_to_none=True)
        loop.scaler.scale(loss).backward()
        if opt_cfg.grad_clip:
            loop.scaler.unscale_(loop.optim)
            torch.nn.utils.clip_grad_norm_(loop.model.parameters(), opt_cfg.grad_clip)
        loop.scaler.step(loop.optim)
        loop.scaler.update()
        s += float(loss.detach()) * len(idx)
        n += len(idx)
        if getattr(loop.model.objective, "soft", False):
            dists.append(per.float().cpu())
        bar.advance(task)
    return s, n, dists


def _finish(loop: _Loop, tr_idx: np.ndarray, out: Path) -> None:
    """After the epochs: refit the saved DeepSVDD's Mahalanobis metric on training jets
    (rank 0), wait for every rank, and load the best epoch's weights, as saved."""
    obj = loop.model.objective
    maha = isinstance(obj, DeepSVDD) and obj.metric == "mahalanobis"
    if loop.rank == 0 and maha and (out / MODEL).is_file():
        norm_idx = _norm_jets(tr_idx, loop.cfg)
        _refit_metric(loop.model, loop.builder, loop.sample, norm_idx, loop.eval_bs, out / MODEL)
    if loop.world > 1:
        dist.barrier()
    if (out / MODEL).is_file():  # return the best epoch's model, as saved
        blob = torch.load(out / MODEL, map_location=loop.device, weights_only=True)
        loop.model.load_state_dict(blob["state_dict"])


@torch.no_grad()
def _refit_metric(
    model: AnomalyModel,
    builder: InputBuilder,
    sample: JetSample,
    idx: np.ndarray,
    bs: int,
    path: Path,
) -> None:
    """Refit the saved (best-epoch) DeepSVDD's Mahalanobis metric on training jets ``idx``.

    During training the metric is fitted every epoch on the validation jets, which are few
    (a 32-dimensional covariance from a few hundred jets is mostly noise in its small
    directions, and those get the largest weights); the saved model gets the metric of up
    to ``data.norm_jets`` training jets instead (on the toy of tests/train: AUC 0.78 with
    150 validation jets, see the test's comment for the refitted value).
    """
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if blob.get("metric_refit"):  # done by an earlier call (resume): keep the file as it is
        return
    best = copy.deepcopy(model)
    best.load_state_dict(blob["state_dict"])
    best.eval()
    z = torch.cat([best.embed(builder(sample, b)).double().cpu() for b in _batches(idx, bs)])
    assert isinstance(best.objective, DeepSVDD)  # only called for a Mahalanobis DeepSVDD
    best.objective.fit_metric(z)
    blob["state_dict"] = _state(best)
    blob["metric_refit"] = True
    blob["metric_shrinkage"] = best.objective.fitted_shrinkage
    _save(blob, path)
