"""Content-hash step cache: a step reruns only when its config or its inputs changed.

Each step of a pipeline run records, in ``OUTDIR/.state/<step>.json``, the hash of its
configuration, the content hashes of its inputs and of the outputs it wrote. A step is
skipped when the recorded key equals the new key and every recorded output still exists
with the recorded hash (checked by size and mtime first, re-hashed only if those moved).
Since a step's key includes its inputs' content hashes, changing one config value reruns that
step and, if its products change, every step downstream of it.

Examples
--------
>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> def make(o):
...     (o / "a.txt").write_text("hello")
>>> run_step(out, "make", {"x": 1}, inputs=[], outputs=["a.txt"], fn=make)
True
>>> run_step(out, "make", {"x": 1}, inputs=[], outputs=["a.txt"], fn=make)
False
>>> run_step(out, "make", {"x": 2}, inputs=[], outputs=["a.txt"], fn=make)
True
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from adsearch.io.atomic import atomic_path

__all__ = ["file_hash", "input_key", "read_record", "run_step", "step_key", "step_seconds"]

_CHUNK = 1 << 22


def file_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's content (streamed), or of a directory's sorted files."""
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode())
        with open(f, "rb") as fh:
            while block := fh.read(_CHUNK):
                h.update(block)
    return h.hexdigest()


def _stat(p: Path) -> list[float]:
    st = p.stat()
    return [st.st_size, st.st_mtime_ns]


def _state_path(outdir: Path, name: str) -> Path:
    return outdir / ".state" / f"{name}.json"


def _recorded_hash(outdir: Path, path: Path) -> str:
    """Content hash of ``path``, reusing a hash recorded by the step that wrote it."""
    state_dir = outdir / ".state"
    if state_dir.is_dir() and path.is_file():
        for rec_file in state_dir.glob("*.json"):
            try:
                rec = json.loads(rec_file.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            entry = rec.get("outputs", {}).get(str(path.resolve()))
            if entry and entry["stat"] == _stat(path):
                return entry["sha256"]
    return file_hash(path)


def step_key(config: Any, input_hashes: Sequence[str]) -> str:
    """Hash of a step's JSON-serialisable config and its inputs' content hashes."""
    blob = json.dumps({"config": config, "inputs": list(input_hashes)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def input_key(
    outdir: str | os.PathLike[str], config: Any, inputs: Sequence[str | os.PathLike[str]]
) -> str:
    """The key :func:`run_step` computes for ``config`` and ``inputs`` (e.g. to tag a resumable
    partial product with the exact step it belongs to)."""
    out = Path(outdir)
    return step_key(config, [_recorded_hash(out, Path(p)) for p in inputs])


def read_record(outdir: str | os.PathLike[str], name: str) -> dict[str, Any] | None:
    """The state record of step ``name`` (key, outputs, ``seconds`` it took), or None."""
    state = _state_path(Path(outdir), name)
    try:
        return json.loads(state.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def step_seconds(outdir: str | os.PathLike[str], names: Sequence[str]) -> dict[str, float | None]:
    """Seconds each step's current product took to make (from the step records)."""
    out = {}
    for n in names:
        rec = read_record(outdir, n)
        out[n] = rec.get("seconds") if rec else None
    return out


def _outputs_intact(record: dict[str, Any]) -> bool:
    for name, entry in record.get("outputs", {}).items():
        p = Path(name)
        if not p.exists():
            return False
        if entry["stat"] != _stat(p) and file_hash(p) != entry["sha256"]:
            return False
    return True


def run_step(
    outdir: str | os.PathLike[str],
    name: str,
    config: Any,
    inputs: Sequence[str | os.PathLike[str]],
    outputs: Sequence[str | os.PathLike[str]],
    fn: Callable[[Path], None],
) -> bool:
    """Run ``fn(outdir)`` unless an identical earlier run of step ``name`` is recorded.

    Parameters
    ----------
    outdir : path
        The run directory; relative ``outputs`` are inside it.
    name : str
        Step name (one state file per step).
    config : JSON-serialisable
        The part of the configuration this step depends on.
    inputs, outputs : paths
        Files (or directories) the step reads and writes.
    fn : callable
        Does the work; must write every path in ``outputs`` (atomically).

    Returns
    -------
    bool
        True if the step ran, False if it was skipped.
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    in_paths = [Path(p) for p in inputs]
    out_paths = [(out / p) if not Path(p).is_absolute() else Path(p) for p in outputs]
    key = input_key(out, config, in_paths)
    state = _state_path(out, name)
    if state.is_file():
        try:
            record = json.loads(state.read_text())
        except (OSError, json.JSONDecodeError):
            record = {}
        if record.get("key") == key and _outputs_intact(record):
            return False
    state.unlink(missing_ok=True)  # a crash inside fn must not leave a stale "done" record
    t0 = time.perf_counter()
    fn(out)
    seconds = time.perf_counter() - t0
    missing = [str(p) for p in out_paths if not p.exists()]
    if missing:
        raise RuntimeError(f"step {name!r} did not write {', '.join(missing)}")
    record = {
        "key": key,
        "seconds": seconds,
        "outputs": {
            str(p.resolve()): {"sha256": file_hash(p), "stat": _stat(p)} for p in out_paths
        },
    }
    with atomic_path(state) as tmp:
        tmp.write_text(json.dumps(record, indent=1))
    return True
