"""One manifest format for every dataset, and tasks as manifest filters.

A manifest lists evidence files (videos or images) with their label (0 real,
1 fake), split, manipulation method ("real" for real files) and dataset. A
task is a filter over manifests written in one line, e.g. ``ff++/c23/DF``
(FF++ c23 real videos plus Deepfakes), so a continual protocol is a line too:
``ff++/c23/DF -> ff++/c23/F2F -> ff++/c23/FS -> ff++/c23/NT`` or
``ff++/c23 -> dfdc-p -> celeb-df-v2``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cffd_engine.errors import CFFDError
from cffd_engine.fileio import atomic_write_bytes

REAL, FAKE = 0, 1
SPLITS = ("train", "val", "test")
COMPRESSIONS = ("raw", "c0", "c23", "c40")
MANIFEST_VERSION = 1

DATASET_ALIASES = {
    "ff++": "ff++",
    "ffpp": "ff++",
    "faceforensics++": "ff++",
    "faceforensics": "ff++",
    "celeb-df-v2": "celeb-df-v2",
    "celeb-df": "celeb-df-v2",
    "celebdf": "celeb-df-v2",
    "cdf2": "celeb-df-v2",
    "cdf": "celeb-df-v2",
    "dfdc-p": "dfdc-p",
    "dfdc-preview": "dfdc-p",
    "dfdcp": "dfdc-p",
    "dfdc": "dfdc",
    "dfdc-full": "dfdc",
    "dfdcfull": "dfdc",
    "dfd": "dfd",
    "deepfakedetection": "dfd",
    "folder": "folder",
    "plain": "folder",
}

METHOD_ALIASES = {
    "df": "Deepfakes",
    "deepfakes": "Deepfakes",
    "f2f": "Face2Face",
    "face2face": "Face2Face",
    "fs": "FaceSwap",
    "faceswap": "FaceSwap",
    "nt": "NeuralTextures",
    "neuraltextures": "NeuralTextures",
    "fsh": "FaceShifter",
    "faceshifter": "FaceShifter",
    "real": "real",
}


class DatasetLayoutError(CFFDError):
    """A dataset folder is not laid out as its adapter expects: names the root, what is missing, what to do."""

    def __init__(self, root: Path | str, missing: list[str], fix: str):
        self.root = Path(root)
        self.missing = missing
        self.fix = fix
        lines = "\n".join(f"  - {item}" for item in missing)
        super().__init__(f"{self.root}: the dataset layout is incomplete; missing:\n{lines}\n{fix}")


def canonical_dataset(name: str) -> str:
    """The canonical dataset name for any accepted spelling; ValueError listing them otherwise."""
    key = name.strip().lower().replace("_", "-").replace(" ", "")
    if re.fullmatch(r"synth-[a-z0-9]+", key):  # a synthetic family (cffd_engine.data.synth), e.g. synth-blend
        return key
    if key not in DATASET_ALIASES:
        raise ValueError(
            f"unknown dataset {name!r}; known: {', '.join(sorted(set(DATASET_ALIASES.values())))} "
            "and synth-<family> (e.g. synth-blend)"
        )
    return DATASET_ALIASES[key]


def canonical_method(name: str) -> str:
    """The canonical method name (FF++ short forms DF, F2F, FS, NT, FSh accepted); unknown names kept."""
    return METHOD_ALIASES.get(name.strip().lower(), name.strip())


@dataclass(frozen=True)
class ManifestEntry:
    """One evidence file: where, real (0) or fake (1), which split, method and dataset."""

    path: str
    label: int
    split: str
    method: str
    dataset: str
    compression: str | None = None
    video_id: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Manifest:
    """The entries of one or more datasets, with notes on what was left out and why."""

    entries: list[ManifestEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def __add__(self, other: Manifest) -> Manifest:
        return Manifest(self.entries + other.entries, self.notes + other.notes)

    def summary(self) -> dict[str, int]:
        """Counts per (dataset, split, method), as 'dataset/split/method' keys."""
        counts = Counter(f"{e.dataset}/{e.split}/{e.method}" for e in self.entries)
        return dict(sorted(counts.items()))

    def filter(self, task: Task | str) -> Manifest:
        task = Task.parse(task) if isinstance(task, str) else task
        return Manifest([e for e in self.entries if task.matches(e)], list(self.notes))

    def split(self, name: str) -> Manifest:
        return Manifest([e for e in self.entries if e.split == name], list(self.notes))

    def updated_with(self, other: Manifest) -> Manifest:
        """These entries with ``other``'s added; an entry of ``other`` replaces one with the same path."""
        incoming = {entry.path for entry in other.entries}
        kept = [entry for entry in self.entries if entry.path not in incoming]
        return Manifest(kept + other.entries, list(dict.fromkeys(self.notes + other.notes)))

    def to_dict(self) -> dict:
        return {
            "version": MANIFEST_VERSION,
            "entries": [entry.to_dict() for entry in self.entries],
            "notes": self.notes,
        }

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        atomic_write_bytes(path, json.dumps(self.to_dict(), indent=1, ensure_ascii=False).encode("utf-8"))
        return path

    @classmethod
    def load(cls, path: Path | str) -> Manifest:
        """A manifest written by ``save``; a CFFDError naming the file if it is not one."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            entries = [_entry_from_dict(entry) for entry in data["entries"]]
            notes = data.get("notes", [])
            if not isinstance(notes, list):
                raise TypeError("'notes' is not a list")
            return cls(entries, [str(note) for note in notes])
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise CFFDError(
                f"{path}: not a dataset manifest ({exc.__class__.__name__}: {exc}). "
                "Write it again from the dataset folder (its adapter) or with `cffd synth build`"
            ) from exc


def _entry_from_dict(data: dict) -> ManifestEntry:
    """One entry of a saved manifest, its fields checked: a wrong type must not reach training."""
    entry = ManifestEntry(**data)
    texts = (entry.path, entry.split, entry.method, entry.dataset, entry.video_id)
    if (
        type(entry.label) is not int
        or entry.label not in (REAL, FAKE)
        or not all(isinstance(text, str) for text in texts)
        or not isinstance(entry.compression, str | None)
    ):
        raise ValueError(f"entry {data!r}: path, split, method, dataset must be text and label 0 or 1")
    return entry


@dataclass(frozen=True)
class Task:
    """A manifest filter: a dataset, optionally a compression and the fake methods; real files come along.

    ``methods`` empty means every method; ``include_real`` keeps the dataset's
    real files (of the same compression) in the task, as detection needs both.
    """

    dataset: str
    compression: str | None = None
    methods: tuple[str, ...] = ()
    include_real: bool = True
    name: str = ""

    @classmethod
    def parse(cls, spec: str) -> Task:
        """Parse ``dataset[/compression][/method+method...]``, e.g. ``ff++/c23/DF`` or ``ff++/c23/real+DF``.

        Listing ``real`` explicitly with methods is the same as leaving it out;
        ``dataset/.../fake`` (or methods prefixed ``fake:``) leaves the real files out.
        """
        parts = [part.strip() for part in spec.strip().split("/") if part.strip()]
        if not parts:
            raise ValueError("an empty task; write e.g. 'ff++/c23/DF'")
        dataset = canonical_dataset(parts[0])
        compression = None
        rest = parts[1:]
        if rest and rest[0].lower() in COMPRESSIONS:
            compression = rest.pop(0).lower()
        if len(rest) > 1:
            raise ValueError(f"cannot read task {spec!r}: write dataset[/compression][/method+method]")
        include_real, methods = True, ()
        if rest:
            text = rest[0]
            if text.lower().startswith("fake:"):
                include_real, text = False, text[5:]
            names = [canonical_method(m) for m in text.split("+") if m.strip()]
            if names == ["fake"]:
                include_real, names = False, []
            methods = tuple(m for m in names if m != "real")
            if not methods and "real" in names:
                methods = ("real",)
        return cls(dataset, compression, methods, include_real, name=spec.strip())

    def matches(self, entry: ManifestEntry) -> bool:
        if entry.dataset != self.dataset:
            return False
        if self.compression is not None and entry.compression not in (self.compression, None):
            return False
        if entry.label == REAL:
            return self.include_real or "real" in self.methods
        return not self.methods or entry.method in self.methods

    def to_dict(self) -> dict:
        return asdict(self)


def parse_protocol(line: str) -> list[Task]:
    """A continual protocol written as tasks joined by '->', e.g. ``ff++/c23/DF -> ff++/c23/F2F``."""
    specs = [spec.strip() for spec in line.split("->")]
    if not all(specs):
        raise ValueError(f"{line!r} has an empty task before or after a '->'")
    return [Task.parse(spec) for spec in specs]


PROTOCOLS = {
    "forgery-incremental": "ff++/c23/DF -> ff++/c23/F2F -> ff++/c23/FS -> ff++/c23/NT",
    "dataset-incremental": "ff++/c23 -> dfdc-p -> celeb-df-v2",
}
