"""The forgery families by name: the default model's task sequence, then the ones it never saw."""

from __future__ import annotations

from cffd_engine.data.synth import blend, morph, reenact, swap, texture
from cffd_engine.data.synth.base import Family

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (blend.FAMILY, swap.FAMILY, reenact.FAMILY, texture.FAMILY, morph.FAMILY)
}
FAMILY_NAMES: tuple[str, ...] = tuple(FAMILIES)
# The default model's tasks, in order. ``morph`` stays out: the shipped model never saw it, so it is
# the new forgery of the "learn new forgery" walk-through and tests.
DEFAULT_SEQUENCE: tuple[str, ...] = ("blend", "swap", "reenact", "texture")


def get_family(name: str) -> Family:
    """The family called ``name``; a ValueError listing the known ones otherwise."""
    if name not in FAMILIES:
        raise ValueError(f"unknown forgery family {name!r}; choose from {', '.join(FAMILIES)}")
    return FAMILIES[name]


def parse_methods(text: str) -> list[str]:
    """A comma-separated list of family names, checked, duplicates removed, order kept."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ValueError(f"no forgery family named in {text!r}; name one or more of {', '.join(FAMILIES)}")
    for name in names:
        get_family(name)
    return list(dict.fromkeys(names))
