"""Forensic reports: a PDF (reportlab) and its JSON twin with the same content, written atomically.

``write_report(results, pdf_path, json_path, case)`` re-hashes the evidence,
writes the JSON, then the PDF that prints the JSON's SHA-256.

Names are imported on first use, so the window's verdict card (which words a result with
``report.content``) does not load reportlab.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "CaseInfo": "content",
    "build_report": "content",
    "interpretation": "content",
    "limitations": "content",
    "ReportFiles": "writer",
    "write_report": "writer",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
