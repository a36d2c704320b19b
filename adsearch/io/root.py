"""ROOT files via uproot: a TTree of jagged per-particle branches plus an optional label.

Default branch names (:class:`RootBranches`): ``part_pt``, ``part_eta``, ``part_phi``
(``std::vector<double>``-like jagged ``double[]`` branches sharing the counter ``npart``) and
``label`` (one integer per event, 1 = signal). All names are configurable, e.g. for a
Delphes-style tree ``RootBranches(pt="PFCand.PT", eta="PFCand.Eta", phi="PFCand.Phi",
label=None)``. Objects are read as massless unless ``mass`` names a branch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from adsearch.errors import InputError
from adsearch.io.atomic import atomic_path
from adsearch.io.events import Events, make_particles, validate_labels, validate_particles

__all__ = ["RootBranches", "iter_root", "read_root", "root_num_entries", "write_root"]

_WRITE_BATCH = 100_000  # events per TTree.extend (one basket per branch per batch)


@dataclass(frozen=True)
class RootBranches:
    """Names of the TTree branches holding the particles and the label.

    Attributes
    ----------
    pt, eta, phi
        Jagged float branches (one entry per particle), GeV and radians.
    label
        Per-event integer branch (1 = signal, 0 = background); ``None`` to ignore labels.
        A file without this branch reads with ``labels=None``.
    mass
        Optional jagged mass branch; ``None`` (default) = massless objects (LHCO convention).
    """

    pt: str = "part_pt"
    eta: str = "part_eta"
    phi: str = "part_phi"
    label: str | None = "label"
    mass: str | None = None

    def particle_branches(self) -> dict[str, str]:
        """``{field: branch}`` for the particle fields present in the file."""
        out = {"pt": self.pt, "eta": self.eta, "phi": self.phi}
        if self.mass is not None:
            out["mass"] = self.mass
        return out


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _open_tree(path: Path, tree: str) -> tuple[Any, Any]:
    import uproot  # imported here: uproot import costs ~0.3 s

    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")
    try:
        f = uproot.open(path)
    except Exception as e:  # uproot raises many types for a corrupt header
        raise InputError(f"{path}: not a readable ROOT file: {_one_line(e)}") from None
    try:
        trees = {k.split(";")[0] for k, v in f.classnames().items() if v == "TTree"}
    except Exception as e:
        f.close()
        raise InputError(f"{path}: corrupt ROOT directory: {_one_line(e)}") from None
    if tree not in trees:
        f.close()
        avail = ", ".join(sorted(trees)) or "none"
        raise InputError(f"{path}: no TTree '{tree}' (TTrees in file: {avail})")
    try:
        t = f[tree]
    except Exception as e:
        f.close()
        raise InputError(f"{path}: cannot read TTree '{tree}': {_one_line(e)}") from None
    return f, t


def _branch_plan(
    t: Any, path: Path, tree: str, branches: RootBranches
) -> tuple[dict[str, str], str | None]:
    keys = set(t.keys())
    wanted = branches.particle_branches()
    missing = [b for b in wanted.values() if b not in keys]
    if missing:
        avail = ", ".join(sorted(keys)) or "none"
        raise InputError(
            f"{path}: TTree '{tree}' has no branch {', '.join(repr(m) for m in missing)} "
            f"(branches: {avail}; set the names with RootBranches)"
        )
    label = branches.label if branches.label is not None and branches.label in keys else None
    return wanted, label


def _to_events(
    arrays: ak.Array, wanted: dict[str, str], label: str | None, src: str, offset: int
) -> Events:
    cols = {f: arrays[b] for f, b in wanted.items()}
    try:
        particles = make_particles(cols["pt"], cols["eta"], cols["phi"], cols.get("mass"))
    except ValueError as e:
        raise InputError(
            f"{src}: particle branches have different lengths per event: {_one_line(e)}"
        ) from None
    validate_particles(particles, src, event_offset=offset)
    labels = None
    if label is not None:
        labels = validate_labels(ak.to_numpy(arrays[label]), src, event_offset=offset)
    return Events(particles, labels, src)


def root_num_entries(path: str | os.PathLike[str], tree: str = "events") -> int:
    """Number of events in ``tree`` (reads only the header)."""
    f, t = _open_tree(Path(path), tree)
    with f:
        return int(t.num_entries)


def iter_root(
    path: str | os.PathLike[str],
    tree: str = "events",
    branches: RootBranches = RootBranches(),
    start: int = 0,
    stop: int | None = None,
    chunk_size: int = 100_000,
) -> Iterator[Events]:
    """Stream ``tree`` of a ROOT file as :class:`Events` of ``chunk_size`` events each.

    Raises :class:`~adsearch.errors.InputError` naming the file and the branch when the tree
    or a particle branch is missing (listing the available ones), or values are invalid.
    """
    p = Path(path)
    if start < 0 or (stop is not None and stop < start) or chunk_size <= 0:
        raise InputError(f"{p}: bad event range start={start}, stop={stop}, chunk={chunk_size}")
    f, t = _open_tree(p, tree)
    with f:
        wanted, label = _branch_plan(t, p, tree, branches)
        names = [*wanted.values(), *([label] if label else [])]
        stop = t.num_entries if stop is None else min(stop, t.num_entries)
        for c0 in range(start, stop, chunk_size):
            c1 = min(c0 + chunk_size, stop)
            try:
                arrays = t.arrays(names, entry_start=c0, entry_stop=c1, library="ak")
            except Exception as e:
                raise InputError(
                    f"{p}: cannot read entries {c0}-{c1} of '{tree}' (corrupt?): {_one_line(e)}"
                ) from None
            yield _to_events(arrays, wanted, label, str(p), c0)


def read_root(
    path: str | os.PathLike[str],
    tree: str = "events",
    branches: RootBranches = RootBranches(),
    start: int = 0,
    stop: int | None = None,
) -> Events:
    """Read events ``[start, stop)`` of a ROOT TTree (see :func:`iter_root`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "ev.root"
    >>> write_root(f, make_particles([[5.0, 1.0]], [[0.1, 2.0]], [[1.0, 0.0]]), labels=[1])
    >>> ev = read_root(f)
    >>> ev.particles.pt.tolist(), ev.labels.tolist()
    ([[5.0, 1.0]], [1])
    """
    p = Path(path)
    if stop is None:
        stop = root_num_entries(p, tree)
    chunks = list(iter_root(p, tree, branches, start, stop, chunk_size=max(stop - start, 1)))
    if chunks:
        return chunks[0]
    return Events(make_particles([], [], []), None, str(p))


def write_root(
    path: str | os.PathLike[str],
    particles: ak.Array,
    labels: np.ndarray | list[int] | None = None,
    tree: str = "events",
    branches: RootBranches = RootBranches(),
) -> None:
    """Write particles (and labels) as a TTree of jagged float64 branches, atomically.

    If the particle branch names are ``<prefix>_pt``, ``<prefix>_eta``, ... they share one
    counter branch ``n<prefix>`` (the default: ``npart``); otherwise each gets ``n<name>``.
    Labels are written as ``int8``. Values are validated first; nothing is left at ``path``
    if anything fails.
    """
    import uproot

    src = str(path)
    particles = ak.Array(particles)
    validate_particles(particles, src)
    lab = None
    if labels is not None:
        if branches.label is None:
            raise InputError(f"{src}: labels given but RootBranches.label is None")
        lab = validate_labels(np.asarray(labels), src)
        if len(lab) != len(particles):
            raise InputError(f"{src}: {len(lab)} labels for {len(particles)} events")
    fields = branches.particle_branches()
    if "mass" not in ak.fields(particles):
        fields.pop("mass", None)
    prefix = _common_prefix(fields)

    def batch(b0: int, b1: int) -> dict[str, Any]:
        part = particles[b0:b1]
        cols = {f: ak.values_astype(ak.without_parameters(part[f]), np.float64) for f in fields}
        out = {prefix: ak.zip(cols)} if prefix is not None else {fields[f]: cols[f] for f in fields}
        if lab is not None and branches.label is not None:
            out[branches.label] = lab[b0:b1]
        return out

    with atomic_path(path) as tmp, uproot.recreate(tmp) as f:
        first = batch(0, min(_WRITE_BATCH, len(particles)))
        t = f.mktree(
            tree,
            {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in first.items()},
        )
        t.extend(first)
        for b0 in range(_WRITE_BATCH, len(particles), _WRITE_BATCH):
            t.extend(batch(b0, min(b0 + _WRITE_BATCH, len(particles))))


def _common_prefix(fields: dict[str, str]) -> str | None:
    prefixes = {b[: -len(f) - 1] for f, b in fields.items() if b.endswith("_" + f)}
    if len(prefixes) == 1 and all(b.endswith("_" + f) for f, b in fields.items()):
        prefix = prefixes.pop()
        return prefix or None
    return None
