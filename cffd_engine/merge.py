"""``cffd merge``: join the outputs of sharded runs (``--shard K/N``) into what one run would have written.

JSON reports of ``cffd analyze --shard K/N --json`` become one JSON report with the
results in the order one run over all the inputs lists them, built by the same code
(``report_content``), each shard's evidence hashes (at intake and at its report) kept,
and ``merged_from`` naming the shard files and their SHA-256. The shards must be all N
of one batch and agree on the case, the settings and the model. No PDF: the key-frame
pictures a PDF shows are not in the JSON (only their SHA-256), so a PDF cannot be drawn
from it. Preprocessing caches of ``cffd preprocess --shard K/N`` become one cache
(``cffd_engine.data.cache_merge``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cffd_engine.errors import CFFDError

CASE_FIELDS = ("case_id", "examiner", "organisation", "notes")


def read_report(path: Path) -> tuple[dict, str]:
    """A shard's JSON report as data, and the SHA-256 of its bytes; CFFDError naming a file that is not one."""
    from cffd_engine.report.document import FORMAT_VERSION, REPORT_FORMAT

    try:
        raw = path.read_bytes()
        data = json.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise CFFDError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CFFDError(
            f"{path}: not a JSON report ({exc.__class__.__name__}); name the shards' --json files"
        ) from None
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise CFFDError(f"{path}: not a CFFD Studio JSON report; name the shards' --json files")
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CFFDError(
            f"{path}: report format {version!r} is not one this CFFD Studio reads ({FORMAT_VERSION})"
        )
    return data, hashlib.sha256(raw).hexdigest()


def merge_reports(paths: list[Path]) -> dict:
    """The joined report's content (see the module docstring); CFFDError naming the shard that does not fit."""
    from cffd_engine.report.content import report_content
    from cffd_engine.report.document import CaseInfo
    from cffd_engine.shards import check_shards

    read = [read_report(path) for path in paths]
    order = check_shards([(str(path), data.get("shard")) for path, (data, _) in zip(paths, read, strict=True)],
                         "JSON report")  # fmt: skip
    shards = [(paths[i], *read[i]) for i in order]
    placed: list[tuple] = []
    for path, report, _ in shards:
        _same_case(path, report, shards[0][0], shards[0][1])
        placed += _placed_results(path, report, placed[0][3] if placed else None)
    placed.sort(key=lambda item: item[0])
    case = CaseInfo(**{name: shards[0][1]["case"][name] for name in CASE_FIELDS})
    joined = report_content([item[1] for item in placed], [item[2] for item in placed], case)
    joined.extra["merged_from"] = [
        {
            "file": str(path.absolute()),
            "sha256": digest,
            "shard": report["shard"]["shard"],
            "results": len(report["results"]),
            "report_created_utc": report["case"].get("report_created_utc"),
        }
        for path, report, digest in shards
    ]
    return joined.to_dict()


def _placed_results(path: Path, report: dict, first: tuple[Path, dict] | None) -> list[tuple]:
    """(position in the batch, AnalysisResult, evidence check, (file, data)) of each of a shard's results,
    checked for the same settings and model as ``first`` (the first result of the merge)."""
    from cffd_engine.analysis.result import AnalysisResult
    from cffd_engine.report.document import EvidenceCheck

    results, checks, positions = report.get("results"), report.get("evidence"), report["shard"]["positions"]
    if not (isinstance(results, list) and isinstance(checks, list)) or not (
        len(results) == len(checks) == len(positions)
    ):
        raise CFFDError(
            f"{path}: its results, evidence and shard positions do not match; run that shard again"
        )
    placed = []
    for index, (data, check, position) in enumerate(zip(results, checks, positions, strict=True)):
        if not isinstance(data, dict):
            raise CFFDError(f"{path}: result {index + 1} is not an analysis result; run that shard again")
        first = first or (path, data)
        for part in ("settings", "model"):
            _same(path, part, data.get(part), first[0], first[1].get(part))
        try:
            result, check = AnalysisResult.from_dict(data), EvidenceCheck.from_dict(check)
        except ValueError as exc:
            raise CFFDError(
                f"{path}: result {index + 1} cannot be read ({exc}); run that shard again"
            ) from None
        placed.append((position, result, check, first))
    return placed


def _same_case(path: Path, report: dict, first_path: Path, first: dict) -> None:
    case, first_case = report.get("case"), first.get("case")
    if not isinstance(case, dict) or not all(isinstance(case.get(name), str) for name in CASE_FIELDS):
        raise CFFDError(f"{path}: its case section is damaged; run that shard again")
    for name in CASE_FIELDS:
        _same(path, f"case.{name}", case[name], first_path, first_case[name])


def _same(path: Path, name: str, value, first_path: Path, first) -> None:
    """CFFDError naming the shard and the first field in which ``value`` differs from the first shard's."""
    if value == first:
        return
    if isinstance(value, dict) and isinstance(first, dict):
        for key in sorted(set(value) | set(first), key=str):
            _same(path, f"{name}.{key}", value.get(key), first_path, first.get(key))
    raise CFFDError(
        f"{path}: {name} differs from {first_path} ({_short(value)} vs {_short(first)}); the shards must be run "
        "with the same case, settings and model: run this shard again with the others' options"
    )


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
