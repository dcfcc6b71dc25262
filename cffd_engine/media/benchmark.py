"""Benchmark of the face stage: decode + detect + track + crop, frames per second and each stage's share.

Run ``python -m cffd_engine.media.benchmark [--video clip.mp4] [--json out.json]``.
Without ``--video`` it makes a 720p H.264 clip (a real face moving over a
textured background) and measures it at stride 1. Figures depend on the
machine and on what else runs on it; the JSON records both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

from cffd_engine.media.crops import DEFAULT_SIZE, crop_face
from cffd_engine.media.detectors import DetectorSettings, create_face_detector
from cffd_engine.media.frames import FrameReader
from cffd_engine.media.tracking import FaceTracker
from cffd_engine.media.video import read_image

GOAL_FPS = 120.0


@dataclass
class BenchmarkResult:
    """Frames per second of the face stage and the seconds (and share) spent in each step."""

    video: str
    width: int
    height: int
    codec: str
    frames: int
    faces: int
    detector: str
    seconds: dict[str, float] = field(default_factory=dict)
    shares: dict[str, float] = field(default_factory=dict)
    fps: float = 0.0
    ms_per_frame: float = 0.0
    goal_fps: float = GOAL_FPS
    machine: dict[str, str | int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        steps = "  ".join(
            f"{name} {1000 * self.seconds[name] / max(self.frames, 1):.2f} ms ({100 * self.shares[name]:.0f}%)"
            for name in self.seconds
        )
        verdict = "meets" if self.fps >= self.goal_fps else "misses"
        return [
            f"{self.frames} frames {self.width}x{self.height} {self.codec}, {self.faces} faces, detector {self.detector}",
            f"{self.fps:.1f} frames/s ({self.ms_per_frame:.2f} ms/frame); {verdict} the goal of {self.goal_fps:.0f}",
            f"per frame: {steps}",
        ]


def default_face() -> np.ndarray:
    """A real face photograph: the demo portrait the application ships."""
    from cffd_engine.media.portrait import portrait_path

    return read_image(portrait_path())


def make_benchmark_video(
    path: Path, face: np.ndarray, frames: int = 300, size: tuple[int, int] = (1280, 720), fps: int = 30
) -> Path:
    """A clip of ``face`` (scaled to 70% of the height) gliding over a fixed texture, in H.264 (CRF 23)."""
    width, height = size
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (0, 0), 3)
    face_h = int(height * 0.7)
    face = cv2.resize(face, (face.shape[1] * face_h // face.shape[0], face_h), interpolation=cv2.INTER_AREA)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "23", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            frame = texture.copy()
            left = int((width - face.shape[1]) * (0.5 + 0.45 * np.sin(index / 25)))
            top = int((height - face_h) * (0.5 + 0.4 * np.cos(index / 40)))
            frame[top : top + face_h, left : left + face.shape[1]] = face
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def benchmark_face_stage(
    video: Path | str,
    detector_settings: DetectorSettings | None = None,
    crop_size: int = DEFAULT_SIZE,
    max_frames: int | None = None,
) -> BenchmarkResult:
    """Run decode -> detect -> track -> crop over every frame of ``video``, timing each step."""
    seconds = {"decode": 0.0, "detect": 0.0, "track": 0.0, "crop": 0.0}
    faces = 0
    with create_face_detector(detector_settings or DetectorSettings()) as detector:
        reader = FrameReader(video, stride=1, max_frames=max_frames)
        detector.detect(_blank_like(reader))  # warm the graph up outside the timing
        tracker = FaceTracker()
        frames = iter(reader)
        while True:
            start = time.perf_counter()
            frame = next(frames, None)
            decoded = time.perf_counter()
            if frame is None:
                break
            detections = detector.detect(frame.rgb)
            detected = time.perf_counter()
            ids = tracker.update(frame.index, frame.timestamp_s, detections)
            tracked = time.perf_counter()
            for detection, track_id in zip(detections, ids, strict=True):
                crop_face(frame.rgb, detection, size=crop_size, frame_index=frame.index, track_id=track_id)
            cropped = time.perf_counter()
            faces += len(detections)
            seconds["decode"] += decoded - start
            seconds["detect"] += detected - decoded
            seconds["track"] += tracked - detected
            seconds["crop"] += cropped - tracked
        name = detector.name
    total = sum(seconds.values())
    count = reader.status.frames_returned
    return BenchmarkResult(
        video=str(video),
        width=reader.info.width,
        height=reader.info.height,
        codec=reader.info.codec,
        frames=count,
        faces=faces,
        detector=name,
        seconds={k: round(v, 4) for k, v in seconds.items()},
        shares={k: round(v / total, 4) for k, v in seconds.items()},
        fps=round(count / total, 2),
        ms_per_frame=round(1000 * total / max(count, 1), 3),
        machine={
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count() or 0,
            "load_1min": f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a",
            "opencv_threads": cv2.getNumThreads(),
        },
    )


def _blank_like(reader: FrameReader) -> np.ndarray:
    """A black frame of the video's size, for warming the detector up."""
    return np.zeros((reader.info.height, reader.info.width, 3), np.uint8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, help="a video to measure (default: a generated 720p clip)")
    parser.add_argument(
        "--face", type=Path, help="face photo for the generated clip (default: a sample portrait)"
    )
    parser.add_argument("--frames", type=int, default=300, help="frames in the generated clip (default 300)")
    parser.add_argument("--detector", default="short", choices=["short", "full", "haar"])
    parser.add_argument("--json", type=Path, default=Path("benchmark_face_stage.json"), help="where to write")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cffd-bench-") as folder:
        video = args.video
        if video is None:
            face = read_image(args.face) if args.face else default_face()
            video = make_benchmark_video(Path(folder) / "clip_720p.mp4", face, frames=args.frames)
        result = benchmark_face_stage(video, DetectorSettings(model=args.detector))
    for line in result.lines():
        print(line)
    args.json.write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
    print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
