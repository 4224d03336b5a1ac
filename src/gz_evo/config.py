"""Typed configuration: frozen dataclasses built from Kedro parameters, every knob required.

Each knob has one default, in ``conf/base/parameters_<pipeline>.yml``; the dataclasses have none,
so a missing or misspelt key is an error that names its full path instead of a silent fallback::

    @dataclass(frozen=True)
    class OptimizerConfig:
        lr: float
        betas: tuple[float, float]

    config = from_params(OptimizerConfig, params["optimizer"], "pretraining.optimizer")

Nested dataclasses, ``tuple`` and ``dict`` fields and ``X | None`` are converted; plain
scalars are checked against their annotation (``int`` accepts integers only, ``float`` any number).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """Parameters that do not match their typed configuration; the message names the key."""


def from_params(cls: type[T], params: Mapping[str, Any] | None, path: str) -> T:
    """Build dataclass ``cls`` from ``params`` (the YAML block at ``path``), checking every key."""
    if not isinstance(params, Mapping):
        raise ConfigError(f"{path} must be a mapping of keys to values, got {params!r}")
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}; known keys: {sorted(fields)}")
    missing = [name for name in fields if name not in params]
    if missing:
        raise ConfigError(
            f"{path}: missing key(s) {missing}; add them to the parameters "
            "(see conf/base/parameters_*.yml for every key with its default)"
        )
    hints = typing.get_type_hints(cls)
    values = {name: _convert(hints[name], params[name], f"{path}.{name}") for name in fields}
    return cls(**values)


def merged(base: Mapping[str, Any], changes: Mapping[str, Any] | None) -> dict[str, Any]:
    """``base`` with ``changes`` applied key by key, nested mappings merged (not replaced)."""
    result = dict(base)
    for key, value in (changes or {}).items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def as_params(config: Any) -> dict[str, Any]:
    """The dataclass back as plain parameters (tuples as lists): JSON-able, hashable text."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple | list):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return value

    return plain(dataclasses.asdict(config))


def _convert(annotation: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return _union(typing.get_args(annotation), value, path)
    if dataclasses.is_dataclass(annotation):
        return from_params(annotation, value, path)
    if origin is tuple:
        return _tuple(typing.get_args(annotation), value, path)
    if origin is typing.Literal:
        allowed = list(typing.get_args(annotation))
        if value not in allowed:
            raise ConfigError(f"{path} must be one of {allowed}, got {value!r}")
        return value
    if origin is dict or annotation is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path} must be a mapping, got {value!r}")
        return dict(value)
    return value if annotation is Any else _scalar(annotation, value, path)


def _union(options: tuple, value: Any, path: str) -> Any:
    if value is None and type(None) in options:
        return None
    errors = []
    for option in (o for o in options if o is not type(None)):
        try:
            return _convert(option, value, path)
        except ConfigError as error:
            errors.append(str(error))
    raise ConfigError(errors[0] if len(errors) == 1 else f"{path}: {value!r} fits no type")


def _tuple(args: tuple, value: Any, path: str) -> tuple:
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{path} must be a list, got {value!r}")
    kinds = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
    if len(kinds) != len(value):
        raise ConfigError(f"{path} must have {len(kinds)} items, got {value!r}")
    return tuple(
        _convert(kind, item, f"{path}[{i}]")
        for i, (kind, item) in enumerate(zip(kinds, value, strict=True))
    )


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


#: plain types: what the error calls them, and which values they accept
_SCALARS: dict[type, tuple[str, typing.Callable[[Any], bool]]] = {
    bool: ("true or false", lambda value: isinstance(value, bool)),
    int: ("an integer", _is_integer),
    float: ("a number", lambda value: _is_integer(value) or isinstance(value, float)),
    str: ("text", lambda value: isinstance(value, str)),
}


def _scalar(annotation: Any, value: Any, path: str) -> Any:
    if annotation not in _SCALARS:  # pragma: no cover - a programming error, not a user's
        raise TypeError(f"{path}: unsupported annotation {annotation!r}")
    description, accepts = _SCALARS[annotation]
    if not accepts(value):
        raise ConfigError(f"{path} must be {description}, got {value!r}")
    return float(value) if annotation is float else value
