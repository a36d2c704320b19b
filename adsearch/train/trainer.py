"""The training loop: CPU or CUDA, AMP, DDP (torchrun), checkpoints, resume, early stopping.

:func:`train` runs a :class:`~adsearch.train.config.TrainConfig` end to end:

1. jets from the features file, per-event split (train / val / test), training jets
   (background only, or the unlabelled mixture in ``data-like`` mode);
2. model from the registry (initialised from ``runtime.seed``); its input standardisation
   fitted on ``data.norm_jets`` training jets; DeepSVDD centre ``c`` fixed from the initial
   embeddings of the first training batches (training mode, guard relative to their RMS);
3. epochs of AdamW on shuffled mini-batches (order from ``seed`` and epoch only, so a resumed
   run replays the uninterrupted one exactly); validation loss after each epoch; soft-boundary
   radius update; DeepSVDD collapse monitor (``spread``, ``dist_mean``, ``dist_cv`` in the
   metrics; an error when collapsed); early stopping after ``patience`` epochs without
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

from adsearch.config import from_dict, to_dict
from adsearch.errors import ConfigError, InputError, TrainingError
from adsearch.io.atomic import atomic_path
from adsearch.models.objectives import DeepSVDD
from adsearch.models.registry import AnomalyModel, build_model, input_kind, log_columns
from adsearch.progress import progress_bar
from adsearch.train.config import TrainConfig
from adsearch.train.data import InputBuilder, JetSample, load_jets, split_events, training_jets

__all__ = ["TrainResult", "load_model", "train"]

CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"
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


def load_model(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[AnomalyModel, TrainConfig]:
    """Rebuild a trained model from ``model.pt`` (or a run directory holding it).

    Returns the model in eval mode and its :class:`TrainConfig`.
    """
    p = Path(path)
    if p.is_dir():
        p = p / MODEL
    if not p.is_file():
        raise InputError(f"{p}: no such model file (train first: adsearch train CONFIG)")
    try:
        blob = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a corrupt/foreign file
        raise InputError(f"{p}: not an adsearch model file ({type(e).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != "adsearch-model":
        raise InputError(f"{p}: not an adsearch model file")
    cfg = from_dict(TrainConfig, blob["config"], source=str(p))
    meta = blob["meta"]
    model = build_model(cfg.model, meta["in_dim"], meta["edge_dim"], meta.get("pos_weight", 1.0))
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
    total2 = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    per_rank = max(1, cfg.optim.batch_size // world)
    for b, idx in enumerate(_batches(order, per_rank)[: cfg.optim.center_batches]):
        rng = _batch_rng(cfg.runtime.seed, -1, b, dist.get_rank() if world > 1 else 0)
        z = model.embed(builder(sample, idx, rng)).double()
        total += z.sum(0)
        total2 += (z * z).sum()
        count += len(idx)
    if world > 1:
        n = torch.tensor([float(count)], dtype=torch.float64, device=device)
        dist.all_reduce(total)
        dist.all_reduce(total2)
        dist.all_reduce(n)
        count = int(n.item())
    rms = torch.sqrt(total2 / max(count * obj.c.numel(), 1))
    obj.set_center(total / max(count, 1), scale=float(rms))
    model.train(was)


@torch.no_grad()
def _fit_input_norm(
    model: AnomalyModel, builder: InputBuilder, sample: JetSample, idx: np.ndarray
) -> None:
    """Fit the backbone's input standardisation on the node features of jets ``idx`` (and
    the GIN degree scale on their first 4096 graphs)."""
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
    if obj.metric == "mahalanobis":  # the whitening saved with this epoch's weights
        obj.fit_metric(z)
    stats = obj.collapse_stats(z)
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
    rt, opt_cfg, mcfg = cfg.runtime, cfg.optim, cfg.model
    out = Path(rt.out_dir)
    if rt.num_threads:
        torch.set_num_threads(rt.num_threads)
    if rt.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        if device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.benchmark = False
    if opt_cfg.batch_size < world:
        raise ConfigError(f"optim:batch_size: {opt_cfg.batch_size} < {world} processes")
    if sample is None:
        sample, _ = load_jets(cfg.data.path, cfg.data.max_events)
    elif cfg.data.max_events is not None:
        sample = sample.take(np.flatnonzero(sample.event < cfg.data.max_events))
    split = split_events(
        sample.n_events, cfg.data.train_fraction, cfg.data.val_fraction, cfg.data.seed
    )
    tr_idx = training_jets(sample, split, 0, cfg.data.mode, mcfg.objective)
    va_idx = training_jets(sample, split, 1, cfg.data.mode, mcfg.objective)
    if len(tr_idx) < 2 or len(va_idx) < 1:
        raise InputError(
            f"{cfg.data.path or 'data'}: too few jets to train ({len(tr_idx)} train, "
            f"{len(va_idx)} validation); use more events or larger fractions"
        )
    pos_weight = 1.0
    if mcfg.objective == "supervised":
        n_sig = int((sample.label[tr_idx] == 1).sum())
        n_bkg = len(tr_idx) - n_sig
        if n_sig == 0 or n_bkg == 0:
            raise InputError("features: the supervised objective needs both classes in training")
        if mcfg.balance_classes:
            pos_weight = n_bkg / n_sig

    # model (init from the seed without touching the global RNG state)
    kind = input_kind(mcfg)
    probe = InputBuilder(kind, cfg.graph)
    in_dim, edge_dim = probe.dims(sample)
    logs = log_columns(probe.graph_config.node_features)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(rt.seed)
        model = build_model(
            mcfg, in_dim=in_dim, edge_dim=edge_dim, pos_weight=pos_weight, log_columns=logs
        )
    model.to(device)
    builder = InputBuilder(model.input_kind, cfg.graph, device, cfg.data.augment)
    meta = {"in_dim": in_dim, "edge_dim": edge_dim, "pos_weight": pos_weight}
    optim = torch.optim.AdamW(model.parameters(), lr=opt_cfg.lr, weight_decay=opt_cfg.weight_decay)
    use_amp = rt.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    cfg_dict = to_dict(cfg)

    history: list[dict[str, float]] = []
    start_epoch, best_val, best_epoch, bad = 0, math.inf, -1, 0
    ckpt_path = out / CHECKPOINT
    if resume:
        if not ckpt_path.is_file():
            raise InputError(f"{ckpt_path}: no checkpoint to resume from")
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        old = {k: v for k, v in ck["config"].items() if k != "runtime"}
        new = {k: v for k, v in cfg_dict.items() if k != "runtime"}
        old["optim"] = {k: v for k, v in old["optim"].items() if k not in ("epochs", "patience")}
        new["optim"] = {k: v for k, v in new["optim"].items() if k not in ("epochs", "patience")}
        if old != new:
            raise ConfigError(f"{ckpt_path}: config differs from the checkpoint's; cannot resume")
        model.load_state_dict(ck["model"])
        optim.load_state_dict(ck["optimizer"])
        scaler.load_state_dict(ck["scaler"])
        start_epoch, best_val, best_epoch, bad = (
            ck["epoch"],
            ck["best_val"],
            ck["best_epoch"],
            ck["bad_epochs"],
        )
        history = list(ck["history"])
    else:
        # the same jets on every rank (a permutation of the seed only): identical transforms
        norm_idx = tr_idx[_epoch_order(len(tr_idx), rt.seed, -2, 0, 1)[: cfg.data.norm_jets]]
        _fit_input_norm(model, builder, sample, np.sort(norm_idx))
        if isinstance(model.objective, DeepSVDD):
            first = tr_idx[_epoch_order(len(tr_idx), rt.seed, -1, rank, world)]
            _init_center(model, builder, sample, first, cfg, device, world)
    if rank == 0:
        import yaml

        with atomic_path(out / "config.yaml") as tmp:
            tmp.write_text(yaml.safe_dump(cfg_dict, sort_keys=False))

    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if rt.compile:  # an OptimizedModule (a Module); torch types the result as a callable
        net = cast(torch.nn.Module, torch.compile(net, dynamic=True))
    per_rank = max(1, opt_cfg.batch_size // world)
    eval_bs = rt.eval_batch_size or per_rank
    show = (rt.progress if progress is None else progress) if rank == 0 else False
    stopped = bad >= opt_cfg.patience
    with progress_bar(show) as bar:
        for epoch in range(start_epoch, opt_cfg.epochs):
            if stopped:
                break
            net.train()
            t0 = time.perf_counter()
            order = tr_idx[_epoch_order(len(tr_idx), rt.seed, epoch, rank, world)]
            batches = _batches(order, per_rank)
            task = bar.add_task(f"epoch {epoch + 1}/{opt_cfg.epochs}", total=len(batches))
            s, n = 0.0, 0
            dists: list[torch.Tensor] = []
            for b, idx in enumerate(batches):
                inputs = builder(sample, idx, _batch_rng(rt.seed, epoch, b, rank))
                labels = builder.labels(sample, idx)
                with _autocast(device, use_amp):
                    loss, per = net(inputs, labels, loss=True)
                if not torch.isfinite(loss):
                    raise InputError(
                        f"epoch {epoch + 1}: loss is {float(loss)}; lower optim:lr or check inputs"
                    )
                optim.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if opt_cfg.grad_clip:
                    scaler.unscale_(optim)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), opt_cfg.grad_clip)
                scaler.step(optim)
                scaler.update()
                s += float(loss.detach()) * len(idx)
                n += len(idx)
                if getattr(model.objective, "soft", False):
                    dists.append(per.float().cpu())
                bar.advance(task)
            s, n_jets = _all_sum([s, float(n)], device, world)
            t_train = time.perf_counter() - t0
            obj = model.objective
            if isinstance(obj, DeepSVDD) and obj.soft and epoch + 1 >= mcfg.radius_warmup_epochs:
                obj.update_radius(_gather(torch.cat(dists), world))
            val = _evaluate(net, builder, sample, va_idx, eval_bs, device, use_amp, rank, world)
            dt = time.perf_counter() - t0
            row = {
                "epoch": epoch + 1,
                "train_loss": s / max(n_jets, 1),
                "val_loss": val,
                "epoch_time_s": dt,
                "train_time_s": t_train,
                "train_jets_per_s": n_jets / t_train if t_train > 0 else float("nan"),
                "lr": optim.param_groups[0]["lr"],
            }
            if isinstance(obj, DeepSVDD) and obj.soft:
                row["radius"] = float(obj.radius)
            if isinstance(obj, DeepSVDD):
                row.update(
                    _collapse_check(
                        model,
                        builder,
                        sample,
                        va_idx,
                        eval_bs,
                        opt_cfg.collapse_threshold,
                        epoch + 1,
                    )
                )
            history.append(row)
            improved = val < best_val - opt_cfg.min_delta
            if improved:
                best_val, best_epoch, bad = val, epoch + 1, 0
            else:
                bad += 1
            stopped = bad >= opt_cfg.patience
            if rank == 0:
                if improved:
                    _save(
                        {
                            "format": "adsearch-model",
                            "version": FORMAT_VERSION,
                            "config": cfg_dict,
                            "meta": meta,
                            "state_dict": _state(model),
                            "epoch": epoch + 1,
                        },
                        out / MODEL,
                    )
                _save(
                    {
                        "format": "adsearch-checkpoint",
                        "version": FORMAT_VERSION,
                        "config": cfg_dict,
                        "meta": meta,
                        "epoch": epoch + 1,
                        "model": _state(model),
                        "optimizer": optim.state_dict(),
                        "scaler": scaler.state_dict(),
                        "best_val": best_val,
                        "best_epoch": best_epoch,
                        "bad_epochs": bad,
                        "history": history,
                    },
                    ckpt_path,
                )
                _write_metrics(out, history)
            bar.remove_task(task)
    obj = model.objective
    maha = isinstance(obj, DeepSVDD) and obj.metric == "mahalanobis"
    if rank == 0 and maha and (out / MODEL).is_file():
        norm_idx = tr_idx[_epoch_order(len(tr_idx), rt.seed, -2, 0, 1)[: cfg.data.norm_jets]]
        _refit_metric(model, builder, sample, np.sort(norm_idx), eval_bs, out / MODEL)
    if world > 1:
        dist.barrier()
    if (out / MODEL).is_file():  # return the best epoch's model, as saved
        blob = torch.load(out / MODEL, map_location=device, weights_only=True)
        model.load_state_dict(blob["state_dict"])
    return TrainResult(history, best_epoch, best_val, stopped, out, model)


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
    _save(blob, path)
