"""`--set` on an analysis config: dataclasses.replace, checked, with the pipeline's shorthands."""

from __future__ import annotations

from pathlib import Path

import pytest

from adsearch.errors import ConfigError
from adsearch.pipeline import override_config, quickstart_config


def test_override_config_replaces_and_checks(tmp_path):
    q = quickstart_config()
    cfg = override_config(q, ["stats.bumphunt.n_toys=100", "regions.working_points=[0.05]"])
    assert cfg.stats.bumphunt.n_toys == 100 and cfg.regions.working_points == [0.05]
    assert q.stats.bumphunt.n_toys == 2000  # a copy: the original is unchanged
    blind = override_config(q, ["regions.signal_region=[3000, 3400]", "stats.fit.blind=true"])
    assert blind.stats.fit.blind == (3000.0, 3400.0)
    assert override_config(blind, ["stats.fit.blind=false"]).stats.fit.blind is None
    moved = override_config(q, ["input.kind=lhco", "input.path=ev.h5"], base=tmp_path)
    assert Path(moved.input.path) == tmp_path / "ev.h5"
    with pytest.raises(ConfigError, match=r"--set:regions:signal_region: .*not inside"):
        override_config(q, ["regions.signal_region=[2000, 2400]"])
    with pytest.raises(ConfigError, match=r"--set:train:optim: unknown key 'epoch'"):
        override_config(q, ["train.optim.epoch=3"])
