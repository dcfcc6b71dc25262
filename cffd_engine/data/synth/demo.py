"""The built-in demo: a pristine and a manipulated video made from a public-domain portrait we ship.

A slow pan and zoom over Grace Hopper's portrait (a real, public-domain
photograph), six seconds at 25 frames/s; in the manipulated twin a
``reenact`` segment (2 to 4.5 s) makes her mouth move as if speaking. The
portrait's landmarks are found once and carried through the camera motion
exactly, so the forgery is temporally steady. Made on first use (or by the
setup step) into the user data folder; nothing outside the installed
packages is needed besides the face-landmarker model file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import platformdirs

from cffd_engine.data.synth import geometry as geo
from cffd_engine.data.synth.base import Face
from cffd_engine.data.synth.families import get_family
from cffd_engine.data.synth.videos import VideoWriter, envelope
from cffd_engine.jobs import JobControl, ensure_job
from cffd_engine.media.portrait import portrait_path

DEMO_VERSION = 1
ENV_DEMO_DIR = "CFFD_DEMO_DIR"
SIZE = (640, 480)
FPS = 25.0
DURATION_S = 6.0
SEGMENT_S = (2.0, 4.5)
RAMP_S = 0.4
SPEECH_HZ = 2.5  # mouth openings per second in the manipulated segment


@dataclass(frozen=True)
class DemoVideos:
    """The two demo files and the JSON that says which frames of the manipulated one were changed."""

    pristine: Path
    manipulated: Path
    sidecar: Path


def default_demo_dir() -> Path:
    """``$CFFD_DEMO_DIR`` or ``demo`` in the user data folder."""
    if os.environ.get(ENV_DEMO_DIR):
        return Path(os.environ[ENV_DEMO_DIR])
    return Path(platformdirs.user_data_dir("cffd-studio", appauthor=False)) / "demo"


def camera(t: float, portrait_size: tuple[int, int], face_centre: np.ndarray) -> np.ndarray:
    """The 2x3 map from portrait to frame pixels at time ``t``: zooming in from 1.3x to 1.7x while panning."""
    width, height = portrait_size
    progress = 0.5 - 0.5 * np.cos(np.pi * t / DURATION_S)  # eased 0 -> 1
    zoom = 1.3 + 0.4 * progress
    view_w, view_h = SIZE[0] / zoom, SIZE[1] / zoom
    centre = face_centre + np.array([-60.0 + 100.0 * progress, 60.0 - 60.0 * progress])
    cx = float(np.clip(centre[0], view_w / 2, width - view_w / 2))
    cy = float(np.clip(centre[1], view_h / 2, height - view_h / 2))
    return np.array([[zoom, 0.0, SIZE[0] / 2 - zoom * cx], [0.0, zoom, SIZE[1] / 2 - zoom * cy]])


def make_demo_videos(folder: Path | str, job: JobControl | None = None) -> DemoVideos:
    """Write ``demo_pristine.mp4``, ``demo_manipulated.mp4`` and ``demo.json`` into ``folder``."""
    from cffd_engine.media.faces import FaceLandmarker
    from cffd_engine.media.video import read_image

    job = ensure_job(job)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    portrait = read_image(portrait_path())
    with FaceLandmarker(max_faces=1) as landmarker:
        faces = landmarker.landmarks(portrait)
    if not faces:
        raise RuntimeError("the landmarker found no face in the demo portrait")
    landmarks = faces[0]
    family = get_family("reenact")
    params = {"mouth_open": 0.1, "smile": 0.03, "brow_raise": 0.05, "cavity": 0.9}
    size = (portrait.shape[1], portrait.shape[0])
    centre = geo.xy(landmarks).mean(axis=0)
    count = int(round(DURATION_S * FPS))
    videos = DemoVideos(folder / "demo_pristine.mp4", folder / "demo_manipulated.mp4", folder / "demo.json")
    changed: list[int] = []
    with VideoWriter(videos.pristine, FPS) as real_out, VideoWriter(videos.manipulated, FPS) as fake_out:
        for index in range(count):
            job.check()
            t = index / FPS
            matrix = camera(t, size, centre)
            frame = cv2.warpAffine(
                portrait, matrix, SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
            real_out.write(frame)
            strength = envelope(t, *SEGMENT_S, RAMP_S)
            if strength > 0:
                speech = 0.6 + 0.4 * np.sin(2 * np.pi * SPEECH_HZ * (t - SEGMENT_S[0]) - np.pi / 2)
                frame_params = family.fade({**params, "mouth_open": params["mouth_open"] * speech}, strength)
                face = Face(frame, geo.transform_points(landmarks, matrix).astype(np.float32))
                frame = family.apply(face, frame_params, None).image
                changed.append(index)
            fake_out.write(frame)
            job.report((index + 1) / count, f"demo frame {index + 1}/{count}")
    sidecar = {
        "version": DEMO_VERSION,
        "family": family.name,
        "params": params,
        "segment_s": list(SEGMENT_S),
        "ramp_s": RAMP_S,
        "fps": FPS,
        "frame_count": count,
        "manipulated_frames": changed,
        "source": "resources/demo/grace_hopper.jpg (U.S. Navy portrait, public domain)",
    }
    videos.sidecar.write_text(json.dumps(sidecar, indent=1), encoding="utf-8")
    return videos


def ensure_demo_videos(folder: Path | str | None = None, job: JobControl | None = None) -> DemoVideos:
    """The demo videos in ``folder`` (default: the user data folder), made first if missing or outdated."""
    folder = Path(folder) if folder else default_demo_dir()
    videos = DemoVideos(folder / "demo_pristine.mp4", folder / "demo_manipulated.mp4", folder / "demo.json")
    try:
        current = json.loads(videos.sidecar.read_text(encoding="utf-8")).get("version") == DEMO_VERSION
    except (OSError, ValueError):
        current = False
    if current and videos.pristine.is_file() and videos.manipulated.is_file():
        return videos
    return make_demo_videos(folder, job)
