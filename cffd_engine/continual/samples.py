"""Face crops held in memory for continual learning, and their safe on-disk form.

A ``SampleSet`` keeps crops as one uint8 tensor (N, 3, S, S) with a label, a task
name, an id and an optional group (video) per crop. On disk it is a safetensors
file of the pixels and labels plus a JSON index, both written atomically: a bundle
may hold only safetensors, JSON and images, never a pickle.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import Tensor

from cffd_engine.errors import CFFDError
from cffd_engine.fileio import atomic_write_bytes, atomic_write_json
from cffd_engine.media.intake import IMAGE_SUFFIXES

REAL, FAKE = 0, 1
PIXELS_FILE = "samples.safetensors"
INDEX_FILE = "index.json"
SAMPLES_FORMAT = 1


class SampleError(CFFDError):
    """Face crops cannot be read or stored: names the file and what to do."""


@dataclass
class SampleSet:
    """Face crops with labels (0 real, 1 fake), task names, ids and groups (video ids, "" if none)."""

    images: Tensor  # uint8 (N, 3, S, S)
    labels: Tensor  # int64 (N,)
    tasks: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.images.shape[0]
        if self.images.dtype != torch.uint8 or self.images.ndim != 4 or self.images.shape[1] != 3:
            raise ValueError(
                f"SampleSet images must be uint8 (N, 3, S, S), got {self.images.dtype} {tuple(self.images.shape)}"
            )
        self.labels = self.labels.to(torch.int64).reshape(-1)
        self.tasks = list(self.tasks) or [""] * n
        self.ids = list(self.ids) or [f"sample-{i:06d}" for i in range(n)]
        self.groups = list(self.groups) or [""] * n
        lengths = {len(self.labels), len(self.tasks), len(self.ids), len(self.groups)}
        if lengths != {n}:
            raise ValueError(
                f"SampleSet fields disagree on the number of samples ({n} images, lengths {lengths})"
            )

    @classmethod
    def empty(cls, size: int) -> SampleSet:
        return cls(torch.zeros(0, 3, size, size, dtype=torch.uint8), torch.zeros(0, dtype=torch.int64))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    def subset(self, indices: Sequence[int] | Tensor) -> SampleSet:
        index = torch.as_tensor(
            list(indices) if not isinstance(indices, Tensor) else indices, dtype=torch.int64
        )
        picked = index.tolist()
        return SampleSet(
            self.images[index],
            self.labels[index],
            [self.tasks[i] for i in picked],
            [self.ids[i] for i in picked],
            [self.groups[i] for i in picked],
        )

    def of_task(self, task: str) -> SampleSet:
        return self.subset([i for i, name in enumerate(self.tasks) if name == task])

    def of_label(self, label: int) -> SampleSet:
        return self.subset(torch.nonzero(self.labels == label).flatten())

    def task_names(self) -> list[str]:
        """Task names in order of first appearance."""
        return list(dict.fromkeys(self.tasks))

    def counts(self) -> dict[str, int]:
        return {"real": int((self.labels == REAL).sum()), "fake": int((self.labels == FAKE).sum())}

    def float_images(self, indices: Tensor | None = None, device: torch.device | None = None) -> Tensor:
        """Float RGB in [0, 1], the model's input contract; on ``device``, which gets the bytes, not floats."""
        images = self.images if indices is None else self.images[indices]
        if device is not None:
            images = images.to(device, non_blocking=True)
        return images.float().div_(255.0)

    @staticmethod
    def concat(parts: Iterable[SampleSet]) -> SampleSet:
        parts = [p for p in parts if p is not None]
        if not parts:
            raise ValueError("nothing to concatenate")
        sizes = {p.size for p in parts if len(p)}
        if len(sizes) > 1:
            raise ValueError(f"cannot join crops of different sizes {sorted(sizes)}")
        return SampleSet(
            torch.cat([p.images for p in parts]),
            torch.cat([p.labels for p in parts]),
            [t for p in parts for t in p.tasks],
            [i for p in parts for i in p.ids],
            [g for p in parts for g in p.groups],
        )

    def resized(self, size: int) -> SampleSet:
        """The same crops at ``size`` x ``size`` (area interpolation when shrinking)."""
        if size == self.size or len(self) == 0:
            return SampleSet(self.images.clone(), self.labels.clone(), self.tasks, self.ids, self.groups)
        return SampleSet(
            resize_images(self.images, size), self.labels.clone(), self.tasks, self.ids, self.groups
        )

    # Persistence ------------------------------------------------------------------------------

    def save(
        self,
        folder: Path | str,
        extra: dict[str, Any] | None = None,
        per_sample: dict[str, list] | None = None,
    ) -> Path:
        """Write ``samples.safetensors`` then ``index.json`` into ``folder``, each atomically.

        ``extra`` goes into the index as is; ``per_sample`` adds lists (one value per crop).
        The index is written last and repeats the labels, so ``load`` notices an index and a
        pixel file that do not belong together.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {"images": self.images.contiguous(), "labels": self.labels.contiguous()}
        atomic_write_bytes(
            folder / PIXELS_FILE, save_safetensors(tensors, metadata={"format": "cffd-samples"})
        )
        index = {
            "format": SAMPLES_FORMAT,
            "count": len(self),
            "size": self.size,
            "tasks": self.tasks,
            "ids": self.ids,
            "groups": self.groups,
            "labels": self.labels.tolist(),
            **(extra or {}),
        }
        for key, values in (per_sample or {}).items():
            if len(values) != len(self):
                raise ValueError(f"per-sample field {key!r} has {len(values)} values for {len(self)} samples")
            index[key] = list(values)
        atomic_write_json(folder / INDEX_FILE, index)
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> tuple[SampleSet, dict[str, Any]]:
        """Read a folder written by ``save``: (samples, the whole index); SampleError names what is wrong."""
        folder = Path(folder)
        index_path, pixels_path = folder / INDEX_FILE, folder / PIXELS_FILE
        try:
            index = json.loads(index_path.read_text(encoding="utf-8"))
            tensors = load_safetensors(pixels_path.read_bytes())
        except FileNotFoundError as exc:
            raise SampleError(
                f"{folder}: stored face crops are incomplete ({Path(exc.filename).name} is missing)"
            ) from exc
        except (OSError, ValueError, json.JSONDecodeError) as exc:
            raise SampleError(f"{folder}: stored face crops cannot be read ({exc})") from exc
        if not isinstance(index, dict) or index.get("format") != SAMPLES_FORMAT:
            raise SampleError(
                f"{index_path}: unknown face-crop index format {index.get('format') if isinstance(index, dict) else '?'}"
            )
        try:
            samples = cls(tensors["images"], tensors["labels"], index["tasks"], index["ids"], index["groups"])
        except (KeyError, ValueError) as exc:
            raise SampleError(f"{folder}: stored face crops are inconsistent ({exc})") from exc
        if samples.labels.tolist() != index.get("labels"):
            raise SampleError(f"{folder}: the labels in {PIXELS_FILE} and {INDEX_FILE} disagree")
        return samples, index


def resize_images(images: Tensor, size: int) -> Tensor:
    """uint8 (N, 3, H, W) -> uint8 (N, 3, size, size) with OpenCV (area when shrinking, cubic when growing)."""
    out = np.empty((images.shape[0], size, size, 3), np.uint8)
    array = images.permute(0, 2, 3, 1).numpy()
    for i, image in enumerate(array):
        shrink = image.shape[0] >= size
        out[i] = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def read_crop(path: Path | str, size: int) -> np.ndarray:
    """One image file as RGB uint8 (size, size, 3); SampleError names an unreadable file."""
    path = Path(path)
    image = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise SampleError(f"{path}: not a readable image; remove it or convert it to PNG/JPEG")
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.shape[:2] != (size, size):
        shrink = min(image.shape[:2]) >= size
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    return image


def load_images(
    paths: Sequence[Path | str],
    labels: Sequence[int],
    size: int,
    task: str,
    groups: Sequence[str] | None = None,
) -> SampleSet:
    """Face-crop image files as a SampleSet (resized to ``size``); ids are the file stems."""
    if len(paths) != len(labels):
        raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
    images = (
        np.stack([read_crop(p, size) for p in paths]) if paths else np.zeros((0, size, size, 3), np.uint8)
    )
    return SampleSet(
        torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
        torch.as_tensor(list(labels), dtype=torch.int64),
        [task] * len(paths),
        [Path(p).stem for p in paths],
        list(groups) if groups is not None else [],
    )


def from_arrays(
    images: Sequence[np.ndarray],
    labels: Sequence[int],
    size: int,
    task: str,
    ids: Sequence[str] | None = None,
) -> SampleSet:
    """RGB uint8 (H, W, 3) face crops in memory (e.g. from the face pipeline) as a SampleSet at ``size``."""
    resized = []
    for image in images:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"face crops must be RGB uint8 (H, W, 3), got {image.dtype} {image.shape}")
        shrink = min(image.shape[:2]) >= size
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
        resized.append(cv2.resize(image, (size, size), interpolation=interpolation))
    stack = np.stack(resized) if resized else np.zeros((0, size, size, 3), np.uint8)
    return SampleSet(
        torch.from_numpy(stack).permute(0, 3, 1, 2).contiguous(),
        torch.as_tensor(list(labels), dtype=torch.int64),
        [task] * len(resized),
        list(ids) if ids is not None else [],
    )


def image_files(folder: Path | str) -> list[Path]:
    """Image files under ``folder``, sorted by relative path so every machine agrees."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SampleError(f"{folder}: no such folder of face images")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def load_labelled_folder(folder: Path | str, size: int, task: str) -> SampleSet:
    """Crops laid out as ``folder/real/*`` and ``folder/fake/*`` (either may be missing, not both)."""
    folder = Path(folder)
    paths: list[Path] = []
    labels: list[int] = []
    for name, label in (("real", REAL), ("fake", FAKE)):
        if (folder / name).is_dir():
            files = image_files(folder / name)
            paths += files
            labels += [label] * len(files)
    if not paths:
        raise SampleError(f"{folder}: no face images in real/ or fake/ sub-folders")
    return load_images(paths, labels, size, task)
