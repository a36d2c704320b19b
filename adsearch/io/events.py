"""The in-memory event container shared by every reader and writer.

An :class:`Events` holds a batch of events as an awkward array of particles
``events * var * {pt, eta, phi, mass}`` (float64; GeV and radians; padding removed) plus
optional truth labels (1 = signal, 0 = background) and the name of the file it came from.

:func:`validate_particles` is the single place where particle arrays are checked for values
that would silently poison everything downstream (NaN/inf, negative pT, absurd |eta|,
events without any particle). Readers and writers call it; so can any other producer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import numpy as np

from adsearch.errors import InputError

__all__ = [
    "MAX_ABS_ETA",
    "MAX_ABS_PHI",
    "PARTICLE_FIELDS",
    "Events",
    "make_particles",
    "validate_labels",
    "validate_particles",
]

#: Record fields of a particle array, in this order.
PARTICLE_FIELDS: tuple[str, ...] = ("pt", "eta", "phi", "mass")

#: |eta| above this is considered corrupt input. Detector-level objects stop at |eta| = 5
#: (LHCO); generator-level particles reach |eta| ~ 15 at 13 TeV; beyond 20 is not physics.
MAX_ABS_ETA: float = 20.0

#: |phi| above this (2 pi plus rounding) is considered corrupt input (either the
#: [-pi, pi] or the [0, 2 pi) convention is accepted).
MAX_ABS_PHI: float = 2.0 * np.pi + 1e-6


@dataclass
class Events:
    """A batch of events read from (or to be written to) a file.

    Attributes
    ----------
    particles
        ``events * var * {pt, eta, phi, mass}`` float64 awkward array, padding removed.
        Particle order is the file's order (LHCO rows are not sorted by pT).
    labels
        Per-event truth label (1 = signal, 0 = background) as an integer numpy array, or
        ``None`` when the file has no label column (e.g. LHCO Black Boxes).
    source
        The file the events came from (for messages), ``""`` if built in memory.

    Examples
    --------
    >>> ev = Events(make_particles([[1.0, 2.0]], [[0.1, -0.2]], [[0.0, 3.0]]), np.array([1]))
    >>> len(ev), ev.particles.fields, ev.labels.tolist()
    (1, ['pt', 'eta', 'phi', 'mass'], [1])
    >>> len(ev[ev.labels == 0])
    0
    """

    particles: ak.Array
    labels: np.ndarray | None = None
    source: str = field(default="")

    def __post_init__(self) -> None:
        if self.labels is not None and len(self.labels) != len(self.particles):
            raise InputError(
                f"{self.source or 'events'}: {len(self.labels)} labels for "
                f"{len(self.particles)} events"
            )

    def __len__(self) -> int:
        return len(self.particles)

    def __getitem__(self, where: slice | np.ndarray) -> Events:
        """Select events (slice, boolean mask or index array); labels follow."""
        if isinstance(where, int | np.integer):
            raise TypeError("index Events with a slice, mask or index array, not an int")
        labels = None if self.labels is None else self.labels[where]
        return Events(self.particles[where], labels, self.source)

    @property
    def signal_fraction(self) -> float | None:
        """Fraction of events labelled signal, or ``None`` without labels or events."""
        if self.labels is None or len(self.labels) == 0:
            return None
        return float(np.mean(self.labels == 1))


def make_particles(pt: Any, eta: Any, phi: Any, mass: Any = None) -> ak.Array:
    """Build an ``events * var * {pt, eta, phi, mass}`` float64 array from jagged inputs.

    ``pt``, ``eta``, ``phi`` (and ``mass``, zero if omitted) must have the same jagged
    structure (anything :func:`awkward.Array` accepts: nested lists, awkward arrays).

    Examples
    --------
    >>> p = make_particles([[3.0], []], [[0.5], []], [[1.0], []])
    >>> str(p.type)
    '2 * var * {pt: float64, eta: float64, phi: float64, mass: float64}'
    """
    pt = ak.values_astype(ak.Array(pt), np.float64)
    eta = ak.values_astype(ak.Array(eta), np.float64)
    phi = ak.values_astype(ak.Array(phi), np.float64)
    mass = ak.zeros_like(pt) if mass is None else ak.values_astype(ak.Array(mass), np.float64)
    return ak.zip({"pt": pt, "eta": eta, "phi": phi, "mass": mass}, depth_limit=None)


def _first_bad(event_of_particle: np.ndarray, bad: np.ndarray) -> int:
    return int(event_of_particle[np.flatnonzero(bad)[0]])


def validate_particles(
    particles: ak.Array,
    source: str,
    *,
    event_offset: int = 0,
    max_abs_eta: float = MAX_ABS_ETA,
    allow_empty_events: bool = False,
) -> None:
    """Raise :class:`~adsearch.errors.InputError` if ``particles`` holds unusable values.

    Checks, in this order: the record has ``pt``, ``eta``, ``phi`` fields; every value of
    ``pt``, ``eta``, ``phi`` (and ``mass`` if present) is finite; ``pt >= 0``; ``|eta| <=
    max_abs_eta``; ``|phi| <= 2 pi``; ``mass >= 0``; every event has at least one particle
    with ``pt > 0`` (an all-zero event is a broken row, not physics: every LHCO event passed a
    1.2 TeV jet trigger). The message is one line naming ``source``, the first bad event
    (counting from ``event_offset``, e.g. the chunk start) and the column.

    Examples
    --------
    >>> p = make_particles([[10.0, float("nan")]], [[0.0, 0.0]], [[0.0, 0.0]])
    >>> validate_particles(p, "x.h5")
    Traceback (most recent call last):
    ...
    adsearch.errors.InputError: x.h5: non-finite pt (NaN or inf) in event 0
    """
    missing = [f for f in ("pt", "eta", "phi") if f not in ak.fields(particles)]
    if missing:
        raise InputError(
            f"{source}: particle array lacks field(s) {', '.join(missing)} "
            f"(has {', '.join(ak.fields(particles)) or 'none'})"
        )
    counts = ak.to_numpy(ak.num(particles, axis=1))
    event_of_particle = np.repeat(np.arange(len(counts)), counts) + event_offset
    cols = {
        f: ak.to_numpy(ak.flatten(particles[f], axis=None)).astype(np.float64, copy=False)
        for f in PARTICLE_FIELDS
        if f in ak.fields(particles)
    }
    for name, col in cols.items():
        finite = np.isfinite(col)
        if not finite.all():
            raise InputError(
                f"{source}: non-finite {name} (NaN or inf) in event "
                f"{_first_bad(event_of_particle, ~finite)}"
            )
    checks = [
        ("pt", cols["pt"] < 0, "negative pt"),
        ("eta", np.abs(cols["eta"]) > max_abs_eta, f"|eta| > {max_abs_eta:g}"),
        ("phi", np.abs(cols["phi"]) > MAX_ABS_PHI, "|phi| > 2 pi"),
    ]
    if "mass" in cols:
        checks.append(("mass", cols["mass"] < 0, "negative mass"))
    for name, bad, what in checks:
        if bad.any():
            ev = _first_bad(event_of_particle, bad)
            value = cols[name][np.flatnonzero(bad)[0]]
            raise InputError(f"{source}: {what} ({name} = {value:g}) in event {ev}")
    if not allow_empty_events:
        has = ak.to_numpy(ak.any(particles["pt"] > 0, axis=1))
        if not has.all():
            ev = int(np.flatnonzero(~has)[0]) + event_offset
            raise InputError(f"{source}: event {ev} has no particle with pt > 0 (all-zero row)")


def validate_labels(labels: np.ndarray, source: str, *, event_offset: int = 0) -> np.ndarray:
    """Check labels are 0/1 and return them as int8; raise InputError naming the first bad one.

    Examples
    --------
    >>> validate_labels(np.array([0.0, 1.0]), "x.h5").tolist()
    [0, 1]
    """
    labels = np.asarray(labels)
    bad = ~((labels == 0) | (labels == 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{source}: label of event {i + event_offset} is {float(labels[i])} (expected 0 or 1)"
        )
    return labels.astype(np.int8)
