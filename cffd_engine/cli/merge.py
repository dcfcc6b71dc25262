"""``cffd merge``: join the outputs of sharded runs (``--shard K/N``) into what one run would have written.

The joining is ``cffd_engine.merge`` (JSON reports) and ``cffd_engine.data.cache_merge`` (caches).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from cffd_engine.argtypes import file_to_write, folder_to_write
from cffd_engine.errors import CFFDError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``cffd merge``."""
    parser.description = (
        "Join the outputs of `--shard K/N` runs: every shard's JSON report (cffd analyze --json) into one "
        "report listing the results as one run would, or every shard's cache (cffd preprocess --out) into one "
        "cache. No PDF: the key-frame pictures a PDF shows are not in the JSON reports."
    )
    parser.add_argument(
        "shards",
        nargs="+",
        type=Path,
        help="every shard's JSON report, or every shard's cache folder, any order",
    )
    parser.add_argument("--json", type=file_to_write, help="JSON reports: write the joined report here")
    parser.add_argument(
        "--out", type=folder_to_write, help="caches: the joined cache folder (created, or resumed)"
    )


def run(args: argparse.Namespace) -> int:
    """Join the shards; 0 when done, 2 (via CFFDError) when they cannot be joined."""
    folders = [path for path in args.shards if path.is_dir()]
    if folders and len(folders) != len(args.shards):
        files = ", ".join(str(path) for path in args.shards if not path.is_dir())
        raise CFFDError(
            f"some shards are folders ({folders[0]}) and some are not ({files}): merge either every shard's "
            "JSON report (--json) or every shard's cache folder (--out), not both"
        )
    if folders:
        if args.out is None or args.json is not None:
            raise CFFDError(
                "the shards are cache folders: name the joined cache with --out CACHE (not --json)"
            )
        from cffd_engine.data.cache_merge import merge_caches

        done = merge_caches(args.shards, args.out)
        print(
            f"{done.out}: {done.videos} video(s) from {done.shards} shard(s); {done.copied} copied now "
            f"({done.crop_files} crop files), {done.already_there} already there"
        )
        return 0
    if args.json is None or args.out is not None:
        raise CFFDError("the shards are JSON reports: name the joined report with --json FILE (not --out)")
    from cffd_engine.fileio import atomic_write_bytes
    from cffd_engine.merge import merge_reports
    from cffd_engine.report.writer import report_json_bytes

    for path in args.shards:
        if path.resolve() == args.json.resolve():
            raise CFFDError(f"--json {args.json} is one of the shards: name a new file for the joined report")
    content = merge_reports(args.shards)
    data = report_json_bytes(content)
    atomic_write_bytes(args.json, data)
    failed = [
        r
        for r in content["results"]
        if (r["not_applicable"] or {}).get("code") in ("unreadable", "failed", "timed_out")
    ]
    print(
        f"JSON:   {args.json} (SHA-256 {hashlib.sha256(data).hexdigest()}): {len(content['results'])} result(s) "
        f"from {len(args.shards)} shard(s)"
    )
    for result in failed:
        print(
            f"  not analysed: {result['evidence']['path']}: {result['not_applicable']['reason']}",
            file=sys.stderr,
        )
    return 0
