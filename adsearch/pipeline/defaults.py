"""The built-in quickstart analysis (``adsearch run`` without a config file).

:data:`QUICKSTART_YAML` is byte-for-byte the file ``analyses/quickstart.yaml`` (a test checks
this), so the documented example and the packaged default cannot drift apart.
"""

from __future__ import annotations

from adsearch.pipeline.config import PipelineConfig, config_from_text

__all__ = ["QUICKSTART_YAML", "quickstart_config"]

QUICKSTART_YAML = """\
# adsearch quickstart: the whole search on a generated LHCO-like sample, no input files.
# `adsearch run -o OUTDIR` (no config argument) runs exactly this file, which is built into
# adsearch.pipeline. About 5 minutes on 2 free CPU cores, most of it event generation.
name: quickstart
description: >-
  QCD dijets with a W' (3.5 TeV) -> X (500 GeV) Y (100 GeV) -> 4 quarks signal injected,
  generated with Pythia 8 and the LHCO-like detector response; CATHODE (a conditional flow of
  the sidebands, a boosted-tree ensemble against its samples in the signal region) as the
  anomaly score; score cuts, dijet fit, BumpHunter and CLs limits.

input:
  kind: generate
  generate:
    background: qcd            # HardQCD:all, pTHatMin 1 TeV, 13 TeV (LHCO R&D recipe)
    n_background: 30000        # events passing the trigger (one R=1.0 jet, pT > 1.2 TeV)
    signal: wprime-2prong      # W' -> X Y, X -> qq, Y -> qq
    n_signal: 300              # injected at random positions
    detector: lhco             # built-in Delphes-like card ("none": truth level)
    seed: 1
    workers: 2

features:
  r: 1.0                       # anti-kT radius (also the N-subjettiness R0)
  chunk_size: 20000

train:                         # the network of score.method: model (unused by cathode)
  data:
    mode: background-only      # DeepSVDD on background jets of the training split
    train_fraction: 0.2
    val_fraction: 0.02
  graph:
    max_constituents: 100      # hardest 100 constituents per jet, Delta R < 0.2 edges
  model:
    backbone: gin
    objective: deepsvdd        # bias-free, no normalisation layers, inputs standardised
    width: 32
    layers: 3
    readout: max
  optim:
    epochs: 30                 # early stopping on the validation loss
    batch_size: 256
    patience: 4
  runtime:
    device: cpu
    num_threads: 1             # 2 threads thrash when another job shares the 2 cores

score:
  method: cathode              # model (the GIN above) | cwola | cathode | lacathode | reference
  weak:                        # features: lighter jet mass, mass difference, both tau21
    classifier: {kind: hgb, n_members: 5}   # boosted trees, 5 folds x 5 members
    seed: 1
    threads: 1                 # same scores on any machine (and no thrashing)

regions:
  working_points: [0.1, 0.02]  # background efficiencies of the score cut
  signal_region: [3300, 3700]  # GeV; thresholds are set outside it

stats:
  mjj_range: [2800, 6000]      # GeV, log-spaced bins of 5 %; starts above the trigger turn-on
  bin_width: 0.05
  fit:
    family: dijet              # parameters: the simplest passing the spurious-signal test
    method: auto               # after a cut: failing events x transfer factor (control)
    blind: false
  bumphunt:
    widths: [1, 2, 3, 4, 5]
    n_toys: 2000               # background refitted on every toy
    seed: 1
  null_check:                  # background-only pseudo-data through fit + BumpHunter
    n_pseudo: 100
    n_toys: 100
  limits:
    scan_step: 100             # GeV: a test mass every 100 GeV (~ the mass resolution)
    engine: asymptotic         # numpy asymptotic CLs (the pyhf workspaces are written too)
    resolution: 0.05

report:
  plot_format: png
"""


def quickstart_config() -> PipelineConfig:
    """The quickstart analysis as a validated :class:`PipelineConfig`.

    >>> cfg = quickstart_config()
    >>> cfg.name, cfg.input.kind, cfg.score.method
    ('quickstart', 'generate', 'cathode')
    """
    return config_from_text(QUICKSTART_YAML, source="quickstart (built-in)")
