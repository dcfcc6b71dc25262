"""Training recipes (``cffd train --config``), read and checked: the data, the model, the settings, the mode."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cffd_engine.config.core import (
    ConfigError,
    check_choice,
    check_keys,
    check_types,
    parse_toml,
    read_continual,
    read_model,
    read_settings,
    read_text,
    table,
)

WHAT = "a training recipe"
MODES = ("joint", "sequence")
TOP_KEYS = {"name", "mode", "description", "limits"}
SECTIONS = ("data", "model", "continual")


@dataclass(frozen=True)
class Recipe:
    """What ``cffd train`` makes: data, model, settings, mode; ``text`` is the file as read."""

    name: str
    mode: str = "joint"
    description: str = ""
    limits: tuple[str, ...] = ()
    faces: str = ""  # "" = $CFFD_SHARED_DATA/faces/utkface, else ../shared/data/faces/utkface
    build: dict[str, Any] = field(default_factory=dict)  # BuildSettings fields besides faces and out
    preset: str = "lite"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    continual: dict[str, Any] = field(default_factory=dict)  # ContinualSettings.from_dict
    text: str = ""

    @classmethod
    def load(cls, path: Path | str) -> Recipe:
        """Read and check a recipe file; every problem is a ``ConfigError`` naming the file, key and allowed values."""
        return read_recipe(path)

    @classmethod
    def from_text(cls, text: str, source: Path | str, default_name: str = "model") -> Recipe:
        """A recipe from its TOML text; ``source`` names it in errors."""
        return recipe_from_text(text, source, default_name)


def read_recipe(path: Path | str) -> Recipe:
    """The ``Recipe`` in the file at ``path``, its name the file's by default."""
    path = Path(path)
    return recipe_from_text(read_text(path, WHAT), path, default_name=path.stem)


def recipe_from_text(text: str, source: Path | str, default_name: str = "model") -> Recipe:
    """The ``Recipe`` a TOML text states; ``source`` names it in errors (a file, or where it was recorded)."""
    data = parse_toml(text, source, WHAT)
    sections = {name: table(data, name, source) for name in SECTIONS}
    check_keys(data, TOP_KEYS | set(SECTIONS), source, None)
    check_types(Recipe, data, source, None)
    mode = data.get("mode", "joint")
    check_choice(mode, MODES, source, "mode")
    limits = data.get("limits", [])
    if not isinstance(limits, list) or not all(isinstance(limit, str) for limit in limits):
        raise ConfigError(source, "limits", f"{limits!r} is not a list of sentences", '["...", "..."]')
    build = sections["data"]
    faces = build.pop("faces", "")
    if not isinstance(faces, str):
        raise ConfigError(source, "[data] faces", f"{faces!r} is not a folder path in quotes")
    _check_build(build, source)
    preset, overrides = read_model(sections["model"], source)
    read_continual(sections["continual"], source)
    return Recipe(
        name=str(data.get("name") or default_name),
        mode=mode,
        description=data.get("description", ""),
        limits=tuple(limits),
        faces=faces,
        build=build,
        preset=preset,
        model_overrides=overrides,
        continual=sections["continual"],
        text=text,
    )


def _check_build(build: dict[str, Any], source: Path | str) -> None:
    """``[data]``: the ``BuildSettings`` of the synthetic sequence, besides the photos and the output."""
    from cffd_engine.data.synth import BuildSettings

    read_settings(BuildSettings, build, source, "data", ("faces", "out"), faces=Path("."), out=Path("."))
