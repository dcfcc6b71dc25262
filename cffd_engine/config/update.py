"""Update files (``cffd learn --config``), read and checked: the new forgery type, its examples, the settings."""

from __future__ import annotations

from pathlib import Path

from cffd_engine.config.core import (
    ConfigError,
    check_keys,
    check_types,
    read_continual,
    read_toml,
    table,
)

TOP_KEYS = {"name", "description", "base"}
SECTIONS = ("examples", "continual")
# Where the examples are, and what each source needs besides its own folder.
SOURCES = {"folder": (), "sequence": ("task",), "cache": ("manifest", "task"), "forgery": ()}
EXAMPLE_KEYS = {*SOURCES, "validation", "manifest", "task", "genuine"}


def read_update_plan(path: Path | str):
    """The ``UpdatePlan`` in the file at ``path``; relative example paths are read from its folder."""
    from cffd_engine.learning import UpdatePlan

    path = Path(path)
    data = read_toml(path, "an update file")
    sections = {name: table(data, name, path) for name in SECTIONS}
    check_keys(data, TOP_KEYS | set(SECTIONS), path, None)
    check_types(UpdatePlan, data, path, None)
    name = data.get("name", "").strip()
    if not name:
        raise ConfigError(path, "name", "missing; name the new forgery type", 'e.g. name = "texture-2026"')
    examples = sections["examples"]
    _check_examples(examples, path)
    read_continual(sections["continual"], path)
    return UpdatePlan(
        name=name,
        description=data.get("description", ""),
        base=data.get("base") or None,
        examples=examples,
        continual=sections["continual"],
        folder=path.resolve().parent,
    )


def _check_examples(examples: dict, path: Path) -> None:
    """``[examples]``: exactly one source, with what it needs; every value a path or name in quotes."""
    check_keys(examples, EXAMPLE_KEYS, path, "examples")
    for key, value in examples.items():
        if not isinstance(value, str) or not value:
            raise ConfigError(path, f"[examples] {key}", f"{value!r} is not a path or name in quotes")
    given = [source for source in SOURCES if source in examples]
    if len(given) != 1:
        found = ", ".join(given) or "none"
        raise ConfigError(
            path, "[examples]", f"needs exactly one of these (found {found})", ", ".join(SOURCES)
        )
    missing = [key for key in SOURCES[given[0]] if key not in examples]
    if missing:
        raise ConfigError(
            path, f"[examples] {missing[0]}", f"missing; {given[0]} also needs {', '.join(missing)}"
        )
