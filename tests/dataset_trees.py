"""Miniature copies of the real dataset layouts, built by the tests: short generated videos, real split files."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np

from tests import synthetic_media

FFPP_PAIRS = {"train": [["000", "003"], ["001", "002"]], "val": [["004", "005"]], "test": [["006", "007"]]}
FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")


@functools.cache
def tiny_video() -> bytes:
    """A valid 3-frame 64x48 MPEG-4 video, made once and copied wherever a tree needs a video."""
    with tempfile.TemporaryDirectory() as folder:
        frames = [np.full((48, 64, 3), 40 * (i + 1), np.uint8) for i in range(3)]
        return synthetic_media.write_video(Path(folder) / "tiny.mp4", frames).read_bytes()


def put(path: Path, data: bytes | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tiny_video() if data is None else data)
    return path


def ffpp_tree(
    root: Path, compressions=("c23",), methods=FFPP_METHODS, splits=True, extra_real=(), data=None
) -> Path:
    """FF++: youtube originals 000-007 (+ extra), each method's fakes for both orders of every pair.

    ``data`` (optional) gives a video's bytes from its method ("real" for the originals).
    """
    ids = sorted({i for pairs in FFPP_PAIRS.values() for pair in pairs for i in pair} | set(extra_real))
    for comp in compressions:
        for video_id in ids:
            video = data("real") if data else None
            put(root / "original_sequences" / "youtube" / comp / "videos" / f"{video_id}.mp4", video)
        for method in methods:
            for pairs in FFPP_PAIRS.values():
                for a, b in pairs:
                    for name in (f"{a}_{b}", f"{b}_{a}"):
                        video = data(method) if data else None
                        put(root / "manipulated_sequences" / method / comp / "videos" / f"{name}.mp4", video)
    if splits:
        (root / "splits").mkdir(parents=True, exist_ok=True)
        for split, pairs in FFPP_PAIRS.items():
            (root / "splits" / f"{split}.json").write_text(json.dumps(pairs, indent=2))
    return root


def dfd_tree(root: Path, compression: str = "c23") -> Path:
    """DFD in the FF++ layout: actor videos and DeepFakeDetection fakes for actors 01-04."""
    for actor in ("01", "02", "03", "04"):
        put(root / "original_sequences" / "actors" / compression / "videos" / f"{actor}__walking.mp4")
        put(root / "original_sequences" / "actors" / compression / "videos" / f"{actor}__podium_speech.mp4")
        other = f"{(int(actor) % 4) + 1:02d}"
        name = f"{actor}_{other}__walking__ABCD1234.mp4"
        put(root / "manipulated_sequences" / "DeepFakeDetection" / compression / "videos" / name)
    return root


CELEB_TEST_LIST = [
    "1 YouTube-real/00001.mp4",
    "1 Celeb-real/id0_0001.mp4",
    "0 Celeb-synthesis/id0_id1_0001.mp4",
    "0 Celeb-synthesis/id1_id0_0009.mp4",  # listed, but not on disk
]


def celebdf_tree(root: Path, youtube: str = "YouTube-real", nested: bool = False, data=None) -> Path:
    """Celeb-DF v2: a few videos per folder, optionally under videos/, and the official test list.

    ``data`` (optional) gives a video's bytes from its label ("real" or "fake").
    """

    def folder(name: str) -> Path:
        return root / name / "videos" if nested else root / name

    for name in ("id0_0000.mp4", "id0_0001.mp4", "id1_0000.mp4"):
        put(folder("Celeb-real") / name, data("real") if data else None)
    for name in ("id0_id1_0000.mp4", "id0_id1_0001.mp4", "id1_id0_0000.mp4"):
        put(folder("Celeb-synthesis") / name, data("fake") if data else None)
    for name in ("00000.mp4", "00001.mp4"):
        put(folder(youtube) / name, data("real") if data else None)
    (root / "List_of_testing_videos.txt").write_text("\n".join(CELEB_TEST_LIST) + "\n")
    return root


DFDC_INDEX = {
    "original_videos/1255229/1255229_001.mp4": {"label": "real", "set": "train", "augmentations": False},
    "original_videos/1255229/1255229_002.mp4": {"label": "real", "set": "test", "augmentations": False},
    "method_A/1255229/1255229_A/1255229_A_001.mp4": {"label": "fake", "set": "train", "target_id": "1255229"},
    "method_B/1255229/1255229_B/1255229_B_002.mp4": {"label": "fake", "set": "test", "target_id": "1255229"},
    "method_A/1300001/1300001_A/1300001_A_001.mp4": {"label": "fake", "set": "train", "target_id": "1300001"},
}


def dfdc_tree(root: Path) -> Path:
    for relative in DFDC_INDEX:
        put(root / relative)
    (root / "dataset.json").write_text(json.dumps(DFDC_INDEX, indent=1))
    return root


def folder_tree(root: Path) -> Path:
    """A plain folder: real/ with videos and an image, fake/<method>/ and a loose fake."""
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        put(root / "real" / name)
    put(root / "real" / "photo.png", cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    for name in ("x.mp4", "y.mp4"):
        put(root / "fake" / "SimSwap" / name)
    put(root / "fake" / "loose.mp4")
    return root


DFDC_PARTS = {
    "dfdc_train_part_0": {
        "realaaaaaa.mp4": {"label": "REAL", "split": "train", "original": None},
        "fakeaaaa01.mp4": {"label": "FAKE", "split": "train", "original": "realaaaaaa.mp4"},
        "fakebbbb01.mp4": {
            "label": "FAKE",
            "split": "train",
            "original": "realbbbbbb.mp4",
        },  # original: part 1
        "fakezzzz01.mp4": {
            "label": "fake",
            "split": "train",
            "original": "realzzzzzz.mp4",
        },  # original: nowhere
        "goneaaaa01.mp4": {"label": "FAKE", "split": "train", "original": "realaaaaaa.mp4"},  # not on disk
    },
    "dfdc_train_part_1": {
        "realbbbbbb.mp4": {"label": "Real", "split": "train", "original": None},
        "fakebbbb02.mp4": {"label": "FAKE", "split": "train", "original": "realbbbbbb.mp4"},
        "realcccccc.mp4": {"label": "REAL", "split": "train"},  # no 'original' at all
    },
}
DFDC_ABSENT = {"goneaaaa01.mp4"}


def dfdc_full_tree(root: Path, parts: dict | None = None, data=None) -> Path:
    """The full DFDC: dfdc_train_part_N/ folders, each with its videos and its metadata.json.

    ``data`` (optional): one video's bytes for all, or a function of the label ("real" or "fake").
    """
    for part, metadata in (DFDC_PARTS if parts is None else parts).items():
        for name, info in metadata.items():
            if name not in DFDC_ABSENT:
                video = data(str(info["label"]).lower()) if callable(data) else data
                put(root / part / name, video)
        (root / part / "metadata.json").write_text(json.dumps(metadata))
    return root
