"""Cases: results and reviews survive a reopening, earlier results are kept, duplicates are found by content."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from pypdf import PdfReader

from cffd_engine.analysis import AnalysisSettings, Analyzer, load_analysis_model
from cffd_engine.analysis.result import AGREED, DISPUTED, AnalysisResult, Review
from cffd_engine.cases import INDEX, CaseFolder
from cffd_engine.errors import CaseError
from cffd_engine.media.video import file_hashes
from cffd_engine.report import write_report
from tests import synthetic_media as sm


@pytest.fixture(scope="module")
def analysed(untrained_bundle, tmp_path_factory):
    """A real analysis of a short face video, and the video."""
    video = sm.write_video_av(
        tmp_path_factory.mktemp("evidence") / "interview.mp4", sm.drifting_portrait_frames(8)
    )
    model, info = load_analysis_model(untrained_bundle)
    with Analyzer(AnalysisSettings(explain_top_k=1, cpu_threads=1), model, info) as analyzer:
        return analyzer.analyze(video), video


def review(decision=AGREED, finding=None) -> Review:
    return Review(decision, "A. Examiner", "2026-12-03T18:00:00+00:00", "checked frame by frame", finding)


def test_a_result_and_its_review_survive_reopening_the_case(analysed, tmp_path):
    result, video = analysed
    case = CaseFolder(tmp_path / "case 7")
    (entry,) = case.add([video])
    assert case.load_result(entry.id) is None
    case.save_result(entry.id, result)
    case.set_review(entry.id, review(DISPUTED, "manipulated"))

    again = CaseFolder(tmp_path / "case 7")
    (reopened,) = again.entries()
    assert reopened.path == str(video.absolute()) and reopened.sha256 == file_hashes(video)["sha256"]
    loaded = again.load_result(reopened.id)
    assert loaded.review == review(DISPUTED, "manipulated")
    assert loaded.video_probability == result.video_probability
    assert [t.score for t in loaded.tracks] == [t.score for t in result.tracks]
    assert result.key_frames(), "the face video gives key frames, whose pictures the report needs"
    for key, back in zip(result.key_frames(), loaded.key_frames(), strict=True):
        assert back.images == key.images and set(back.images) == {"frame", "crop", "spectrum"}


def test_a_changed_key_frame_picture_is_refused(analysed, tmp_path):
    result, video = analysed
    case = CaseFolder(tmp_path / "case")
    (entry,) = case.add([video])
    case.save_result(entry.id, result)
    picture = next((case.results_dir / case.entry(entry.id).result.removesuffix(".json")).glob("*-crop.png"))
    picture.write_bytes(picture.read_bytes() + b"\0")
    with pytest.raises(CaseError, match="picture 'crop' of frame .* was changed"):
        case.load_result(entry.id)


def test_analysing_again_keeps_the_earlier_result_file(analysed, tmp_path):
    result, video = analysed
    case = CaseFolder(tmp_path / "case")
    (entry,) = case.add([video])
    case.save_result(entry.id, result)
    case.set_review(entry.id, review())
    case.save_result(entry.id, result)  # analysed again: the new result has no review yet
    entry = case.entry(entry.id)
    assert len(entry.earlier_results) == 1 and entry.result not in entry.earlier_results
    earlier = json.loads((case.results_dir / entry.earlier_results[0]).read_text(encoding="utf-8"))
    assert earlier["review"]["decision"] == AGREED
    assert case.load_result(entry.id).review is None


def test_the_same_evidence_is_found_by_content_and_a_waiting_file_by_path(analysed, tmp_path):
    result, video = analysed
    case = CaseFolder(tmp_path / "case")
    (entry,) = case.add([video])
    assert case.might_hold(video) and case.same_evidence(video).id == entry.id  # waiting: the same path
    case.save_result(entry.id, result)
    copy = shutil.copy(video, tmp_path / "renamed copy.mp4")
    assert case.same_evidence(copy).id == entry.id
    altered = tmp_path / "altered.mp4"  # the same size, one byte changed: told apart by its hash
    data = bytearray(video.read_bytes())
    data[-10] ^= 0xFF
    altered.write_bytes(bytes(data))
    assert case.might_hold(altered) and case.same_evidence(altered) is None
    assert not case.might_hold(tmp_path / "no such file.mp4")
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    assert case.same_evidence(fifo) is None  # never opened: no size, no hash


def test_a_removed_entry_leaves_its_result_file(analysed, tmp_path):
    result, video = analysed
    case = CaseFolder(tmp_path / "case")
    (entry,) = case.add([video])
    case.save_result(entry.id, result)
    case.remove(entry.id)
    assert CaseFolder(tmp_path / "case").entries() == []
    assert (case.results_dir / entry.result).is_file()


def test_a_damaged_index_or_result_is_named_with_the_fix(analysed, tmp_path):
    result, video = analysed
    case = CaseFolder(tmp_path / "case")
    (entry,) = case.add([video])
    case.save_result(entry.id, result)
    (case.results_dir / case.entry(entry.id).result).write_text("{not json", encoding="utf-8")
    with pytest.raises(CaseError, match="cannot be read"):
        case.load_result(entry.id)
    (tmp_path / "case" / INDEX).write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(CaseError, match=r"case\.json: not a case index"):
        CaseFolder(tmp_path / "case")
    (tmp_path / "case" / INDEX).write_text("[1, 2", encoding="utf-8")
    with pytest.raises(CaseError, match=r"case\.json.*results/ folder still holds"):
        CaseFolder(tmp_path / "case")
    blocker = tmp_path / "a file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(CaseError, match="Choose a folder you may write to"):
        CaseFolder(blocker / "case")


def test_a_review_is_checked_and_travels_in_the_json_and_the_report(analysed, tmp_path):
    result, _ = analysed
    with pytest.raises(ValueError, match="reviewer"):
        Review(AGREED, "  ", "2026-12-03T18:00:00+00:00")
    with pytest.raises(ValueError, match="finding"):
        Review(DISPUTED, "A. Examiner", "2026-12-03T18:00:00+00:00")
    with pytest.raises(ValueError, match="decision"):
        Review("maybe", "A. Examiner", "2026-12-03T18:00:00+00:00")
    reviewed = AnalysisResult.from_dict(result.to_dict())
    reviewed.review = review(DISPUTED, "genuine")
    assert AnalysisResult.from_dict(reviewed.to_dict()).review == reviewed.review
    files = write_report([reviewed, result], pdf_path=tmp_path / "report.pdf")
    content = json.loads(files.json.read_text(encoding="utf-8"))
    pdf = " ".join(" ".join(page.extract_text() for page in PdfReader(files.pdf).pages).split())
    assert "Disputed: genuine (A. Examiner)" in pdf and "not reviewed" in pdf  # the summary table, per file
    assert (
        "Analyst's review (the model's verdict above stands as it was): Disputed: genuine, by A. Examiner "
        "at 2026-12-03 18:00 UTC" in pdf
    )
    assert "checked frame by frame" in pdf
    summary = content["summary"][0]
    assert summary["review"]["reviewer"] == "A. Examiner" and summary["review"]["finding"] == "genuine"
    assert summary["verdict"] == result.verdict  # the model's verdict stands beside the review
    assert content["results"][0]["review"]["note"] == "checked frame by frame"


def test_old_results_without_a_review_still_read(analysed):
    data = analysed[0].to_dict()
    del data["review"]
    assert AnalysisResult.from_dict(data).review is None
    assert np.isclose(AnalysisResult.from_dict(data).threshold, analysed[0].threshold)
