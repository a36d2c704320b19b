"""Physics processes of the LHC Olympics 2020 recipe as Pythia 8 configurations.

Three processes are built in (13 TeV pp, Pythia 8 through ``pythia8mc``):

``qcd``
    QCD dijets, ``HardQCD:all = on`` with ``PhaseSpace:pTHatMin`` (default 1000 GeV as the
    LHCO R&D background), default multiparton interactions and hadronisation.
``wprime-2prong``
    W' (3.5 TeV) -> X (500 GeV) Y (100 GeV), X -> qq, Y -> qq, multiparton interactions off
    (as the LHCO signal card). X is Pythia's W (id 24) and Y its Z (id 23), re-purposed with
    new masses and mass windows; the W' couplings are all set explicitly (Pythia's defaults
    are axial ``aq = al = -1``).
``wprime-3prong``
    As ``wprime-2prong`` but X -> qqq and Y -> qqq, each through one flat three-body
    phase-space channel (``oneChannel`` with ``meMode = 101``; Pythia attaches the colour
    junction). The quark triplets conserve charge: X+ -> u u d (+1), Y -> d d u (0);
    X- takes the charge-conjugate channel.

All masses are configurable. A process is a dataclass, loadable from YAML with
:func:`load_process` (key ``process`` names it, the other keys are its fields), e.g.::

    process: wprime-3prong
    m_wprime: 3000.
    m_x: 400.

Examples
--------
>>> cfg = get_process("wprime-2prong", m_x=400.0)
>>> cfg.m_x, cfg.x_mass_window
(400.0, (40.0, 800.0))
>>> [s for s in cfg.pythia_settings() if s.startswith("24:m")]
['24:m0 = 400.0', '24:mMin = 40.0', '24:mMax = 800.0']
>>> get_process("qcd").pythia_settings()[-2:]
['HardQCD:all = on', 'PhaseSpace:pTHatMin = 1000.0']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from adsearch.config import from_dict, to_dict
from adsearch.errors import ConfigError

__all__ = [
    "PROCESSES",
    "PYTHIA_MAX_SEED",
    "ProcessConfig",
    "QCDConfig",
    "WprimeConfig",
    "get_process",
    "load_process",
    "process_from_dict",
    "process_to_dict",
]

#: Pythia's largest allowed ``Random:seed``.
PYTHIA_MAX_SEED = 900_000_000


def _common(ecm: float) -> list[str]:
    return [
        f"Beams:eCM = {ecm}",
        "Print:quiet = on",  # else Pythia lists whole events
        "Random:setSeed = on",
    ]


def _positive(obj: Any, names: tuple[str, ...], where: str) -> None:
    for n in names:
        v = getattr(obj, n)
        if not (math.isfinite(v) and v > 0):
            raise ConfigError(f"{where}: {n} must be a positive number, got {v!r}")


@dataclass
class QCDConfig:
    """QCD dijet background (LHCO R&D background recipe).

    Attributes
    ----------
    process : "qcd"
    pthatmin : float
        ``PhaseSpace:pTHatMin`` in GeV (LHCO: 1000).
    ecm : float
        Centre-of-mass energy in GeV.
    mpi : bool
        Multiparton interactions (``PartonLevel:MPI``). Off by default, as in the LHCO
        samples: with MPI on, generated QCD has ~45 % more detector-level objects per event
        than the real R&D file (underlying event), with MPI off 172 against 166
        (benchmarks/lhco_fidelity.py).
    extra : list of str
        Further Pythia settings, applied last (e.g. ``"PhaseSpace:pTHatMax = 3000."``).
    """

    process: Literal["qcd"] = "qcd"
    pthatmin: float = 1000.0
    ecm: float = 13000.0
    mpi: bool = False
    extra: list[str] = field(default_factory=list)

    label: int = field(default=0, init=False, repr=False)

    def validate(self) -> None:
        """Raise ConfigError on unphysical values."""
        _positive(self, ("pthatmin", "ecm"), self.process)
        if 2 * self.pthatmin >= self.ecm:
            raise ConfigError(f"qcd: pthatmin={self.pthatmin} leaves no phase space at ecm")

    def pythia_settings(self) -> list[str]:
        """The Pythia ``readString`` lines of this process (seed excluded)."""
        return [
            *_common(self.ecm),
            f"PartonLevel:MPI = {'on' if self.mpi else 'off'}",
            "HardQCD:all = on",
            f"PhaseSpace:pTHatMin = {self.pthatmin}",
            *self.extra,
        ]


@dataclass
class WprimeConfig:
    """W' -> X Y signal of the LHCO R&D recipe (2-prong) or its 3-prong variant.

    Attributes
    ----------
    process : "wprime-2prong" or "wprime-3prong"
    m_wprime, m_x, m_y : float
        Masses (GeV) of W' (id 34), X (= Pythia's W, id 24), Y (= Pythia's Z, id 23).
    x_mass_min, x_mass_max, y_mass_min, y_mass_max : float or None
        Breit-Wigner windows (``mMin``/``mMax``); ``None`` scales the LHCO card's windows
        (X: 50-1000 GeV, Y: 20-200 GeV) with the mass, i.e. X: 0.1-2 m_x, Y: 0.2-2 m_y.
    wprime_mass_min : float or None
        ``34:mMin``; ``None`` keeps Pythia's default (10 GeV), as the LHCO card. About 20 % of
        the W' then sit in a low-mass tail below 3 TeV (parton luminosity x Breit-Wigner);
        ``2500.`` cuts that to ~5 %.
    ecm : float
        Centre-of-mass energy in GeV.
    mpi : bool
        Multiparton interactions; off as in the LHCO signal card.
    extra : list of str
        Further Pythia settings, applied last.
    """

    process: Literal["wprime-2prong", "wprime-3prong"] = "wprime-2prong"
    m_wprime: float = 3500.0
    m_x: float = 500.0
    m_y: float = 100.0
    x_mass_min: float | None = None
    x_mass_max: float | None = None
    y_mass_min: float | None = None
    y_mass_max: float | None = None
    wprime_mass_min: float | None = None
    ecm: float = 13000.0
    mpi: bool = False
    extra: list[str] = field(default_factory=list)

    label: int = field(default=1, init=False, repr=False)

    @property
    def prongs(self) -> int:
        """2 or 3: the number of quarks X and Y decay to."""
        return 3 if self.process == "wprime-3prong" else 2

    @property
    def x_mass_window(self) -> tuple[float, float]:
        """(mMin, mMax) of X in GeV."""
        lo = 0.1 * self.m_x if self.x_mass_min is None else self.x_mass_min
        hi = 2.0 * self.m_x if self.x_mass_max is None else self.x_mass_max
        return lo, hi

    @property
    def y_mass_window(self) -> tuple[float, float]:
        """(mMin, mMax) of Y in GeV."""
        lo = 0.2 * self.m_y if self.y_mass_min is None else self.y_mass_min
        hi = 2.0 * self.m_y if self.y_mass_max is None else self.y_mass_max
        return lo, hi

    def validate(self) -> None:
        """Raise ConfigError on unphysical masses or windows."""
        p = self.process
        if p not in ("wprime-2prong", "wprime-3prong"):
            raise ConfigError(f"{p!r}: not a W' process (wprime-2prong, wprime-3prong)")
        _positive(self, ("m_wprime", "m_x", "m_y", "ecm"), p)
        if self.m_x + self.m_y >= self.m_wprime:
            raise ConfigError(
                f"{p}: m_x + m_y = {self.m_x + self.m_y:g} must be below m_wprime = "
                f"{self.m_wprime:g} (W' -> X Y)"
            )
        if self.m_wprime >= self.ecm:
            raise ConfigError(f"{p}: m_wprime = {self.m_wprime:g} must be below ecm")
        for name, (lo, hi), m in (
            ("x_mass", self.x_mass_window, self.m_x),
            ("y_mass", self.y_mass_window, self.m_y),
        ):
            if not (0 < lo < m < hi):
                raise ConfigError(
                    f"{p}: {name}_min < mass < {name}_max needed, got {lo:g} < {m:g} < {hi:g}"
                )
        if self.wprime_mass_min is not None and not (0 < self.wprime_mass_min < self.m_wprime):
            raise ConfigError(f"{p}: wprime_mass_min must lie in (0, m_wprime)")

    def pythia_settings(self) -> list[str]:
        """The Pythia ``readString`` lines of this process (seed excluded)."""
        xlo, xhi = self.x_mass_window
        ylo, yhi = self.y_mass_window
        s = [
            *_common(self.ecm),
            f"PartonLevel:MPI = {'on' if self.mpi else 'off'}",
            "NewGaugeBoson:ffbar2Wprime = on",
            f"34:m0 = {self.m_wprime}",
            "Wprime:vq = 1.",
            "Wprime:aq = 0.",
            "Wprime:vl = 0.",
            "Wprime:al = 0.",
            "Wprime:coup2WZ = 1.",
            "34:onMode = off",
            "34:onIfAny = 23 24",
            f"24:m0 = {self.m_x}",
            f"24:mMin = {xlo}",
            f"24:mMax = {xhi}",
            f"23:m0 = {self.m_y}",
            f"23:mMin = {ylo}",
            f"23:mMax = {yhi}",
        ]
        if self.wprime_mass_min is not None:
            s.append(f"34:mMin = {self.wprime_mass_min}")
        if self.prongs == 2:
            s += [
                "24:onMode = off",
                "24:onIfAny = 1 2 3 4 5",
                "23:onMode = off",
                "23:onIfAny = 1 2 3 4 5",
            ]
        else:
            # One flat 3-body channel each (meMode 101); charge is conserved:
            # W+ -> u u d (2/3 + 2/3 - 1/3 = +1), Z -> d d u (0). W- uses the conjugates.
            s += [
                "24:oneChannel = 1 1.0 101 2 2 1",
                "23:oneChannel = 1 1.0 101 1 1 2",
            ]
        return [*s, *self.extra]


#: A process configuration (any of the built-in processes).
ProcessConfig = QCDConfig | WprimeConfig

#: Built-in process names and their configuration class.
PROCESSES: dict[str, type[QCDConfig] | type[WprimeConfig]] = {
    "qcd": QCDConfig,
    "wprime-2prong": WprimeConfig,
    "wprime-3prong": WprimeConfig,
}


def process_from_dict(data: dict[str, Any], source: str = "process") -> ProcessConfig:
    """Build a process config from a mapping whose ``process`` key names the process."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with a 'process' key")
    name = data.get("process")
    if name not in PROCESSES:
        raise ConfigError(
            f"{source}: unknown process {name!r} (choose from {', '.join(PROCESSES)})"
        )
    return from_dict(PROCESSES[name], data, source=source)


def get_process(name: str, **overrides: Any) -> ProcessConfig:
    """A built-in process by name with field overrides (validated).

    ``None`` overrides are ignored, so CLI options can be passed through unchanged.
    """
    data = {"process": name, **{k: v for k, v in overrides.items() if v is not None}}
    return process_from_dict(data, source=name if name in PROCESSES else "process")


def load_process(path: str | Path, **overrides: Any) -> ProcessConfig:
    """Load a process config from YAML (``process:`` plus fields), with optional overrides."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such process config file")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError:
        raise ConfigError(f"{p}: not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping with a 'process' key")
    data = {**data, **{k: v for k, v in overrides.items() if v is not None}}
    return process_from_dict(data, source=str(p))


def process_to_dict(cfg: ProcessConfig) -> dict[str, Any]:
    """The YAML/JSON-able fields of a process config (round-trips through load_process)."""
    d = to_dict(cfg)
    d.pop("label", None)
    return d
