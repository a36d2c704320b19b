"""Pythia 8 set-up and vectorised extraction of visible final-state particles.

``pythia8mc``'s ``Pythia.nextBatch(n)`` returns whole events as an awkward array
(``prt{id, status, p{px, py, pz, e}, m, ...}``). Visible final-state particles are those with
``status > 0`` (Pythia's ``isFinal``) that are not neutrinos (|id| 12, 14, 16); their charge
comes from Pythia's particle table through a lookup over the unique ids of the batch, so no
Python loop ever runs over particles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import awkward as ak
import numpy as np

from adsearch.errors import ConfigError

__all__ = ["ChargeTable", "make_pythia", "truth_particles"]

#: Neutrinos: final state but invisible.
NEUTRINO_IDS = (12, 14, 16)


def make_pythia(settings: Sequence[str], seed: int, init: bool = True) -> Any:
    """A ``pythia8mc.Pythia`` with ``settings`` and ``Random:seed = seed``, initialised.

    Raises ConfigError naming the first setting Pythia does not accept, or if ``init`` fails.
    """
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)  # no banner
    for line in [*settings, f"Random:seed = {int(seed)}"]:
        if not pythia.readString(line):
            raise ConfigError(f"Pythia does not accept the setting {line!r}")
    if init and not pythia.init():
        raise ConfigError("Pythia initialisation failed (check the process settings)")
    return pythia


class ChargeTable:
    """Electric charge (units of e) per PDG id, cached from a Pythia particle table.

    Examples
    --------
    >>> import numpy as np
    >>> table = ChargeTable(make_pythia(["Print:quiet = on"], 1, init=False).particleData)
    >>> table(np.array([211, -211, 22, 2212, 11])).tolist()
    [1.0, -1.0, 0.0, 1.0, -1.0]
    """

    def __init__(self, particle_data: Any) -> None:
        self._pd = particle_data
        self._ids = np.zeros(0, dtype=np.int64)
        self._charges = np.zeros(0, dtype=np.float64)

    def __call__(self, pid: np.ndarray) -> np.ndarray:
        """Charges of the ids in ``pid`` (any shape of integers)."""
        pid = np.asarray(pid, dtype=np.int64)
        uniq = np.unique(pid)
        new = np.setdiff1d(uniq, self._ids, assume_unique=True)
        if len(new):  # a handful of new species per batch at most
            ch = np.array([self._pd.charge(int(i)) for i in new], dtype=np.float64)
            ids = np.concatenate([self._ids, new])
            order = np.argsort(ids)
            self._ids = ids[order]
            self._charges = np.concatenate([self._charges, ch])[order]
        return self._charges[np.searchsorted(self._ids, pid)]


def truth_particles(batch: ak.Array, charges: ChargeTable) -> ak.Array:
    """Visible final-state particles of a ``nextBatch`` result.

    Parameters
    ----------
    batch : ak.Array
        ``Pythia.nextBatch(n)`` output.
    charges : ChargeTable
        Charge lookup of the same Pythia instance.

    Returns
    -------
    ak.Array
        ``events * var * {pt, eta, phi, mass, pid, charge}`` (float64, ``pid`` int32), in
        Pythia's event-record order. Particles with ``pT = 0`` (zero-energy shower photons,
        which occur rarely) are dropped: their pseudorapidity is undefined.
    """
    prt = batch["prt"]
    pid = prt["id"]
    aid = abs(pid)
    keep = prt["status"] > 0
    for nu in NEUTRINO_IDS:
        keep = keep & (aid != nu)
    prt = prt[keep]
    counts = ak.to_numpy(ak.num(prt, axis=1))
    p = prt["p"]
    px = ak.to_numpy(ak.flatten(p["px"]))
    py = ak.to_numpy(ak.flatten(p["py"]))
    pz = ak.to_numpy(ak.flatten(p["pz"]))
    mass = ak.to_numpy(ak.flatten(prt["m"])).astype(np.float64)
    ids = ak.to_numpy(ak.flatten(prt["id"])).astype(np.int32)
    pt = np.hypot(px, py)
    good = pt > 0
    if not good.all():
        event = np.repeat(np.arange(len(counts)), counts)
        counts = np.bincount(event[good], minlength=len(counts))
        px, py, pz, pt, mass, ids = (a[good] for a in (px, py, pz, pt, mass, ids))
    eta = np.arcsinh(pz / pt)
    phi = np.arctan2(py, px)
    rec = ak.zip(
        {
            "pt": pt,
            "eta": eta,
            "phi": phi,
            "mass": np.maximum(mass, 0.0),
            "pid": ids,
            "charge": charges(ids),
        }
    )
    return ak.unflatten(rec, counts)
