"""WeakConfig: defaults, validation, YAML loading."""

from __future__ import annotations

import pytest

from adsearch.config import from_dict, replace_key
from adsearch.errors import ConfigError
from adsearch.stats.regions import SIGNAL_REGION
from adsearch.weak import DEFAULT_FEATURES, WeakConfig


def test_defaults_are_cathodes_choices():
    cfg = WeakConfig()
    assert cfg.method == "cathode"
    assert tuple(cfg.features) == DEFAULT_FEATURES
    assert cfg.flow.oversampling == 4 and cfg.classifier.hidden == [64, 64, 64]
    assert cfg.n_folds * cfg.classifier.n_members >= 5


def test_signal_region_matches_the_statistics_default():
    # the weak layer cannot import stats (layering); the two defaults must not drift apart
    assert WeakConfig().signal_region == SIGNAL_REGION


def test_from_dict_and_overrides():
    cfg = from_dict(WeakConfig, {"method": "cwola", "classifier": {"kind": "hgb"}}, "a.yaml")
    assert cfg.classifier.kind == "hgb"
    assert replace_key(cfg, ["flow", "oversampling"], 8).flow.oversampling == 8


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"method": "svdd"}, "a.yaml:method: bad value 'svdd'"),
        ({"signal_region": [3700, 3300]}, "weak:signal_region: need 0 < lo < hi"),
        ({"features": ["mj_lighter", "label"]}, "weak:features: unknown feature 'label'"),
        ({"features": []}, "weak:features: give at least one feature"),
        ({"n_folds": 2}, "weak:n_folds: need at least 3 folds"),
        ({"sideband_width": 0}, "weak:sideband_width: must be > 0"),
        ({"classifier": {"n_members": 0}}, "weak:classifier:n_members: must be > 0"),
        ({"flow": {"val_fraction": 1.0}}, "weak:flow:val_fraction: 1.0 is not in (0, 1)"),
        ({"flow": {"n_best": 0}}, "weak:flow:n_best: must be > 0, got 0"),
        ({"flow": {"lr_schedule": "step"}}, "a.yaml:flow:lr_schedule: bad value 'step'"),
        ({"workers": 0}, "weak:workers: must be >= 1, got 0"),
    ],
)
def test_bad_values_are_one_line_errors(data, message):
    with pytest.raises(ConfigError) as e:
        from_dict(WeakConfig, data, "a.yaml")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_latent_feature_names_are_accepted_and_others_refused():
    from adsearch.weak.config import WeakConfig

    cfg = WeakConfig(features=["mj_lighter", "latent_lighter_0", "latent_heavier_31"])
    assert cfg.features[2] == "latent_heavier_31"
    for bad in ("latent_0", "latent_lighter_x", "latent_middle_1"):
        with pytest.raises(ConfigError, match="unknown feature"):
            WeakConfig(features=[bad])


def test_a_plain_dict_section_is_refused_not_silently_kept():
    with pytest.raises(ConfigError, match="weak:classifier: expected a ClassifierConfig"):
        WeakConfig(classifier={"kind": "hgb"})
    assert from_dict(WeakConfig, {"classifier": {"kind": "hgb"}}).classifier.kind == "hgb"
