"""Latent features in the pipeline: ``score.weak.features`` with ``latent_lighter_K`` /
``latent_heavier_K`` and ``score.embed.encoder`` add an ``embed`` step that embeds the
features table (and the reference template) before the weakly supervised scores."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest

from adsearch.config import from_dict
from adsearch.errors import ConfigError, InputError
from adsearch.pipeline import load_config, plan_steps, run_pipeline
from adsearch.pretrain.config import PretrainConfig
from adsearch.pretrain.trainer import pretrain
from tests.pipeline.test_weak import WEAK, _config
from tests.train.toys import toy_sample

LATENT = ["mj_lighter", "delta_mj", "latent_lighter_0", "latent_heavier_1"]


def _pretrain(out, seed):
    cfg = from_dict(
        PretrainConfig,
        {
            "data": {"train_fraction": 0.5, "val_fraction": 0.25, "norm_jets": 50},
            "encoder": {"width": 4, "heads": 2, "layers": 1, "mlp_layers": 2},
            "optim": {"batch_size": 16, "epochs": 1},
            "seed": seed,
            "out_dir": str(out),
        },
    )
    pretrain(cfg, sample=toy_sample(40, seed=seed), progress=False)
    return out / "encoder.pt"


@pytest.fixture(scope="module")
def encoders(tmp_path_factory):
    """Two tiny encoders (4-dimensional embedding), pretrained with different seeds."""
    d = tmp_path_factory.mktemp("pre")
    return _pretrain(d / "a", 5), _pretrain(d / "b", 6)


def _latent_score(encoder, method="reference", **extra):
    weak = {**WEAK["weak"], "features": LATENT}
    return {"method": method, "weak": weak, "embed": {"encoder": str(encoder)}, **extra}


def test_reference_on_latent_features_through_the_whole_chain(tiny_run, encoders, tmp_path):
    """The data and the reference table are embedded in blocks (chunk 50 events), the
    scores read them; the encoder's content is in the cache key, not its path."""
    _, out, _, _ = tiny_run
    enc = tmp_path / "encoder.pt"
    shutil.copy(encoders[0], enc)
    ref = {"path": str(out / "features.parquet")}
    score = _latent_score(enc, reference=ref)
    score["embed"]["chunk_size"] = 50
    cfg = _config(tmp_path, out / "events/events.h5", score, name="lat")
    d = json.loads(cfg.read_text())
    # pyhf's limits on this spectrum (data = template: a noise score) take minutes
    d["stats"]["limits"]["engine"] = "asymptotic"
    cfg.write_text(json.dumps(d))
    steps = plan_steps(load_config(cfg))
    assert steps[:4] == ["events", "features", "embed", "scores"] and "train" not in steps
    lines: list[str] = []
    res = run_pipeline(cfg, tmp_path / "o", log=lines.append, progress=False)
    o = tmp_path / "o"
    assert set(res.statuses.values()) == {"ran"}
    assert any("features_latent.parquet: 360 events, 4 latent dimensions" in x for x in lines)
    for name in ("features_latent.parquet", "reference_latent.parquet"):
        t = pq.read_table(o / name)
        assert t.num_rows == 360 and "latent2_3" in t.column_names
        assert "constituentsj1" not in t.column_names
    scores = pq.read_table(o / "scores.parquet").to_pandas()
    assert len(scores) == 360 and (scores["split"] == 2).all() and "latent1_0" in scores
    weak = json.loads((o / "weak/weak.json").read_text())
    assert weak["config"]["features"] == LATENT
    assert res.results["weak"]["encoder"] == str(enc)
    assert f"pretrained encoder `{enc}`" in (o / "report.md").read_text()

    # unchanged: nothing reruns; another chunk size: the same tables, the embed step is kept
    again = run_pipeline(
        load_config(cfg, ["score.embed.chunk_size=7"]), o, log=None, progress=False
    )
    assert again.statuses["embed"] == "skipped" and again.statuses["scores"] == "skipped"
    # the same encoder under another path: skipped; another encoder at the same path: reruns
    moved = tmp_path / "moved.pt"
    shutil.copy(enc, moved)
    same = run_pipeline(
        load_config(cfg, [f"score.embed.encoder={moved}"]), o, log=None, progress=False
    )
    assert same.statuses["embed"] == "skipped" and same.statuses["scores"] == "skipped"
    shutil.copy(encoders[1], enc)
    other = run_pipeline(cfg, o, until="scores", log=None, progress=False)
    assert other.statuses["embed"] == "ran" and other.statuses["scores"] == "ran"
    assert other.statuses["features"] == "skipped"


def test_embed_step_only_with_latent_features(tiny_run, encoders, tmp_path):
    _, out, _, _ = tiny_run
    events = out / "events/events.h5"
    plain = load_config(_config(tmp_path, events, WEAK, name="plain"))
    assert "embed" not in plan_steps(plain)
    latent = load_config(_config(tmp_path, events, _latent_score(encoders[0], "cathode"), "c"))
    assert plan_steps(latent)[:4] == ["events", "features", "embed", "scores"]
    # generated reference: embedded after it is made
    gen = _latent_score(encoders[0], reference={"n_events": 40})
    assert plan_steps(load_config(_config(tmp_path, events, gen, "g")))[1:4] == [
        "features", "reference", "embed"
    ]  # fmt: skip
    # an encoder alone, or latent names under a score that does not use them: no step
    enc_only = {**WEAK, "embed": {"encoder": str(encoders[0])}}
    assert "embed" not in plan_steps(load_config(_config(tmp_path, events, enc_only, "e")))
    unused = {"method": "feature", "weak": {"features": LATENT}}
    assert "embed" not in plan_steps(load_config(_config(tmp_path, events, unused, "u")))


def test_latent_features_without_an_encoder_or_constituents_are_one_line_errors(
    tiny_run, encoders, tmp_path
):
    _, out, _, _ = tiny_run
    events = out / "events/events.h5"
    score = _latent_score(encoders[0], "cwola")
    del score["embed"]
    with pytest.raises(ConfigError) as e:
        load_config(_config(tmp_path, events, score, name="noenc"))
    msg = str(e.value)
    assert "score:embed:encoder" in msg and "'latent_lighter_0'" in msg and "\n" not in msg
    # a missing encoder file: before the run directory is made
    cfg = _config(tmp_path, events, _latent_score(tmp_path / "none.pt", "cwola"), "miss")
    with pytest.raises(InputError, match=r"^score:embed:encoder: .*none.pt: no such encoder"):
        run_pipeline(cfg, tmp_path / "o", log=None, progress=False)
    assert not (tmp_path / "o").exists()
    # an LHCO features .h5 has no constituents: refused before anything runs
    from adsearch.jets import read_features
    from adsearch.jets.featurefile import export_lhco_features_h5

    h5 = tmp_path / "events.features.h5"
    export_lhco_features_h5(h5, read_features(out / "features.parquet"))
    d = json.loads(cfg.read_text())
    d["input"] = {"kind": "features", "path": str(h5)}
    d["score"] = _latent_score(encoders[0], "cwola")
    cfg.write_text(json.dumps(d))
    with pytest.raises(InputError, match=r"^input:path: .*features.h5 is an LHCO features table"):
        run_pipeline(cfg, tmp_path / "o", log=None, progress=False)
    assert not (tmp_path / "o").exists()
    # a relative encoder path is relative to the analysis file
    d["score"]["embed"]["encoder"] = "pre/encoder.pt"
    cfg.write_text(json.dumps(d))
    assert load_config(cfg).score.embed.encoder == str(tmp_path / "pre/encoder.pt")
