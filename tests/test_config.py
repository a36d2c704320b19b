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


def _config_classes_with_sections():
    """Every config dataclass of the package with a ``validate()`` and nested sections."""
    import dataclasses
    import importlib
    import inspect
    import pkgutil

    import adsearch
    from adsearch.config import _section_types

    found = {}
    for info in pkgutil.walk_packages(adsearch.__path__, "adsearch."):
        if ".cli" in info.name:
            continue
        mod = importlib.import_module(info.name)
        for obj in vars(mod).values():
            if (
                inspect.isclass(obj)
                and dataclasses.is_dataclass(obj)
                and obj.__module__ == info.name
                and callable(getattr(obj, "validate", None))
                and _section_types(obj)
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


_SECTIONED = _config_classes_with_sections()


def test_the_walk_finds_the_sectioned_configs():
    names = {n.rsplit(".", 1)[1] for n in _SECTIONED}
    assert {"WeakConfig", "FitConfig", "StatsConfig", "TrainConfig", "ScoreConfig"} <= names


@pytest.mark.parametrize("name", sorted(_SECTIONED))
def test_a_plain_dict_section_is_refused_by_name(name):
    """A config built in Python with a dict where a section belongs fails at once, naming
    the field (not later, as an AttributeError deep in the code that reads it)."""
    from adsearch.config import _section_types

    cls = _SECTIONED[name]
    if cls.__name__ == "DetectorCard":  # its defaults are empty: the built-in card
        from adsearch.detector.card import default_card

        good = default_card()
    else:
        good = cls()
    good.validate()  # the defaults pass
    section = _section_types(cls)[0][0]
    obj = cls.__new__(cls)  # a copy without __post_init__ (some validate there)
    obj.__dict__.update(good.__dict__)
    setattr(obj, section, {})
    with pytest.raises(ConfigError, match=rf":{section}: expected an? \w+, got dict"):
        obj.validate()
