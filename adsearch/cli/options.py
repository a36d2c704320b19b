"""Option sets shared by several verbs, each defined once, and small value parsers.

An option set is a frozen dataclass whose fields are Typer-annotated parameters. A verb asks
for a set by annotating one parameter with the dataclass and decorating itself with
:func:`uses_options`; the set's fields then appear as the verb's options (in the set's order,
at that parameter's place) and the verb receives one instance of the set.

Examples
--------
>>> import inspect
>>> @uses_options
... def verb(fit: FitOptions, seed: int = 0) -> FitOptions:
...     return fit
>>> list(inspect.signature(verb).parameters)[:3]
['family', 'npar', 'selection']
>>> opts = dict(selection="wilks", method="function", blind=False, sqrt_s=13000.0)
>>> verb(family="ua2", npar=3, **opts).family
'ua2'
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from adsearch.config import replace_key
from adsearch.errors import ConfigError

__all__ = [
    "FitOptions",
    "OutputDirOption",
    "RootOptions",
    "SetOption",
    "SpectrumOptions",
    "SrBiasOptions",
    "apply_shortcuts",
    "number_list",
    "uses_options",
]

F = TypeVar("F", bound=Callable[..., Any])
N = TypeVar("N", int, float)


def apply_shortcuts(cfg: Any, shortcuts: dict[tuple[str, ...], Any]) -> Any:
    """``cfg`` with each shortcut option that was given (not ``None``) set at its dotted key,
    through the same checked ``dataclasses.replace`` as ``--set``
    (:func:`adsearch.config.replace_key`)."""
    for keys, value in shortcuts.items():
        if value is not None:
            cfg = replace_key(cfg, keys, value, source="command line")
    return cfg


def number_list(text: str, kind: type[N], option: str) -> list[N]:
    """Parse a comma-separated option value (``"3000,3500"``) into numbers of ``kind``.

    Examples
    --------
    >>> number_list("3000, 3500", float, "--masses")
    [3000.0, 3500.0]
    >>> number_list("1,x", int, "--widths")
    Traceback (most recent call last):
    ...
    adsearch.errors.ConfigError: --widths: expected comma-separated integers, got '1,x'
    """
    try:
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        what = "integers" if kind is int else "numbers"
        raise ConfigError(f"{option}: expected comma-separated {what}, got {text!r}") from None


def _set_parameters(cls: type) -> list[inspect.Parameter]:
    """The fields of option-set dataclass ``cls`` as keyword-only signature parameters."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return [
        inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=hints[f.name],
            default=inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default,
        )
        for f in dataclasses.fields(cls)
    ]


def uses_options(fn: F) -> F:
    """Expand every option-set parameter of verb ``fn`` into the set's options.

    A parameter is an option set when its annotation is a dataclass defined in this module
    family (any dataclass). The returned function has the expanded signature Typer reads, and
    calls ``fn`` with one dataclass instance per set. Option names must not collide.
    """
    hints = typing.get_type_hints(fn, include_extras=True)
    sig = inspect.signature(fn)
    params: list[inspect.Parameter] = []
    sets: dict[str, tuple[type, list[str]]] = {}
    for p in sig.parameters.values():
        tp = hints.get(p.name, p.annotation)
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            fields = _set_parameters(tp)
            sets[p.name] = (tp, [f.name for f in fields])
            params += fields
        else:
            params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=tp))
    names = [p.name for p in params]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise TypeError(f"{fn.__name__}: option(s) {', '.join(dup)} defined twice")

    @functools.wraps(fn)
    def verb(**kwargs: Any) -> Any:
        for name, (cls, fields) in sets.items():
            kwargs[name] = cls(**{f: kwargs.pop(f) for f in fields})
        return fn(**kwargs)

    verb.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    verb.__annotations__ = {p.name: p.annotation for p in params}
    if "return" in hints:
        verb.__annotations__["return"] = hints["return"]
    del verb.__wrapped__  # Typer must read the expanded signature, not fn's
    return typing.cast(F, verb)


# ----------------------------------------------------------------------------- single options


#: ``--set KEY=VALUE`` (repeatable): the one override mechanism of the config verbs; the
#: values go to :func:`adsearch.config.apply_overrides` (a checked ``dataclasses.replace``).
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="override a config value by its dotted YAML key (repeatable), e.g. "
        "--set stats.bumphunt.n_toys=500 (run), --set optim.lr=3e-4 (train)",
    ),
]


#: ``-o/--out-dir`` of the statistics verbs.
OutputDirOption = Annotated[
    Path, typer.Option("-o", "--out-dir", help="directory for JSON and plots")
]


# ------------------------------------------------------------------------------- option sets


@dataclasses.dataclass(frozen=True)
class RootOptions:
    """Where the events are in a ROOT file (``--tree``, ``--branches``)."""

    tree: Annotated[str, typer.Option(help="ROOT only: the TTree holding the events")] = "events"
    branches: Annotated[
        str,
        typer.Option(
            help="ROOT only: particle branches 'pt,eta,phi' or 'pt,eta,phi,label' "
            "(default part_pt,part_eta,part_phi,label)"
        ),
    ] = "part_pt,part_eta,part_phi,label"

    def root_branches(self) -> Any:
        """The :class:`adsearch.io.root.RootBranches` named by ``--branches``."""
        from adsearch.errors import InputError
        from adsearch.io.root import RootBranches

        names = [b.strip() for b in self.branches.split(",")]
        if len(names) not in (3, 4) or not all(names):
            raise InputError(f"--branches: expected 'pt,eta,phi[,label]', got {self.branches!r}")
        label = names[3] if len(names) == 4 else None
        return RootBranches(pt=names[0], eta=names[1], phi=names[2], label=label)


@dataclasses.dataclass(frozen=True)
class SpectrumOptions:
    """Which mjj spectrum the statistics verbs read, and how it is binned."""

    input_path: Annotated[
        Path,
        typer.Argument(help="mjj values (.npy/.npz/.h5/.parquet) or a histogram (.json/.npz)"),
    ]
    out_dir: OutputDirOption
    column: Annotated[str, typer.Option("--column", help="mjj column name (GeV)")] = "mjj"
    score_column: Annotated[
        str | None, typer.Option("--score-column", help="event-score column, e.g. score_event")
    ] = None
    working_point: Annotated[
        float | None,
        typer.Option("--working-point", help="background efficiency of the score cut, e.g. 0.01"),
    ] = None
    sr: Annotated[
        tuple[float, float],
        typer.Option("--sr", help="signal-region mjj window LO HI in GeV (thresholds, blinding)"),
    ] = (3300.0, 3700.0)
    mjj_range: Annotated[
        tuple[float, float], typer.Option("--range", help="fitted mjj range LO HI in GeV")
    ] = (2500.0, 6000.0)
    bin_width: Annotated[
        float, typer.Option("--bin-width", help="relative width of the log-spaced bins")
    ] = 0.05
    nbins: Annotated[
        int | None,
        typer.Option("--nbins", help="number of log-spaced bins (overrides --bin-width)"),
    ] = None

    def load(self) -> tuple[Any, dict[str, Any]]:
        """The histogram and its provenance (:func:`adsearch.stats.io.load_spectrum`)."""
        from adsearch.stats.io import SpectrumInput, load_spectrum

        return load_spectrum(
            SpectrumInput(
                self.input_path,
                self.column,
                self.score_column,
                self.working_point,
                self.sr,
                self.mjj_range,
                self.bin_width,
                self.nbins,
            )
        )


@dataclasses.dataclass(frozen=True)
class FitOptions:
    """The background-fit options of the statistics verbs."""

    family: Annotated[str, typer.Option("--family", help="fit function: dijet or ua2")] = "dijet"
    npar: Annotated[
        int | None,
        typer.Option("--npar", help="number of fit parameters (default: chosen by test)"),
    ] = None
    selection: Annotated[
        str,
        typer.Option(
            "--selection",
            help="parameter-number choice: spurious (spurious-signal gate), wilks or ftest",
        ),
    ] = "spurious"
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="background model: function, swift (sliding window), gp, control (the "
            "events failing --working-point times a smooth transfer factor), or auto (control "
            "after a cut, else function)",
        ),
    ] = "auto"
    blind: Annotated[
        bool, typer.Option("--blind/--no-blind", help="leave the --sr window out of the fit")
    ] = False
    sqrt_s: Annotated[float, typer.Option("--sqrt-s", help="centre-of-mass energy in GeV")] = (
        13000.0
    )

    def config(self, sr: tuple[float, float]) -> Any:
        """The validated :class:`adsearch.stats.fit.FitConfig` (blinding ``sr`` if asked; else
        ``sr`` is left out of the choice of the control ratio's degree)."""
        from adsearch.config import from_dict
        from adsearch.stats.fit import FitConfig

        return from_dict(
            FitConfig,
            {
                "family": self.family,
                "npar": self.npar,
                "selection": self.selection,
                "method": self.method,
                "sqrt_s": self.sqrt_s,
                "blind": list(sr) if self.blind else None,
                # unblinded, the control ratio's degree is chosen outside --sr (as adsearch run)
                "control": {"select_outside": None if self.blind else list(sr)},
            },
            source="options",
        )

    def fit(self, hist: Any, sr: tuple[float, float]) -> Any:
        """Fit ``hist`` (:func:`adsearch.stats.spectrum.fit_spectrum`); after a score cut the
        control selection (the failing events, :func:`adsearch.stats.io.spectrum_template`)
        is the spurious-signal gate's template and the background of ``--method control``."""
        from adsearch.stats.io import spectrum_template
        from adsearch.stats.spectrum import fit_spectrum

        cfg = self.config(sr)
        required = cfg.method == "control"
        return fit_spectrum(hist, cfg, template=spectrum_template(hist, cfg.blind, required))


@dataclasses.dataclass(frozen=True)
class SrBiasOptions:
    """A known bias of the background in the ``--sr`` window (bumphunt and limits)."""

    sr_shift: Annotated[
        float,
        typer.Option(
            "--sr-shift",
            help="relative correction of the background in the --sr window (a score's "
            "sculpting there, measured on background-only simulation)",
        ),
    ] = 0.0
    sr_uncertainty: Annotated[
        float,
        typer.Option("--sr-uncertainty", help="relative uncertainty of that background"),
    ] = 0.0

    def window(self, sr: tuple[float, float]) -> list[float] | None:
        """``sr`` as the window of the correction, ``None`` when there is none."""
        return list(sr) if self.sr_shift or self.sr_uncertainty else None

    def validate(self) -> None:
        """Raise :class:`ConfigError` for a shift <= -1 or a negative uncertainty."""
        if not (self.sr_shift > -1 and self.sr_uncertainty >= 0):
            raise ConfigError("--sr-shift must be > -1 and --sr-uncertainty >= 0")

    def bins(self, edges: Any, sr: tuple[float, float]) -> tuple[Any, Any]:
        """Per-bin ``(scale, uncertainty)`` of the background (``None`` for no correction),
        the arguments of :func:`adsearch.stats.limits.limits_for_fit`."""
        from adsearch.stats.binning import window_overlap

        inside = window_overlap(edges, sr)
        return (
            1.0 + self.sr_shift * inside if self.sr_shift else None,
            self.sr_uncertainty * inside if self.sr_uncertainty else None,
        )
