"""Test evidence made on the fly: real-face frames moved across a canvas and encoded with OpenCV."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import matplotlib
import numpy as np

PORTRAIT_PATH = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def portrait_rgb() -> np.ndarray:
    """Grace Hopper's portrait (a real face, 512 x 600) as RGB uint8."""
    return cv2.cvtColor(cv2.imread(str(PORTRAIT_PATH)), cv2.COLOR_BGR2RGB)


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float = 25.0, fourcc: str = "mp4v") -> Path:
    """Encode RGB frames to ``path`` with OpenCV; raise if the writer cannot open."""
    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {fourcc} to {path}")
    try:
        for frame in (first, *frames):
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path


def moving_face_frames(
    n_frames: int = 20, size: tuple[int, int] = (640, 480), face_height: int = 300, step: int = 6
) -> list[np.ndarray]:
    """The portrait, scaled to ``face_height`` rows, sliding right by ``step`` pixels a frame on grey."""
    width, height = size
    portrait = portrait_rgb()
    scale = face_height / portrait.shape[0]
    portrait = cv2.resize(
        portrait, (round(portrait.shape[1] * scale), face_height), interpolation=cv2.INTER_AREA
    )
    top = (height - face_height) // 2
    frames = []
    for index in range(n_frames):
        frame = np.full((height, width, 3), 90, np.uint8)
        left = 10 + index * step
        visible = portrait[:, : max(0, min(portrait.shape[1], width - left))]
        frame[top : top + face_height, left : left + visible.shape[1]] = visible
        frames.append(frame)
    return frames


def portrait_offset(index: int, step: int = 6) -> int:
    """Horizontal offset of the portrait in frame ``index`` of ``moving_face_frames``."""
    return 10 + index * step
