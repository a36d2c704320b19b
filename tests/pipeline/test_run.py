"""End-to-end pipeline on a tiny generated sample: products, step cache, input kinds, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adsearch.cli import main
from adsearch.errors import ConfigError, InputError
from adsearch.pipeline import STEPS, load_config, run_pipeline
from tests.pipeline.common import PRODUCTS, TINY


def _ran(res) -> set[str]:
    return {k for k, v in res.statuses.items() if v == "ran"}


def test_products_results_cache_and_downstream_reruns(tiny_run, capsys):
    cfg, out, res, lines = tiny_run
    # first run: every step ran and every product exists
    assert list(res.statuses) == [s for s in STEPS if s not in ("reference", "embed")]
    assert set(res.statuses.values()) == {"ran"}
    for p in PRODUCTS:
        assert (out / p).is_file(), p
    assert any(line.startswith("[ 5/11] train ... done in") for line in lines)
    r = json.loads((out / "results.json").read_text())
    for key in ("input", "features", "split", "training", "performance", "working_points",
                "fit", "bumphunt", "limits", "sculpting", "timings_s"):  # fmt: skip
        assert key in r
    assert r["input"]["n_signal_injected"] == 60 and r["input"]["labelled"] is True
    assert r["split"]["train"] + r["split"]["validation"] + r["split"]["test"] == 360
    perf = r["performance"]
    assert perf["n_signal_test"] + perf["n_background_test"] == r["split"]["test"]
    assert 0.0 <= perf["auc_event"]["mean"] <= 1.0
    # the score beside the jet mass, the girth and the GMM density (fitted on training bkg)
    px = perf["proxies"]
    assert px["model"]["auc"] == pytest.approx(perf["auc_event"]["mean"])
    assert set(px["proxies"]) == {"mass", "girth", "gmm"}
    assert px["gmm"]["fit_sample"] == "training-split background"
    assert "### Score vs proxies" in (out / "report.md").read_text()
    wp = r["working_points"][0]
    # threshold set outside the SR: ~30 % of the test events outside the SR pass
    assert wp["n_selected_outside_sr"] == pytest.approx(
        0.3 * (r["split"]["test"] - json.loads((out / "regions.json").read_text())["n_test_sr"]),
        abs=2,
    )
    fits = json.loads((out / "fit.json").read_text())["selections"]
    assert "fit" in fits["eff0.3"]
    # the cut's fit chose its parameters on the control-selection template, stored with it
    tmpl = fits["eff0.3"]["template"]
    assert (
        tmpl["edges"] == fits["eff0.3"]["histogram"]["edges"]
        and "template" not in fits["inclusive"]
    )
    assert sum(tmpl["counts"]) == pytest.approx(sum(fits["eff0.3"]["histogram"]["counts"]), rel=0.3)
    assert r["bumphunt"]["eff0.3"]["n_toys"] == 40
    # the null check: pseudo-data from the fit and (after the cut) from the control shape
    nc = r["bumphunt"]["eff0.3"]["null_check"]
    assert set(nc) == {"fit", "control"} and nc["fit"]["n_pseudo"] == 4
    assert set(r["bumphunt"]["inclusive"]["null_check"]) == {"fit"}
    assert (
        0.0 <= nc["control"]["fdr"] <= 1.0 and "**Null check.**" in (out / "report.md").read_text()
    )
    assert r["limits"]["eff0.3"][0]["mass"] == 3500.0
    assert set(r["timings_s"]) == set(STEPS) - {"report", "reference", "embed"}
    assert 0 <= r["sculpting"]["eff0.3"]["mjj_js_divergence"] <= 1
    assert "## Working points" in (out / "report.md").read_text()

    # second run: everything skipped
    lines2: list[str] = []
    res2 = run_pipeline(cfg, out, log=lines2.append, progress=False)
    assert set(res2.statuses.values()) == {"skipped"}
    assert all(line.endswith("skipped (unchanged)") for line in lines2[:-1])
    assert res2.results["performance"] == perf

    # one BumpHunter value changed: only BumpHunter and the report rerun
    base = load_config(cfg)
    base.stats.bumphunt.n_toys = 30
    res3 = run_pipeline(base, out, log=None, progress=False)
    assert _ran(res3) == {"bumphunt", "report"}
    assert res3.results["bumphunt"]["eff0.3"]["n_toys"] == 30

    # the working point changed: regions and everything after it rerun, nothing before
    wp_cfg = load_config(cfg, overrides=["regions.working_points=[0.4]"])
    wp_cfg.stats.bumphunt.n_toys = 30
    res4 = run_pipeline(wp_cfg, out, log=None, progress=False)
    assert _ran(res4) == {"regions", "fit", "bumphunt", "limits", "report"}
    assert res4.results["working_points"][0]["efficiency"] == 0.4

    # a deleted product is remade, and --force reruns a step whose product is unchanged:
    # downstream steps see identical content and stay skipped
    (out / "regions.json").unlink()
    res5 = run_pipeline(wp_cfg, out, force=["features"], log=None, progress=False)
    assert _ran(res5) == {"features", "regions"}

    # an interrupted training (files written, no step record) resumes from its checkpoint;
    # here it had finished, so nothing is retrained and the model is unchanged
    model = (out / "train/model.pt").read_bytes()
    (out / ".state/train.json").unlink()
    lines6: list[str] = []
    res6 = run_pipeline(wp_cfg, out, log=lines6.append, progress=False)
    assert _ran(res6) == {"train"} and any("resuming" in line for line in lines6)
    assert (out / "train/model.pt").read_bytes() == model

    # the CLI on the original config: exit 0, back to the first products
    capsys.readouterr()
    assert main(["run", str(cfg), "-o", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "[ 5/11] train ... skipped (unchanged)" in text
    assert "regions ... done" in text and "BumpHunter eff0.3" in text
    # the proxies the score does not beat: a warning line exactly when there are any
    not_beaten = json.loads((out / "results.json").read_text())["performance"]["proxies"][
        "not_beaten"
    ]
    assert ("warning: the score does not beat" in text) == bool(not_beaten)
    # and a cut that makes a bump of truth background in the signal region: a warning line
    # exactly when the report's sculpting table shows one
    from adsearch.pipeline.report import sculpted_bump_text

    sculpting = json.loads((out / "results.json").read_text())["sculpting"]
    bump = sculpted_bump_text(sculpting)
    assert ("warning: the cut makes a bump" in text) == bool(bump)


def test_lhco_input_filter_and_inject(tiny_run, tmp_path):
    _, out, _, _ = tiny_run
    from adsearch.jets import read_features

    mixed = out / "events/events.h5"  # 300 background + 60 signal, labelled
    base = {"name": "rd", "input": {"kind": "lhco", "path": str(mixed), "keep_signal": 5}}
    cfg = tmp_path / "rd.yaml"
    cfg.write_text(json.dumps(base))
    res = run_pipeline(cfg, tmp_path / "a", until="features", log=None, progress=False)
    assert list(res.statuses) == ["events", "features"]
    lab = read_features(tmp_path / "a/features.parquet").table["label"]
    assert (lab == 1).sum() == 5 and (lab == 0).sum() == 300

    inj = {"keep_signal": 0, "inject": {"path": str(out / "events/signal.h5"), "n": 7}}
    cfg.write_text(json.dumps({**base, "input": {**base["input"], **inj}}))
    run_pipeline(cfg, tmp_path / "b", until="features", log=None, progress=False)
    lab = read_features(tmp_path / "b/features.parquet").table["label"]
    assert (lab == 1).sum() == 7 and (lab == 0).sum() == 300

    # an unmodified file is used in place (no copy), first max_events rows only
    cfg.write_text(json.dumps({"input": {"kind": "lhco", "path": str(mixed), "max_events": 50}}))
    run_pipeline(cfg, tmp_path / "c", until="features", log=None, progress=False)
    assert not (tmp_path / "c/events").exists()
    f = read_features(tmp_path / "c/features.parquet")
    assert np.array_equal(f.table["event_index"], np.arange(50))

    # a black-box-like input: unlabelled LHCO file + answer key
    from adsearch.io import read_events, write_lhco

    ev = read_events(mixed, stop=40)
    bb = tmp_path / "bb.h5"
    write_lhco(bb, ev.particles)
    (tmp_path / "bb.key").write_text("\n".join(str(int(v)) for v in ev.labels) + "\n")
    spec = {"kind": "lhco", "path": str(bb), "key": str(tmp_path / "bb.key")}
    cfg.write_text(json.dumps({"input": spec, "train": {"data": {"mode": "data-like"}}}))
    run_pipeline(cfg, tmp_path / "d", until="events", log=None, progress=False)
    m = json.loads((tmp_path / "d/events.json").read_text())
    assert m["labelled"] is False and m["key"].endswith("bb.key")
    # background-only training needs labels: refused before training starts
    cfg.write_text(json.dumps({"input": spec}))
    with pytest.raises(ConfigError, match="train:data:mode"):
        run_pipeline(cfg, tmp_path / "d", until="train", log=None, progress=False)


def test_missing_input_file_and_fallback(tmp_path):
    spec = {"kind": "lhco", "path": "nope/events_anomalydetection_v2.h5",
            "download": "https://doi.org/10.5281/zenodo.2629072"}  # fmt: skip
    cfg = tmp_path / "a.yaml"
    cfg.write_text(json.dumps({"input": spec}))
    with pytest.raises(InputError, match=r"input:path: .*not found \(get it from https://doi"):
        run_pipeline(cfg, tmp_path / "o", log=None)
    gen = {"n_background": 20, "n_signal": 0, "workers": 1}
    cfg.write_text(json.dumps({"input": {**spec, "fallback": "generate", "generate": gen}}))
    lines: list[str] = []
    res = run_pipeline(cfg, tmp_path / "o", until="events", log=lines.append, progress=False)
    assert list(res.statuses) == ["background", "events"]
    assert "using the generated fallback sample" in lines[0]
    m = json.loads((tmp_path / "o/events.json").read_text())
    assert m["source"] == "generated" and m["n_events"] == 20


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("init", "runs/ae", r"train:model:init: .*runs/ae/model.pt: no such model file"),
        ("encoder", "pretrained:pre", r"train:model:encoder: .*pre: no such encoder file"),
    ],
)
def test_missing_training_start_file_fails_before_anything_is_written(
    tmp_path, field, value, match
):
    extra = {"backbone": "transformer", "layers": "null"} if field == "encoder" else {}
    cfg = tmp_path / "a.yaml"
    cfg.write_text(TINY)
    over = [f"train.model.{field}={value}", *(f"train.model.{k}={v}" for k, v in extra.items())]
    (tmp_path / "runs" / "ae").mkdir(parents=True)  # a run directory without model.pt
    with pytest.raises(InputError, match=match):
        run_pipeline(load_config(cfg, over), tmp_path / "o", log=None, progress=False)
    assert not (tmp_path / "o").exists()


def test_cli_config_errors_exit_1(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("stats:\n  bumphunt:\n    n_toy: 10\n")
    assert main(["run", str(cfg), "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "unknown key 'n_toy'" in err and "bumphunt" in err
    assert len(err.strip().splitlines()) == 1
    cfg.write_text("regions:\n  working_points: [1.5]\n")
    assert main(["run", str(cfg), "-o", str(tmp_path / "o")]) == 1
    assert "regions:working_points: 1.5 is not in (0, 1)" in capsys.readouterr().err
    no_scan = ["--set", "stats.limits.scan_step=null"]  # the quickstart scans every 100 GeV
    assert main(["run", *no_scan, "--set", "stats.limits.masses=[9000]", "--show-config"]) == 1
    assert "outside mjj_range" in capsys.readouterr().err
    good = tmp_path / "good.yaml"
    good.write_text("name: x\n")
    assert main(["run", str(good), "-o", str(tmp_path / "o2"), "--force", "trian"]) == 1
    assert "--force: unknown step 'trian'" in capsys.readouterr().err
    assert not Path(tmp_path / "o2" / ".state").exists()


def test_generated_black_box_uses_the_key_only_for_the_report(tmp_path):
    text = (
        TINY.replace("name: tiny", "name: bb")
        .replace("seed: 3}", "seed: 5, blackbox: true}")
        .replace("data: {", "data: {mode: data-like, ")
    )
    cfg = tmp_path / "bb.yaml"
    cfg.write_text(text)
    res = run_pipeline(cfg, tmp_path / "o", log=None, progress=False)
    assert set(res.statuses.values()) == {"ran"}
    m = json.loads((tmp_path / "o/events.json").read_text())
    assert m["labelled"] is False and Path(m["key"]).is_file()
    from adsearch.jets import read_features

    assert np.all(read_features(tmp_path / "o/features.parquet").table["label"] == -1)
    perf = res.results["performance"]
    assert perf["truth_from"] == "answer key key.txt"
    assert perf["n_signal_test"] + perf["n_background_test"] == res.results["split"]["test"]
    assert 0 < perf["n_signal_test"] < 60
    # no labels in the features: the GMM baseline is fitted on all training-split events
    assert perf["proxies"]["gmm"]["fit_sample"] == "training-split events"
