"""``cffd models ...``: the versions in the model store: list, show, activate, undo, history, import, export."""

from __future__ import annotations

import argparse
from pathlib import Path

from cffd_engine.argtypes import existing_folder, file_to_write
from cffd_engine.cli.progress import progress_bar


def add_parser(commands) -> None:
    """The ``models`` command and its actions under ``commands`` (the ``cffd`` subparsers)."""
    models = commands.add_parser(
        "models", help="model versions: list, show, activate, undo, history, rollback, import, export"
    )
    models.add_argument("--store", type=Path, help="store folder (default: the user data folder)")
    actions = models.add_subparsers(dest="models_command", required=True)
    actions.add_parser("list", help="all versions; * marks the active one")
    show = actions.add_parser("show", help="the model card of a version (default: the active one)")
    show.add_argument("version", nargs="?")
    actions.add_parser("activate", help="make a version active").add_argument("version")
    actions.add_parser("undo", help="activate again the version that was active before the current one")
    actions.add_parser("history", help="every change of the active version, oldest first")
    actions.add_parser("rollback", help="activate the version the active one was updated from")
    importing = actions.add_parser("import", help="add a bundle folder or .cffd file as a new version")
    importing.add_argument("path", type=Path)
    importing.add_argument("--activate", action="store_true")
    exporting = actions.add_parser("export", help="write a version as one .cffd file")
    exporting.add_argument("version")
    exporting.add_argument("path", type=file_to_write, help="the .cffd file to write")
    exporting.add_argument(
        "--without-private-data",
        action="store_true",
        help="leave out the replay buffer and validation faces (the copy can analyse, not learn)",
    )
    actions.add_parser("delete", help="delete a version (never the active one)").add_argument("version")
    restore = actions.add_parser(
        "restore-data",
        help="rebuild the replay buffer and validation faces a shared model left out (from its photos, or "
        "from your own genuine faces with --faces)",
    )
    restore.add_argument("version", nargs="?", help="default: the active version")
    restore.add_argument(
        "--faces",
        type=existing_folder,
        help="a folder of your own genuine faces to rebuild from (pictures with one face each, or genuine videos: "
        "two faces a second are taken), "
        "instead of the photos the model was trained on",
    )
    models.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Do the chosen action on the store and say what it did."""
    from cffd_engine.store import DEFAULT_BUNDLE, ModelStore, model_card

    store = ModelStore(args.store)
    action = args.models_command
    if action != "import" and not store.versions() and DEFAULT_BUNDLE.is_file():
        store.ensure_default(DEFAULT_BUNDLE)  # a fresh install holds the shipped model, as the window does
    if action == "list":
        rows = store.list()
        if not rows:
            print(f"no model versions in {store.root}")
        for row in rows:
            mark = "*" if row.active else " "
            detail = row.problem or (
                f"{row.created}  parent {row.parent_version or '-'}  tasks: {', '.join(row.tasks) or '-'}"
                + ("" if row.learnable else "  (no replay buffer: cannot learn)")
            )
            print(f"{mark} {row.version:<5} {detail}")
    elif action == "show":
        print(model_card(store.verify(args.version or store.active_version() or "")))
    elif action == "activate":
        store.activate(args.version)
        print(f"active: {args.version}")
    elif action == "rollback":
        print(f"active: {store.rollback()}")
    elif action == "undo":
        print(f"active: {store.undo_activation()}")
    elif action == "history":
        history = store.activation_history()
        if not history:
            print(f"no activations recorded in {store.root}")
        stored = set(store.versions())
        for entry in history:
            print(
                f"{entry.time}  {entry.version:<5} {entry.action}"
                + ("" if entry.version in stored else " (deleted)")
            )
    elif action == "import":
        imported = store.import_bundle(args.path)
        if args.activate and imported.version != store.active_version():
            store.activate(imported.version)
        if imported.already_stored:
            outcome = f"{args.path} is already in the store as {imported.version}; nothing added"
        else:
            outcome = f"imported {args.path} as {imported.version}"
        print(outcome + (" (active)" if args.activate else ""))
    elif action == "export":
        path = store.export(args.version, args.path, include_private_data=not args.without_private_data)
        print(f"exported {args.version} to {path}")
    elif action == "delete":
        store.delete(args.version)
        print(f"deleted {args.version}")
    elif action == "restore-data":
        from cffd_engine.training import restore_training_faces

        version = restore_training_faces(store, args.version, progress_bar("restore"), faces=args.faces)
        source = f" from {args.faces}" if args.faces else ""
        print(f"\n{version}: {args.version or 'the active version'} with its training faces rebuilt{source}")
    return 0
