"""JSON result files: numpy values made plain, non-finite floats spelled out, written atomically.

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np
>>> p = write_json(pathlib.Path(tempfile.mkdtemp()) / "r.json", {"z": np.float64(1.5), "p": np.nan})
>>> print(p.read_text().strip())
{
 "z": 1.5,
 "p": null
}
>>> jsonable({"x": np.array([1, 2]), "up": float("inf")})
{'x': [1, 2], 'up': 'inf'}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from adsearch.io.atomic import atomic_path

__all__ = ["jsonable", "read_json", "write_json"]


def jsonable(o: Any) -> Any:
    """``o`` with numpy arrays/scalars as Python values and NaN -> None, +-inf -> "inf"/"-inf"."""
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return jsonable(o.tolist())
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not np.isfinite(o):
        return None if np.isnan(o) else ("inf" if o > 0 else "-inf")
    return o


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON atomically (NaN -> null, numpy -> Python)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(jsonable(data), indent=1) + "\n")
    return Path(path)


def read_json(path: str | os.PathLike[str]) -> Any:
    """The parsed content of a JSON file written by :func:`write_json`."""
    return json.loads(Path(path).read_text())
