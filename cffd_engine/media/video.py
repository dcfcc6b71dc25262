"""Evidence files in: what a video or image is (metadata), its first frame, its hashes.

PyAV (FFmpeg) reads containers, streams and tags; pixels are RGB uint8 arrays
(H x W x 3) throughout the engine. Every failure is an ``EvidenceError`` that
names the file, says what is wrong and what to do.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

from cffd_engine.errors import EvidenceError
from cffd_engine.jobs import JobControl, ensure_job
from cffd_engine.media.intake import IMAGE_SUFFIXES, check_regular_file, open_regular_file
from cffd_engine.media.limits import check_image_pixels, check_pixels

# PyAV before 19 raised on container tags that are not UTF-8 unless told to ignore them; 19 dropped
# the option (and no longer raises). Evidence with odd tags must open on either.
_TAG_ERRORS = {"metadata_errors": "ignore"} if int(av.__version__.split(".")[0]) < 19 else {}


def open_container(path: Path | str):
    """``av.open`` for reading evidence, whatever text its tags hold."""
    return av.open(str(path), **_TAG_ERRORS)


HASH_CHUNK = 1 << 20

# Leading bytes of the video containers we expect; a file that starts like one
# but cannot be read is truncated or damaged rather than "not a video".
_VIDEO_SIGNATURES = (
    (4, b"ftyp"),  # MP4 / MOV / 3GP
    (4, b"moov"),
    (4, b"mdat"),
    (0, b"RIFF"),  # AVI
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (0, b"FLV"),
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
)


@dataclass
class MediaInfo:
    """What an evidence file is, as far as its container says."""

    path: str
    kind: str  # "video" or "image"
    file_size: int
    container: str
    codec: str
    width: int
    height: int
    fps: float
    frame_count: int
    duration_s: float
    rotation: int = 0
    creation_time: str | None = None
    encoder: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _looks_like_video(path: Path) -> bool:
    with open_regular_file(path) as handle:
        head = handle.read(16)
    if path.suffix.lower() in {".ts", ".mts", ".m2ts"}:
        return head[:1] == b"G"  # MPEG transport stream sync byte
    return any(head[offset : offset + len(magic)] == magic for offset, magic in _VIDEO_SIGNATURES)


def check_readable_file(path: Path | str) -> Path:
    """The path as a Path if it is a non-empty readable regular file; else an EvidenceError saying which case.

    Nothing but a regular file is opened (``intake.classify`` first): a pipe or a device is
    refused with what it is, never read.
    """
    path = Path(path)
    check_regular_file(path)
    try:
        with open_regular_file(path) as handle:
            size = os.fstat(handle.fileno()).st_size
    except PermissionError as exc:
        raise EvidenceError(path, "permission denied", "Give your user read access to the file") from exc
    except OSError as exc:
        raise EvidenceError(path, f"the file cannot be opened ({exc.strerror})", "Check the file") from exc
    if size == 0:
        raise EvidenceError(
            path, "the file is empty (0 bytes)", "The copy is incomplete; copy the evidence again"
        )
    return path


def _rational(value) -> float:
    return float(value) if value else 0.0


def probe(path: Path | str) -> MediaInfo:
    """Read container and stream metadata of a video or image; raise EvidenceError if it is unreadable."""
    path = check_readable_file(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return _probe_image(path)
    try:
        container = open_container(path)
    except av.FFmpegError as exc:
        raise _unreadable(path, exc) from exc
    with container:
        if not container.streams.video:
            raise EvidenceError(
                path, "the file has no video stream (audio or data only)", "Open a video or image file"
            )
        stream = container.streams.video[0]
        tags = {**dict(container.metadata), **dict(stream.metadata)}
        fps = _rational(stream.average_rate) or _rational(stream.guessed_rate)
        duration = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        frame_count = stream.frames or (round(duration * fps) if fps else 0)
        check_stream_pixels(path, stream)
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as exc:
            raise _damaged(path, f"its first frame cannot be decoded ({exc})") from exc
        if first is None:
            raise _damaged(path, "it contains no decodable frame")
        return MediaInfo(
            path=str(path),
            kind="video",
            file_size=path.stat().st_size,
            container=container.format.long_name or container.format.name,
            codec=stream.codec_context.name,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=fps,
            frame_count=int(frame_count),
            duration_s=duration,
            rotation=int(getattr(first, "rotation", 0) or 0),
            creation_time=tags.get("creation_time"),
            encoder=tags.get("encoder"),
            tags={str(k): str(v) for k, v in tags.items()},
        )


def check_stream_pixels(path: Path, stream) -> None:
    """The pixel limit on a video stream's declared frame size (a stream without a decoder declares none)."""
    context = stream.codec_context
    if context is not None:
        check_pixels(path, context.width or 0, context.height or 0)


def _unreadable(path: Path, exc: Exception) -> EvidenceError:
    if _looks_like_video(path):
        return _damaged(path, f"its container cannot be opened ({exc.__class__.__name__})")
    return EvidenceError(
        path,
        "this is not a video or image format that can be read",
        "Check that the file really is a video (the extension may be wrong); supported are the formats "
        "FFmpeg reads (MP4, MOV, AVI, MKV, WebM, ...) and JPEG, PNG, WebP, BMP images",
    )


def _damaged(path: Path, detail: str) -> EvidenceError:
    return EvidenceError(
        path,
        f"the video is truncated or damaged: {detail}",
        "The copy may be incomplete (an interrupted download or transfer); obtain a complete copy",
    )


def _probe_image(path: Path, image: np.ndarray | None = None) -> MediaInfo:
    """An image's MediaInfo; pass ``image`` when it was decoded already, to spare a second decode."""
    image = read_image(path) if image is None else image
    height, width = image.shape[:2]
    return MediaInfo(
        path=str(path),
        kind="image",
        file_size=path.stat().st_size,
        container=path.suffix.lower().lstrip(".").upper(),
        codec=path.suffix.lower().lstrip("."),
        width=width,
        height=height,
        fps=0.0,
        frame_count=1,
        duration_s=0.0,
    )


def jpeg_picture(rgb: np.ndarray, max_side: int, quality: int) -> bytes:
    """An RGB frame shrunk so its longer side is at most ``max_side``, as JPEG bytes (any thread)."""
    scale = min(1.0, max_side / max(rgb.shape[:2]))
    if scale < 1.0:
        rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()


def read_image(path: Path | str) -> np.ndarray:
    """An image file as RGB uint8 (alpha dropped, grey expanded, 16-bit scaled)."""
    path = check_readable_file(path)
    with open_regular_file(path) as handle:
        check_image_pixels(path, handle)
        handle.seek(0)
        data = np.frombuffer(
            handle.read(), dtype=np.uint8
        )  # cv2.imread cannot open non-ASCII paths on Windows
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error:  # most decoders return None on bad data; some headers (PFM) raise instead
        image = None
    if image is None:
        raise EvidenceError(
            path, "the image cannot be decoded", "Check that it is a complete JPEG, PNG, WebP or BMP"
        )
    if image.dtype not in (np.uint8, np.uint16) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        # e.g. floating-point HDR/TIFF/PFM content: tone-mapping it would be a guess, so refuse it
        raise EvidenceError(
            path,
            f"the image has {image.dtype} pixels in {image.shape[2] if image.ndim == 3 else 1} channel(s), "
            "which the analysis does not read",
            "Convert it to an 8-bit JPEG or PNG (and keep the original as evidence)",
        )
    if image.dtype == np.uint16:
        image = (image / 257).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_first_frame(path: Path | str) -> np.ndarray:
    """The first frame of a video (display orientation) or the image itself, as RGB uint8."""
    path = check_readable_file(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return read_image(path)
    try:
        with open_container(path) as container:
            if not container.streams.video:
                raise EvidenceError(path, "the file has no video stream", "Open a video or image file")
            check_stream_pixels(path, container.streams.video[0])
            for frame in container.decode(video=0):
                return np.ascontiguousarray(
                    _upright(frame.to_ndarray(format="rgb24"), int(getattr(frame, "rotation", 0) or 0))
                )
    except av.FFmpegError as exc:
        raise _unreadable(path, exc) from exc
    raise _damaged(path, "it contains no decodable frame")


def _upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """A view of a decoded frame turned by the container's display rotation (degrees counter-clockwise).

    A view, not a copy: the caller copies it once (the frame pool does anyway).
    """
    return np.rot90(rgb, k=(rotation // 90) % 4)


def file_hashes(path: Path | str, job: JobControl | None = None) -> dict[str, str]:
    """SHA-256 and MD5 of a file, streamed in 1 MiB chunks, with progress and cancel."""
    path = check_readable_file(path)
    job = ensure_job(job)
    total = max(path.stat().st_size, 1)
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    done = 0
    with open_regular_file(path) as handle:
        while chunk := handle.read(HASH_CHUNK):
            sha256.update(chunk)
            md5.update(chunk)
            done += len(chunk)
            job.report(done / total, "hashing")
            job.check()
    job.report(1.0, "hashed")
    return {"sha256": sha256.hexdigest(), "md5": md5.hexdigest()}
