"""Preprocessing: extract the faces of every video of a manifest once, into a resumable crop cache.

``preprocess(manifest, out)`` is the API; ``add_arguments``/``run`` make it the
``cffd preprocess <root> --dataset ff++ --frames 32 --out <cache>`` command.
Videos run in parallel in a process pool (one detector per worker, reused);
each finished video is committed to the index at once, so an interrupted run
resumes where it stopped and ends with the same index as an uninterrupted one.
A video that cannot be read is logged with its reason, recorded as failed and
skipped; it never stops the run.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from cffd_engine.data.cache import (
    CROPS_DIR,
    CacheIndex,
    CropRow,
    VideoRow,
    record_manifest,
    video_key,
    write_png,
)
from cffd_engine.data.manifest import Manifest, ManifestEntry
from cffd_engine.errors import CFFDError, EvidenceError
from cffd_engine.jobs import Cancelled, JobControl, ensure_job
from cffd_engine.media.crops import DEFAULT_SCALE, DEFAULT_SIZE
from cffd_engine.media.detectors import DetectorSettings, create_face_detector
from cffd_engine.media.faces import FaceLandmarker
from cffd_engine.media.pipeline import FaceExtractionSettings, extract_faces, main_track

log = logging.getLogger(__name__)


@dataclass
class PreprocessSettings:
    """How faces are extracted: frames per video, crop size and scale, detector, which tracks to keep."""

    frames: int = 32
    crop_size: int = DEFAULT_SIZE
    crop_scale: float = DEFAULT_SCALE
    align: bool = False
    landmarks: bool = False
    all_tracks: bool = False  # False: only the face most present in the video
    detector: DetectorSettings = field(default_factory=DetectorSettings)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PreprocessSettings:
        return cls(**{**data, "detector": DetectorSettings(**data["detector"])})

    def extraction(self) -> FaceExtractionSettings:
        return FaceExtractionSettings(
            frames=self.frames,
            crop_size=self.crop_size,
            crop_scale=self.crop_scale,
            align=self.align,
            landmarks=self.landmarks,
            detector=self.detector,
        )


@dataclass
class PreprocessReport:
    """What a run did: videos processed now, already in the cache, without a face, failed (with reasons)."""

    cache_dir: str
    videos: int
    processed: int = 0
    already_done: int = 0
    no_face: int = 0
    crops: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class _Worker:
    """One process's detector (and landmarker), made once and reused for every video it is given."""

    def __init__(self, settings: PreprocessSettings, cache_dir: Path):
        self.settings = settings
        self.cache_dir = cache_dir
        self.detector = create_face_detector(settings.detector)
        self.landmarker = FaceLandmarker(max_faces=1, detector=self.detector) if settings.landmarks else None

    def process(self, entry: ManifestEntry) -> VideoRow:
        """Extract, write the PNGs, return the row to commit; any failure becomes a failed row."""
        key = video_key(entry)
        try:
            return self._process(entry, key)
        except Cancelled:
            raise
        except Exception as exc:  # one bad video must never stop the run
            if isinstance(exc, EvidenceError):  # the row names the file already
                reason = f"{exc.problem}. {exc.fix}"
            elif isinstance(exc, CFFDError):
                reason = str(exc)
            else:
                reason = f"{exc.__class__.__name__}: {exc}"
            return VideoRow(key, entry, "failed", reason=reason)

    def _process(self, entry: ManifestEntry, key: str) -> VideoRow:
        extraction = extract_faces(entry.path, self.settings.extraction(), self.detector, self.landmarker)
        keep = extraction.tracks if self.settings.all_tracks else [main_track(extraction)]
        kept_ids = {track.track_id for track in keep if track is not None}
        folder = self.cache_dir / CROPS_DIR / key
        shutil.rmtree(folder, ignore_errors=True)  # leftovers of an interrupted attempt
        rows = []
        for crop in extraction.crops:
            if crop.track_id not in kept_ids:
                continue
            relative = f"{CROPS_DIR}/{key}/{crop.frame_index:06d}_{crop.track_id}.png"
            write_png(self.cache_dir / relative, crop.image)
            rows.append(
                CropRow(
                    video_key=key,
                    frame_index=crop.frame_index,
                    track_id=crop.track_id,
                    timestamp_s=round(crop.timestamp_s, 6),
                    file=relative,
                    box=[round(v, 3) for v in crop.detection.box],
                    score=round(crop.detection.score, 6),
                    keypoints=np.round(crop.detection.keypoints, 3).tolist(),
                    geometry=crop.geometry.to_dict(),
                    landmarks=crop.landmarks,
                )
            )
        return VideoRow(
            key,
            entry,
            "no_face" if extraction.no_face else "done",
            reason=extraction.not_applicable
            or (None if extraction.decode.complete else extraction.decode.problem),
            frames_read=extraction.frames_read,
            detector=extraction.detector,
            detector_fallback=extraction.detector_fallback,
            decode=extraction.decode.to_dict(),
            crops=rows,
        )

    def close(self) -> None:
        if self.landmarker is not None:
            self.landmarker.close()
        self.detector.close()


_worker: _Worker | None = None


def _init_worker(settings: dict, cache_dir: str) -> None:
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops cleanly
    cv2.setNumThreads(1)  # the pool is the parallelism; more threads per worker only contend
    logging.getLogger("absl").setLevel(logging.ERROR)
    _worker = _Worker(PreprocessSettings.from_dict(settings), Path(cache_dir))


def _run_one(entry: ManifestEntry) -> VideoRow:
    assert _worker is not None, "worker not initialised"
    return _worker.process(entry)


def default_workers() -> int:
    """Leave one core to the rest of the machine (the GUI, the decoder's own threads)."""
    return max(1, (os.cpu_count() or 2) - 1)


def preprocess(
    manifest: Manifest,
    out: Path | str,
    settings: PreprocessSettings | None = None,
    workers: int = 1,
    retry_failed: bool = False,
    job: JobControl | None = None,
    shard: dict | None = None,
) -> PreprocessReport:
    """Fill the cache at ``out`` with the faces of every manifest video not already in it.

    ``workers`` > 1 uses a process pool. Resuming with other settings raises
    CacheError. Cancelling (``job``) raises Cancelled after committing what
    finished; running the same call again resumes. ``shard``: the shard record
    (``cffd_engine.shards``) of a ``--shard`` run, kept in the cache for ``cffd merge``.
    """
    settings = settings or PreprocessSettings()
    job = ensure_job(job)
    out = Path(out)
    started = time.perf_counter()
    report = PreprocessReport(cache_dir=str(out), videos=len(manifest))
    with CacheIndex(out, create=True) as index:
        index.claim(settings.to_dict())
        index.claim_shard(shard)
        record_manifest(out, manifest)
        finished = index.finished_keys(include_failed=not retry_failed)
        pending, seen = [], set()
        for entry in manifest:
            key = video_key(entry)
            if key in finished or key in seen:
                report.already_done += key in finished
                continue
            seen.add(key)
            pending.append(entry)

        def commit(row: VideoRow) -> None:
            index.record(row)
            report.processed += 1
            report.crops += len(row.crops)
            report.no_face += row.status == "no_face"
            if row.status == "no_face":
                log.info("no face in %s", row.entry.path)
            if row.status == "failed":
                report.failed.append((row.entry.path, row.reason or "unknown"))
                log.warning("skipped %s: %s", row.entry.path, row.reason)
            done = report.already_done + report.processed
            job.report(done / max(len(manifest), 1), f"{done}/{len(manifest)} videos")

        job.report(report.already_done / max(len(manifest), 1), "starting")
        if workers <= 1:
            worker = _Worker(settings, out)
            try:
                for entry in pending:
                    job.check()
                    commit(worker.process(entry))
            finally:
                worker.close()
        elif pending:
            create_face_detector(settings.detector).close()  # fail here, not in every worker
            _run_pool(pending, settings, out, workers, commit, job)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _run_pool(pending, settings, out: Path, workers: int, commit, job: JobControl) -> None:
    """Run ``pending`` in process pools; after a worker dies, retry its suspects one by one to find the culprit."""
    queue = list(reversed(pending))
    while queue:
        suspects = _pool_pass(queue, settings, out, workers, commit, job)
        for entry in suspects:
            if _pool_pass([entry], settings, out, 1, commit, job):
                reason = (
                    "the worker process died while reading this video (a crash in the decoder or detector)"
                )
                commit(VideoRow(video_key(entry), entry, "failed", reason=reason))


def _pool_pass(queue, settings, out: Path, workers: int, commit, job: JobControl) -> list[ManifestEntry]:
    """Work ``queue`` (popped from the end) with at most two videos per worker in flight, so a cancel
    loses little; returns the videos in flight if a worker process died, else []."""
    context = multiprocessing.get_context("spawn")  # mediapipe's native threads do not survive fork
    running: dict[Future, ManifestEntry] = {}
    with ProcessPoolExecutor(workers, context, _init_worker, (settings.to_dict(), str(out))) as pool:
        try:
            while queue or running:
                while queue and len(running) < 2 * workers:
                    entry = queue.pop()
                    running[pool.submit(_run_one, entry)] = entry
                finished, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in finished:
                    try:
                        row = future.result()
                    except BrokenProcessPool:
                        return list(running.values())
                    commit(row)
                    del running[future]
                job.check()
        except BaseException:
            for future in running:
                future.cancel()
            raise
    return []
