"""The error every user-written file raises, and the helpers that read and check one.

One message format: ``FILE: KEY: problem (allowed: ...)``. A key in a table is written
``[table] key``; a problem with a whole table, ``[table]``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

from cffd_engine.errors import ConfigError


def read_text(path: Path, what: str) -> str:
    """The text of the file at ``path``; ``what`` says what it should be when there is none."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(path, None, f"no such file; give the path of {what}") from exc
    except IsADirectoryError as exc:
        raise ConfigError(path, None, f"is a folder; give the path of {what}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, f"cannot be read as {what} ({exc})") from exc


def parse_toml(text: str, source: Path | str, what: str) -> dict[str, Any]:
    """``text`` as a dict; ``source`` names it and ``what`` says what it should be when it is not TOML."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        hint = ""
        if re.search(r"^\s*\[[^\]\"]*\+", text, re.MULTILINE):
            hint = '; a table name with "+" needs quotes, e.g. [datasets."ff++"]'
        raise ConfigError(source, None, f"not {what} in TOML ({exc}){hint}") from exc


def read_toml(path: Path | str, what: str) -> dict[str, Any]:
    """The TOML file at ``path`` as a dict; ``what`` says what it should be when it is not readable."""
    path = Path(path)
    return parse_toml(read_text(path, what), path, what)


def read_json(path: Path | str, what: str) -> dict[str, Any]:
    """The JSON object in the file at ``path``; ``what`` says what it should be when it is not one."""
    path = Path(path)
    text = read_text(path, what)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(path, None, f"not {what} in JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(path, None, f"not {what}: a JSON object ({{...}}) is needed")
    return data


def where(section: str | None, key: str) -> str:
    """How a message names ``key`` of the table ``section`` (None: the top level)."""
    return f"[{section}] {key}" if section else key


def table(data: dict[str, Any], key: str, source: Path | str, section: str | None = None) -> dict[str, Any]:
    """A copy of the table ``data[key]``, removed from ``data`` ({} when absent)."""
    value = data.pop(key, {})
    if not isinstance(value, dict):
        name = f"{section}.{key}" if section else key
        raise ConfigError(
            source, where(section, key), f"must be a table ([{name}]), not {type(value).__name__}"
        )
    return dict(value)


def check_keys(keys, known, source: Path | str, section: str | None) -> None:
    """Every key is one of ``known``, else the first unknown one is named with the known ones."""
    unknown = sorted(set(keys) - set(known))
    if unknown:
        raise ConfigError(source, where(section, unknown[0]), "unknown key", ", ".join(sorted(known)))


def _matches(value: Any, expected: Any) -> bool:
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, option) for option in typing.get_args(expected))
    if origin is typing.Literal:
        return value in typing.get_args(expected)
    if expected is float:
        return type(value) in (int, float)
    if expected in (int, bool, str):
        return type(value) is expected
    if (origin or expected) in (list, tuple):  # TOML and JSON write a tuple as a list
        return isinstance(value, (list, tuple))
    if (origin or expected) is dict:
        return isinstance(value, dict)
    return True  # what is in a list or table: the settings check it themselves


def _describe(expected: Any) -> str:
    """What a type hint allows, in a user's words."""
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(
            _describe(option) for option in typing.get_args(expected) if option is not type(None)
        )
    if origin is typing.Literal:
        return ", ".join(map(str, typing.get_args(expected)))
    if (origin or expected) in (list, tuple):
        return "a list"
    if (origin or expected) is dict:
        return "a table"
    return getattr(expected, "__name__", str(expected))


def check_types(cls, data: dict[str, Any], source: Path | str, section: str | None) -> None:
    """Each value of ``data`` has the type the dataclass ``cls`` declares for it (TOML has no None)."""
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        expected = hints.get(key)
        if expected is not None and not _matches(value, expected):
            literal = typing.Literal in (
                typing.get_origin(expected),
                *map(typing.get_origin, typing.get_args(expected)),
            )
            problem = f"{value!r} is not {'one of these' if literal else 'of the right type'}"
            raise ConfigError(source, where(section, key), problem, _describe(expected))


def check_choice(value: Any, choices, source: Path | str, key: str) -> None:
    """``value`` is one of ``choices``, else an error naming them."""
    if value not in choices:
        raise ConfigError(source, key, f"{value!r} is not one of these", ", ".join(map(str, choices)))


def fields_of(cls, leave_out: tuple[str, ...] = ()) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)} - set(leave_out)


def read_settings(cls, data: dict[str, Any], source: Path | str, section: str | None, leave_out=(), **given):
    """``cls(**data, **given)`` once every key is a field of it (less ``leave_out``) of the declared type.

    The settings' own checks say what is wrong and what is allowed; the key is the one they name.
    """
    check_keys(data, fields_of(cls, leave_out), source, section)
    check_types(cls, data, source, section)
    try:
        return cls(**data, **given)
    except (TypeError, ValueError) as exc:
        named = [key for key in data if re.search(rf"\b{re.escape(key)}\b", str(exc))]
        key = named[0] if named else next(iter(data)) if len(data) == 1 else None
        label = where(section, key) if key else f"[{section}]" if section else None
        raise ConfigError(source, label, str(exc)) from exc


def read_model(
    model: dict[str, Any], source: Path | str, section: str = "model"
) -> tuple[str, dict[str, Any]]:
    """A ``[model]`` table: its preset (default ``lite``) and the ``ModelConfig`` fields it overrides."""
    from cffd_engine.model.config import PRESETS, ModelConfig, preset

    model = dict(model)
    name = model.pop("preset", "lite")
    check_choice(name, PRESETS, source, where(section, "preset"))
    check_keys(model, fields_of(ModelConfig, ("name", "overrides")), source, section)
    check_types(ModelConfig, model, source, section)
    try:
        preset(name, **model)
    except (TypeError, ValueError) as exc:
        raise ConfigError(source, f"[{section}]", str(exc)) from exc
    return name, model


def read_continual(data: dict[str, Any], source: Path | str, section: str | None = "continual"):
    """A ``[continual]`` table as ``ContinualSettings``: its own keys, ``[.strategy]`` and ``[.train]``."""
    from cffd_engine.continual.config import ContinualSettings, StrategyConfig, TrainSettings

    data = dict(data)
    parts = {}
    for key, cls in (("strategy", StrategyConfig), ("train", TrainSettings)):
        inner = f"{section}.{key}" if section else key
        parts[key] = read_settings(cls, table(data, key, source, section), source, inner)
    return read_settings(ContinualSettings, data, source, section, tuple(parts), **parts)


def read_continual_settings(path: Path | str):
    """The ``ContinualSettings`` in a JSON file (as ``ContinualSettings.save`` writes them)."""
    return read_continual(read_json(path, "continual settings"), path, None)
