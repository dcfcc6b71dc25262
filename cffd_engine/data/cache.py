"""The preprocessing cache on disk: face crops as PNG files plus one SQLite index.

```
<cache>/index.sqlite            settings, one row per video (done / no_face / failed + reason), one per crop
<cache>/crops/<video key>/<frame>_<track>.png
<cache>/manifest.json           every video the cache was asked for (label, split, method, dataset)
```
A video's crops and its row are committed in one transaction, after its PNG
files are on disk, so an interrupted run leaves only whole videos in the index
and a resumed run redoes the rest. Only the preprocessing process writes (or
``cffd merge``, joining the caches of ``--shard`` runs into a new one: see
``cache_merge``); the index's ``meta`` table keeps the settings, and the shard
a shard's cache holds or the shards a joined cache was made of.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from cffd_engine.data.manifest import Manifest, ManifestEntry
from cffd_engine.errors import CFFDError

INDEX_FILE = "index.sqlite"
CROPS_DIR = "crops"
MANIFEST_FILE = "manifest.json"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS videos (
    key TEXT PRIMARY KEY, path TEXT NOT NULL, label INTEGER NOT NULL, split TEXT NOT NULL,
    method TEXT NOT NULL, dataset TEXT NOT NULL, compression TEXT, video_id TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT, frames_read INTEGER NOT NULL, detector TEXT,
    detector_fallback INTEGER NOT NULL, decode TEXT
);
CREATE TABLE IF NOT EXISTS crops (
    video_key TEXT NOT NULL, frame_index INTEGER NOT NULL, track_id INTEGER NOT NULL,
    timestamp_s REAL NOT NULL, file TEXT NOT NULL, box TEXT NOT NULL, score REAL NOT NULL,
    keypoints TEXT NOT NULL, geometry TEXT NOT NULL, landmarks BLOB,
    PRIMARY KEY (video_key, frame_index, track_id)
);
"""


class CacheError(CFFDError):
    """A preprocessing cache cannot be used as asked (other settings, not a cache, unreadable)."""


def video_key(entry: ManifestEntry) -> str:
    """A stable, file-system-safe folder name for a video: readable stem plus a hash of its path."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(entry.path).stem)[:40]
    digest = hashlib.sha1(str(Path(entry.path)).encode("utf-8")).hexdigest()[:10]
    return f"{stem}-{digest}"


@dataclass
class CropRow:
    """One crop as the index holds it; ``file`` is relative to the cache folder."""

    video_key: str
    frame_index: int
    track_id: int
    timestamp_s: float
    file: str
    box: list[float]
    score: float
    keypoints: list[list[float]]
    geometry: dict
    landmarks: np.ndarray | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["landmarks"] = None if self.landmarks is None else np.round(self.landmarks, 2).tolist()
        return data


@dataclass
class VideoRow:
    """One video's outcome: ``status`` is done, no_face or failed (with ``reason``)."""

    key: str
    entry: ManifestEntry
    status: str
    reason: str | None = None
    frames_read: int = 0
    detector: str | None = None
    detector_fallback: bool = False
    decode: dict | None = None
    crops: list[CropRow] = field(default_factory=list)

    def to_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k not in ("entry", "crops")}
        data["entry"] = self.entry.to_dict()
        data["crops"] = [crop.to_dict() for crop in self.crops]
        return data


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Write RGB as PNG atomically (temporary file, then rename); works on any path, non-ASCII too."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"OpenCV could not encode a PNG for {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(encoded.tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_png(path: Path) -> np.ndarray:
    """A crop PNG as RGB uint8."""
    image = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise CacheError(f"{path}: the crop cannot be read; the cache is damaged, run preprocess again")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class CacheIndex:
    """The SQLite index of one cache folder; use as a context manager."""

    def __init__(self, cache_dir: Path | str, create: bool = False):
        self.cache_dir = Path(cache_dir)
        path = self.cache_dir / INDEX_FILE
        if not path.is_file() and not create:
            raise CacheError(f"{self.cache_dir}: no preprocessing cache here ({INDEX_FILE} is missing)")
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CacheIndex:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def settings(self) -> dict | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
        return json.loads(row[0]) if row else None

    def claim(self, settings: dict) -> None:
        """Record the settings of a new cache, or check that a resumed one was made with the same."""
        stored = self.settings()
        if stored is None:
            with self._db:
                self._db.execute(
                    "INSERT INTO meta VALUES ('settings', ?)", (json.dumps(settings, sort_keys=True),)
                )
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            return
        if stored != settings:
            changed = sorted(k for k in set(stored) | set(settings) if stored.get(k) != settings.get(k))
            raise CacheError(
                f"{self.cache_dir}: this cache was made with other settings ({', '.join(changed)} differ); "
                "resume with the same settings, or choose another --out folder"
            )

    def meta(self, key: str) -> dict | list | None:
        """A JSON value kept in the index beside the settings (``shard``, ``merged_from``), or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: dict | list) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True))
            )

    def claim_shard(self, record: dict | None) -> None:
        """Record the shard (``cffd_engine.shards``) a new cache holds, or check a resumed one holds the same.

        A shard's cache holds that shard's videos only, so ``cffd merge`` can tell a
        complete shard from an interrupted one: other inputs, another shard, or a shard
        into a cache that already holds videos, need another folder.
        """
        stored = self.meta("shard")
        if stored == record:
            return
        if stored is None and record is not None and not self.finished_keys():
            self.set_meta("shard", record)
            return
        held = (
            f"shard {stored['shard']} of {stored['inputs']} inputs"
            if stored
            else "videos of a run without --shard"
        )
        asked = f"shard {record['shard']} of {record['inputs']} inputs" if record else "a run without --shard"
        if held == asked:
            asked += " of other videos (other files, or another --task, --split or --limit)"
        raise CacheError(
            f"{self.cache_dir}: this cache holds {held}, not {asked}; "
            "give each shard its own --out folder, or resume with the same inputs and options"
        )

    def finished_keys(self, include_failed: bool = True) -> set[str]:
        query = "SELECT key FROM videos" + ("" if include_failed else " WHERE status != 'failed'")
        return {row[0] for row in self._db.execute(query)}

    def record(self, video: VideoRow) -> None:
        """Replace the video's row and crops in one transaction."""
        e = video.entry
        with self._db:
            self._db.execute("DELETE FROM crops WHERE video_key = ?", (video.key,))
            self._db.execute(
                "INSERT OR REPLACE INTO videos VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    video.key, e.path, e.label, e.split, e.method, e.dataset, e.compression, e.video_id,
                    video.status, video.reason, video.frames_read, video.detector, int(video.detector_fallback),
                    json.dumps(video.decode, sort_keys=True) if video.decode is not None else None,
                ),
            )  # fmt: skip
            self._db.executemany(
                "INSERT INTO crops VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        c.video_key, c.frame_index, c.track_id, c.timestamp_s, c.file, json.dumps(c.box),
                        c.score, json.dumps(c.keypoints), json.dumps(c.geometry, sort_keys=True),
                        None if c.landmarks is None else np.asarray(c.landmarks, np.float32).tobytes(),
                    )
                    for c in video.crops
                ],
            )  # fmt: skip

    def rows(self, key: str) -> tuple[tuple, list[tuple]] | None:
        """A video's row and crop rows exactly as stored (to copy or compare them), or None if absent."""
        video = self._db.execute("SELECT * FROM videos WHERE key = ?", (key,)).fetchone()
        if video is None:
            return None
        query = "SELECT * FROM crops WHERE video_key = ? ORDER BY frame_index, track_id"
        return video, self._db.execute(query, (key,)).fetchall()

    def put_rows(self, videos: list[tuple[tuple, list[tuple]]]) -> None:
        """Store videos' rows as ``rows`` gives them, replacing those of the same key, in one transaction."""
        with self._db:
            for video, crops in videos:
                self._db.execute("DELETE FROM crops WHERE video_key = ?", (video[0],))
                self._db.execute("INSERT OR REPLACE INTO videos VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", video)
                self._db.executemany("INSERT INTO crops VALUES (?,?,?,?,?,?,?,?,?,?)", crops)

    def videos(self) -> list[VideoRow]:
        """Every video with its crops, by key and (frame, track): the index as a deterministic list."""
        crops: dict[str, list[CropRow]] = {}
        for row in self._db.execute("SELECT * FROM crops ORDER BY video_key, frame_index, track_id"):
            landmarks = None if row[9] is None else np.frombuffer(row[9], np.float32).reshape(-1, 3)
            crops.setdefault(row[0], []).append(
                CropRow(
                    row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6],
                    json.loads(row[7]), json.loads(row[8]), landmarks,
                )
            )  # fmt: skip
        result = []
        for row in self._db.execute("SELECT * FROM videos ORDER BY key"):
            entry = ManifestEntry(*row[1:8])
            result.append(
                VideoRow(
                    row[0], entry, row[8], row[9], row[10], row[11], bool(row[12]),
                    json.loads(row[13]) if row[13] else None, crops.get(row[0], []),
                )
            )  # fmt: skip
        return result

    def to_dict(self) -> dict:
        return {"settings": self.settings(), "videos": [video.to_dict() for video in self.videos()]}


def load_index(cache_dir: Path | str) -> dict:
    """The whole index of a cache as plain data (settings, videos with their crops), in a stable order."""
    with CacheIndex(cache_dir) as index:
        return index.to_dict()


def record_manifest(cache_dir: Path | str, manifest: Manifest) -> Path:
    """Add ``manifest``'s videos to the manifest the cache keeps (an entry with the same path is replaced).

    The benchmark and ``cffd merge`` read it back, so what a protocol's tasks hold
    (labels, splits, methods) travels with the crops and never needs a separate file.
    """
    path = Path(cache_dir) / MANIFEST_FILE
    kept = Manifest.load(path) if path.is_file() else Manifest()
    return kept.updated_with(manifest).save(path)


def cache_manifest(cache_dir: Path | str) -> Manifest:
    """The manifest a cache keeps; for a cache made before it kept one, its videos' rows (processed ones only)."""
    cache_dir = Path(cache_dir)
    if (cache_dir / MANIFEST_FILE).is_file():
        return Manifest.load(cache_dir / MANIFEST_FILE)
    with CacheIndex(cache_dir) as index:
        entries = [video.entry for video in index.videos()]
    return Manifest(entries, [f"{cache_dir}: no {MANIFEST_FILE}; the videos of its index were used"])
