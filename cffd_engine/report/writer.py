"""Writing a report: the JSON twin's bytes fix its SHA-256, which the PDF prints; then both are written.

Both come from one ``Report``: the JSON twin is ``report.to_dict()``, the PDF is drawn from the report.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cffd_engine.analysis.result import AnalysisResult
from cffd_engine.fileio import atomic_write_files
from cffd_engine.jobs import JobControl, ensure_job
from cffd_engine.report.content import build_report, default_json_path
from cffd_engine.report.document import CaseInfo
from cffd_engine.report.pdf import render_pdf


@dataclass
class ReportFiles:
    """What was written: the PDF (if asked), the JSON twin and the JSON's SHA-256."""

    pdf: Path | None
    json: Path
    json_sha256: str


def report_json_bytes(content: dict) -> bytes:
    """The JSON twin's exact bytes (sorted keys, two-space indent, UTF-8, final newline)."""
    return (json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_report(
    results: list[AnalysisResult],
    pdf_path: Path | str | None = None,
    json_path: Path | str | None = None,
    case: CaseInfo | None = None,
    job: JobControl | None = None,
    extra: dict | None = None,
) -> ReportFiles:
    """Write the JSON twin (default: beside the PDF) and the PDF; each file appears whole or not at all.

    At least one of ``pdf_path`` and ``json_path`` is needed. The evidence files are
    hashed again now; the report says whether they still match their intake hashes.
    ``extra`` adds top-level fields to the JSON (``shard``: what a ``--shard`` run took).
    """
    if pdf_path is None and json_path is None:
        raise ValueError("write_report needs a PDF path, a JSON path or both")
    job = ensure_job(job)
    pdf_path = Path(pdf_path) if pdf_path is not None else None
    json_path = Path(json_path) if json_path is not None else default_json_path(pdf_path)
    report = build_report(results, case, job.sub(0.0, 0.6))
    report.extra.update(extra or {})
    data = report_json_bytes(report.to_dict())
    digest = hashlib.sha256(data).hexdigest()
    # Both files are made in memory first, so a failure leaves neither a new JSON beside an old PDF nor the reverse.
    pdf = render_pdf(report, json_path.name, digest) if pdf_path is not None else None
    job.report(0.9, "writing")
    job.check()
    # Both are on disk before either is renamed: a full disk leaves the earlier pair as it was.
    atomic_write_files({json_path: data} if pdf_path is None else {json_path: data, pdf_path: pdf})
    job.report(1.0, "report written")
    return ReportFiles(pdf_path, json_path, digest)
