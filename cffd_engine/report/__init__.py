"""Forensic reports: a PDF (reportlab) and its JSON twin with the same content, written atomically.

``write_report(results, pdf_path, json_path, case)`` re-hashes the evidence,
writes the JSON, then the PDF that prints the JSON's SHA-256.
"""

from cffd_engine.report.content import CaseInfo, build_report, interpretation, limitations
from cffd_engine.report.writer import ReportFiles, write_report

__all__ = ["CaseInfo", "ReportFiles", "build_report", "interpretation", "limitations", "write_report"]
