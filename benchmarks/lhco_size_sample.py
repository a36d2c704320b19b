"""Build an LHCO-R&D-size features file from generated shards: the input of bench_lhco_size.py.

The LHC Olympics 2020 R&D file holds 1M QCD dijet events and 100k W' -> X Y signal events
at random positions (Kasieczka, Nachman, Shih et al., "The LHC Olympics 2020", Rep. Prog.
Phys. 84, 124201); its features file ``events_anomalydetection_v2.features.h5`` holds the 14
jet columns and ``label`` of every event. This script makes the same file from our own
generation, so the weakly supervised methods run on an LHCO-size sample with the package's
recipe and detector card (the real files cannot be downloaded on every machine):

1. generate, resumable, in shards (docs/guide/data.md)::

       adsearch generate wprime-2prong -n 100000 --seed 2 --workers 2 \\
           --shard-dir data/wprime2p_100k --shard-size 20000
       adsearch generate qcd -n 1000000 --seed 1 --workers 2 \\
           --shard-dir data/qcd1M --shard-size 20000

2. the features of every shard (LHCO features HDF5; each shard as soon as it exists, so
   this overlaps with the generation)::

       for s in data/qcd1M/shard_*.h5; do
           adsearch features $s -o data/feat/qcd1M_$(basename $s); done
       for s in data/wprime2p_100k/shard_*.h5; do
           adsearch features $s -o data/feat/wprime2p_100k_$(basename $s); done

3. this script: all background rows in shard order, the signal rows inserted at seeded
   uniformly random positions (as ``adsearch mix``), written atomically::

       python benchmarks/lhco_size_sample.py \\
           --background 'data/feat/qcd1M_shard_*.h5' \\
           --signal 'data/feat/wprime2p_100k_shard_*.h5' -o data/rnd_generated.features.h5

The pipeline's ``input.keep_signal`` then keeps the first 1000 signal rows (in file order, a
random subset), exactly as for the real R&D file.
"""

from __future__ import annotations

import argparse
import glob
import sys

import numpy as np
import pandas as pd

from adsearch.jets.featurefile import export_lhco_features_h5, read_lhco_features_h5
from adsearch.jets.features import Features


def read_all(pattern: str, label: int) -> pd.DataFrame:
    """The rows of every file matching ``pattern`` (sorted names), each with ``label``."""
    paths = sorted(glob.glob(pattern))
    if not paths:
        raise SystemExit(f"{pattern}: no file matches")
    frames = [read_lhco_features_h5(p) for p in paths]
    for p, f in zip(paths, frames, strict=True):
        if "label" in f and not (f["label"] == label).all():
            raise SystemExit(f"{p}: label column is not all {label}")
    out = pd.concat(frames, ignore_index=True)
    out["label"] = float(label)
    print(f"{pattern}: {len(paths)} files, {len(out)} events", flush=True)
    return out


def interleave(background: pd.DataFrame, signal: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Background rows in order with the signal rows at seeded uniformly random positions
    (each input keeps its own order)."""
    n = len(background) + len(signal)
    rng = np.random.default_rng(seed)
    is_sig = np.zeros(n, dtype=bool)
    is_sig[rng.choice(n, size=len(signal), replace=False)] = True
    order = np.empty(n, dtype=np.int64)
    order[~is_sig] = np.arange(len(background))
    order[is_sig] = len(background) + np.arange(len(signal))
    both = pd.concat([background, signal], ignore_index=True)
    return both.iloc[order].reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--background", required=True, help="glob of background features .h5")
    p.add_argument("--signal", default=None, help="glob of signal .h5 (none: no signal)")
    p.add_argument("--skip-background", type=int, default=0, help="drop N first rows")
    p.add_argument("--max-background", type=int, default=None, help="keep N background rows")
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("-o", "--output", required=True)
    args = p.parse_args(argv)
    bkg = read_all(args.background, 0).iloc[args.skip_background :]
    if args.max_background is not None:
        bkg = bkg.iloc[: args.max_background]
    bkg = bkg.reset_index(drop=True)
    table = bkg if args.signal is None else interleave(bkg, read_all(args.signal, 1), args.seed)
    out = export_lhco_features_h5(args.output, Features.from_lhco_frame(table))
    print(f"wrote {out}: {len(table)} events, {int(table['label'].sum())} signal", flush=True)


if __name__ == "__main__":
    sys.exit(main())
