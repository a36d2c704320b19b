"""Detector cards: the documented parameters of the fast detector response.

A :class:`DetectorCard` holds every number of :func:`adsearch.detector.apply_detector`:
the solenoid (charged-particle bending), the tracker (acceptance, efficiency table, pT
threshold, momentum resolution) and two calorimeters (tower granularity, energy fractions,
thresholds, resolutions). The built-in card ``"lhco"`` carries the numbers of Delphes 3.4.1's
``cards/delphes_card_CMS.tcl`` (the detector of the LHC Olympics 2020 samples); the code
that uses them is ours (see :mod:`adsearch.detector.response`).

Cards are YAML files with the same keys as the dataclasses below; unknown keys, wrong types
and unphysical values (negative resolutions, efficiencies outside [0, 1], unsorted bin edges)
are refused with a :class:`~adsearch.errors.ConfigError` naming the key.

Examples
--------
>>> card = load_card("lhco")
>>> card.tracking.eta_max, card.hcal.energy_min
(2.5, 1.0)
>>> len(card.ecal.cells()[0]) - 1 > len(card.hcal.cells()[0]) - 1   # ECAL is finer in eta
True
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from adsearch.config import check_sections, from_dict, load_yaml, to_dict
from adsearch.errors import ConfigError
from adsearch.io.atomic import atomic_path

__all__ = [
    "CaloResolution",
    "CaloSegment",
    "Calorimeter",
    "DetectorCard",
    "EfficiencyRegion",
    "Solenoid",
    "TrackResolution",
    "Tracking",
    "card_from_json",
    "card_to_json",
    "default_card",
    "load_card",
    "save_card",
]


def _nonneg(value: float, where: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise ConfigError(f"{where}: must be a finite number >= 0, got {value!r}")


def _increasing(values: list[float], where: str) -> None:
    if any(not math.isfinite(v) for v in values):
        raise ConfigError(f"{where}: values must be finite")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ConfigError(f"{where}: values must be strictly increasing")


@dataclass
class Solenoid:
    """Magnetic field volume: charged particles are bent on helices until its surface.

    The calorimeter entry point (barrel at ``radius`` or endcap at ``half_length``) decides
    the tower a charged particle deposits in. ``bz = 0`` switches the bending off.
    """

    radius: float = 1.29  #: m (Delphes ParticlePropagator Radius)
    half_length: float = 3.0  #: m (HalfLength)
    bz: float = 3.8  #: tesla (Bz)

    def check(self, where: str = "solenoid") -> None:
        _nonneg(self.bz, f"{where}:bz")
        for k in ("radius", "half_length"):
            v = getattr(self, k)
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"{where}:{k}: must be > 0, got {v!r}")


@dataclass
class EfficiencyRegion:
    """Tracking efficiency for ``|eta| <= eta_max`` (regions in increasing ``eta_max``).

    ``efficiency[i]`` applies for ``pt_edges[i] < pT <= pt_edges[i+1]`` (the last one is
    open-ended); below ``pt_edges[0]`` the efficiency is zero.
    """

    eta_max: float
    pt_edges: list[float]
    efficiency: list[float]


@dataclass
class TrackResolution:
    """Relative track-pT resolution for ``|eta| <= eta_max``:
    sigma(pT)/pT = sqrt(constant**2 + (slope * pT/GeV)**2)."""

    eta_max: float
    constant: float
    slope: float


@dataclass
class Tracking:
    """Charged-particle tracker. Only particles with ``|charge| > 0``, ``|eta| < eta_max``
    and ``pT > pt_min`` can become tracks; ``efficiency`` then decides which do.

    With ``at_entry_point`` (Delphes 3.4.1 behaviour), the eta used for acceptance,
    efficiency and resolution is that of the particle's calorimeter entry point, not of its
    momentum: loopers (pT below ~0.3 Bz R / 2, 0.73 GeV for the CMS solenoid) that leave
    the field volume through the endcap beyond ``eta_max`` are not tracked.
    """

    eta_max: float = 2.5
    pt_min: float = 0.1
    at_entry_point: bool = True
    efficiency: list[EfficiencyRegion] = field(default_factory=list)
    resolution: list[TrackResolution] = field(default_factory=list)

    def check(self, where: str = "tracking") -> None:
        _nonneg(self.eta_max, f"{where}:eta_max")
        _nonneg(self.pt_min, f"{where}:pt_min")
        _increasing([r.eta_max for r in self.efficiency], f"{where}:efficiency:eta_max")
        for i, r in enumerate(self.efficiency):
            w = f"{where}:efficiency[{i}]"
            if len(r.pt_edges) != len(r.efficiency) or not r.pt_edges:
                raise ConfigError(f"{w}: pt_edges and efficiency need the same, non-zero length")
            _increasing(r.pt_edges, f"{w}:pt_edges")
            for e in r.efficiency:
                if not (0.0 <= e <= 1.0):
                    raise ConfigError(f"{w}:efficiency: must lie in [0, 1], got {e!r}")
        _increasing([r.eta_max for r in self.resolution], f"{where}:resolution:eta_max")
        for i, res in enumerate(self.resolution):
            _nonneg(res.constant, f"{where}:resolution[{i}]:constant")
            _nonneg(res.slope, f"{where}:resolution[{i}]:slope")
        if self.efficiency and self.efficiency[-1].eta_max < self.eta_max:
            raise ConfigError(f"{where}:efficiency: regions must reach eta_max={self.eta_max}")
        if self.resolution and self.resolution[-1].eta_max < self.eta_max:
            raise ConfigError(f"{where}:resolution: regions must reach eta_max={self.eta_max}")


@dataclass
class CaloSegment:
    """A block of towers: ``n_phi`` equal phi bins over [-pi, pi] for every eta bin.

    Eta bins are given either by explicit ``eta_edges`` or as ``n_eta`` equal bins between
    ``eta_min`` and ``eta_max``.
    """

    n_phi: int
    eta_edges: list[float] = field(default_factory=list)
    eta_min: float | None = None
    eta_max: float | None = None
    n_eta: int = 0

    def edges(self) -> np.ndarray:
        if self.eta_edges:
            return np.asarray(self.eta_edges, dtype=np.float64)
        assert self.eta_min is not None and self.eta_max is not None
        return np.linspace(self.eta_min, self.eta_max, self.n_eta + 1)

    def check(self, where: str) -> None:
        if self.n_phi < 1:
            raise ConfigError(f"{where}:n_phi: must be >= 1, got {self.n_phi!r}")
        uniform = self.eta_min is not None or self.eta_max is not None or self.n_eta
        if bool(self.eta_edges) == bool(uniform):
            raise ConfigError(f"{where}: give either eta_edges or (eta_min, eta_max, n_eta)")
        if self.eta_edges:
            if len(self.eta_edges) < 2:
                raise ConfigError(f"{where}:eta_edges: need at least two edges")
            _increasing(self.eta_edges, f"{where}:eta_edges")
        else:
            if self.eta_min is None or self.eta_max is None or self.n_eta < 1:
                raise ConfigError(f"{where}: eta_min, eta_max and n_eta >= 1 are all needed")
            _increasing([self.eta_min, self.eta_max], f"{where}:eta_min/eta_max")


@dataclass
class CaloResolution:
    """Tower energy resolution for ``|eta| <= eta_max``::

        sigma(E) = (scale + scale_slope * (|eta| - scale_eta0)**2)
                   * sqrt((constant * E)**2 + stochastic**2 * E + noise**2)

    (E in GeV). The eta-dependent prefactor carries the CMS ECAL shape of the Delphes card;
    it is 1 for plain stochastic/constant/noise terms.
    """

    eta_max: float
    stochastic: float
    constant: float
    noise: float = 0.0
    scale: float = 1.0
    scale_slope: float = 0.0
    scale_eta0: float = 0.0


@dataclass
class Calorimeter:
    """One calorimeter (ECAL or HCAL) in the Delphes ``SimpleCalorimeter`` sense.

    Every particle deposits ``fraction * E`` in the tower its calorimeter entry point falls
    in; the fraction is looked up by ``|pid|`` in ``fractions`` (keys are strings in YAML,
    e.g. ``"22": 1.0``), else ``default_fraction``. Towers are smeared (log-normal, width
    from ``resolution``), dropped below ``energy_min`` or ``significance_min * sigma`` and
    placed at a uniformly random point of their cell when ``smear_position``.
    """

    segments: list[CaloSegment] = field(default_factory=list)
    resolution: list[CaloResolution] = field(default_factory=list)
    fractions: dict[str, float] = field(default_factory=dict)
    default_fraction: float = 0.0
    energy_min: float = 0.5
    significance_min: float = 2.0
    smear_position: bool = True

    def cells(self) -> tuple[np.ndarray, np.ndarray]:
        """Global eta edges and, per eta bin, the number of phi bins."""
        edges: list[float] = []
        nphi: list[int] = []
        for seg in self.segments:
            e = seg.edges().tolist()
            if not edges:
                edges, nphi = e, [seg.n_phi] * (len(e) - 1)
            elif abs(e[0] - edges[-1]) < 1e-9:
                edges += e[1:]
                nphi += [seg.n_phi] * (len(e) - 1)
            else:  # a gap between segments: a bin without towers
                edges += e
                nphi += [0] + [seg.n_phi] * (len(e) - 1)
        return np.asarray(edges), np.asarray(nphi, dtype=np.int64)

    def fraction_of(self, abs_pid: np.ndarray) -> np.ndarray:
        """Energy fraction deposited, per ``|pid|``."""
        out = np.full(abs_pid.shape, self.default_fraction, dtype=np.float64)
        for k, v in self.fractions.items():
            out[abs_pid == int(k)] = v
        return out

    def check(self, where: str) -> None:
        if not self.segments:
            raise ConfigError(f"{where}:segments: at least one segment is needed")
        for i, s in enumerate(self.segments):
            s.check(f"{where}:segments[{i}]")
        lo = [float(s.edges()[0]) for s in self.segments]
        hi = [float(s.edges()[-1]) for s in self.segments]
        for i in range(1, len(lo)):
            if lo[i] < hi[i - 1] - 1e-9:
                raise ConfigError(f"{where}:segments[{i}]: overlaps or is out of eta order")
        _increasing([r.eta_max for r in self.resolution], f"{where}:resolution:eta_max")
        if not self.resolution:
            raise ConfigError(f"{where}:resolution: at least one region is needed")
        for i, r in enumerate(self.resolution):
            for k in ("stochastic", "constant", "noise", "scale", "scale_slope"):
                _nonneg(getattr(r, k), f"{where}:resolution[{i}]:{k}")
        for k, v in self.fractions.items():
            try:
                int(k)
            except ValueError:
                raise ConfigError(f"{where}:fractions: key {k!r} is not a PDG id") from None
            if isinstance(v, bool) or not isinstance(v, int | float) or not (0.0 <= v <= 1.0):
                raise ConfigError(f"{where}:fractions:{k}: must lie in [0, 1], got {v!r}")
        if not (0.0 <= self.default_fraction <= 1.0):
            raise ConfigError(f"{where}:default_fraction: must lie in [0, 1]")
        _nonneg(self.energy_min, f"{where}:energy_min")
        _nonneg(self.significance_min, f"{where}:significance_min")


@dataclass
class DetectorCard:
    """All parameters of the fast detector response (see module docstring and README).

    ``eflow`` selects the output: ``True`` gives particle-flow objects (tracks + neutral
    excess of towers, as Delphes ``EFlowTrack + EFlowPhoton + EFlowNeutralHadron``),
    ``False`` calorimeter towers only (ECAL + HCAL towers, no tracks).
    """

    name: str = "custom"
    solenoid: Solenoid = field(default_factory=Solenoid)
    tracking: Tracking = field(default_factory=Tracking)
    ecal: Calorimeter = field(default_factory=Calorimeter)
    hcal: Calorimeter = field(default_factory=Calorimeter)
    eflow: bool = True

    def validate(self) -> None:
        check_sections(self, "detector")
        self.solenoid.check("solenoid")
        self.tracking.check("tracking")
        self.ecal.check("ecal")
        self.hcal.check("hcal")


# ------------------------------------------------------------------ the default (LHCO) card


def default_card() -> DetectorCard:
    """The ``lhco`` card: numbers of Delphes 3.4.1 ``delphes_card_CMS.tcl``."""
    tracking = Tracking(
        eta_max=2.5,
        pt_min=0.1,
        efficiency=[
            EfficiencyRegion(eta_max=1.5, pt_edges=[0.1, 1.0], efficiency=[0.70, 0.95]),
            EfficiencyRegion(eta_max=2.5, pt_edges=[0.1, 1.0], efficiency=[0.60, 0.85]),
        ],
        resolution=[
            TrackResolution(eta_max=0.5, constant=0.06, slope=1.3e-3),
            TrackResolution(eta_max=1.5, constant=0.10, slope=1.7e-3),
            TrackResolution(eta_max=2.5, constant=0.25, slope=3.1e-3),
        ],
    )
    hf = [-5.0, -4.7, *np.round(np.arange(-4.525, -3.0, 0.175), 3).tolist(), -2.958]
    ecal = Calorimeter(
        segments=[
            CaloSegment(n_phi=36, eta_edges=hf),
            CaloSegment(n_phi=360, eta_min=-2.958, eta_max=-1.479, n_eta=85),
            CaloSegment(n_phi=360, eta_min=-1.479, eta_max=1.4964, n_eta=171),
            CaloSegment(n_phi=360, eta_min=1.4964, eta_max=2.958, n_eta=84),
            CaloSegment(n_phi=36, eta_edges=[-x for x in reversed(hf)]),
        ],
        resolution=[
            CaloResolution(1.5, 0.11, 0.008, 0.40, 1.0, 0.64, 0.0),
            CaloResolution(2.5, 0.11, 0.008, 0.40, 2.16, 5.6, 2.0),
            CaloResolution(5.0, 2.08, 0.107, 0.0),
        ],
        fractions={"11": 1.0, "22": 1.0, "111": 1.0, "310": 0.3, "3122": 0.3},
        default_fraction=0.0,
        energy_min=0.5,
        significance_min=2.0,
    )
    fwd = [-2.95, -2.868, -2.65, -2.5, -2.322, -2.172, -2.043, -1.93, -1.83, -1.74, -1.653]
    hcal = Calorimeter(
        segments=[
            CaloSegment(n_phi=18, eta_edges=[-5.0, -4.7, -4.525]),
            CaloSegment(
                n_phi=36,
                eta_edges=[-4.525, -4.35, -4.175, -4.0, -3.825, -3.65, -3.475, -3.3, -3.125, *fwd],
            ),
            CaloSegment(n_phi=72, eta_min=-1.653, eta_max=1.653, n_eta=38),
            CaloSegment(
                n_phi=36,
                eta_edges=[-x for x in reversed(fwd)]
                + [3.125, 3.3, 3.475, 3.65, 3.825, 4.0, 4.175, 4.35, 4.525],
            ),
            CaloSegment(n_phi=18, eta_edges=[4.525, 4.7, 5.0]),
        ],
        resolution=[
            CaloResolution(3.0, 1.50, 0.050),
            CaloResolution(5.0, 2.70, 0.130),
        ],
        fractions={
            "11": 0.0,
            "22": 0.0,
            "111": 0.0,
            "12": 0.0,
            "13": 0.0,
            "14": 0.0,
            "16": 0.0,
            "310": 0.7,
            "3122": 0.7,
        },
        default_fraction=1.0,
        energy_min=1.0,
        significance_min=1.0,
    )
    return DetectorCard(name="lhco", tracking=tracking, ecal=ecal, hcal=hcal)


_BUILTIN = {"lhco": default_card}


def load_card(spec: str | Path) -> DetectorCard:
    """Return the detector card named ``spec`` (``"lhco"``) or read it from a YAML file.

    Raises
    ------
    ConfigError
        Unknown built-in name, missing file, unknown key, wrong type or unphysical value.
    """
    s = str(spec)
    if s in _BUILTIN:
        return _BUILTIN[s]()
    p = Path(s)
    if p.suffix.lower() not in (".yaml", ".yml") and not p.exists():
        raise ConfigError(
            f"detector card {s!r}: not a built-in card ({', '.join(_BUILTIN)}) nor a YAML file"
        )
    try:
        return load_yaml(DetectorCard, p)
    except ConfigError as e:
        msg = str(e)
        raise ConfigError(msg if msg.startswith(str(p)) else f"{p}: {msg}") from None


def card_to_json(card: DetectorCard) -> str:
    """The card as a compact JSON string (to be stored with every generated file)."""
    return json.dumps(to_dict(card), sort_keys=True, separators=(",", ":"))


def card_from_json(text: str) -> DetectorCard:
    """Inverse of :func:`card_to_json` (validating, like a YAML card)."""
    return from_dict(DetectorCard, json.loads(text), source="detector card JSON")


def save_card(card: DetectorCard, path: str | Path) -> None:
    """Write ``card`` as a YAML card that :func:`load_card` reads back unchanged."""
    import yaml

    data: dict[str, Any] = to_dict(copy.deepcopy(card))
    with atomic_path(path) as tmp:
        Path(tmp).write_text(yaml.safe_dump(data, sort_keys=False))
