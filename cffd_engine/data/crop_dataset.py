"""A PyTorch ``Dataset`` over a preprocessing cache: face crops with their labels.

The index is read once when the dataset is made and kept as plain records, so
the dataset pickles cheaply into DataLoader workers; pixels are read from the
PNG files on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from cffd_engine.data.cache import CacheIndex, read_png
from cffd_engine.data.manifest import Manifest, ManifestEntry, Task


@dataclass(frozen=True)
class CropRecord:
    """One crop of the cache: its PNG, its video's manifest entry, where it was in the video."""

    file: Path
    entry: ManifestEntry
    video_key: str
    frame_index: int
    track_id: int
    box: tuple[float, float, float, float]

    @property
    def label(self) -> int:
        return self.entry.label


class FaceCropDataset(Dataset):
    """Crops of a cache as ``(image, label)``: image a float32 (3, S, S) tensor in [0, 1], label 0 real / 1 fake.

    ``manifest`` (optional) keeps only its videos and takes their labels and
    splits from it rather than from the cache (a cache can serve many
    manifests); ``split`` and ``task`` (a Task or its one-line form) then
    filter the entries; ``frames_per_video`` keeps that many crops of each
    video, evenly spread. ``transform`` (tensor -> tensor) is applied last.
    ``records`` says where each item came from.
    """

    def __init__(
        self,
        cache_dir: Path | str,
        split: str | None = None,
        task: Task | str | None = None,
        manifest: Manifest | None = None,
        frames_per_video: int | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ):
        self.cache_dir = Path(cache_dir)
        self.transform = transform
        task = Task.parse(task) if isinstance(task, str) else task
        records: list[CropRecord] = []
        with CacheIndex(self.cache_dir) as index:
            entries = {entry.path: entry for entry in manifest} if manifest is not None else None
            for video in index.videos():
                entry = video.entry if entries is None else entries.get(video.entry.path)
                if entry is None or (split is not None and entry.split != split):
                    continue
                if task is not None and not task.matches(entry):
                    continue
                crops = video.crops
                if frames_per_video is not None and len(crops) > frames_per_video:
                    chosen = np.linspace(0, len(crops) - 1, frames_per_video).round().astype(int)
                    crops = [crops[i] for i in sorted(set(chosen))]
                records += [
                    CropRecord(
                        file=self.cache_dir / crop.file,
                        entry=entry,
                        video_key=video.key,
                        frame_index=crop.frame_index,
                        track_id=crop.track_id,
                        box=tuple(crop.box),
                    )
                    for crop in crops
                ]
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        record = self.records[index]
        image = torch.from_numpy(read_png(record.file)).permute(2, 0, 1).float().div_(255.0)
        if self.transform is not None:
            image = self.transform(image)
        return image, record.label

    @property
    def labels(self) -> list[int]:
        """Every item's label, in order (for class weights or balanced sampling)."""
        return [record.label for record in self.records]
