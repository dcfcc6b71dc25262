"""Forensic reports: a PDF (reportlab) and its JSON twin with the same content, written atomically.

``write_report(results, pdf_path, json_path, case)`` re-hashes the evidence,
builds one typed ``Report``, writes it as the JSON, then draws it as the PDF that
prints the JSON's SHA-256.

Names are imported on first use, so the window's verdict card (which words a result with
``report.content``) does not load reportlab.
"""

from __future__ import annotations

from cffd_engine.lazy import lazy_names

_WHERE = {
    "CaseInfo": "document",
    "Report": "document",
    "build_report": "content",
    "interpretation": "content",
    "limitations": "content",
    "ReportFiles": "writer",
    "write_report": "writer",
}

__all__ = sorted(_WHERE)


__getattr__, __dir__ = lazy_names(__name__, _WHERE)
