"""Hostile inputs (issue #23): pipes, sockets, devices, link loops, bombs and damage in one ``cffd analyze``
batch; each entry gets its own reason, nothing hangs, the valid files are analysed.

A hang fails the test: the batch runs in a thread joined with a limit (no pytest-timeout in the lock).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from cffd_engine.analysis import AnalysisSettings, analyze_many, load_analysis_model
from cffd_engine.analysis import analyzer as analyzer_module
from cffd_engine.analysis import pipeline as pipeline_module
from cffd_engine.cli import main as cffd
from cffd_engine.errors import EvidenceError
from cffd_engine.jobs import JobControl, TimedOut
from cffd_engine.media import intake
from cffd_engine.media.detectors import RETRY_EVERY, SURE_FIND, DetectorSettings, LargeFrameSearch
from cffd_engine.media.faces import FaceDetection
from cffd_engine.media.limits import MAX_PIXELS, image_dimensions
from cffd_engine.media.video import file_hashes, probe, read_image
from tests import hostile_corpus as hc
from tests import synthetic_media as sm
from tests.conftest import SHARED_DATA

FACE_PHOTO = SHARED_DATA / "faces" / "utkface" / "100_1_0_20170112215032192.jpg.chip.jpg"
HANG_LIMIT_S = 300  # a batch still running after this is hung: the test fails


def run_with_limit(function, *args, limit_s: float = HANG_LIMIT_S):
    """``function(*args)`` in a thread; the test fails if it has not returned within ``limit_s``."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit_s)
    assert not thread.is_alive(), f"{function.__name__} did not finish within {limit_s} s: it hangs"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, hc.Entry]:
    face = FACE_PHOTO if FACE_PHOTO.is_file() else None
    return hc.build(tmp_path_factory.mktemp("hostile") / "corpus", face)


@pytest.fixture(scope="module")
def bundle(untrained_bundle) -> Path:
    return untrained_bundle


@dataclass
class Batch:
    code: int
    out: str
    err: str
    results: dict[str, dict]  # by evidence path


@pytest.fixture(scope="module")
def batch(corpus, bundle, tmp_path_factory) -> Batch:
    """``cffd analyze FOLDER`` once over the corpus folder: the folder rule picks every entry."""
    folder = next(iter(corpus.values())).path.parent
    report = tmp_path_factory.mktemp("report") / "hostile.json"
    out, err = io.StringIO(), io.StringIO()

    def analyse() -> int:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return cffd(
                ["analyze", str(folder), "--model", str(bundle), "--json", str(report)]
                + ["--frames", "4", "--no-explain", "--threads", "1", "--quiet"]
            )

    threads = torch.get_num_threads()
    try:
        code = run_with_limit(analyse)
    finally:
        torch.set_num_threads(threads)
    results = json.loads(report.read_text(encoding="utf-8"))["results"]
    return Batch(code, out.getvalue(), err.getvalue(), {r["evidence"]["path"]: r for r in results})


def check_entry(entry: hc.Entry, result: dict) -> None:
    """One batch result against what the corpus says of its entry (shared with the window's test)."""
    assert result["evidence"]["kind"] == entry.kind
    if entry.code is None:
        assert result["verdict"] in hc.VERDICTS and result["faces_scored"] >= 1, result["not_applicable"]
        assert result["evidence"]["sha256"] is not None
    else:
        assert result["verdict"] == "NOT_APPLICABLE"
        assert result["not_applicable"]["code"] == entry.code
        assert entry.words in result["not_applicable"]["reason"], result["not_applicable"]["reason"]


NAMES = [
    "fifo",
    "socket",
    "dev-zero-link",
    "dev-null-link",
    "link-loop",
    "dangling-link",
    "folder-named-mp4",
    "png-bomb",
    "absurd-video",
    "unreadable",
    "truncated-mp4",
    "zero-bytes",
    "text-named-mp4",
    "long-non-ascii-path",
    "valid-video",
    "photo-8k-small-face",
]


@pytest.mark.parametrize("name", NAMES)
def test_each_hostile_entry_gets_its_own_reason_in_one_cli_batch(name, corpus, batch):
    if name == "photo-8k-small-face" and name not in corpus:
        pytest.skip(f"the 8K photo needs a real face from {FACE_PHOTO}, which is absent")
    entry = corpus[name]
    assert batch.code == 1 and "Traceback" not in batch.err, batch.err
    assert len(batch.results) == len(corpus)  # every entry, and nothing else (hidden files are not picked)
    check_entry(entry, batch.results[str(entry.path.absolute())])
    line = next(line for line in batch.out.splitlines() if line.startswith(f"{entry.path.name}: "))
    assert ("NOT APPLICABLE" in line) == (entry.code is not None)
    if entry.note:
        pytest.skip(f"checked as analysed instead: {entry.note}")


def test_the_8k_photos_small_face_is_found_where_it_was_pasted(corpus, batch):
    if "photo-8k-small-face" not in corpus:
        pytest.skip(f"the 8K photo needs a real face from {FACE_PHOTO}, which is absent")
    result = batch.results[str(corpus["photo-8k-small-face"].path.absolute())]
    (track,) = result["tracks"]
    x, y, w, h = track["scores"][0]["box"]
    assert 4950 < x < 5100 and 2950 < y < 3100 and 90 < w < 180 and 90 < h < 180
    assert any("full-range detector" in warning for warning in result["warnings"])


def test_the_short_range_detector_alone_misses_the_8k_face(corpus):
    """The retry is what finds it: the issue's NOT APPLICABLE came from the short-range detector alone."""
    if "photo-8k-small-face" not in corpus:
        pytest.skip(f"the 8K photo needs a real face from {FACE_PHOTO}, which is absent")
    from cffd_engine.media.faces import FaceDetector

    with FaceDetector("short") as detector:
        assert detector.detect(read_image(corpus["photo-8k-small-face"].path)) == []


@pytest.mark.parametrize(
    "name",
    ["fifo", "socket", "dev-zero-link", "dev-null-link", "link-loop", "dangling-link", "folder-named-mp4"],
)
def test_a_path_that_is_not_a_regular_file_is_refused_by_every_reader_without_blocking(name, corpus):
    entry = corpus[name]
    assert intake.classify(entry.path).kind == entry.kind
    for read in (probe, file_hashes, read_image):
        with pytest.raises(EvidenceError, match=re.escape(entry.words)) as caught:
            run_with_limit(read, entry.path, limit_s=30)
        assert caught.value.kind == entry.kind and str(entry.path) in str(caught.value) and caught.value.fix


def test_a_link_names_where_it_leads(corpus):
    found = intake.classify(corpus["dev-zero-link"].path)
    assert found.target == Path("/dev/zero") and "a symbolic link to /dev/zero" in found.problem


def test_a_folder_gives_its_media_sorted_skipping_hidden_and_other_files(tmp_path):
    for name in ("b.mp4", "a.JPG", "notes.txt", ".hidden.mp4", "sub/c.mkv", ".cache/d.mp4", "clip.mov/e.mp4"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    os.symlink(tmp_path, tmp_path / "sub" / "back")  # a link to a folder above: not followed
    picked = intake.pick_files([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in picked] == [
        "a.JPG",
        "b.mp4",
        "clip.mov",
        "clip.mov/e.mp4",
        "sub/c.mkv",
    ]
    # Given paths are kept whatever they are; a folder named like a video is an entry, not opened.
    assert intake.pick_files([tmp_path / "notes.txt", tmp_path / "clip.mov"]) == [
        tmp_path / "notes.txt",
        tmp_path / "clip.mov",
    ]


def test_the_window_and_the_cli_share_the_suffix_list():
    from app.evidence_queue import EVIDENCE_FILTER

    assert all(f"*{suffix}" in EVIDENCE_FILTER for suffix in intake.EVIDENCE_SUFFIXES)


def test_a_pipe_swapped_in_after_classification_is_refused_at_open_without_blocking(tmp_path):
    pipe = tmp_path / "late.mp4"
    os.mkfifo(pipe)
    with pytest.raises(EvidenceError, match="named pipe"):
        run_with_limit(intake.open_regular_file, pipe, limit_s=30)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".webp"])
def test_image_headers_give_their_size_before_decoding(suffix):
    ok, data = cv2.imencode(suffix, np.zeros((37, 53, 3), np.uint8))
    assert ok and image_dimensions(data.tobytes()) == (53, 37)


def test_the_pixel_limit_refuses_a_png_bomb_before_decoding(corpus):
    bomb = corpus["png-bomb"].path
    assert bomb.stat().st_size < 1000 and 50_000 * 50_000 > MAX_PIXELS
    with pytest.raises(EvidenceError, match="50000 x 50000 pixels") as caught:
        read_image(bomb)
    assert "decompression bomb" in caught.value.problem


def test_a_deadline_stops_a_job_and_its_sub_jobs():
    job = JobControl().with_deadline(0.0)
    with pytest.raises(TimedOut):
        job.sub(0.2, 0.4).check()
    JobControl().with_deadline(None).check()  # no deadline: never times out


def test_time_limits_grow_with_duration_and_reproduce_on_the_command_line():
    settings = AnalysisSettings(time_limit_s=30.0)
    assert settings.time_limit(0.0) == 30.0 and settings.time_limit(600.0) == 300.0
    assert AnalysisSettings(time_limit_s=None).time_limit(600.0) is None
    assert "--time-limit 30.0" in " ".join(settings.to_cli_args())
    assert "--time-limit 0" in " ".join(AnalysisSettings(time_limit_s=None).to_cli_args())


class HangingDetector:
    """A face detector stuck in native code: ``detect`` never returns until the test releases it."""

    name = "hanging"
    is_fallback = False

    def __init__(self):
        self.release = threading.Event()
        self.entered = threading.Event()

    def detect(self, rgb):
        self.entered.set()
        self.release.wait()
        return []

    def close(self) -> None:
        self.release.set()


def test_a_file_that_hangs_times_out_and_the_batch_goes_on_with_a_new_detector(bundle, tmp_path, monkeypatch):
    first = sm.write_video(tmp_path / "stuck.mp4", sm.drifting_portrait_frames(4))
    second = sm.write_video(tmp_path / "fine.mp4", sm.drifting_portrait_frames(4))
    hanging = HangingDetector()
    real = analyzer_module.create_face_detector
    made = iter([hanging])
    monkeypatch.setattr(analyzer_module, "create_face_detector", lambda s: next(made, None) or real(s))
    monkeypatch.setattr(pipeline_module, "_READER_GRACE_S", 0.5)
    model, info = load_analysis_model(bundle)
    settings = AnalysisSettings(time_limit_s=5.0, explain=False, cpu_threads=1)
    try:
        results = run_with_limit(analyze_many, [first, second], settings, model, info, limit_s=120)
    finally:
        hanging.release.set()
    assert hanging.entered.is_set()
    stuck, fine = results
    assert stuck.not_applicable.code == "timed_out" and not stuck.analysed
    assert (
        "time limit of 5 s" in stuck.not_applicable.reason and "--time-limit" in stuck.not_applicable.reason
    )
    assert stuck.evidence.sha256 is not None and stuck.media["frame_count"] == 4
    assert fine.verdict in hc.VERDICTS and fine.frames_read == 4


class CountingDetector:
    """A detector stand-in that finds a face only where told, and counts its calls."""

    name = "fake"
    is_fallback = False

    def __init__(self, finds: bool = False, score: float = 0.9):
        self.finds, self.score, self.calls = finds, score, 0

    def detect(self, rgb):
        self.calls += 1
        return (
            [FaceDetection((10.0, 10.0, 20.0, 20.0), self.score, np.zeros((6, 2), np.float32), self.name)]
            if self.finds
            else []
        )

    def close(self):
        pass


def test_a_video_is_searched_again_on_a_schedule_until_a_search_finds_a_face():
    search = LargeFrameSearch(CountingDetector(), DetectorSettings())
    full = search._full = CountingDetector()
    frame = np.zeros((480, 640, 3), np.uint8)  # larger than the short-range input, smaller than a tile
    for _ in range(2 * RETRY_EVERY + 1):
        assert search.detect(frame) == []
    # Face-less frames 0, RETRY_EVERY and 2 * RETRY_EVERY were searched again, the rest were not.
    assert search.retried == full.calls == 3 and search.found_by_retry == 0

    full.finds, full.score = True, SURE_FIND - 0.1  # an unsure find counts, but keeps the schedule
    search.start_file()  # the next file: its first face-less frame is searched at once
    assert len(search.detect(frame)) == 1 and search.detect(frame) == [] and search.retried == 4
    full.score = SURE_FIND
    search.start_file()
    assert len(search.detect(frame)) == 1 and search.found_by_retry == 2
    # Once a search found a face in this file, every face-less frame is searched.
    for _ in range(5):
        assert len(search.detect(frame)) == 1
    assert search.retried == 4 + 6 and search.found_by_retry == 7  # 1 unsure + 1 + 5
    # Small frames are never searched again: BlazeFace already sees them whole.
    assert search.detect(np.zeros((100, 100, 3), np.uint8)) == [] and search.retried == 10
