"""Configurations shared by the pipeline tests."""

from __future__ import annotations

import textwrap

# the quickstart recipe scaled down: a few hundred events, one epoch, few toys, one mass
TINY = textwrap.dedent(
    """\
    name: tiny
    input:
      kind: generate
      generate: {n_background: 300, n_signal: 60, workers: 1, seed: 3}
    features: {chunk_size: 200}
    train:
      data: {train_fraction: 0.3, val_fraction: 0.05}
      graph: {max_constituents: 30}
      model: {backbone: gin, objective: deepsvdd, width: 16, layers: 2}
      optim: {epochs: 1, batch_size: 128}
      runtime: {device: cpu}
    regions: {working_points: [0.3]}
    stats:
      fit: {min_events: 20}
      bumphunt: {n_toys: 40, widths: [1, 2]}
      null_check: {n_pseudo: 4, n_toys: 20}
      limits: {masses: [3500]}
    """
)

PRODUCTS = [
    "events.json",
    "events/background.h5",
    "events/signal.h5",
    "events/events.h5",
    "features.parquet",
    "train/model.pt",
    "scores.parquet",
    "regions.json",
    "fit.json",
    "bumphunt.json",
    "limits.json",
    "report.md",
    "results.json",
    "run.json",
    "plots/fit_inclusive.png",
    "plots/fit_eff0.3.png",
    "plots/bumphunt_eff0.3.png",
    "plots/tstat_eff0.3.png",
    "plots/brazil_eff0.3.png",
    "plots/roc.png",
    "plots/scores.png",
    "plots/mjj.png",
    "plots/learning_curve.png",
    "workspaces/eff0.3/workspace_m3500.json",
]
