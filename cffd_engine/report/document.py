"""The report as typed data: built once, written as the JSON twin and drawn as the PDF from the same object.

``Report.to_dict`` is the JSON twin, field for field; the PDF reads the same ``Report``
(and the pictures its results carry, which the JSON records only by SHA-256), so the two
cannot say different things. Building one (re-hashing, wording) is ``content.build_report``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from cffd_engine.analysis.result import AnalysisResult, ModelInfo

REPORT_FORMAT = "cffd-forensic-report"
FORMAT_VERSION = 1
TITLE = "Face manipulation analysis: forensic report"


@dataclass
class CaseInfo:
    """Who asked, who examined, and why: printed first in every report."""

    case_id: str = ""
    examiner: str = ""
    organisation: str = ""
    notes: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class EvidenceCheck:
    """An evidence file's hashes at report time next to those taken at intake, and whether they match.

    ``match`` is None when the file was not hashed at intake or cannot be hashed now
    (``problem`` then says why); False means the report does not describe the file as it is.
    """

    name: str
    path: str
    size_bytes: int | None
    sha256_intake: str | None
    md5_intake: str | None
    hashed_intake_utc: str | None
    sha256_now: str | None = None
    md5_now: str | None = None
    hashed_now_utc: str | None = None
    match: bool | None = None
    problem: str | None = None

    @property
    def alarming(self) -> bool:
        """The file changed, or could not be checked: the report warns on its first page."""
        return self.match is False or bool(self.problem)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvidenceCheck:
        """Read back ``to_dict`` output (a shard's report); ValueError if it is not one."""
        if not isinstance(data, dict):
            raise ValueError(f"an evidence check is a mapping, not {type(data).__name__}")
        known = {item.name for item in fields(cls)}
        if set(data) != known:
            raise ValueError(f"an evidence check has the fields {sorted(known)}, not {sorted(data)}")
        return cls(**data)


@dataclass
class Software:
    """The software and device the report was made with and each analysis ran with (``environment()``)."""

    report: dict[str, Any]
    analysis: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"report": self.report, "analysis": self.analysis}


@dataclass
class ReportEntry:
    """One evidence file in the report: its result, its hash check, what it means, and how to reproduce it."""

    result: AnalysisResult
    check: EvidenceCheck
    interpretation: list[str]
    not_expressible: list[str]  # settings no command option sets (``AnalysisSettings.cli_gaps``)

    @property
    def name(self) -> str:
        return self.result.evidence.name

    def summary(self) -> dict[str, Any]:
        """The verdict in a line of the report's summary (the JSON's ``summary``)."""
        result = self.result
        return {
            "name": self.name,
            "verdict": result.verdict,
            "verdict_words": result.verdict_words,
            "video_probability": result.video_probability,
            "deciding_track": result.deciding_track,
            "threshold": result.threshold,
            "reason": result.not_applicable.reason if result.not_applicable else None,
            "review": asdict(result.review) if result.review else None,
        }


@dataclass
class Report:
    """A whole report: the case, one entry per evidence file (in the order given), software and limits.

    ``extra`` holds top-level fields only the JSON carries (``shard``: what a ``--shard`` run
    took; ``merged_from``: the shards a merged report joins).
    """

    case: CaseInfo
    created_utc: str
    software: Software
    entries: list[ReportEntry]
    general_interpretation: list[str]
    limitations: list[str]
    title: str = TITLE
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def results(self) -> list[AnalysisResult]:
        return [entry.result for entry in self.entries]

    @property
    def models(self) -> list[ModelInfo]:
        """Each model that judged a file, once (by weights hash), in the order first used."""
        models: dict[str, ModelInfo] = {}
        for result in self.results:
            models.setdefault(result.model.weights_sha256, result.model)
        return list(models.values())

    @property
    def analysis_started_utc(self) -> str | None:
        return min((r.started_utc for r in self.results), default=None)

    @property
    def analysis_finished_utc(self) -> str | None:
        return max((r.finished_utc for r in self.results), default=None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON twin's content (``writer.report_json_bytes`` turns it into the file's bytes)."""
        entries = self.entries
        return {
            "format": REPORT_FORMAT,
            "format_version": FORMAT_VERSION,
            "title": self.title,
            "case": {
                **self.case.to_dict(),
                "report_created_utc": self.created_utc,
                "analysis_started_utc": self.analysis_started_utc,
                "analysis_finished_utc": self.analysis_finished_utc,
            },
            "summary": [entry.summary() for entry in entries],
            "evidence": [entry.check.to_dict() for entry in entries],
            "software": self.software.to_dict(),
            "models": [model.to_dict() for model in self.models],
            "results": [entry.result.to_dict() for entry in entries],
            "interpretation_general": list(self.general_interpretation),
            "interpretation": [{"name": e.name, "paragraphs": e.interpretation} for e in entries],
            "limitations": self.limitations,
            "reproduction": [
                {"name": e.name, "command": e.result.command, "not_expressible": e.not_expressible}
                for e in entries
            ],
        } | self.extra
