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
import inspect
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from adsearch.errors import ConfigError

__all__ = [
    "apply_overrides",
    "check_sections",
    "from_dict",
    "load_yaml",
    "parse_override",
    "replace_key",
    "to_dict",
    "validate_tree",
]

T = TypeVar("T")


def _check_union(value: Any, tp: Any, args: tuple[Any, ...], where: str) -> Any:
    for a in args:
        try:
            return _check_type(value, a, where)
        except ConfigError:
            continue
    raise ConfigError(f"{where}: bad value {value!r} (expected {_describe(tp)})")


def _describe(tp: Any) -> str:
    """A type hint in words, for error messages: ``float | Literal['auto']`` -> ``a number
    or 'auto'``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin is typing.Literal:
        return " or ".join(map(repr, typing.get_args(tp)))
    words = {float: "a number", int: "an integer", bool: "true/false", str: "a string"}
    return "null" if tp is type(None) else words.get(tp, _tname(tp))


def _check_none(value: Any, where: str) -> None:
    if value is not None:
        raise ConfigError(f"{where}: expected null, got {value!r}")


def _check_sequence(value: Any, origin: Any, args: tuple[Any, ...], where: str) -> Any:
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: expected a list, got {value!r}")
    inner = args[0] if args else Any
    items = [_check_type(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
    return items if origin is list else tuple(items)


def _check_mapping(value: Any, where: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping, got {value!r}")
    return dict(value)


def _check_literal(value: Any, args: tuple[Any, ...], where: str) -> Any:
    if value in args:
        return value
    raise ConfigError(f"{where}: bad value {value!r} (allowed: {', '.join(map(repr, args))})")


def _check_scalar(value: Any, tp: Any, where: str) -> Any:
    """Numbers, booleans and strings (bool is not an int here, an int is a float)."""
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    expected = {bool: "true/false", str: "a string"}.get(tp, _tname(tp))
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {expected}, got {value!r}")
    return value


def _check_type(value: Any, tp: Any, where: str) -> Any:
    """``value`` checked against the type hint ``tp`` (converted: list -> tuple, int -> float)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        return _check_union(value, tp, args, where)
    if tp is type(None):
        return _check_none(value, where)
    if dataclasses.is_dataclass(tp):
        _check_mapping(value, where)
        return from_dict(tp, value, source=where)  # type: ignore[arg-type]
    if origin in (list, tuple):
        return _check_sequence(value, origin, args, where)
    if origin is dict:
        return _check_mapping(value, where)
    if origin is typing.Literal:
        return _check_literal(value, args, where)
    return _check_scalar(value, tp, where)


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
    return _validated(lambda: cls(**kwargs), source)


def _built(make: Callable[[], T], source: str) -> T:
    """``make()``, its TypeError/ValueError as a ConfigError naming ``source``."""
    try:
        return make()
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{source}: {e}") from None


def _validated(make: Callable[[], T], source: str) -> T:
    """:func:`_built`, then the object's ``validate()`` if it has one."""
    obj = _built(make, source)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


_SECTIONS: dict[type, tuple[tuple[str, type], ...]] = {}


def _section_types(cls: type) -> tuple[tuple[str, type], ...]:
    """The fields of dataclass ``cls`` typed as a dataclass: ``(name, type)`` (memoised)."""
    if cls not in _SECTIONS:
        hints = typing.get_type_hints(cls)
        _SECTIONS[cls] = tuple(
            (f.name, hints[f.name])
            for f in dataclasses.fields(cls)
            if inspect.isclass(hints.get(f.name)) and dataclasses.is_dataclass(hints[f.name])
        )
    return _SECTIONS[cls]


def check_sections(obj: Any, where: str) -> None:
    """Refuse a nested section of config dataclass ``obj`` that is not its dataclass.

    :func:`from_dict` builds nested sections from mappings; a config built directly in Python
    with a plain dict as a section would otherwise fail late, deep inside the code that reads
    it (an ``AttributeError``). Call it first in ``validate()``; ``where`` prefixes the message.

    >>> from adsearch.weak import ClassifierConfig, WeakConfig
    >>> WeakConfig(classifier=ClassifierConfig(kind="hgb")).classifier.kind
    'hgb'
    >>> WeakConfig(classifier={"kind": "hgb"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    adsearch.errors.ConfigError: weak:classifier: expected a ClassifierConfig, got dict (...)
    """
    for name, tp in _section_types(type(obj)):
        value = getattr(obj, name)
        if not isinstance(value, tp):
            article = "an" if tp.__name__[0] in "AEIOU" else "a"
            raise ConfigError(
                f"{where}:{name}: expected {article} {tp.__name__}, got "
                f"{type(value).__name__} (from_dict builds the sections from mappings)"
            )


def validate_tree(obj: Any) -> None:
    """Call ``validate()`` of every dataclass in ``obj``, innermost first."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return
    for f in dataclasses.fields(obj):
        validate_tree(getattr(obj, f.name))
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()


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


# ------------------------------------------------------------------------------ overrides


def parse_override(item: str) -> tuple[list[str], Any]:
    """Split ``"a.b.c=VALUE"`` into ``(["a", "b", "c"], value)``; the value is parsed as YAML.

    >>> parse_override("stats.bumphunt.n_toys=100")
    (['stats', 'bumphunt', 'n_toys'], 100)
    >>> parse_override("regions.working_points=[0.1, 0.02]")
    (['regions', 'working_points'], [0.1, 0.02])
    """
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE (e.g. stats.bumphunt.n_toys=100)")
    key, raw = item.split("=", 1)
    parts = [k for k in key.strip().split(".") if k]
    if not parts:
        raise ConfigError(f"--set {item!r}: empty key")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ConfigError(f"--set {item!r}: value is not valid YAML") from None
    return parts, value


def _nested(keys: Sequence[str], value: Any) -> Any:
    for k in reversed(keys):
        value = {k: value}
    return value


def replace_key(
    obj: T, keys: Sequence[str], value: Any, source: str = "config", *, validate: bool = True
) -> T:
    """A copy of dataclass ``obj`` with the field at the dotted path ``keys`` set to ``value``.

    The new value is checked against the field's type hint as if it came from YAML; every
    dataclass on the path is rebuilt with :func:`dataclasses.replace` and validated again, so
    a value that breaks a check of an enclosing section is refused by name.

    Examples
    --------
    >>> from adsearch.stats import StatsConfig
    >>> replace_key(StatsConfig(), ["bumphunt", "n_toys"], 500).bumphunt.n_toys
    500
    >>> replace_key(StatsConfig(), ["limits", "cls"], 0.9, source="a.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    adsearch.errors.ConfigError: a.yaml:limits: unknown key 'cls' (allowed: ...)
    """
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise ConfigError(f"{source}: {keys[0]!r} is not a section")
    fields = {f.name: f for f in dataclasses.fields(obj) if f.init}
    head, rest = keys[0], list(keys[1:])
    if head not in fields:
        raise ConfigError(f"{source}: unknown key {head!r} (allowed: {', '.join(sorted(fields))})")
    hint = typing.get_type_hints(type(obj))[head]
    where = f"{source}:{head}"
    current = getattr(obj, head)
    if not rest:
        new = _check_type(value, hint, where)
    elif dataclasses.is_dataclass(current):
        new = replace_key(current, rest, value, where, validate=validate)
    elif isinstance(current, dict):
        new = _check_type({**current, **_nested(rest, value)}, hint, where)
    elif current is None:
        new = _check_type(_nested(rest, value), hint, where)
    else:
        raise ConfigError(f"{where}: {rest[0]!r} is not a key of a section")
    make = lambda: dataclasses.replace(obj, **{head: new})  # noqa: E731
    return _validated(make, source) if validate else _built(make, source)


def apply_overrides(obj: T, overrides: Sequence[str], source: str = "--set") -> T:
    """Apply ``"dotted.key=VALUE"`` overrides (the CLI's ``--set``) to dataclass ``obj``.

    Each override goes through :func:`replace_key` (:func:`dataclasses.replace`, type
    checked); the result is validated once all are applied (so ``kind=file`` and ``path=...``
    can be set together). ``obj`` itself is not changed.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Bump:
    ...     n_toys: int = 10000
    ...     seed: int = 0
    >>> apply_overrides(Bump(), ["n_toys=500", "seed=2"])
    Bump(n_toys=500, seed=2)
    >>> apply_overrides(Bump(), ["n_toys=many"])
    Traceback (most recent call last):
    ...
    adsearch.errors.ConfigError: --set:n_toys: expected an integer, got 'many'
    """
    for item in overrides:
        keys, value = parse_override(item)
        obj = replace_key(obj, keys, value, source, validate=False)
    validate_tree(obj)  # once all are set: an override may need another (kind + path)
    return obj
