from dataclasses import dataclass, field
from typing import Literal

import pytest

from adsearch.config import from_dict, load_yaml
from adsearch.errors import ConfigError


@dataclass
class Inner:
    width: int = 128


@dataclass
class Card:
    r: float = 1.0
    mode: Literal["a", "b"] = "a"
    inner: Inner = field(default_factory=Inner)
    tags: list[str] = field(default_factory=list)


def test_defaults_and_nested():
    c = from_dict(Card, {"r": 2, "inner": {"width": 64}, "tags": ["x"]})
    assert c.r == 2.0 and isinstance(c.r, float)
    assert c.inner.width == 64 and c.tags == ["x"]


@pytest.mark.parametrize(
    ("data", "msg"),
    [
        ({"radius": 1}, "unknown key 'radius'"),
        ({"r": "big"}, "card.yaml:r: expected a number"),
        ({"mode": "c"}, "card.yaml:mode: bad value 'c'"),
        ({"inner": {"width": 1.5}}, "card.yaml:inner:width: expected an integer"),
        ({"inner": {"depth": 3}}, "unknown key 'depth'"),
    ],
)
def test_bad_config_named(data, msg):
    with pytest.raises(ConfigError, match=msg):
        from_dict(Card, data, source="card.yaml")


def test_load_yaml_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("r: [1,\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_yaml(Card, bad)
    with pytest.raises(ConfigError, match="no such config file"):
        load_yaml(Card, tmp_path / "missing.yaml")
    good = tmp_path / "good.yaml"
    good.write_text("card:\n  r: 0.4\n")
    assert load_yaml(Card, good, section="card").r == 0.4


def test_atomic_output_has_umask_permissions(tmp_path):
    import os

    from adsearch.io.atomic import atomic_path

    out = tmp_path / "x.txt"
    with atomic_path(out) as tmp:
        tmp.write_text("x")
    umask = os.umask(0)
    os.umask(umask)
    assert (out.stat().st_mode & 0o777) == (0o666 & ~umask)
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]
