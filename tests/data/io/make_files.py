"""Regenerate the tiny LHCO-layout files in this directory with pandas itself.

``python tests/data/io/make_files.py`` writes, with ``DataFrame.to_hdf(key="df",
format="fixed", complib="blosc")`` (the way the real LHC Olympics files were written):

- ``lhco_rd_tiny.h5``: 50 synthetic events, 2101 columns (last = label, 10 signal);
- ``lhco_bb_tiny.h5``: 20 synthetic events, 2100 columns (Black-Box layout, no label).

Rows are random but LHCO-like: 20-400 massless objects, not sorted by pT, zero padded,
float32 values stored as float64 (like the real files).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def rows(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    block = np.zeros((n, 2100))
    counts = rng.integers(20, 400, size=n)
    for i, c in enumerate(counts):  # a loop is fine for 50 rows of test data
        pt = rng.exponential(5.0, c) + 0.1
        pt[rng.integers(0, c, 3)] += rng.uniform(200.0, 800.0, 3)  # a few hard objects
        eta = rng.uniform(-4.9, 4.9, c)
        phi = rng.uniform(-np.pi, np.pi, c)
        block[i, : 3 * c] = np.stack([pt, eta, phi], axis=1).reshape(-1)
    # The real files hold float32 values stored as float64.
    return block.astype(np.float32).astype(np.float64), counts


def main() -> None:
    rng = np.random.default_rng(20200101)
    block, _ = rows(50, rng)
    labels = np.zeros(50)
    labels[rng.choice(50, 10, replace=False)] = 1.0
    df = pd.DataFrame(np.column_stack([block, labels]))
    df.to_hdf(
        HERE / "lhco_rd_tiny.h5", key="df", format="fixed", complib="blosc", complevel=5, mode="w"
    )
    block, _ = rows(20, rng)
    pd.DataFrame(block).to_hdf(
        HERE / "lhco_bb_tiny.h5", key="df", format="fixed", complib="blosc", complevel=5, mode="w"
    )


if __name__ == "__main__":
    main()
