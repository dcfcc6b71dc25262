"""The continual task sequence: one task per forgery family, from real face photos only.

Each task takes its own photos (no photo serves two tasks) and makes from
each one real sample (the photo) and one fake (the photo forged), so real and
fake are balanced in every split and a photo's pair never straddles splits.
Both go through the same draw of compression (resize, JPEG quality; with
``video_like`` also blur, noise and a real H.264 or MPEG-4 round trip); the
JPEG file is the evidence, listed in the manifest format of the real datasets
(``cffd_engine.data.manifest``), and an S x S face crop of each goes to a
preprocessing cache of the same format as ``cffd preprocess`` writes, so
``FaceCropDataset`` reads a synthetic task as it reads FF++. Every random choice comes from the seed, the task and the photo's
position, so the result does not depend on the worker count or the cache.

Layout of ``out``::

    sequence.json                      settings, task order, counts
    <task>/manifest.json               evidence: path, label, split, method, dataset "synth-<task>"
    <task>/samples.json                per photo: source, donor, parameters, compression, crop box
    <task>/<split>/{real,fake}/<id>.jpg
    <task>/masks/<id>.png              the soft mask of each forgery (0..255)
    cache/                             S x S face crops of every evidence file, indexed as
                                       ``cffd preprocess`` does (``cffd_engine.data.cache``)
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from cffd_engine.data.cache import CROPS_DIR, CacheIndex, CropRow, VideoRow, video_key, write_png
from cffd_engine.data.manifest import FAKE, REAL, Manifest, ManifestEntry
from cffd_engine.data.synth import geometry as geo
from cffd_engine.data.synth.base import Compression, Face, Family
from cffd_engine.data.synth.families import DEFAULT_SEQUENCE, get_family
from cffd_engine.data.synth.pool import LandmarkCache, list_faces
from cffd_engine.data.synth.swap import donor_cost, face_sharpness
from cffd_engine.errors import CFFDError
from cffd_engine.jobs import Cancelled, JobControl, ensure_job
from cffd_engine.media.video import read_image

SEQUENCE_FILE = "sequence.json"
CACHE_DIR = "cache"  # the preprocessing cache of the sequence (cffd_engine.data.cache format)
DONOR_CANDIDATES = 32  # random donors considered per forgery; the best match is taken
DONOR_POOL_FACTOR = 2  # a swap task draws this many donor photos per forged photo


@dataclass(frozen=True)
class BuildSettings:
    """Everything that decides a task sequence; saved in ``sequence.json``."""

    faces: Path
    out: Path
    methods: tuple[str, ...] = DEFAULT_SEQUENCE
    per_task: int = 500  # photos per task: as many real samples and as many fakes
    size: int = 160
    seed: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    quality: tuple[int, int] = (60, 95)
    p_resize: float = 0.3
    video_like: bool = False  # blur, noise and a real codec round trip too (Compression)
    crop_scale: float = 1.3
    workers: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        """A ValueError naming the first setting a build cannot use (before any photo is read)."""
        if not self.methods:
            raise ValueError("methods names no forgery family; name at least one, e.g. blend")
        for name in self.methods:
            get_family(name)
        if self.per_task < 10:
            raise ValueError(
                f"per_task must be at least 10 so that every split has photos, got {self.per_task}"
            )
        if self.size < 16:
            raise ValueError(f"size must be at least 16 pixels, got {self.size}")
        for name in ("val_fraction", "test_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be at least 0 and below 1, got {getattr(self, name)}")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                f"val_fraction + test_fraction must be below 1 to leave photos to train on, got "
                f"{self.val_fraction} + {self.test_fraction}"
            )
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.crop_scale <= 0:
            raise ValueError(f"crop_scale must be positive, got {self.crop_scale}")

    def describe(self) -> dict:
        """The settings that shape the data (not where or how fast it was made), JSON-ready."""
        data = asdict(self)
        for key in ("out", "workers", "cache_dir"):
            data.pop(key)
        data["faces"] = str(Path(self.faces).resolve())
        data["methods"], data["quality"] = list(self.methods), list(self.quality)
        return data


@dataclass
class TaskSequence:
    """What a build wrote: the tasks in order, each task's manifest, and counts per split and label."""

    out: Path
    tasks: list[str]
    manifests: dict[str, Path]
    counts: dict[str, dict[str, int]]
    photos_without_face: int = 0

    @classmethod
    def load(cls, out: Path | str) -> TaskSequence:
        out = Path(out)
        try:
            data = json.loads((out / SEQUENCE_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CFFDError(
                f"{out}: no synthetic task sequence here ({SEQUENCE_FILE} is missing); name a folder written by "
                "`cffd synth build --out <folder>`"
            ) from None
        except NotADirectoryError:
            raise CFFDError(
                f"{out} is a file; name a folder written by `cffd synth build --out <folder>`"
            ) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CFFDError(
                f"{out / SEQUENCE_FILE}: not a readable task sequence ({exc}); build it again with `cffd synth build`"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("tasks"), list) or "counts" not in data:
            raise CFFDError(
                f"{out / SEQUENCE_FILE}: not a task sequence written by `cffd synth build`; build it again"
            )
        manifests = {task: out / task / "manifest.json" for task in data["tasks"]}
        return cls(out, data["tasks"], manifests, data["counts"], data.get("photos_without_face", 0))


# Modules of this package that never touch a built sequence: editing them must not invalidate caches.
NOT_FORGERY_CODE = frozenset({"cli.py", "demo.py", "separability.py", "sheet.py", "videos.py"})


def forgery_code_digest(package: Path = Path(__file__).parent) -> str:
    """SHA-256 of the forgery code (the package's sources that shape a build): other code, another build.

    A frozen application ships no sources; there the engine version stands for the code.
    """
    digest = hashlib.sha256()
    sources = sorted(p for p in package.glob("*.py") if p.name not in NOT_FORGERY_CODE)
    for source in sources:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    if not sources:
        from cffd_engine import __version__

        digest.update(f"cffd-engine {__version__}".encode())
    return digest.hexdigest()


def split_of(position: int, total: int, val_fraction: float, test_fraction: float) -> str:
    """The split of the photo at ``position`` of a task's shuffled photos: test first, then val, then train."""
    n_test = int(round(total * test_fraction))
    n_val = int(round(total * val_fraction))
    if position < n_test:
        return "test"
    return "val" if position < n_test + n_val else "train"


def _task_photos(
    order: list[Path],
    start: int,
    count: int,
    cache: LandmarkCache,
    workers: int,
    job: JobControl,
    settings: BuildSettings | None = None,
) -> tuple[list[tuple[Path, np.ndarray]], int, int]:
    """The next ``count`` photos of ``order`` from ``start`` with a face; where the next task starts; photos skipped."""
    found: list[tuple[Path, np.ndarray]] = []
    position, skipped = start, 0
    while len(found) < count:
        need = count - len(found)
        batch = order[position : position + need + max(4, need // 20)]
        if not batch:
            where = f"{settings.faces}: " if settings is not None else ""
            raise ValueError(
                f"{where}not enough face photos: {count} more with a face were needed and the folder ran out "
                f"({len(order)} photos in all); add photos, or ask for fewer per task"
                + (f" (per_task is {settings.per_task})" if settings is not None else "")
            )
        for points in cache.get(batch, workers, job):
            if len(found) == count:
                break
            if points is None:
                skipped += 1
            else:
                found.append((order[position], points))
            position += 1
    return found, position, skipped


@dataclass
class _DonorPool:
    """The photos a swap task may take donors from: faces (landmarks and path only), their splits and sharpness."""

    faces: list[Face]
    splits: list[str]
    sharpness: list[float]


def _donor_pool(
    settings: BuildSettings, order: list[Path], start: int, cache: LandmarkCache, job: JobControl
) -> tuple[_DonorPool, int, int]:
    """A swap task's donors: the next photos of ``order`` from ``start``; where the next task starts; photos skipped.

    Donors come from photos no task uses as real, each split its own: no identity crosses splits.
    """
    count = DONOR_POOL_FACTOR * settings.per_task
    pool, start, skipped = _task_photos(order, start, count, cache, settings.workers, job, settings)
    # Only landmarks and sharpness are needed to choose: the pixels are read again by the worker.
    sharpness = [face_sharpness(Face(read_image(path), points)) for path, points in pool]
    faces = [Face(np.zeros((1, 1, 3), np.uint8), points, str(path)) for path, points in pool]
    splits = [
        split_of(i, len(faces), settings.val_fraction, settings.test_fraction) for i in range(len(faces))
    ]
    return _DonorPool(faces, splits, sharpness), start, skipped


def _choose_donor(target: Face, split: str, donors: _DonorPool, rng: np.random.Generator) -> Face:
    """A donor for ``target`` among random candidates of the donor pool's same split: the lowest ``donor_cost``."""
    faces, sharpness = donors.faces, donors.sharpness
    pool = [i for i, s in enumerate(donors.splits) if s == split] or list(range(len(faces)))
    candidates = rng.choice(pool, min(DONOR_CANDIDATES, len(pool)), replace=False)
    mine = face_sharpness(target)
    best = min(candidates, key=lambda i: donor_cost(target, faces[i], (mine, sharpness[i])))
    return faces[int(best)]


def _make_pair(spec: dict) -> dict:
    """Forge one photo and write its real and fake evidence, mask and crops; returns its samples.json record."""
    from cffd_engine.media.crops import crop_geometry, crop_image
    from cffd_engine.media.faces import FaceDetection
    from cffd_engine.media.video import read_image

    out = Path(spec["out"])
    family = get_family(spec["task"])
    rng = np.random.default_rng(np.random.SeedSequence(spec["seed"]))
    forge_rng, compress_rng = rng.spawn(2)
    face = Face(
        read_image(spec["photo"]), np.asarray(spec["landmarks"], np.float32), Path(spec["photo"]).name
    )
    donor = None
    if spec["donor"] is not None:
        donor = Face(
            read_image(spec["donor"]),
            np.asarray(spec["donor_landmarks"], np.float32),
            Path(spec["donor"]).name,
        )
    forgery = family(face, forge_rng, donor)
    compression = Compression.sample(
        compress_rng, tuple(spec["quality"]), spec["p_resize"], spec["video_like"]
    )
    # The crop box comes from the pristine face, for both images: the label is not in the geometry.
    inner = geo.xy(face.landmarks)[geo.inner_face_indices(face.landmarks)]
    low, high = inner.min(axis=0), inner.max(axis=0)
    detection = FaceDetection((*low, *(high - low)), 1.0, np.zeros((6, 2), np.float32), "landmarks")
    height, width = face.image.shape[:2]
    # Photos that are already tight face crops (UTKFace) cannot give the full 1.3 margin: take what
    # fits around the same centre, but never less than the face, rather than padding with black.
    centre = (low + high) / 2
    room = 2 * min(centre[0], centre[1], width - centre[0], height - centre[1])
    scale = float(np.clip(room / max(high - low), 1.0, spec["crop_scale"]))
    geometry = crop_geometry(detection, (width, height), spec["size"], scale)
    record = {"id": spec["id"], "split": spec["split"], "source": spec["source"], "donor": spec["donor_name"]}
    task_dir = out / spec["task"]
    for kind, image in (("real", face.image), ("fake", forgery.image)):
        evidence_path = task_dir / spec["split"] / kind / f"{spec['id']}.jpg"
        jpeg = compression.encode(image)
        _write(evidence_path, jpeg)
        write_png(crop_path(evidence_path), crop_image(Compression.decode(jpeg), geometry))
        record[kind] = evidence_path.relative_to(out).as_posix()
    mask_path = task_dir / "masks" / f"{spec['id']}.png"
    _write(mask_path, _png_bytes(np.clip(np.rint(forgery.mask * 255), 0, 255).astype(np.uint8)))
    record.update(
        mask=mask_path.relative_to(out).as_posix(),
        params=forgery.params,
        compression=asdict(compression),
        box=[round(float(v), 3) for v in (*low, *(high - low))],
        crop=geometry.to_dict(),
    )
    return record


def crop_path(evidence: Path) -> Path:
    """Where the cache holds the face crop of an evidence file of a sequence (``<out>/<task>/<split>/<kind>/x.jpg``)."""
    out = evidence.parents[3]
    return out / CACHE_DIR / _crop_file(evidence)


def _crop_file(evidence: Path) -> str:
    """The crop's path inside the cache, named as ``cffd preprocess`` names a one-frame video's crop."""
    key = video_key(ManifestEntry(str(evidence), 0, "", "", ""))
    return f"{CROPS_DIR}/{key}/{0:06d}_0.png"


def _png_bytes(image: np.ndarray) -> bytes:
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    return cv2.imencode(".png", bgr)[1].tobytes()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def photo_order(faces: Path | str, seed: int) -> list[Path]:
    """The order in which a build with ``seed`` takes its photos, from the front: each task's, then its donors."""
    order = list_faces(faces)
    np.random.default_rng(seed).shuffle(order)
    return order


def photos_never_built(faces: Path | str, seed: int = 0) -> list[Path]:
    """The back half of :func:`photo_order`: faces a build with ``seed`` that used at most half the folder
    never saw. The default recipe (seed 0) uses about 6,500 of UTKFace's 21,351 photos."""
    order = photo_order(faces, seed)
    return order[len(order) // 2 :]


def build_task_sequence(settings: BuildSettings, job: JobControl | None = None) -> TaskSequence:
    """Write one task per family under ``settings.out``; deterministic for a seed; see the module doc."""
    job = ensure_job(job)
    families = [get_family(name) for name in settings.methods]
    if settings.per_task < 10:
        raise ValueError("per_task must be at least 10 so that every split has photos")
    out = Path(settings.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    order = photo_order(settings.faces, settings.seed)
    cache = LandmarkCache(settings.faces, settings.cache_dir)
    specs: list[dict] = []
    start, skipped_total = 0, 0
    for task_index, family in enumerate(families):
        sub = job.sub(0.3 * task_index / len(families), 0.3 * (task_index + 1) / len(families))
        task_specs, start, skipped = _task_specs(settings, out, task_index, family, order, start, cache, sub)
        specs += task_specs
        skipped_total += skipped
    records = _run_specs(specs, settings.workers, job.sub(0.3, 0.97))
    landmarks = {spec["id"]: spec["landmarks"] for spec in specs}
    sequence = _write_manifests(settings, families, records, skipped_total)
    _write_cache_index(settings, sequence, records, landmarks)
    job.report(1.0, "task sequence written")
    return sequence


def _task_specs(
    settings: BuildSettings,
    out: Path,
    task_index: int,
    family: Family,
    order: list[Path],
    start: int,
    cache: LandmarkCache,
    job: JobControl,
) -> tuple[list[dict], int, int]:
    """The pairs one task forges (its photos from ``start`` of ``order``); where the next task starts; photos skipped."""
    photos, start, skipped = _task_photos(
        order, start, settings.per_task, cache, settings.workers, job, settings
    )
    splits = [
        split_of(i, len(photos), settings.val_fraction, settings.test_fraction) for i in range(len(photos))
    ]
    if family.needs_donor:
        donors, start, donors_skipped = _donor_pool(settings, order, start, cache, job)
        skipped += donors_skipped
    specs = []
    for index, (photo, points) in enumerate(photos):
        seed = [settings.seed, task_index, index]
        donor = None
        if family.needs_donor:
            target = Face(read_image(photo), points, photo.name)
            rng = np.random.default_rng([*seed, 1])
            donor = _choose_donor(target, splits[index], donors, rng)
        specs.append(_pair_spec(settings, out, family.name, index, seed, photo, points, splits[index], donor))
    return specs, start, skipped


def _pair_spec(
    settings: BuildSettings,
    out: Path,
    task: str,
    index: int,
    seed: list[int],
    photo: Path,
    points: np.ndarray,
    split: str,
    donor: Face | None,
) -> dict:
    """What a worker needs to forge one photo (``_make_pair``): plain values only, to cross processes."""
    return {
        "out": str(out),
        "task": task,
        "id": f"{task}-{index:05d}",
        "seed": seed,
        "photo": str(photo),
        "source": photo.name,
        "landmarks": points,
        "split": split,
        "donor": donor.name if donor else None,
        "donor_name": Path(donor.name).name if donor else None,
        "donor_landmarks": donor.landmarks if donor else None,
        "size": settings.size,
        "crop_scale": settings.crop_scale,
        "quality": settings.quality,
        "p_resize": settings.p_resize,
        "video_like": settings.video_like,
    }


def _run_specs(specs: list[dict], workers: int, job: JobControl) -> list[dict]:
    records: list[dict] = []
    if workers <= 1:
        for count, spec in enumerate(specs, 1):
            job.check()
            records.append(_make_pair(spec))
            job.report(count / len(specs), f"forged {count}/{len(specs)}")
        return records
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_make_pair, spec) for spec in specs]
        try:
            for count, future in enumerate(futures, 1):
                if job.cancelled:
                    raise Cancelled("cancelled by the user")
                records.append(future.result())
                job.report(count / len(specs), f"forged {count}/{len(specs)}")
        finally:
            for future in futures:
                future.cancel()
    return records


def _keypoints(landmarks: np.ndarray) -> list[list[float]]:
    """The detector's six keypoints (eyes, nose tip, mouth centre, ear tragions) read off the landmarks."""
    points = geo.xy(landmarks)
    right, left = geo.eye_centres(landmarks)
    six = np.array([right, left, points[1], points[13], points[234], points[454]])
    return np.round(six, 3).tolist()


def _write_cache_index(
    settings: BuildSettings, sequence: TaskSequence, records: list[dict], landmarks: dict[str, np.ndarray]
) -> None:
    """Index the crops as ``cffd preprocess`` would: one one-frame "video" per evidence file, its crop, its face."""
    by_id = {record["id"]: record for record in records}
    with CacheIndex(sequence.out / CACHE_DIR, create=True) as index:
        index.claim({"synthetic_sequence": settings.describe()})
        for task in sequence.tasks:
            for entry in Manifest.load(sequence.manifests[task]):
                record = by_id[Path(entry.path).stem]
                key = video_key(entry)
                crop = CropRow(
                    key, 0, 0, 0.0, _crop_file(Path(entry.path)), record["box"], 1.0,
                    _keypoints(landmarks[record["id"]]), record["crop"], np.asarray(landmarks[record["id"]], np.float32),
                )  # fmt: skip
                index.record(
                    VideoRow(
                        key, entry, "done", None, 1, "synth: landmarks of the source photo", crops=[crop]
                    )
                )


def _write_manifests(
    settings: BuildSettings, families: list, records: list[dict], skipped: int
) -> TaskSequence:
    out = Path(settings.out).resolve()
    manifests: dict[str, Path] = {}
    counts: dict[str, dict[str, int]] = {}
    for family in families:
        mine = [r for r in records if r["id"].startswith(f"{family.name}-")]
        manifest = Manifest(notes=[f"synthetic {family.name} forgeries of real photos; {family.imitates}"])
        for record in mine:
            for kind, label in (("real", REAL), ("fake", FAKE)):
                method = "real" if label == REAL else family.name
                entry = ManifestEntry(
                    str(out / record[kind]),
                    label,
                    record["split"],
                    method,
                    f"synth-{family.name}",
                    None,
                    Path(record["source"]).stem,
                )
                manifest.entries.append(entry)
        manifests[family.name] = manifest.save(out / family.name / "manifest.json")
        (out / family.name / "samples.json").write_text(
            json.dumps(mine, indent=1, sort_keys=True), encoding="utf-8"
        )
        counts[family.name] = {key.split("/", 1)[1]: n for key, n in manifest.summary().items()}
    sequence = {
        "settings": settings.describe(),
        "tasks": [family.name for family in families],
        "counts": counts,
        "photos_without_face": skipped,
    }
    (out / SEQUENCE_FILE).write_text(json.dumps(sequence, indent=1, sort_keys=True), encoding="utf-8")
    return TaskSequence(out, sequence["tasks"], manifests, counts, skipped)
