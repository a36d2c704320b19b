import json

import awkward as ak
import numpy as np
import pytest

from adsearch.cli import main
from adsearch.stats.fit import BinnedModel, sample_mjj


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    """A features-like parquet file (awkward): mjj + score_event, with a 3.5 TeV signal."""
    d = tmp_path_factory.mktemp("cli")
    m = BinnedModel(np.geomspace(2000.0, 7000.0, 30), "dijet", 3)
    bkg = sample_mjj(m, m.theta_from_params([2e3, 10.0, -5.0]), seed=1)
    rng = np.random.default_rng(2)
    sig = rng.normal(3500.0, 175.0, 400)
    score = np.concatenate([rng.random(bkg.size), 0.5 + 0.5 * rng.random(sig.size)])
    ak.to_parquet(
        ak.zip({"mjj": np.concatenate([bkg, sig]), "score_event": score}), d / "f.parquet"
    )
    np.save(d / "signal.npy", sig)
    return d


def test_fit_verb(features, tmp_path, capsys):
    rc = main(
        [
            "fit",
            str(features / "f.parquet"),
            "-o",
            str(tmp_path),
            "--npar",
            "3",
            "--spurious",
            "3000,4500",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    res = json.loads((tmp_path / "fit.json").read_text())
    assert res["npar"] == 3 and res["converged"]
    assert res["input"]["n_input"] > 1000
    assert [t["mass"] for t in res["spurious_signal"]] == [3000.0, 4500.0]
    assert all(abs(t["ratio"]) < 0.5 for t in res["spurious_signal"])
    assert (tmp_path / "fit.png").stat().st_size > 1000
    assert "chi2/ndf" in capsys.readouterr().out


def test_bumphunt_verb_with_working_point(features, tmp_path, capsys):
    rc = main(
        [
            "bumphunt",
            str(features / "f.parquet"),
            "-o",
            str(tmp_path),
            "--score-column",
            "score_event",
            "--working-point",
            "0.1",
            "--n-toys",
            "300",
            "--seed",
            "3",
            "--blind",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    res = json.loads((tmp_path / "bumphunt.json").read_text())
    assert res["window"]["mjj_lo"] < 3500.0 < res["window"]["mjj_hi"]
    assert res["z_local"] > 3.0
    assert res["input"]["working_point"]["efficiency"] == 0.1
    assert len(res["t_toys"]) == 300
    for name in ("fit.png", "bumphunt.png", "tstat.png", "fit.json"):
        assert (tmp_path / name).is_file()
    # a known bias of the cut in the signal region, corrected: the same excess is weaker
    out = tmp_path / "shifted"
    args = ["bumphunt", str(features / "f.parquet"), "-o", str(out), "--score-column",
            "score_event", "--working-point", "0.1", "--n-toys", "300", "--seed", "3",
            "--blind", "--sr-shift", "0.2", "--sr-uncertainty", "0.1"]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    shifted = json.loads((out / "bumphunt.json").read_text())
    assert shifted["systematic"] == {"shift": 0.2, "uncertainty": 0.1, "window": [3300.0, 3700.0]}
    assert shifted["z_local"] < res["z_local"]


def test_limits_verb_on_histogram(features, tmp_path, capsys):
    assert main(["fit", str(features / "f.parquet"), "-o", str(tmp_path / "f")]) == 0
    rc = main(
        [
            "limits",
            str(tmp_path / "f" / "fit.json"),
            "-o",
            str(tmp_path),
            "--masses",
            "4000",
            "--no-discovery",
            "--signal",
            str(features / "signal.npy"),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    res = json.loads((tmp_path / "limits.json").read_text())
    (lim,) = res["limits"]
    assert res["signal"] == "sample"
    assert lim["events_expected"] == sorted(lim["events_expected"])
    assert (tmp_path / "workspace_m4000.json").is_file() and (tmp_path / "brazil.png").is_file()
    # the signal region's known bias: shifted background and an sr_bias nuisance parameter
    lim = {}
    for tag, extra in (("plain", []), ("sr", ["--sr-shift", "0.2", "--sr-uncertainty", "0.1"])):
        args = ["limits", str(tmp_path / "f" / "fit.json"), "-o", str(tmp_path / tag),
                "--masses", "3500", "--engine", "asymptotic", *extra]  # fmt: skip
        assert main(args) == 0, capsys.readouterr().err
        (lim[tag],) = json.loads((tmp_path / tag / "limits.json").read_text())["limits"]
    assert lim["sr"]["events_expected"][2] > 1.1 * lim["plain"]["events_expected"][2]
    assert lim["sr"]["z0"] < lim["plain"]["z0"]
    ws = json.loads((tmp_path / "sr" / "workspace_m3500.json").read_text())
    assert "sr_bias" in {m["name"] for m in ws["channels"][0]["samples"][1]["modifiers"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "{d}/missing.npy"], "no such file"),
        (["fit", "{d}/f.parquet", "--column", "mass"], "no column 'mass'"),
        (["fit", "{d}/f.parquet", "--working-point", "0.1"], "needs --score-column"),
        (["fit", "{d}/f.parquet", "--npar", "9"], "npar"),
        (["fit", "{d}/f.parquet", "--range", "6600", "6990", "--nbins", "12"], "too few events"),
        (["fit", "{d}/f.parquet", "--nbins", "2"], "only 2 bins to fit"),
        (["bumphunt", "{d}/f.parquet", "--widths", "a,b"], "--widths"),
        (["limits", "{d}/f.parquet", "--sr-uncertainty", "-0.1"], "--sr-uncertainty"),
        (["fit", "{d}/nan.npy"], "NaN"),
    ],
)
def test_bad_input_is_one_line_exit_1(features, tmp_path, capsys, args, message):
    x = np.linspace(3000, 4000, 100)
    x[5] = np.nan
    np.save(features / "nan.npy", x)
    argv = [a.format(d=features) for a in args] + ["-o", str(tmp_path)]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_limits_verb_asymptotic_engine_agrees_with_pyhf(features, tmp_path, capsys):
    assert main(["fit", str(features / "f.parquet"), "-o", str(tmp_path / "f")]) == 0
    out = {}
    for engine in ("pyhf", "asymptotic"):
        args = ["limits", str(tmp_path / "f" / "fit.json"), "-o", str(tmp_path / engine)]
        rc = main([*args, "--masses", "4000", "--no-discovery", "--engine", engine])
        assert rc == 0, capsys.readouterr().err
        (out[engine],) = json.loads((tmp_path / engine / "limits.json").read_text())["limits"]
    assert out["asymptotic"]["events_observed"] == pytest.approx(
        out["pyhf"]["events_observed"], rel=0.02
    )
    assert main(["limits", str(tmp_path / "f" / "fit.json"), "-o", str(tmp_path / "x"),
                 "--engine", "toys"]) == 1  # fmt: skip


def test_cut_spectrum_uses_its_control_selection(features, tmp_path, capsys):
    """After --working-point the failing events are the background (auto = control); without
    a cut, --method control is one error line; --method function keeps the dijet fit."""
    cut = [str(features / "f.parquet"), "--score-column", "score_event", "--working-point", "0.1"]
    assert main(["fit", *cut, "-o", str(tmp_path / "a")]) == 0, capsys.readouterr().err
    res = json.loads((tmp_path / "a/fit.json").read_text())
    assert res["method"] == "control" and res["npar"] == 2
    assert "failing events × transfer factor" in capsys.readouterr().out
    assert main(["fit", *cut, "-o", str(tmp_path / "f"), "--method", "function"]) == 0
    assert json.loads((tmp_path / "f/fit.json").read_text())["method"] == "function"
    rc = main(
        ["fit", str(features / "f.parquet"), "-o", str(tmp_path / "c"), "--method", "control"]
    )
    err = capsys.readouterr().err
    assert rc != 0 and "needs the events failing a cut" in err and "Traceback" not in err
    assert not (tmp_path / "c/fit.json").exists()
