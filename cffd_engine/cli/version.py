"""``cffd version``: the engine, Python, dependency lock and library versions, as every report names them."""

from __future__ import annotations

import argparse


def add_parser(commands) -> None:
    version_parser = commands.add_parser(
        "version", help="engine, Python, dependency lock and library versions (as every report names them)"
    )
    version_parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cffd_engine.environment import version_lines

    print("\n".join(version_lines()))
    return 0
