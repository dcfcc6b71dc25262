"""Test evidence made on the fly: real-face frames moved across a canvas and encoded with OpenCV."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from cffd_engine.media.portrait import PORTRAIT as PORTRAIT_PATH


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


def scaled_portrait(face_height: int) -> np.ndarray:
    """The portrait resized to ``face_height`` rows, aspect kept."""
    portrait = portrait_rgb()
    scale = face_height / portrait.shape[0]
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(portrait, (round(portrait.shape[1] * scale), face_height), interpolation=interpolation)


def paste(frame: np.ndarray, picture: np.ndarray, left: int, top: int) -> np.ndarray:
    """Copy ``picture`` onto ``frame`` with its top-left at (left, top), clipped to the frame; in place."""
    height, width = frame.shape[:2]
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + picture.shape[1], width), min(top + picture.shape[0], height)
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = picture[y0 - top : y1 - top, x0 - left : x1 - left]
    return frame


def two_face_frames(
    n_frames: int = 10, size: tuple[int, int] = (800, 400), face_height: int = 380, step: int = 3
) -> list[np.ndarray]:
    """Two copies of the portrait side by side on grey, moving apart by ``step`` pixels a frame each."""
    width, height = size
    portrait = scaled_portrait(face_height)
    top = (height - face_height) // 2
    frames = []
    for index in range(n_frames):
        frame = np.full((height, width, 3), 90, np.uint8)
        paste(frame, portrait, 40 - index * step, top)
        paste(frame, portrait, width - 40 - portrait.shape[1] + index * step, top)
        frames.append(frame)
    return frames


def frames_with_gap(n_frames: int = 20, gap: tuple[int, int] = (8, 13), **kwargs) -> list[np.ndarray]:
    """``moving_face_frames`` with frames ``gap[0]`` to ``gap[1] - 1`` left as plain grey (no face)."""
    frames = moving_face_frames(n_frames, **kwargs)
    for index in range(*gap):
        frames[index] = np.full_like(frames[index], 90)
    return frames


def write_video_av(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: int = 25,
    codec: str = "libx264",
    faststart: bool = True,
    keyframe_interval: int = 10,
) -> Path:
    """Encode RGB frames with PyAV (H.264 by default); ``faststart`` puts the index first, as streamed MP4s do."""
    import av

    frames = iter(frames)
    first = next(frames)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), mode="w", options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = first.shape[1], first.shape[0]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = keyframe_interval
        # libx264's macroblock tree reads memory it never wrote: with it, the same frames gave
        # different clips from run to run (and so did the tests built on them).
        stream.options = {"x264-params": "mbtree=0"}
        for frame in (first, *frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def face_variants(count: int, size: int = 200, seed: int = 0) -> list[np.ndarray]:
    """``count`` different square photos of the portrait's face: shifted, scaled, tilted, mirrored, recoloured."""
    portrait = portrait_rgb()
    rng = np.random.default_rng(seed)
    centre = np.array([255.0, 205.0])  # the face in the portrait, in pixels
    photos = []
    for _ in range(count):
        scale = size / rng.uniform(250, 330)
        angle = rng.uniform(-12, 12)
        shift = rng.uniform(-15, 15, 2)
        matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
        matrix[:, 2] += size / 2 - centre + shift
        photo = cv2.warpAffine(portrait, matrix, (size, size), borderMode=cv2.BORDER_REFLECT)
        if rng.random() < 0.5:
            photo = np.ascontiguousarray(photo[:, ::-1])
        gain = rng.uniform(0.85, 1.15, 3)
        photos.append(np.clip(photo * gain, 0, 255).astype(np.uint8))
    return photos


def write_face_folder(folder: Path, count: int, size: int = 200, seed: int = 0) -> Path:
    """A folder of ``count`` JPEG face photos from ``face_variants``, named like UTKFace files."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, photo in enumerate(face_variants(count, size, seed)):
        name = f"{20 + index}_{index % 2}_{index % 5}_2017{index:09d}.jpg.chip.jpg"
        cv2.imwrite(str(folder / name), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    return folder


def altered_portrait() -> np.ndarray:
    """The portrait made into another-looking face: 25 % wider, bluer and with more contrast (a swap donor)."""
    portrait = portrait_rgb().astype(np.float32)
    wide = cv2.resize(portrait, (round(portrait.shape[1] * 1.25), portrait.shape[0]))
    tinted = (wide - 128) * 1.2 + 128 + np.array([-25, 0, 30], np.float32)
    return np.clip(tinted, 0, 255).astype(np.uint8)


def drifting_portrait_frames(
    n_frames: int = 32,
    size: tuple[int, int] = (320, 240),
    face_height: int = 240,
    phase: float = 0.0,
    amplitude: float = 30.0,
) -> list[np.ndarray]:
    """The portrait on grey, drifting along a smooth loop (``amplitude`` pixels, starting at ``phase``)."""
    width, height = size
    portrait = scaled_portrait(face_height)
    frames = []
    for index in range(n_frames):
        frame = np.full((height, width, 3), 90, np.uint8)
        left = int(width / 2 - portrait.shape[1] / 2 + amplitude * np.sin(phase + 0.25 * index))
        top = int((height - face_height) / 2 + 0.3 * amplitude * np.cos(phase + 0.2 * index))
        paste(frame, portrait, left, top)
        frames.append(frame)
    return frames


def write_swapped_video(
    folder: Path,
    name: str,
    n_frames: int = 32,
    start_frame: int = 0,
    seed: int = 0,
    phase: float = 0.0,
    amplitude: float = 30.0,
) -> tuple[Path, Path]:
    """A drifting-portrait clip whose frames from ``start_frame`` on have a foreign inner face blended in.

    The synthetic generators' ``swap`` family (donor: ``altered_portrait``, aligned, colour
    matched, Poisson or alpha blended as ``seed`` draws) does the manipulation; returns the
    manipulated H.264 file and its pristine twin (same frames, same encoder, no swap).
    """
    from cffd_engine.data.synth import manipulate_video

    folder.mkdir(parents=True, exist_ok=True)
    donor = folder / "donor.png"
    if not donor.exists():
        cv2.imwrite(str(donor), cv2.cvtColor(altered_portrait(), cv2.COLOR_RGB2BGR))
    frames = drifting_portrait_frames(n_frames, phase=phase, amplitude=amplitude)
    source = write_video_av(folder / f"{name}_source.mp4", frames)
    forgery = manipulate_video(
        source, folder / f"{name}.mp4", "swap", donor=donor, start_s=start_frame / 25, seed=seed, ramp_s=0
    )
    return Path(forgery.manipulated), Path(forgery.pristine)
