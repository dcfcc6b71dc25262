"""Manipulated videos from real ones: one family applied frame by frame, with its pristine twin.

One draw of parameters (and one donor) serves every frame, landmarks are
re-detected on each frame and smoothed over time (never across a cut or a
frame without a face), and the manipulation can be limited to a time range,
faded in and out over ``ramp_s``. The pristine twin is the same frames
through the same encoder, so the two files differ only where the face was
changed. A JSON sidecar records what was done to which frames.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from scipy.ndimage import gaussian_filter1d

from cffd_engine.data.synth import geometry as geo
from cffd_engine.data.synth.base import Face, Family, Params
from cffd_engine.data.synth.families import get_family
from cffd_engine.jobs import JobControl, ensure_job

CUT_IOD = 0.5  # a jump of the face by this much between frames is a cut: smoothing stops there


@dataclass
class VideoForgery:
    """What ``manipulate_video`` wrote and did: both files, the sidecar, the family and its parameters."""

    manipulated: str
    pristine: str
    sidecar: str
    family: str
    params: Params
    donor: str | None
    fps: float
    frame_count: int
    segment_s: tuple[float, float]
    manipulated_frames: list[int] = field(default_factory=list)
    frames_without_face: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def envelope(t: float, start: float, end: float, ramp: float) -> float:
    """How strongly frame time ``t`` is manipulated: 0 outside [start, end], rising and falling over ``ramp`` s."""
    if t < start or t > end:
        return 0.0
    if ramp <= 0:
        return 1.0
    edge = min(t - start, end - t) / ramp
    return float(np.clip(edge, 0.0, 1.0))


def smooth_tracks(landmarks: list[np.ndarray | None], sigma: float = 1.5) -> list[np.ndarray | None]:
    """Landmarks smoothed over time within each run of frames that have a face and no cut."""
    smoothed: list[np.ndarray | None] = list(landmarks)
    run: list[int] = []

    def flush() -> None:
        if len(run) > 1 and sigma > 0:
            stack = np.stack([landmarks[i] for i in run]).astype(np.float64)
            stack = gaussian_filter1d(stack, sigma, axis=0, mode="nearest")
            for i, points in zip(run, stack, strict=True):
                smoothed[i] = points.astype(np.float32)
        run.clear()

    for index, points in enumerate(landmarks):
        if points is None:
            flush()
            continue
        if run:
            previous = landmarks[run[-1]]
            jump = np.linalg.norm(geo.xy(points) - geo.xy(previous), axis=1).mean() / geo.iod(previous)
            if jump > CUT_IOD:
                flush()
        run.append(index)
    flush()
    return smoothed


class VideoWriter:
    """H.264 (yuv420p) writing with PyAV; odd frame sizes are padded by one pixel (the encoder needs even)."""

    def __init__(self, path: Path | str, fps: float, crf: int = 18):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), "w")
        self._stream = self._container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        self._stream.pix_fmt = "yuv420p"
        # A two-second GOP, as streaming encoders use, and no look-ahead or B-frames: a frame is encoded
        # from the past only, so a forgery and its pristine twin are encoded alike until the first change
        # and the change's residue in later P-frames ends at the next key frame.
        self._stream.options = {
            "crf": str(crf),
            "preset": "medium",
            "g": str(max(1, round(2 * fps))),
            "bf": "0",
            "x264-params": "rc-lookahead=0:mbtree=0",
        }
        self._opened = False

    def write(self, rgb: np.ndarray) -> None:
        height, width = rgb.shape[:2]
        if height % 2 or width % 2:
            rgb = np.pad(rgb, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        if not self._opened:
            self._stream.height, self._stream.width = rgb.shape[:2]
            self._opened = True
        for packet in self._stream.encode(
            av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        ):
            self._container.mux(packet)

    def close(self) -> None:
        if self._container is None:
            return
        if self._opened:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()
        self._container = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def load_face(path: Path | str) -> Face:
    """A photo with the landmarks of its most prominent face; ValueError naming the file if none is found."""
    from cffd_engine.media.faces import FaceLandmarker
    from cffd_engine.media.video import read_image

    image = read_image(path)
    with FaceLandmarker(max_faces=1) as landmarker:
        faces = landmarker.landmarks(image)
    if not faces:
        raise ValueError(f"{path}: no face found in this photo; choose a photo with one clearly visible face")
    return Face(image, faces[0], Path(path).name)


def forge_frames(
    frames: Iterable[tuple[float, np.ndarray, np.ndarray | None]],
    family: Family,
    params: Params,
    donor: Face | None,
    segment_s: tuple[float, float],
    ramp_s: float,
) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
    """For (time, RGB, landmarks) frames, yield (pristine, manipulated, whether it was manipulated)."""
    for timestamp, rgb, points in frames:
        strength = envelope(timestamp, *segment_s, ramp_s)
        if points is None or strength <= 0:
            yield rgb, rgb, False
            continue
        forgery = family.apply(Face(rgb, points), family.fade(params, strength), donor)
        yield rgb, forgery.image, True


def _face_track(
    source: Path | str, start_s: float, end_s: float, ramp_s: float, job: JobControl
) -> tuple[list[float], list[np.ndarray | None], Face | None]:
    """Each frame's time and face landmarks, and the first face in the range (the forgery is drawn for it).

    Landmarks are None outside ``start_s - ramp_s`` to ``end_s`` and where no face is found.
    """
    from cffd_engine.media.faces import FaceLandmarker
    from cffd_engine.media.frames import iter_frames

    times, landmarks, first = [], [], None
    with FaceLandmarker(max_faces=1) as landmarker:
        for frame in iter_frames(source, job=job):
            faces = landmarker.landmarks(frame.rgb) if start_s - ramp_s <= frame.timestamp_s <= end_s else []
            if faces and first is None and start_s <= frame.timestamp_s:
                first = Face(frame.rgb, faces[0])
            times.append(frame.timestamp_s)
            landmarks.append(faces[0] if faces else None)
    return times, landmarks, first


def manipulate_video(
    source: Path | str,
    out: Path | str,
    method: str,
    donor: Path | str | None = None,
    start_s: float = 0.0,
    end_s: float | None = None,
    seed: int = 0,
    ramp_s: float = 0.25,
    crf: int = 18,
    pristine: Path | str | None = None,
    job: JobControl | None = None,
) -> VideoForgery:
    """Write ``out`` (the forgery), its pristine twin (``<out stem>_pristine.mp4`` by default) and ``<out>.json``."""
    from cffd_engine.media.frames import iter_frames
    from cffd_engine.media.video import probe

    job = ensure_job(job)
    family = get_family(method)
    donor_face = load_face(donor) if donor is not None else None
    if family.needs_donor and donor_face is None:
        raise ValueError(f"the {method!r} family needs a donor photo (--donor)")
    info = probe(source)
    end_s = info.duration_s if end_s is None else end_s
    if end_s <= start_s:
        raise ValueError(
            f"{source}: the time range {start_s:g}s to {end_s:g}s is empty (the video lasts "
            f"{info.duration_s:.2f}s); choose a start (--from) before the end (--to) within the video"
        )
    out = Path(out)
    pristine = Path(pristine) if pristine else out.with_name(f"{out.stem}_pristine.mp4")
    times, landmarks, first = _face_track(source, start_s, end_s, ramp_s, job.sub(0.0, 0.4))
    if first is None:
        raise ValueError(f"{source}: no face found between {start_s}s and {end_s}s; nothing to manipulate")
    landmarks = smooth_tracks(landmarks)
    params = family.sample(np.random.default_rng(seed), first, donor_face)
    result = VideoForgery(str(out), str(pristine), str(out.with_suffix(".json")), method, params,
                          str(donor) if donor else None, info.fps, len(times), (start_s, end_s))  # fmt: skip
    sub = job.sub(0.4, 1.0)
    frames = ((f.timestamp_s, f.rgb, landmarks[f.index]) for f in iter_frames(source))
    with VideoWriter(out, info.fps, crf) as fake_writer, VideoWriter(pristine, info.fps, crf) as real_writer:
        for index, (real, fake, changed) in enumerate(
            forge_frames(frames, family, params, donor_face, (start_s, end_s), ramp_s)
        ):
            job.check()
            real_writer.write(real)
            fake_writer.write(fake)
            if changed:
                result.manipulated_frames.append(index)
            sub.report((index + 1) / max(len(times), 1), f"frame {index + 1}/{len(times)}")
    result.frames_without_face = [
        i for i, p in enumerate(landmarks) if p is None and start_s <= times[i] <= end_s
    ]
    Path(result.sidecar).write_text(json.dumps(result.to_dict(), indent=1), encoding="utf-8")
    return result
