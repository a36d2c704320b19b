"""Truth-level event files, and the detector response applied to them afterwards.

LHCO-format files hold massless (pT, eta, phi) only: without the particle id and charge
a detector response cannot be applied honestly (is a 5 GeV object a photon, a pion, a
neutron? tracked or not?), so :func:`simulate_file` refuses them. Instead, truth-level
particles are kept in a *truth file*: HDF5, group ``truth`` with flat datasets ``pt, eta,
phi, mass`` (float64), ``pid`` (int32), ``charge`` (float64), per-event ``counts`` (int64)
and optional ``labels`` (int8), plus JSON attributes (generator settings, seed). Unlike the
LHCO layout it keeps every particle (truth QCD events exceed 700).

:func:`simulate_file` reads such a file in chunks, applies :func:`apply_detector`, by
default re-applies the LHCO jet trigger at detector level, and writes an LHCO-format file
whose ``df`` attributes record the card (JSON), the detector seed, the chunk size and the
truth file's own attributes.

Examples
--------
>>> import tempfile, pathlib, awkward as ak
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> ev = ak.Array([[{"pt": 40.0, "eta": 0.3, "phi": 1.0, "mass": 0.0, "pid": 22,
...                  "charge": 0.0}]])
>>> write_truth(d / "t.h5", ev, labels=[1], attrs={"seed": 3})
>>> p, labels, attrs = read_truth(d / "t.h5")
>>> ak.num(p).tolist(), labels.tolist(), attrs["seed"]
([1], [1], 3)
>>> n = simulate_file(d / "t.h5", d / "det.h5", "lhco", seed=1, trigger=False)
>>> n
1
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from adsearch.detector.card import DetectorCard, card_to_json, load_card
from adsearch.detector.response import TRUTH_FIELDS, apply_detector
from adsearch.errors import InputError
from adsearch.io.atomic import atomic_path
from adsearch.io.lhco import LHCOWriter
from adsearch.jets.trigger import TriggerConfig, passes_trigger

__all__ = ["read_truth", "simulate_file", "truth_num_events", "write_truth"]

_GROUP = "truth"
_DTYPES = {"pt": "f8", "eta": "f8", "phi": "f8", "mass": "f8", "pid": "i4", "charge": "f8"}


def write_truth(
    path: str | os.PathLike[str],
    particles: ak.Array,
    labels: np.ndarray | list[int] | None = None,
    attrs: dict[str, Any] | None = None,
) -> None:
    """Write truth-level ``events * var * {pt, eta, phi, mass, pid, charge}`` to ``path``."""
    import h5py
    import hdf5plugin

    missing = [f for f in TRUTH_FIELDS if f not in ak.fields(particles)]
    if missing:
        raise InputError(f"{path}: truth particles lack field(s) {', '.join(missing)}")
    counts = ak.to_numpy(ak.num(particles, axis=1)).astype(np.int64)
    flat = ak.flatten(particles, axis=1)
    comp = hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        g = f.create_group(_GROUP)
        g.create_dataset("counts", data=counts, **comp)
        for k, dt in _DTYPES.items():
            g.create_dataset(k, data=ak.to_numpy(flat[k]).astype(dt), **comp)
        if labels is not None:
            lab = np.asarray(labels, dtype=np.int8)
            if lab.shape != counts.shape:
                raise InputError(f"{path}: {len(lab)} labels for {len(counts)} events")
            g.create_dataset("labels", data=lab)
        g.attrs["attrs"] = json.dumps(attrs or {}, sort_keys=True, default=str)


def _open(path: str | os.PathLike[str]) -> Any:
    import h5py
    import hdf5plugin  # noqa: F401  (registers the blosc filter)

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    try:
        f = h5py.File(p, "r")
    except OSError:
        raise InputError(f"{p}: not an HDF5 file") from None
    if _GROUP not in f:
        keys = ", ".join(f.keys())
        f.close()
        hint = (
            " (an LHCO-format file: it has no particle id or charge, so the detector response "
            "cannot be applied to it; generate with `--detector none` to get a truth file)"
            if "df" in keys
            else ""
        )
        raise InputError(f"{p}: not a truth file, no group '{_GROUP}'{hint}")
    return f


def truth_num_events(path: str | os.PathLike[str]) -> int:
    """Number of events in a truth file."""
    with _open(path) as f:
        return int(f[_GROUP]["counts"].shape[0])


def read_truth(
    path: str | os.PathLike[str], start: int = 0, stop: int | None = None
) -> tuple[ak.Array, np.ndarray | None, dict[str, Any]]:
    """Events ``[start, stop)`` of a truth file: (particles, labels or None, attrs)."""
    with _open(path) as f:
        g = f[_GROUP]
        counts_all = g["counts"][:]
        n = len(counts_all)
        stop = n if stop is None else min(stop, n)
        if not 0 <= start <= stop:
            raise InputError(f"{path}: bad event range [{start}, {stop}) of {n}")
        offsets = np.concatenate([[0], np.cumsum(counts_all)])
        lo, hi = int(offsets[start]), int(offsets[stop])
        cols = {k: g[k][lo:hi] for k in _DTYPES}
        labels = g["labels"][start:stop] if "labels" in g else None
        attrs = json.loads(g.attrs.get("attrs", "{}"))
    for k in ("pt", "eta", "phi", "mass", "charge"):
        if not np.all(np.isfinite(cols[k])):
            raise InputError(f"{path}: non-finite values in truth field {k!r}")
    particles = ak.unflatten(ak.zip(cols), counts_all[start:stop])
    return particles, labels, attrs


def simulate_file(
    truth_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    card: DetectorCard | str = "lhco",
    seed: int = 0,
    *,
    trigger: Any = True,
    chunk_size: int = 10_000,
) -> int:
    """Apply the detector response to a truth file and write an LHCO-format file.

    Parameters
    ----------
    truth_path, out_path
        Input truth file (:func:`write_truth`) and output LHCO HDF5 file.
    card
        A :class:`DetectorCard`, ``"lhco"`` or a card YAML path.
    seed
        Detector seed; chunk ``k`` uses a seed derived from ``(seed, k)``, so the output
        depends on ``seed`` and ``chunk_size`` only.
    trigger
        ``True`` (LHCO jet trigger at detector level), ``False`` (keep every event) or an
        :class:`adsearch.generate.TriggerConfig`. Truth files written by the generator were
        triggered at truth level; re-triggering drops the events that fail at detector level
        (those that would pass only at detector level are not in the truth file).
    chunk_size
        Events per chunk (memory bound).

    Returns
    -------
    int
        Events written.
    """

    if isinstance(card, str | Path):
        card = load_card(str(card))
    if chunk_size < 1:
        raise InputError(f"chunk_size must be >= 1, got {chunk_size}")
    trig_cfg = None
    if trigger is True:
        trig_cfg = TriggerConfig()
    elif trigger is not False and trigger is not None:
        trig_cfg = trigger
    n = truth_num_events(truth_path)
    _, labels0, truth_attrs = read_truth(truth_path, 0, 0)
    with_label = labels0 is not None
    attrs = {
        "detector": card_to_json(card),
        "detector_seed": int(seed),
        "detector_chunk_size": int(chunk_size),
        "truth_file": str(truth_path),
        "truth_attrs": truth_attrs,
        "trigger": "none" if trig_cfg is None else json.dumps(vars(trig_cfg), sort_keys=True),
    }
    written = 0
    seeds = np.random.SeedSequence(int(seed)).spawn(max(1, -(-n // chunk_size)))
    with LHCOWriter(out_path, with_label=with_label, attrs=attrs) as w:
        for k, start in enumerate(range(0, n, chunk_size)):
            particles, labels, _ = read_truth(truth_path, start, start + chunk_size)
            det = apply_detector(particles, card, seed=int(seeds[k].generate_state(1)[0]))
            if trig_cfg is not None:
                keep = passes_trigger(det, trig_cfg)
                det = det[keep]
                labels = labels[keep] if labels is not None else None
            w.append(ak.zip({k2: det[k2] for k2 in ("pt", "eta", "phi")}), labels)
            written += len(det)
    return written
