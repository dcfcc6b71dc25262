"""Sharding a batch over machines: ``--shard K/N`` picks a deterministic, disjoint share of the inputs.

The rule: every input gets a key that does not depend on the machine (its path
relative to the folder it was found in, or its file name), the inputs are
sorted by key (code points; ties keep the order they were listed in) and shard
K takes every N-th, starting with the K-th. So the N shards together take every
input exactly once, whatever order the shell or the file system lists them in
and wherever the data is mounted. Each shard records what it took (a
``shard record``: K/N, the number of inputs, digests of their keys sorted and in
the batch's order, the positions it took in that order) so that ``cffd merge``
can put the pieces back in the order one run would have listed them, and refuse
a missing, repeated or mismatched shard (or shards whose batches listed the
inputs in different orders: then there is no one such order).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cffd_engine.errors import CFFDError

SHARD_HELP = (
    "take only shard K of N of the inputs (1-based, e.g. 2/3): the N shards share the inputs out with none "
    "left out or repeated, and `cffd merge` joins their outputs. In a Slurm job array --array=0-(N-1) write "
    "--shard $((SLURM_ARRAY_TASK_ID+1))/$SLURM_ARRAY_TASK_COUNT, or --shard slurm to read those variables"
)
FIX = "write --shard K/N with 1 <= K <= N, e.g. --shard 2/3 for the second of three shards"


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def positions(self, keys: Sequence[str]) -> list[int]:
        """The positions (in the given order) of the inputs this shard takes; see the module docstring."""
        ranked = sorted(range(len(keys)), key=lambda position: (keys[position], position))
        return sorted(ranked[self.index - 1 :: self.count])

    def record(self, keys: Sequence[str]) -> dict:
        """What this shard took of ``keys``, for the output it writes and for ``check_shards``."""
        return {
            "shard": str(self),
            "inputs": len(keys),
            "inputs_sha256": inputs_digest(sorted(keys)),
            "order_sha256": inputs_digest(keys),
            "positions": self.positions(keys),
        }


def parse_shard(text: str, environ: Mapping[str, str] | None = None) -> Shard:
    """``K/N`` (or ``slurm``: from the job array's variables) as a Shard; CFFDError naming a bad value."""
    if text.strip().lower() == "slurm":
        return _slurm_shard(os.environ if environ is None else environ)
    index, slash, count = text.partition("/")
    if not slash and text.strip():
        raise CFFDError(f"bad --shard {text!r}: no '/'; {FIX}")
    try:
        shard = Shard(int(index), int(count))
    except ValueError:
        raise CFFDError(f"bad --shard {text!r}: not two whole numbers K/N; {FIX}") from None
    if shard.count < 1:
        raise CFFDError(f"bad --shard {text!r}: the number of shards N must be at least 1; {FIX}")
    if not 1 <= shard.index <= shard.count:
        raise CFFDError(
            f"bad --shard {text!r}: K must be between 1 and N={shard.count} (K counts from 1, not 0); {FIX}"
        )
    return shard


def _slurm_shard(environ: Mapping[str, str]) -> Shard:
    """K/N from SLURM_ARRAY_TASK_ID, _MIN, _STEP and _COUNT, for arrays like 0-9, 1-10 or 0-18:2."""
    names = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT")
    missing = [name for name in names if name not in environ]
    if missing:
        raise CFFDError(f"--shard slurm: {', '.join(missing)} not set (not inside a Slurm job array?); {FIX}")
    try:
        task, first, count = (int(environ[name]) for name in names)
        step = int(environ.get("SLURM_ARRAY_TASK_STEP", "1"))
    except ValueError:
        values = ", ".join(f"{name}={environ[name]!r}" for name in names)
        raise CFFDError(f"--shard slurm: not whole numbers ({values}); {FIX}") from None
    offset = task - first
    if step < 1 or offset % step or not 0 <= offset // step < count:
        raise CFFDError(
            f"--shard slurm: task {task} of an array from {first} in steps of {step} with {count} tasks is not "
            f"one of {count} evenly spaced tasks (an array with gaps?); {FIX}"
        )
    return Shard(offset // step + 1, count)


def relative_key(path: Path | str, base: Path | str) -> str:
    """``path`` relative to the folder ``base`` (POSIX), the same wherever the data is mounted; else ``path``."""
    path, base = Path(path), Path(base).expanduser()
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        pass
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def inputs_digest(keys: Sequence[str]) -> str:
    """SHA-256 of the keys in their order: the shards of one batch share it (sorted, and in the batch's order)."""
    return hashlib.sha256("\n".join(keys).encode("utf-8", "surrogateescape")).hexdigest()


def check_shards(records: Sequence[tuple[str, dict | None]], what: str = "output") -> list[int]:
    """For ``(name, shard record)`` of each shard's output: the order to join them in (by K).

    CFFDError naming the file when one has no record or a malformed one, when the shards
    were made of other inputs, listed them in another order or used another N, when one is
    repeated or missing, or when their positions do not cover every input exactly once.
    """
    if not records:
        raise CFFDError(f"nothing to merge: name the {what}s of every shard")
    shards = []
    for name, record in records:
        if not isinstance(record, dict):
            raise CFFDError(f"{name}: not a shard's {what} (it records no --shard); run it with --shard K/N")
        try:
            shards.append(parse_shard(str(record["shard"])))
            positions = record["positions"]
            if not isinstance(record["inputs"], int):
                raise TypeError("inputs")
            if not all(isinstance(record[field], str) for field in ("inputs_sha256", "order_sha256")):
                raise TypeError("inputs_sha256")
            if not isinstance(positions, list) or not all(isinstance(p, int) for p in positions):
                raise TypeError("positions")
        except (KeyError, TypeError, CFFDError) as exc:
            raise CFFDError(f"{name}: its shard record is damaged ({exc}); run that shard again") from None
    first_name, first = records[0]
    for (name, record), shard in zip(records, shards, strict=True):
        for field in ("inputs", "inputs_sha256"):
            if record[field] != first[field]:
                raise CFFDError(
                    f"{name}: the shard was made of other inputs than {first_name} ({field} differs: "
                    f"{record[field]} vs {first[field]}); run every shard with the same inputs and options"
                )
        if record["order_sha256"] != first["order_sha256"]:
            raise CFFDError(
                f"{name}: the shard listed the same inputs in another order than {first_name} (order_sha256 "
                "differs), so there is no one order to join them in; give every shard the same command line "
                "(and the same locale, if a shell pattern such as *.mp4 names the files)"
            )
        if shard.count != shards[0].count:
            raise CFFDError(
                f"{name}: it is shard {shard} but {first_name} is shard {shards[0]} (field shard: N differs); "
                "run every shard with the same N"
            )
    seen: dict[int, str] = {}
    for (name, _), shard in zip(records, shards, strict=True):
        if shard.index in seen:
            raise CFFDError(f"{seen[shard.index]} and {name} are both shard {shard}: name each shard once")
        seen[shard.index] = name
    count = shards[0].count
    missing = [str(k) for k in range(1, count + 1) if k not in seen]
    if missing:
        raise CFFDError(
            f"shard(s) {', '.join(f'{k}/{count}' for k in missing)} missing: got {len(seen)} of {count} "
            f"({', '.join(name for name, _ in records)}); run the missing shard(s) and name all {count}"
        )
    covered = sorted(p for _, record in records for p in record["positions"])
    if covered != list(range(first["inputs"])):
        raise CFFDError(
            f"the shards' positions do not cover the {first['inputs']} inputs exactly once "
            f"({', '.join(name for name, _ in records)}): their shard records are damaged; run them again"
        )
    return sorted(range(len(records)), key=lambda i: shards[i].index)
