"""``cffd probe``: the metadata and SHA-256/MD5 of evidence files, as JSON on stdout."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cffd_engine.cli.progress import progress_bar
from cffd_engine.errors import CFFDError


def add_parser(commands) -> None:
    probe_parser = commands.add_parser("probe", help="metadata and SHA-256/MD5 of evidence files")
    probe_parser.add_argument("paths", nargs="+", type=Path)
    probe_parser.add_argument("--progress", action="store_true", help="show hashing progress")
    probe_parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """One JSON object per file; 1 when some file could not be read (the others are still probed)."""
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
