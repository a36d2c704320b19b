from __future__ import annotations

import pytest

from adsearch.config import from_dict
from adsearch.errors import ConfigError
from adsearch.pretrain.config import PretrainConfig, load_pretrain_config


def test_defaults_and_relative_paths(tmp_path):
    (tmp_path / "p.yaml").write_text("data:\n  path: f.parquet\nout_dir: out\n")
    cfg = load_pretrain_config(tmp_path / "p.yaml")
    assert cfg.data.path == str(tmp_path / "f.parquet")
    assert cfg.out_dir == str(tmp_path / "out")
    assert cfg.encoder.embedding_dim == 128 and cfg.data.mode == "data-like"


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"temperature": 0}, "temperature"),
        ({"views": {"collinear": 1.5}}, "views:collinear"),
        ({"views": {"soft": -1}}, "views:soft"),
        ({"optim": {"batch_size": 1}}, "optim:batch_size"),
        ({"encoder": {"width": 30, "heads": 4}}, "encoder:heads"),
        ({"data": {"train_fraction": 0.99, "val_fraction": 0.05}}, "data"),
        ({"encoder": {"depth": 3}}, "depth"),
    ],
)
def test_bad_values_are_refused(over, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(PretrainConfig, over)
