"""Model verbs: ``train`` (:mod:`adsearch.train`), ``pretrain`` (:mod:`adsearch.pretrain`),
``score`` and ``export`` (:mod:`adsearch.score`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from adsearch.cli.options import SetOption, apply_shortcuts

__all__ = ["embed", "export", "pretrain", "score", "train"]


def train(
    config: Annotated[Path, typer.Argument(help="training config YAML (data, graph, model, ...)")],
    resume: Annotated[
        bool, typer.Option("--resume", help="continue from OUT_DIR/checkpoint.pt")
    ] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", help="override runtime.out_dir")
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="override runtime.device: auto, cpu, cuda")
    ] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="override optim.epochs")] = None,
    max_events: Annotated[
        int | None, typer.Option("--max-events", help="override data.max_events")
    ] = None,
    set_: SetOption = None,
) -> None:
    """Train an anomaly model (GNN / transformer; DeepSVDD, AE or supervised) from CONFIG.

    Writes checkpoint.pt (every epoch), model.pt (best validation loss), metrics.csv/json
    and config.yaml into runtime.out_dir. Any config value can be overridden with
    --set SECTION.KEY=VALUE (e.g. --set optim.lr=3e-4); --out-dir, --device, --epochs and
    --max-events are shortcuts for four of them. Multi-GPU / multi-process: run under torchrun,
    e.g. `torchrun --nproc_per_node 2 -m adsearch.cli train CONFIG.yaml`.
    """
    import os

    from adsearch.config import apply_overrides
    from adsearch.train import load_train_config
    from adsearch.train import train as run_train

    cfg = apply_overrides(load_train_config(config), set_ or [], source="--set")
    shortcuts: dict[tuple[str, ...], Any] = {
        ("runtime", "out_dir"): None if out_dir is None else str(out_dir),
        ("runtime", "device"): device,
        ("optim", "epochs"): epochs,
        ("data", "max_events"): max_events,
    }
    cfg = apply_shortcuts(cfg, shortcuts)
    res = run_train(cfg, resume=resume)
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
        return
    if res.history:
        last = res.history[-1]
        typer.echo(
            f"epochs {len(res.history)}: train loss {last['train_loss']:.6g}, "
            f"val loss {last['val_loss']:.6g}; best epoch {res.best_epoch} "
            f"(val {res.best_val_loss:.6g}){' [early stop]' if res.stopped_early else ''}"
        )
    typer.echo(f"wrote {res.out_dir}")


def pretrain(
    config: Annotated[
        Path, typer.Argument(help="pretraining config YAML (data, encoder, views, optim, ...)")
    ],
    resume: Annotated[
        bool, typer.Option("--resume", help="continue from OUT_DIR/checkpoint.pt")
    ] = False,
    out_dir: Annotated[Path | None, typer.Option("--out-dir", help="override out_dir")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="override optim.epochs")] = None,
    set_: SetOption = None,
) -> None:
    """Pretrain a jet encoder without labels (contrastive, or masked-particle modelling).

    objective: contrastive (default): two augmented views of every jet (rotation about the
    jet axis, η-φ translation, collinear splitting, soft and pT smearing) are pulled
    together, other jets pushed apart (NT-Xent). objective: mpm: a fraction of every jet's
    constituents (mpm.mask_fraction) is hidden behind a mask token and their features are
    predicted from the others. Writes encoder.pt (the best held-out loss), checkpoint.pt
    (every epoch) and metrics.json (losses; alignment, uniformity) into out_dir. Override
    any value with --set SECTION.KEY=VALUE (e.g. --set objective=mpm).
    """
    from adsearch.config import apply_overrides
    from adsearch.pretrain import load_pretrain_config
    from adsearch.pretrain import pretrain as run_pretrain

    cfg = apply_overrides(load_pretrain_config(config), set_ or [], source="--set")
    shortcuts: dict[tuple[str, ...], Any] = {
        ("out_dir",): None if out_dir is None else str(out_dir),
        ("optim", "epochs"): epochs,
    }
    cfg = apply_shortcuts(cfg, shortcuts)
    res = run_pretrain(cfg, resume=resume)
    if res.history:
        last = res.history[-1]
        typer.echo(
            f"epochs {len(res.history)}: train loss {last['train_loss']:.6g}, "
            f"held-out loss {last['val_loss']:.6g}; best epoch {res.best_epoch} "
            f"(held-out {res.best_val_loss:.6g}){' [early stop]' if res.stopped_early else ''}"
        )
    typer.echo(f"wrote {res.out_dir}")


def embed(
    encoder: Annotated[Path, typer.Argument(help="encoder.pt of adsearch pretrain (or its dir)")],
    features: Annotated[Path, typer.Argument(help="features file (parquet, with constituents)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output parquet")],
    chunk_size: Annotated[
        int | None,
        typer.Option(
            "--chunk-size",
            help="events read and embedded at a time (default 50000; memory scales with it, "
            "the output does not depend on it)",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size", help="jets per forward pass (default 1024)", show_default=False
        ),
    ] = None,
) -> None:
    """Add a pretrained encoder's embedding of both jets to an event table.

    Writes FEATURES' event columns (no constituents) plus latent1_K and latent2_K, the
    embedding of the leading and subleading jet, for the weakly supervised methods:
    `adsearch weak OUT --features latent_lighter_0,latent_heavier_0,...` (ordered by jet
    mass). Embed the data, the reference and the test table with the same encoder. The
    file is read and written --chunk-size events at a time, with a progress bar; OUT
    appears only when complete.
    """
    from adsearch.pretrain.latent import BATCH_SIZE, CHUNK_SIZE, write_latent_table

    path, n, dim = write_latent_table(
        encoder,
        features,
        out,
        chunk_size=CHUNK_SIZE if chunk_size is None else chunk_size,
        batch_size=BATCH_SIZE if batch_size is None else batch_size,
    )
    typer.echo(f"wrote {path}: {n} events, {dim} latent dimensions per jet")


def score(
    run: Annotated[Path, typer.Argument(help="training output directory (or its model.pt)")],
    features: Annotated[Path, typer.Argument(help="features file (parquet) to score")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="output parquet (default: FEATURES.scores.parquet)"),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="jets per forward pass")
    ] = None,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda")] = "cpu",
    max_events: Annotated[
        int | None, typer.Option("--max-events", help="score only the first N events")
    ] = None,
) -> None:
    """Score every jet of FEATURES with a trained model; write jet and event scores.

    The output table has the event features plus score_j1, score_j2, score (mean of the
    two jets), score_max, score_min and split (0 train, 1 val, 2 test/unseen).
    """
    from adsearch.score import score_features

    path = score_features(run, features, out, batch_size, device, max_events)
    typer.echo(f"wrote {path}")


def export(
    run: Annotated[Path, typer.Argument(help="training output directory (or its model.pt)")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="ONNX file (default: RUN/model.onnx)")
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance", help="max |onnxruntime - torch| / max(1, |torch|) score difference"
        ),
    ] = 1e-4,
) -> None:
    """Export a trained model (GIN, GATv2, EGAT, transformer, ParT, ParticleNet) to ONNX.

    The ONNX graph maps one batch of jets to their anomaly scores with dynamic sizes; it is
    compared with PyTorch through onnxruntime at several graph sizes. DGL kernels cannot be
    exported: an EGAT trained on DGL is exported through its plain-torch twin (same
    parameters, checked against the DGL model first).
    """
    from adsearch.score import export_run

    path, diff = export_run(run, out, tolerance)
    typer.echo(f"wrote {path} (max |onnxruntime - torch| / max(1, |torch|) = {diff:.2g})")
