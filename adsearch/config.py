"""Configuration dataclasses loaded from YAML with strict key and type checking.

Unknown keys and values of the wrong type are refused by name (``ConfigError``), so a typo
in an analysis file is caught before any work starts.

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass
... class Card:
...     r: float = 1.0
...     name: str = "lhco"
>>> from_dict(Card, {"r": 0.8}, source="card.yaml")
Card(r=0.8, name='lhco')
>>> from_dict(Card, {"radius": 0.8}, source="card.yaml")
Traceback (most recent call last):
...
adsearch.errors.ConfigError: card.yaml: unknown key 'radius' (allowed: name, r)
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from adsearch.errors import ConfigError

__all__ = ["from_dict", "load_yaml", "to_dict"]

T = TypeVar("T")


def _check_type(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for a in args:
            try:
                return _check_type(value, a, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{where}: bad value {value!r} (expected {_tname(tp)})")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where}: expected null, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, source=where)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        items = [_check_type(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{where}: bad value {value!r} (allowed: {', '.join(map(repr, args))})")
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {_tname(tp)}, got {value!r}")
    return value


def _tname(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def from_dict(cls: type[T], data: dict[str, Any] | None, source: str = "config") -> T:
    """Build dataclass ``cls`` from ``data``, refusing unknown keys and wrong types.

    Parameters
    ----------
    cls : dataclass type
    data : mapping of field name to value (``None`` means all defaults)
    source : str
        Name used in error messages (file name, or ``file:section``).
    """
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(fields))})"
        )
    kwargs = {k: _check_type(v, hints[k], f"{source}:{k}") for k, v in data.items()}
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{source}: {e}") from None
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def load_yaml(cls: type[T], path: str | Path, section: str | None = None) -> T:
    """Load dataclass ``cls`` from a YAML file (optionally from one top-level ``section``)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: no such config file")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        line = getattr(getattr(e, "problem_mark", None), "line", None)
        at = f" (line {line + 1})" if line is not None else ""
        raise ConfigError(f"{p}: not valid YAML{at}") from None
    source = str(p)
    if section is not None:
        data = (data or {}).get(section, {})
        source = f"{p}:{section}"
    return from_dict(cls, data, source=source)


def to_dict(obj: Any) -> dict[str, Any]:
    """Dataclass to plain dict (for YAML/JSON sidecars and content hashes)."""
    return dataclasses.asdict(obj)
