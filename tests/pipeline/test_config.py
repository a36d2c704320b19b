"""Analysis configs: strict loading, cross checks, overrides, the shipped analyses."""

from __future__ import annotations

from pathlib import Path

import pytest

from adsearch.errors import ConfigError
from adsearch.pipeline import (
    QUICKSTART_YAML,
    config_from_dict,
    config_to_dict,
    load_config,
    plan_steps,
    quickstart_config,
)
from adsearch.pipeline.config import config_from_text

ANALYSES = Path(__file__).resolve().parents[2] / "analyses"


def test_builtin_quickstart_is_the_shipped_file():
    assert (ANALYSES / "quickstart.yaml").read_text() == QUICKSTART_YAML
    assert config_to_dict(load_config(ANALYSES / "quickstart.yaml")) == config_to_dict(
        quickstart_config()
    )


@pytest.mark.parametrize(
    "name", ["lhco_rnd_2prong", "lhco_3prong", "lhco_blackbox", "lhco_rnd_cathode"]
)
def test_lhco_analyses_load_and_fall_back(name):
    cfg = load_config(ANALYSES / f"{name}.yaml")
    assert cfg.input.kind == "lhco" and Path(cfg.input.path).is_absolute()
    assert "zenodo" in cfg.input.download
    assert cfg.input.generate.n_background > 0  # the fallback recipe is complete
    # 1M-event spectra: the fit starts one 5 % bin above 2.8 TeV, past the trigger's turn-on,
    # on the quick start's bin grid (2800 * 1.0488 = 2936.6)
    assert cfg.stats.mjj_range == (2937.0, 6000.0)
    fb = load_config(ANALYSES / f"{name}.yaml", overrides=["input.fallback=generate"])
    assert fb.input.fallback == "generate"


def test_cathode_analysis_trains_no_network():
    cfg = load_config(ANALYSES / "lhco_rnd_cathode.yaml")
    assert cfg.score.method == "cathode" and "train" not in plan_steps(cfg)
    w = cfg.score.weak_config(cfg.regions.signal_region)
    assert w.method == "cathode" and w.signal_region == (3300.0, 3700.0)
    assert w.classifier.kind == "mlp" and w.flow.oversampling == 4


def test_blackbox_configs_train_without_labels():
    cfg = load_config(ANALYSES / "lhco_blackbox.yaml")
    assert cfg.train.data.mode == "data-like" and cfg.input.generate.blackbox
    with pytest.raises(ConfigError, match="train:data:mode"):
        config_from_dict({"input": {"generate": {"blackbox": True}}}, source="x.yaml")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"inputs": {}}, r"x.yaml: unknown section 'inputs'"),
        ({"input": {"knd": "lhco"}}, r"x.yaml:input: unknown key 'knd'"),
        ({"input": {"kind": "hdf5"}}, r"x.yaml:input:kind: bad value 'hdf5'"),
        ({"input": {"kind": "lhco"}}, r"input:path: kind 'lhco' needs an event file path"),
        ({"input": {"generate": {"n_background": 0}}}, r"n_background: must be >= 1"),
        ({"input": {"generate": {"signal": "qcd"}}}, r"'qcd' is not a signal process"),
        ({"input": {"generate": {"signal": {"process": "wprime-2prong", "m_x": -5}}}}, "m_x"),
        ({"train": {"optim": {"lr": -1}}}, r"x.yaml:train: optim:lr: must be > 0"),
        ({"train": {"model": {"backbone": "resnet"}}}, r"x.yaml:train:model:backbone: bad value"),
        ({"train": {"data": {"path": "f.parquet"}}}, r"train:data:path: set by the pipeline"),
        ({"train": {"graph": {"edge": "knn"}}}, r"x.yaml:train:graph: unknown key 'edge'"),
        ({"score": {"event_score": "median"}}, r"x.yaml:score:event_score: bad value"),
        ({"regions": {"working_points": [0.1, 0.1]}}, "duplicate"),
        ({"regions": {"signal_region": [3300, 7000]}}, r"not inside stats:mjj_range"),
        ({"stats": {"fit": {"npar": 7}}}, r"x.yaml:stats: fit.npar: dijet takes 3..5"),
        ({"stats": {"bumphunt": {"n_toys": 0}}}, r"bumphunt.n_toys: must be >= 1"),
        ({"stats": {"limits": {"masses": [7000]}}}, r"7000 GeV outside mjj_range"),
        ({"report": {"plot_format": "gif"}}, r"x.yaml:report:plot_format: bad value"),
        ({"name": 3}, r"x.yaml:name: expected a string"),
    ],
)
def test_bad_configs_are_refused_by_name(data, match):
    with pytest.raises(ConfigError, match=match):
        config_from_dict(data, source="x.yaml")


def test_overrides_blind_shorthand_and_paths(tmp_path):
    (tmp_path / "card.yaml").write_text("name: x\n")
    text = "input:\n  generate:\n    detector: card.yaml\nstats:\n  fit:\n    blind: true\n"
    cfg = config_from_text(
        text, "t.yaml", base=tmp_path, overrides=["regions.signal_region=[3000, 3400]"]
    )
    assert cfg.stats.fit.blind == (3000.0, 3400.0)
    assert cfg.input.generate.detector == str(tmp_path / "card.yaml")
    # a pretrained encoder's path, in the file and in an override
    enc = "train:\n  model: {backbone: transformer, encoder: 'pretrained:pre/encoder.pt'}\n"
    cfg = config_from_text(enc, "t.yaml", base=tmp_path)
    assert cfg.train.model.encoder == f"pretrained:{tmp_path / 'pre' / 'encoder.pt'}"
    cfg = config_from_text(
        enc, "t.yaml", base=tmp_path, overrides=["train.model.encoder=pretrained:b"]
    )
    assert cfg.train.model.encoder == f"pretrained:{tmp_path / 'b'}"
    # a model that starts the training (model.init)
    cfg = config_from_text("", "t.yaml", base=tmp_path, overrides=["train.model.init=ae/run"])
    assert cfg.train.model.init == str(tmp_path / "ae" / "run")
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        config_from_text("", "t.yaml", overrides=["stats.fit"])
    with pytest.raises(ConfigError, match="unknown key 'n_toy'"):
        config_from_text("", "t.yaml", overrides=["stats.bumphunt.n_toy=3"])
    with pytest.raises(ConfigError, match=r"t.yaml: not valid YAML \(line 2\)"):
        config_from_text("a: 1\n b: [\n", "t.yaml")


def test_plan_depends_on_the_input():
    q = quickstart_config()
    assert plan_steps(q)[:3] == ["background", "signal", "events"]
    no_sig = config_from_dict({"input": {"generate": {"n_signal": 0}}})
    assert "signal" not in plan_steps(no_sig)
    f = config_from_dict({"input": {"kind": "root", "path": "x.root"}})
    assert plan_steps(f)[0] == "events" and plan_steps(f)[-1] == "report"
