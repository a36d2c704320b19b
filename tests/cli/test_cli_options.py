"""Shared option sets: defined once, the same on every verb, defaults equal to the library's
config dataclasses; multi-value options take ``LO HI`` and ``LO,HI``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import typer.main

from adsearch.cli import app, main
from adsearch.cli.app import split_comma_pairs
from adsearch.cli.options import FitOptions, RootOptions, SpectrumOptions, uses_options

COMMANDS = typer.main.get_command(app).commands
STATS_VERBS = ("fit", "bumphunt", "limits")


def _params(verb: str) -> dict:
    return {p.name: p for p in COMMANDS[verb].params}


def _describe(p) -> tuple:
    return (p.param_type_name, tuple(p.opts), tuple(p.secondary_opts), p.default, p.nargs,
            getattr(p, "help", None), p.required)  # fmt: skip


def test_stats_verbs_share_the_fifteen_options_of_one_definition():
    shared = [f.name for f in dataclasses.fields(SpectrumOptions)]
    shared += [f.name for f in dataclasses.fields(FitOptions)]
    assert len(shared) == 15  # the 14 once repeated on fit/bumphunt/limits, and --method
    first = _params("fit")
    for verb in STATS_VERBS:
        params = _params(verb)
        assert list(params)[:15] == shared, verb  # the sets' order, first on every verb
        assert [_describe(params[n]) for n in shared] == [_describe(first[n]) for n in shared]


def test_root_options_shared_by_info():
    assert [n for n in _params("info") if n != "path"] == [
        f.name for f in dataclasses.fields(RootOptions)
    ]


def _default(verb: str, name: str):
    return _params(verb)[name].default


def test_cli_defaults_are_the_library_defaults():
    """The help shows literal defaults (importing the library would make --help slow); they
    must be the defaults of the config dataclasses the verbs build."""
    from adsearch.jets.config import FeaturesConfig
    from adsearch.stats.bumphunter import BumpHunterConfig
    from adsearch.stats.fit import FitConfig, SpuriousSignalConfig
    from adsearch.stats.io import SpectrumInput
    from adsearch.stats.limits import LimitConfig

    spec = SpectrumInput(Path("x"))
    for verb in STATS_VERBS:
        assert _default(verb, "column") == spec.column
        assert tuple(_default(verb, "sr")) == spec.signal_region
        assert tuple(_default(verb, "mjj_range")) == spec.mjj_range
        assert _default(verb, "bin_width") == spec.bin_width
        assert _default(verb, "nbins") == spec.nbins
        for name in ("family", "npar", "selection", "method", "sqrt_s"):
            assert _default(verb, name) == getattr(FitConfig(), name), (verb, name)
        assert _default(verb, "blind") is (FitConfig().blind is not None)
    spurious = SpuriousSignalConfig()
    assert (_default("fit", "resolution"), _default("fit", "seed")) == (
        spurious.resolution,
        spurious.seed,
    )
    bh = BumpHunterConfig()
    assert [int(w) for w in _default("bumphunt", "widths").split(",")] == bh.widths
    for name in ("n_toys", "refit", "seed"):
        assert _default("bumphunt", name) == getattr(bh, name), name
    lim = LimitConfig()
    assert [float(m) for m in _default("limits", "masses").split(",")] == lim.masses
    assert (_default("limits", "resolution"), _default("limits", "cl")) == (lim.resolution, lim.cl)
    assert _default("limits", "engine") == lim.engine
    feats = FeaturesConfig()
    for name in ("r", "min_pt", "chunk_size", "workers"):
        assert _default("features", name) == getattr(feats, name), name


def test_option_names_may_not_collide():
    def verb(spectrum: SpectrumOptions, column: str = "x") -> None: ...

    with pytest.raises(TypeError, match="column defined twice"):
        uses_options(verb)


def test_split_comma_pairs_only_touches_multi_value_options():
    nargs = {"--range": 2, "--sr": 2}
    assert split_comma_pairs(["--masses", "1,2", "--range", "1,2"], nargs) == [
        "--masses", "1,2", "--range", "1", "2"
    ]  # fmt: skip
    # a wrong number of parts is left for the parser to report; `--` ends options
    assert split_comma_pairs(["--sr", "1,2,3"], nargs) == ["--sr", "1,2,3"]
    assert split_comma_pairs(["--", "--sr", "1,2"], nargs) == ["--", "--sr", "1,2"]
    assert split_comma_pairs(["--sr"], nargs) == ["--sr"]


@pytest.fixture(scope="module")
def mjj(tmp_path_factory) -> Path:
    from adsearch.stats.fit import BinnedModel, sample_mjj

    m = BinnedModel(np.geomspace(2000.0, 7000.0, 30), "dijet", 3)
    path = tmp_path_factory.mktemp("mjj") / "mjj.npy"
    np.save(path, sample_mjj(m, m.theta_from_params([2e3, 10.0, -5.0]), seed=4))
    return path


def _fit(mjj: Path, out: Path, *extra: str) -> dict:
    assert main(["fit", str(mjj), "-o", str(out), "--npar", "3", *extra]) == 0
    return json.loads((out / "fit.json").read_text())


def test_range_and_sr_accept_the_comma_form(mjj, tmp_path):
    spaced = _fit(mjj, tmp_path / "a", "--range", "2800", "5500", "--sr", "3400", "3600",
                  "--blind")  # fmt: skip
    comma = _fit(mjj, tmp_path / "b", "--range", "2800,5500", "--sr=3400,3600", "--blind")
    assert comma == spaced
    assert spaced["edges"][0] == pytest.approx(2800.0) and spaced["blind"] == [3400.0, 3600.0]
    default = _fit(mjj, tmp_path / "c")
    assert default["edges"][0] == pytest.approx(2500.0) != spaced["edges"][0]


@pytest.mark.parametrize("verb", STATS_VERBS)
def test_bad_comma_values_are_usage_errors(verb, mjj, tmp_path, capsys):
    rc = main([verb, str(mjj), "-o", str(tmp_path), "--range", "2800,high"])
    err = capsys.readouterr().err
    assert rc == 2 and "Invalid value for '--range'" in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())
