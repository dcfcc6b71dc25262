"""Cases: the analyst's folder of results, reviews and reports, which outlives the window.

A case folder holds ``case.json`` (the index: every evidence file brought in, in
order), ``results/`` (each analysis result as JSON, with the analyst's review) and
``reports/`` (where reports go unless the analyst says otherwise). A result's key-frame
pictures sit in a folder named like its JSON, checked against their SHA-256 when read back. The evidence is
never copied: an entry names it by path and, once analysed, by SHA-256. Every
write is atomic; analysing a file again keeps the earlier result's file.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import platformdirs

from cffd_engine.analysis.result import AnalysisResult, KeyFrame, Review, utc_now
from cffd_engine.errors import CaseError
from cffd_engine.fileio import atomic_write_bytes, atomic_write_json
from cffd_engine.jobs import JobControl
from cffd_engine.media.video import file_hashes

INDEX = "case.json"
FORMAT = 1


def default_case_root() -> Path:
    return Path(platformdirs.user_data_dir("cffd-studio", appauthor=False)) / "cases" / "Default case"


@dataclass
class CaseEntry:
    """One evidence file in the case: where it was, and the file of its latest result (None until analysed)."""

    id: str
    path: str
    added_utc: str
    size_bytes: int | None = None
    sha256: str | None = None
    result: str | None = None
    earlier_results: list[str] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)


class CaseFolder:
    """The case at ``root`` (made on first use); ``CaseError`` names the file and the fix when it cannot be used."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.results_dir = self.root / "results"
        self.reports_dir = self.root / "reports"
        try:
            self.results_dir.mkdir(parents=True, exist_ok=True)
            self.reports_dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise CaseError(
                f"{self.root}: the case folder cannot be made or used ({exc.strerror}). "
                "Choose a folder you may write to (File > Open or make a case)."
            ) from exc
        self._entries = self._read_index()
        if not (self.root / INDEX).exists():
            self._write_index()

    @property
    def name(self) -> str:
        return self.root.name

    def _read_index(self) -> list[CaseEntry]:
        path = self.root / INDEX
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise CaseError(
                f"{path}: not a readable case index ({exc}). Open another case folder, or move this one "
                "aside; its results/ folder still holds every result."
            ) from exc
        if not isinstance(data, dict):
            raise CaseError(f"{path}: not a case index (no entries); open another case folder")
        if data.get("format", 0) > FORMAT:
            raise CaseError(
                f"{path}: written by a newer CFFD Studio (format {data.get('format')}); update it"
            )
        try:
            return [CaseEntry(**entry) for entry in data.get("entries", [])]
        except TypeError as exc:
            raise CaseError(
                f"{path}: an entry is not a case entry ({exc}); open another case folder"
            ) from exc

    def _write_index(self) -> None:
        atomic_write_json(
            self.root / INDEX, {"format": FORMAT, "entries": [asdict(entry) for entry in self._entries]}
        )

    def entries(self) -> list[CaseEntry]:
        return list(self._entries)

    def entry(self, entry_id: str) -> CaseEntry:
        for entry in self._entries:
            if entry.id == entry_id:
                return entry
        raise KeyError(entry_id)

    def add(self, paths: list[Path]) -> list[CaseEntry]:
        """Bring evidence files into the case (not yet analysed); the index is written once."""
        added = [
            CaseEntry(uuid.uuid4().hex[:12], str(Path(p).absolute()), utc_now(), _regular_size(Path(p)))
            for p in paths
        ]
        self._entries.extend(added)
        self._write_index()
        return added

    def remove(self, entry_id: str) -> None:
        """Take an entry out of the index; its result files stay in ``results/``."""
        self._entries = [entry for entry in self._entries if entry.id != entry_id]
        self._write_index()

    def save_result(self, entry_id: str, result: AnalysisResult) -> None:
        """Keep ``result`` as the entry's latest; an earlier result's file stays, listed as earlier."""
        entry = self.entry(entry_id)
        name = f"{entry.id}-{len(entry.earlier_results) + (entry.result is not None) + 1}.json"
        for key in result.key_frames():  # the pictures stay out of the JSON; the report needs them
            for picture, png in key.images.items():
                atomic_write_bytes(self._picture_path(name, key, picture), png)
        atomic_write_json(self.results_dir / name, result.to_dict())
        if entry.result is not None:
            entry.earlier_results.append(entry.result)
        entry.result, entry.sha256 = name, result.evidence.sha256
        self._write_index()

    def load_result(self, entry_id: str) -> AnalysisResult | None:
        """The entry's latest result (None if not analysed); CaseError if its file is gone or damaged."""
        entry = self.entry(entry_id)
        if entry.result is None:
            return None
        path = self.results_dir / entry.result
        try:
            result = AnalysisResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
            for key in result.key_frames():
                for picture, digest in key.image_sha256.items():
                    png = self._picture_path(entry.result, key, picture).read_bytes()
                    if hashlib.sha256(png).hexdigest() != digest:
                        raise ValueError(f"picture {picture!r} of frame {key.frame_index} was changed")
                    key.images[picture] = png
        except (OSError, ValueError) as exc:
            raise CaseError(f"{path}: the result of {Path(entry.path).name} cannot be read ({exc})") from exc
        return result

    def _picture_path(self, result_name: str, key: KeyFrame, picture: str) -> Path:
        return (
            self.results_dir
            / Path(result_name).stem
            / f"track{key.track_id}-frame{key.frame_index}-{picture}.png"
        )

    def set_review(self, entry_id: str, review: Review | None) -> None:
        """Record the analyst's review in the entry's latest result file (its pictures are left as they are)."""
        entry = self.entry(entry_id)
        if entry.result is None:
            raise CaseError(f"{entry.path}: not analysed yet; there is nothing to review")
        path = self.results_dir / entry.result
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CaseError(f"{path}: the result of {Path(entry.path).name} cannot be read ({exc})") from exc
        data["review"] = asdict(review) if review is not None else None
        atomic_write_json(path, data)

    def record_report(self, entry_ids: list[str], report: Path | str) -> None:
        for entry in self._entries:
            if entry.id in entry_ids and str(report) not in entry.reports:
                entry.reports.append(str(report))
        self._write_index()

    def might_hold(self, path: Path | str) -> bool:
        """Whether ``same_evidence`` could find ``path`` (cheap: no hashing); False means it is new."""
        path, size = Path(path).absolute(), _regular_size(Path(path))
        return any(
            (e.result is None and e.path == str(path))
            or (e.sha256 and size is not None and e.size_bytes == size)
            for e in self._entries
        )

    def same_evidence(self, path: Path | str, job: JobControl | None = None) -> CaseEntry | None:
        """The entry already holding ``path``'s evidence: the same file waiting for analysis, or an analysed
        one with the same SHA-256 (``path`` is hashed only when an analysed entry has its size)."""
        path = Path(path).absolute()
        waiting = [e for e in self._entries if e.result is None and e.path == str(path)]
        if waiting:
            return waiting[0]
        size = _regular_size(path)
        candidates = [e for e in self._entries if e.sha256 and size is not None and e.size_bytes == size]
        if not candidates:
            return None
        digest = file_hashes(path, job)["sha256"]
        return next((entry for entry in candidates if entry.sha256 == digest), None)


def _regular_size(path: Path) -> int | None:
    """The size of a regular file; None for anything else (a pipe, a device, a folder, a missing file)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None
