"""The task sequences a benchmark runs: the synthetic families, or tasks of a manifest over a crop cache.

Each task gives its train, val and test splits as SampleSets at the model's input
size. Both the synthetic sequence (``cffd_engine.data.synth``, whose builder writes
a preprocessing cache) and a real protocol (``ff++/c23/DF -> ff++/c23/F2F ...``)
are read through ``FaceCropDataset``; frame crops of one video share a group, so
video-level figures can be reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from cffd_engine.continual.samples import SampleError, SampleSet, load_labelled_folder
from cffd_engine.jobs import JobControl, ensure_job

if TYPE_CHECKING:
    from cffd_engine.data.manifest import Manifest, Task

SPLITS = ("train", "val", "test")
SYNTH_CACHE = "cache"  # where cffd_engine.data.synth puts the crop cache of a sequence


@dataclass
class TaskSplits:
    """One task of a protocol: its name and its three splits."""

    name: str
    train: SampleSet
    val: SampleSet
    test: SampleSet

    def limited(self, max_train: int | None, seed: int) -> TaskSplits:
        """The same task with at most ``max_train`` training samples (a balanced random subset)."""
        if max_train is None or len(self.train) <= max_train:
            return self
        generator = torch.Generator().manual_seed(seed)
        keep: list[int] = []
        for label in (0, 1):
            members = torch.nonzero(self.train.labels == label).flatten()
            keep += members[torch.randperm(len(members), generator=generator)[: max_train // 2]].tolist()
        return TaskSplits(self.name, self.train.subset(sorted(keep)), self.val, self.test)


def load_synthetic_sequence(
    folder: Path | str, size: int, tasks: list[str] | None = None, job: JobControl | None = None
) -> list[TaskSplits]:
    """Tasks of a built synthetic sequence: ``sequence.json``, each task's manifest and the crop cache.

    Sequences whose crops sit in ``<task>/crops/<split>/{real,fake}/`` folders (the
    builder's earlier layout, also the simplest hand-made one) are read from there.
    """
    from cffd_engine.data.manifest import Manifest
    from cffd_engine.data.synth import TaskSequence

    job = ensure_job(job)
    folder = Path(folder)
    if not (folder / "sequence.json").is_file():
        raise SampleError(
            f"{folder}: no synthetic task sequence here (sequence.json is missing); build one with "
            "`cffd synth build --out <folder>` or give the benchmark the faces folder to build it"
        )
    sequence = TaskSequence.load(folder)
    names = tasks or sequence.tasks
    unknown = sorted(set(names) - set(sequence.tasks))
    if unknown:
        raise SampleError(f"{folder}: the sequence has no task(s) {unknown}; it has {sequence.tasks}")
    cache = folder / SYNTH_CACHE
    out = []
    for index, name in enumerate(names):
        job.check()
        if (cache / "index.sqlite").is_file():
            manifest = Manifest.load(sequence.manifests[name])
            splits = {
                split: _cache_split(cache, manifest, None, split, name, size, None, job) for split in SPLITS
            }
        else:
            splits = {
                split: load_labelled_folder(folder / name / "crops" / split, size, name) for split in SPLITS
            }
        out.append(TaskSplits(name, splits["train"], splits["val"], splits["test"]))
        job.report((index + 1) / len(names), f"loaded task {name}")
    return out


def _cache_split(
    cache_dir: Path | str,
    manifest: Manifest,
    task: Task | None,
    split: str,
    name: str,
    size: int,
    frames_per_video: int | None,
    job: JobControl,
) -> SampleSet:
    """One split of one task from a preprocessing cache; groups are video keys when videos have several crops."""
    from cffd_engine.continual.samples import resize_images
    from cffd_engine.data.crop_dataset import FaceCropDataset

    dataset = FaceCropDataset(cache_dir, split, task, manifest, frames_per_video)
    if len(dataset) == 0:
        raise SampleError(f"{cache_dir}: task '{name}' has no {split} crops in this cache")
    # Ordered by file name, label and frame, never by the path hash in the video key: the same
    # data in another folder loads in the same order, so a seeded training repeats exactly.
    records = dataset.records
    order = sorted(
        range(len(dataset)),
        key=lambda i: (
            records[i].video_key.rsplit("-", 1)[0],
            records[i].label,
            records[i].frame_index,
            records[i].track_id,
        ),
    )
    images, labels = [], []
    for item in order:
        job.check()
        image, label = dataset[item]
        images.append(image.mul(255).round().to(torch.uint8))
        labels.append(label)
    stack = torch.stack(images)
    if stack.shape[-1] != size:
        stack = resize_images(stack, size)
    records = [records[i] for i in order]
    keys = [r.video_key for r in records]
    return SampleSet(
        stack,
        torch.tensor(labels),
        [name] * len(records),
        [f"{r.video_key}#{r.frame_index}/{r.track_id}" for r in records],
        keys if len(set(keys)) < len(keys) else [],
    )


def load_cache_protocol(
    cache_dir: Path | str,
    manifest_path: Path | str | None,
    protocol: str,
    size: int,
    frames_per_video: int | None = 8,
    job: JobControl | None = None,
) -> list[TaskSplits]:
    """Tasks of a protocol over a preprocessing cache: a line like ``ff++/c23/DF -> ff++/c23/F2F``
    or a named one (``forgery-incremental``, ``dataset-incremental``: the paper's two). Without
    ``manifest_path``, the manifest ``cffd preprocess`` recorded in the cache."""
    from cffd_engine.data.cache import cache_manifest
    from cffd_engine.data.manifest import PROTOCOLS, Manifest, parse_protocol

    job = ensure_job(job)
    manifest = Manifest.load(manifest_path) if manifest_path else cache_manifest(cache_dir)
    try:
        tasks = parse_protocol(PROTOCOLS.get(protocol, protocol))
    except ValueError as exc:
        raise SampleError(
            f"protocol {protocol!r}: {exc}; write tasks joined by '->' or name one of {sorted(PROTOCOLS)}"
        ) from exc
    if not tasks:
        raise SampleError(f"protocol {protocol!r} names no task; e.g. 'ff++/c23/DF -> ff++/c23/F2F'")
    present = {entry.dataset for entry in manifest}
    for task in tasks:
        if task.dataset not in present:
            raise SampleError(
                f"{cache_dir}: task '{task.name}' needs dataset {task.dataset}, but the cache holds "
                f"{', '.join(sorted(present)) or 'no video'}; run `cffd preprocess ROOT --dataset "
                f"{task.dataset} --out {cache_dir}` first"
            )
    out = []
    for index, task in enumerate(tasks):
        splits = {
            split: _cache_split(cache_dir, manifest, task, split, task.name, size, frames_per_video, job)
            for split in SPLITS
        }
        out.append(TaskSplits(task.name, splits["train"], splits["val"], splits["test"]))
        job.report((index + 1) / len(tasks), f"loaded task {task.name}")
    return out
