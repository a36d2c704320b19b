"""The LHCO jet trigger: at least one anti-kT R=1.0 jet with |eta| < 2.5 and pT > 1.2 TeV."""

from __future__ import annotations

import math
from dataclasses import dataclass

import awkward as ak
import fastjet
import numpy as np

from adsearch.errors import ConfigError
from adsearch.jets.cluster import to_momentum4d

__all__ = ["TriggerConfig", "passes_trigger"]


@dataclass
class TriggerConfig:
    """Event trigger on anti-kT jets of the (output-level) particles.

    Attributes
    ----------
    enabled : bool
        ``False`` keeps every generated event.
    r : float
        Jet radius.
    pt_min : float
        Jet pT threshold in GeV (LHCO: 1200).
    eta_max : float
        Jet |eta| acceptance (LHCO: 2.5).
    min_jets : int
        Jets required above threshold inside the acceptance (LHCO: 1).
    """

    enabled: bool = True
    r: float = 1.0
    pt_min: float = 1200.0
    eta_max: float = 2.5
    min_jets: int = 1

    def validate(self) -> None:
        """Raise ConfigError on impossible settings."""
        for k in ("r", "eta_max"):
            v = getattr(self, k)
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"trigger: {k} must be a positive number, got {v!r}")
        if not (math.isfinite(self.pt_min) and self.pt_min >= 0):
            raise ConfigError(f"trigger: pt_min must be >= 0, got {self.pt_min!r}")
        if self.min_jets < 1:
            raise ConfigError(f"trigger: min_jets must be >= 1, got {self.min_jets}")


def passes_trigger(particles: ak.Array, trigger: TriggerConfig) -> np.ndarray:
    """Boolean mask of the events of ``particles`` that pass ``trigger``.

    Jets are those of :func:`adsearch.jets.cluster` (anti-kT on the same four-momenta), but
    only the jets are built: the trigger does not need the constituent lists, which cost ~20 %
    of the clustering time.

    Examples
    --------
    >>> import awkward as ak
    >>> ev = ak.Array([[{"pt": 1500.0, "eta": 0.1, "phi": 0.0}],
    ...                [{"pt": 1500.0, "eta": 3.0, "phi": 0.0}],
    ...                [{"pt": 700.0, "eta": 0.0, "phi": 0.0},
    ...                 {"pt": 700.0, "eta": 0.2, "phi": 0.2}]])
    >>> passes_trigger(ev, TriggerConfig()).tolist()
    [True, False, True]
    """
    n = len(particles)
    if not trigger.enabled:
        return np.ones(n, dtype=bool)
    if n == 0:
        return np.zeros(0, dtype=bool)
    seq = fastjet.ClusterSequence(
        to_momentum4d(particles), fastjet.JetDefinition(fastjet.antikt_algorithm, trigger.r)
    )
    jets = seq.inclusive_jets(min_pt=trigger.pt_min)
    pt = np.hypot(jets.px, jets.py)
    # pseudorapidity from the momentum vector (jets are massive)
    eta = np.arcsinh(jets.pz / pt)
    ok = (pt > trigger.pt_min) & (abs(eta) < trigger.eta_max)
    return ak.to_numpy(ak.sum(ok, axis=1) >= trigger.min_jets)
