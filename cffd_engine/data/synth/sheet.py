"""A contact sheet: real faces and each family's forgery of them side by side, as one PNG.

Rows are faces, columns the real photo and one forgery per family (the swap
column names no donor: it is the best-matching other face of the sheet), and
a last column magnifies the mouth of the ``texture`` forgery, whose
artefacts are too fine to see at thumbnail size. Mask outlines are optional.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from cffd_engine.data.synth import geometry as geo
from cffd_engine.data.synth.base import Face
from cffd_engine.data.synth.families import FAMILY_NAMES, get_family
from cffd_engine.data.synth.pool import LandmarkCache, list_faces
from cffd_engine.data.synth.swap import donor_cost, face_sharpness
from cffd_engine.jobs import JobControl, ensure_job
from cffd_engine.media.video import read_image

HEADER = 28


@dataclass(frozen=True)
class SheetSettings:
    """Which faces, how many, how big, which families, and whether to draw mask outlines."""

    faces: Path
    out: Path
    count: int = 6
    donor_pool: int = 60  # extra faces the swap column may take its donors from
    cell: int = 200
    seed: int = 0
    methods: tuple[str, ...] = FAMILY_NAMES
    outline: bool = False
    zoom_mouth: bool = True
    cache_dir: Path | None = None


def pick_faces(folder: Path, count: int, seed: int, cache_dir: Path | None = None) -> list[Face]:
    """``count`` random photos of ``folder`` in which a face is found, with their landmarks."""
    order = list_faces(folder)
    np.random.default_rng(seed).shuffle(order)
    cache = LandmarkCache(folder, cache_dir)
    faces: list[Face] = []
    start = 0
    while len(faces) < count and start < len(order):
        batch = order[start : start + count - len(faces) + 4]
        start += len(batch)
        for path, points in zip(batch, cache.get(batch), strict=True):
            if points is not None and len(faces) < count:
                faces.append(Face(read_image(path), points, path.name))
    return faces


def best_donor(face: Face, others: list[Face]) -> Face:
    """The other face with the lowest ``donor_cost``: what a careful forger would pick."""
    mine = face_sharpness(face)
    return min(
        (o for o in others if o is not face), key=lambda o: donor_cost(face, o, (mine, face_sharpness(o)))
    )


def _label(cell: np.ndarray, text: str) -> np.ndarray:
    header = np.full((HEADER, cell.shape[1], 3), 255, np.uint8)
    cv2.putText(header, text, (6, HEADER - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([header, cell])


def _fit(image: np.ndarray, landmarks: np.ndarray, cell: int) -> np.ndarray:
    """The face's square crop (1.3 x its landmark box, clamped to the image) at ``cell`` pixels."""
    x, y, side = geo.face_box(landmarks, 1.3)
    height, width = image.shape[:2]
    side = min(side, width, height)
    x, y = int(np.clip(x, 0, width - side)), int(np.clip(y, 0, height - side))
    return geo.crop_square(image, (x, y, side), cell)


def _mouth_zoom(image: np.ndarray, landmarks: np.ndarray, cell: int) -> np.ndarray:
    points = geo.xy(landmarks)[geo.LIPS_OUTER]
    centre = points.mean(axis=0)
    side = int(max(np.ptp(points, axis=0)) * 1.6)
    box = (int(centre[0] - side / 2), int(centre[1] - side / 2), side)
    return cv2.resize(geo.crop_square(image, box, side), (cell, cell), interpolation=cv2.INTER_NEAREST)


def contact_sheet(
    faces: list[Face],
    settings: SheetSettings,
    donors: list[Face] | None = None,
    job: JobControl | None = None,
) -> np.ndarray:
    """The sheet as an RGB image: one row per face, real first, then one column per family."""
    job = ensure_job(job)
    rng = np.random.default_rng(settings.seed)
    rows = []
    for index, face in enumerate(faces):
        job.check()
        cells = [_label(_fit(face.image, face.landmarks, settings.cell), "real")]
        texture_image = None
        for name in settings.methods:
            family = get_family(name)
            pool = (donors or []) + faces
            donor = best_donor(face, pool) if family.needs_donor and len(pool) > 1 else None
            if family.needs_donor and donor is None:
                continue
            forgery = family(face, rng, donor)
            image = forgery.image
            if settings.outline:
                contours, _ = cv2.findContours(
                    (forgery.mask > 0.05).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
                )
                image = cv2.drawContours(image.copy(), contours, -1, (0, 255, 0), 1)
            cells.append(_label(_fit(image, face.landmarks, settings.cell), name))
            if name == "texture":
                texture_image = forgery.image
        if settings.zoom_mouth and texture_image is not None:
            real_mouth = _mouth_zoom(face.image, face.landmarks, settings.cell // 2)
            fake_mouth = _mouth_zoom(texture_image, face.landmarks, settings.cell // 2)
            pair = np.vstack([real_mouth, fake_mouth])
            pair = np.pad(pair, ((0, settings.cell - pair.shape[0]), (0, 0), (0, 0)), constant_values=255)
            cells.append(_label(pair, "mouth: real/texture"))
        rows.append(np.hstack([np.pad(c, ((0, 4), (0, 4), (0, 0)), constant_values=255) for c in cells]))
        job.report((index + 1) / len(faces), f"sheet row {index + 1}/{len(faces)}")
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.vstack(rows)


def make_contact_sheet(settings: SheetSettings, job: JobControl | None = None) -> Path:
    """Pick faces from ``settings.faces``, forge each with every family, and write the sheet PNG."""
    picked = pick_faces(
        Path(settings.faces), settings.count + settings.donor_pool, settings.seed, settings.cache_dir
    )
    if not picked:
        raise ValueError(f"{settings.faces}: no face found in any photo")
    sheet = contact_sheet(picked[: settings.count], settings, picked[settings.count :], job)
    out = Path(settings.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{out}: cannot write the contact sheet here")
    return out
