"""Builders of bad inputs for the robustness tests: each writes files under a directory and
returns the ``adsearch`` command line that must refuse them (or skip with counts)."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd

REAL = Path(__file__).parent.parent / "data" / "lhco_real" / "events_anomalydetection_tiny.h5"


def good_block(n: int = 12, ncols: int = 2101, seed: int = 0) -> np.ndarray:
    """``n`` LHCO rows, each with two hard back-to-back prongs + soft objects (two jets)."""
    rng = np.random.default_rng(seed)
    block = np.zeros((n, ncols))
    k = 12
    pt = rng.uniform(1, 20, (n, k))
    pt[:, 0], pt[:, 1] = rng.uniform(900, 1300, n), rng.uniform(800, 1200, n)
    eta = rng.uniform(-1.5, 1.5, (n, k))
    phi0 = rng.uniform(-3, 0, n)
    phi = phi0[:, None] + rng.normal(0, 0.3, (n, k))
    phi[:, 1::2] += np.pi  # half the objects on the other side
    phi = np.mod(phi + np.pi, 2 * np.pi) - np.pi
    block[:, 0 : 3 * k : 3], block[:, 1 : 3 * k : 3], block[:, 2 : 3 * k : 3] = pt, eta, phi
    if ncols == 2101:
        block[:, 2100] = rng.integers(0, 2, n)
    return block


def lhco(path: Path, block: np.ndarray) -> Path:
    """Write ``block`` as a pandas "fixed" HDF5 (the real LHCO layout)."""
    pd.DataFrame(block).to_hdf(path, key="df", format="fixed", complib="blosc", complevel=5)
    return path


def root(path: Path, branches=None, tree: str = "events") -> Path:
    from adsearch.io import RootBranches, read_events, write_root

    ev = read_events(REAL, 0, 20)
    b = branches or RootBranches()
    labels = ev.labels if b.label is not None else None
    write_root(path, ev.particles, labels, tree=tree, branches=b)
    return path


def few_constituents_block() -> np.ndarray:
    """Row 0: two single-object jets; row 1: one object only (fewer than two jets)."""
    block = good_block(4)
    block[0, 6:2100] = 0.0  # objects 0 and 1 only: two 1-constituent jets
    block[1, 3:2100] = 0.0  # object 0 only: one jet
    return block


def parquet_not_features(path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"mjj": np.linspace(2600.0, 5000.0, 10)}), path)
    return path


def train_yaml(path: Path, data_path: str, **sections) -> Path:
    import yaml

    d = {
        "data": {"path": data_path, "train_fraction": 0.5, "val_fraction": 0.2},
        "model": {"backbone": "gin", "objective": "deepsvdd", "width": 8, "layers": 1},
        "optim": {"batch_size": 16, "epochs": 1},
        "runtime": {"out_dir": "run", "device": "cpu", "progress": False},
    }
    for k, v in sections.items():
        d.setdefault(k, {}).update(v)
    path.write_text(yaml.safe_dump(d))
    return path


__all__ = ["ak"]
