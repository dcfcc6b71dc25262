"""Broken and odd evidence, made here: every file gets a specific outcome from probe, the frame reader and
``cffd analyze``, never a traceback.

The corpus is built once per module in a temporary folder (nothing downloaded, nothing
committed). Each case states what must happen: either the file is read (kind, frame count,
and a verdict or NOT APPLICABLE "no face") or every entry point refuses it with an
``EvidenceError`` that names the file and matches the case's problem, and ``cffd analyze``
reports it as NOT APPLICABLE / unreadable with the same words. ``cffd analyze`` runs once,
in-process, over the whole corpus (one batch, one model load); each case then checks its own
line of the batch's JSON report.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from cffd_engine.cli import main as cffd
from cffd_engine.errors import EvidenceError
from cffd_engine.media import video
from cffd_engine.media.frames import read_frames
from tests import synthetic_media as sm

VERDICTS = {"LIKELY_MANIPULATED", "NO_MANIPULATION_DETECTED"}
TRUNCATED = "truncated or damaged"
NO_VIDEO = "no video stream"


@dataclass(frozen=True)
class Case:
    """One corpus file: how to make it, and what every entry point must say of it.

    ``error`` set: probe, the frame reader and the analysis refuse it with that problem.
    Otherwise it is read as ``kind`` with ``frames`` frames (None: at least one), and the
    analysis gives a verdict (``face``) or NOT APPLICABLE "no face".
    """

    make: Callable[[Path], Path]
    error: str | None = None
    kind: str = "video"
    frames: int | None = None
    face: bool = True
    shape: tuple[int, int] | None = None  # (height, width) of the frames read, upright


def _face_frames(n: int, size=(320, 240), face_height=200) -> list[np.ndarray]:
    return sm.drifting_portrait_frames(n, size=size, face_height=face_height)


def _mp4v(folder: Path, name: str = "clip.mp4", n: int = 16) -> Path:
    return sm.write_video(folder / name, _face_frames(n))


def _truncated_mp4v(keep: float) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        data = _mp4v(folder, "whole.mp4").read_bytes()
        path = folder / f"cut-mp4v-{keep:.2f}.mp4"
        path.write_bytes(data[: int(len(data) * keep)])
        return path

    return make


def _truncated_h264(keep: float) -> Callable[[Path], Path]:
    """An index-first (faststart) H.264 file cut short: the frames before the cut are still there."""

    def make(folder: Path) -> Path:
        data = sm.write_video_av(folder / "whole.mp4", _face_frames(16)).read_bytes()
        path = folder / f"cut-h264-{keep:.2f}.mp4"
        path.write_bytes(data[: int(len(data) * keep)])
        return path

    return make


def _jpeg_named_mp4(folder: Path) -> Path:
    path = folder / "photo.mp4"
    path.write_bytes(cv2.imencode(".jpg", cv2.cvtColor(_face_frames(1)[0], cv2.COLOR_RGB2BGR))[1].tobytes())
    return path


def _mp4_named_txt(folder: Path) -> Path:
    return _mp4v(folder).rename(folder / "clip.txt")


def _empty_container(suffix: str) -> Callable[[Path], Path]:
    """A container whose header declares an H.264 stream, and not one frame."""

    def make(folder: Path) -> Path:
        path = folder / f"zero{suffix}"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            container.start_encoding()
        return path

    return make


def _empty_file(folder: Path) -> Path:
    path = folder / "empty.mp4"
    path.touch()
    return path


def _one_frame(folder: Path) -> Path:
    return sm.write_video_av(folder / "one.mp4", _face_frames(1))


VFR_PTS_MS = [0, 40, 50, 200, 210, 600, 640]


def _variable_frame_rate(folder: Path) -> Path:
    """Seven frames at irregular times (ms): bursts and gaps, as phone recordings have."""
    path = folder / "vfr.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for rgb, pts in zip(_face_frames(len(VFR_PTS_MS)), VFR_PTS_MS, strict=True):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def _rotated(folder: Path) -> Path:
    """A phone video filmed sideways: frames stored turned, a display matrix saying 90 degrees.

    The stored frames are the upright portrait turned 90 degrees clockwise, so that the
    display rotation (90 counter-clockwise) stands the face up again.
    """
    path = folder / "rotated.mp4"
    upright = _face_frames(6, size=(240, 320), face_height=220)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.set_display_rotation(90)
        for rgb in upright:
            stored = np.ascontiguousarray(np.rot90(rgb, k=-1))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")))
        container.mux(stream.encode())
    return path


def _portrait_video(folder: Path) -> Path:
    return sm.write_video_av(folder / "portrait.mp4", _face_frames(6, size=(720, 1280), face_height=600))


def _face_on_canvas(height: int, width: int, face_height: int) -> np.ndarray:
    canvas = np.full((height, width, 3), 90, np.uint8)
    face = sm.scaled_portrait(face_height)
    return sm.paste(canvas, face, (width - face.shape[1]) // 2, (height - face_height) // 2)


def _image_8k(folder: Path) -> Path:
    path = folder / "8k.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(_face_on_canvas(4320, 7680, 2600), cv2.COLOR_RGB2BGR))
    return path


def _png_16bit(folder: Path) -> Path:
    path = folder / "deep.png"
    bgr = cv2.cvtColor(_face_frames(1)[0], cv2.COLOR_RGB2BGR).astype(np.uint16) * 257
    cv2.imwrite(str(path), bgr)
    return path


def _grayscale(suffix: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / f"grey{suffix}"
        cv2.imwrite(str(path), cv2.cvtColor(_face_frames(1)[0], cv2.COLOR_RGB2GRAY))
        return path

    return make


def _cmyk_jpeg(folder: Path) -> Path:
    path = folder / "print.jpg"
    Image.fromarray(_face_frames(1)[0]).convert("CMYK").save(path, quality=95)
    return path


def _animated_gif(folder: Path) -> Path:
    path = folder / "loop.gif"
    frames = [Image.fromarray(rgb) for rgb in _face_frames(4)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=[40, 80, 40, 200], loop=0)
    return path


def _audio_only(suffix: str, codec: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / f"voice{suffix}"
        with av.open(str(path), "w") as container:
            stream = container.add_stream(codec, rate=16000, layout="mono")
            samples = np.zeros((1, 1024), np.int16 if codec == "pcm_s16le" else np.float32)
            for index in range(8):
                sample_format = "s16" if codec == "pcm_s16le" else "fltp"
                frame = av.AudioFrame.from_ndarray(samples, format=sample_format, layout="mono")
                frame.sample_rate, frame.pts = 16000, index * 1024
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
        return path

    return make


def _folder_named_like_a_video(folder: Path) -> Path:
    path = folder / "clip.mp4"
    path.mkdir()
    return path


def _unreadable(folder: Path) -> Path:
    path = _mp4v(folder, "locked.mp4")
    path.chmod(0)
    return path


LONG_PATH_CHARS = 250


def _long_non_ascii_path(folder: Path) -> Path:
    """A file whose full path is about 250 characters, every folder and the name non-ASCII."""
    part = "Beweisstück_évidence_证据_видео"
    name = "клип_证据_ü.mp4"
    target = folder
    while len(str(target / part / name)) < LONG_PATH_CHARS:
        target = target / part
    room = LONG_PATH_CHARS - len(str(target / name)) - 1
    if room > 0:
        target = target / part[:room]
    target.mkdir(parents=True)
    return _mp4v(target, name, n=8)


CASES: dict[str, Case] = {
    **{
        f"truncated-mp4v-{round(keep * 100):02d}pct": Case(_truncated_mp4v(keep), error=TRUNCATED)
        for keep in np.linspace(0.02, 0.98, 10)[:-1]
    },
    # Cut inside the index (OpenCV writes it last): FFmpeg sees the half-read track as a data stream, so the
    # file is refused as "no video stream" rather than "truncated" (specific and named, if less precise).
    "truncated-mp4v-98pct": Case(_truncated_mp4v(0.98), error=NO_VIDEO),
    # Faststart H.264 keeps its index in front: a cut file still holds the frames before the cut.
    "truncated-h264-index-only": Case(_truncated_h264(0.03), error=TRUNCATED),
    "truncated-h264-half": Case(_truncated_h264(0.5), frames=None),
    "truncated-h264-90pct": Case(_truncated_h264(0.9), frames=None),
    "jpeg-named-mp4": Case(_jpeg_named_mp4, kind="video", frames=1),  # FFmpeg reads it as a 1-frame MJPEG
    "mp4-named-txt": Case(_mp4_named_txt, frames=16),
    "zero-frames-mp4": Case(_empty_container(".mp4"), error=NO_VIDEO),
    "zero-frames-mkv": Case(_empty_container(".mkv"), error=TRUNCATED),
    "empty-file": Case(_empty_file, error="empty"),
    "one-frame": Case(_one_frame, frames=1),
    "variable-frame-rate": Case(_variable_frame_rate, frames=len(VFR_PTS_MS)),
    "rotation-90": Case(_rotated, frames=6, shape=(320, 240)),
    "portrait-720x1280": Case(_portrait_video, frames=6, shape=(1280, 720)),
    "image-8k": Case(_image_8k, kind="image", frames=1, shape=(4320, 7680)),
    "png-16bit": Case(_png_16bit, kind="image", frames=1),
    "grayscale-png": Case(_grayscale(".png"), kind="image", frames=1),
    "grayscale-jpeg": Case(_grayscale(".jpg"), kind="image", frames=1),
    "cmyk-jpeg": Case(_cmyk_jpeg, kind="image", frames=1),
    "animated-gif": Case(_animated_gif, frames=4),
    "audio-only-m4a": Case(_audio_only(".m4a", "aac"), error=NO_VIDEO),
    "audio-only-wav": Case(_audio_only(".wav", "pcm_s16le"), error=NO_VIDEO),
    "folder-named-clip-mp4": Case(_folder_named_like_a_video, error="folder"),
    "unreadable-chmod-000": Case(_unreadable, error="permission denied"),
    "long-non-ascii-path": Case(_long_non_ascii_path, frames=8),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    paths = {}
    for name, case in CASES.items():
        paths[name] = case.make(tmp_path_factory.mktemp(name.replace("-", "_")))
    return paths


@pytest.fixture(scope="module")
def bundle(untrained_bundle) -> Path:
    return untrained_bundle


@dataclass
class Batch:
    code: int
    out: str
    err: str
    results: dict[Path, dict]


def run_cffd(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cffd(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def batch(corpus, bundle, tmp_path_factory) -> Batch:
    """``cffd analyze`` once over every corpus entry (a folder named like a video is an entry, not expanded)."""
    files = [str(path) for path in corpus.values()]
    report = tmp_path_factory.mktemp("report") / "odd.json"
    threads = torch.get_num_threads()
    try:
        code, out, err = run_cffd(
            ["analyze", *files, "--model", str(bundle), "--json", str(report), "--frames", "4"]
            + ["--no-explain", "--threads", "1", "--quiet"]
        )
    finally:
        torch.set_num_threads(threads)
    results = json.loads(report.read_text(encoding="utf-8"))["results"] if report.exists() else []
    return Batch(code, out, err, {Path(r["evidence"]["path"]): r for r in results})


def _readable(path: Path) -> bool:
    return os.access(path, os.R_OK) if path.is_file() else True


def check_refused(path: Path, case: Case, batch: Batch) -> None:
    """Every entry point raises an EvidenceError naming ``path`` with the case's problem."""
    for read in (video.probe, read_frames, video.read_first_frame, video.file_hashes):
        if read is video.file_hashes and case.error in (TRUNCATED, NO_VIDEO):
            continue  # hashing reads bytes, not media: a damaged video still has a hash
        with pytest.raises(EvidenceError, match=case.error) as caught:
            read(path)
        assert str(path) in str(caught.value) and caught.value.fix, read.__name__
    result = batch.results[path.absolute()]
    assert result["verdict"] == "NOT_APPLICABLE"
    assert (
        result["not_applicable"]["code"] == "unreadable" and case.error in result["not_applicable"]["reason"]
    )
    assert f"{path.name}: NOT APPLICABLE: " in batch.out and str(path) in batch.err


def check_read(path: Path, case: Case, batch: Batch) -> None:
    """Probe, frame reader and analysis all read the file; the analysis judges its face or says there is none."""
    info = video.probe(path)
    assert info.kind == case.kind and info.path == str(path)
    frames, status = read_frames(path)
    if case.frames is None:
        assert frames and not status.complete and "truncated" in status.problem
    else:
        assert len(frames) == status.frames_returned == case.frames
    shapes = {frame.rgb.shape for frame in frames}
    assert all(frame.rgb.dtype == np.uint8 for frame in frames) and len(shapes) == 1
    height, width, channels = shapes.pop()
    assert channels == 3 and (case.shape is None or (height, width) == case.shape)
    first = video.read_first_frame(path)
    assert first.shape == (height, width, 3) and first.dtype == np.uint8
    timestamps = [frame.timestamp_s for frame in frames]
    assert timestamps == sorted(timestamps) and len(set(timestamps)) == len(timestamps)

    result = batch.results[path.absolute()]
    assert result["not_applicable"] is None or result["not_applicable"]["code"] == "no_face", result
    if case.face:
        assert result["verdict"] in VERDICTS and result["faces_scored"] >= 1, result["not_applicable"]
    line = next(line for line in batch.out.splitlines() if line.startswith(f"{path.name}: "))
    assert "score" in line or "NOT APPLICABLE: no face" in line
    if not status.complete:
        assert any("damaged" in warning for warning in result["warnings"])


@pytest.mark.parametrize("name", list(CASES))
def test_odd_evidence_gets_a_specific_outcome(name, corpus, batch):
    case, path = CASES[name], corpus[name]
    if name == "unreadable-chmod-000" and _readable(path):
        pytest.skip(
            "running as root: permissions do not stop root from reading, so chmod 000 cannot be tested"
        )
    assert batch.code == 1, (
        batch.err
    )  # the corpus holds unreadable files: "some inputs could not be analysed"
    assert all(
        r["not_applicable"] is None or r["not_applicable"]["code"] != "failed" for r in batch.results.values()
    )
    if case.error is not None:
        check_refused(path, case, batch)
    else:
        check_read(path, case, batch)


def test_the_long_path_is_long_and_non_ascii(corpus):
    path = corpus["long-non-ascii-path"]
    assert len(str(path)) >= LONG_PATH_CHARS - 5 and not str(path.relative_to(path.parents[2])).isascii()


def test_rotation_is_applied_to_the_frames(corpus):
    info = video.probe(corpus["rotation-90"])
    assert info.rotation == 90 and (info.width, info.height) == (320, 240)
    frames, _ = read_frames(corpus["rotation-90"])
    upright = _face_frames(6, size=(240, 320), face_height=220)
    for frame in frames:
        assert np.abs(frame.rgb.astype(int) - upright[frame.index].astype(int)).mean() < 8


def test_variable_frame_rate_keeps_each_frames_own_time(corpus):
    frames, status = read_frames(corpus["variable-frame-rate"])
    np.testing.assert_allclose([f.timestamp_s for f in frames], np.array(VFR_PTS_MS) / 1000, atol=1e-6)
    assert status.complete


@pytest.mark.parametrize("name", ["png-16bit", "grayscale-png", "grayscale-jpeg", "cmyk-jpeg"])
def test_odd_image_encodings_decode_to_the_right_pixels(name, corpus):
    original = _face_frames(1)[0].astype(int)
    if name.startswith("grayscale"):
        original = np.repeat(cv2.cvtColor(_face_frames(1)[0], cv2.COLOR_RGB2GRAY)[..., None], 3, 2).astype(
            int
        )
    pixels = video.read_image(corpus[name]).astype(int)
    assert pixels.shape == original.shape and np.abs(pixels - original).mean() < 4


def test_the_gif_keeps_its_frame_durations(corpus):
    frames, _ = read_frames(corpus["animated-gif"])
    np.testing.assert_allclose([f.timestamp_s for f in frames], [0.0, 0.04, 0.12, 0.16], atol=1e-6)


@pytest.mark.slow
def test_an_8k_video_is_read_and_judged(tmp_path, bundle):
    """Two 7680x4320 H.264 frames (about 100 MB each decoded): read one at a time, judged, reported."""
    canvas = _face_on_canvas(4320, 7680, 2600)
    path = sm.write_video_av(tmp_path / "8k.mp4", [canvas, np.roll(canvas, 40, axis=1)])
    info = video.probe(path)
    assert (info.width, info.height, info.frame_count) == (7680, 4320, 2)
    frames, status = read_frames(path, max_frames=1)
    assert frames[0].rgb.shape == (4320, 7680, 3) and status.frames_returned == 1
    del frames
    report = tmp_path / "8k.json"
    code, out, _ = run_cffd(
        [
            "analyze",
            str(path),
            "--model",
            str(bundle),
            "--json",
            str(report),
            "--no-explain",
            "--threads",
            "1",
        ]
        + ["--quiet"]
    )
    result = json.loads(report.read_text())["results"][0]
    assert code == 0 and result["verdict"] in VERDICTS and result["frames_read"] == 2, out
