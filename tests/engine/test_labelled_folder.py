"""Crops in real/ and fake/ folders: the simplest hand-made task layout (and the packed GPU one)."""

import cv2
import numpy as np
import pytest

from cffd_engine.continual.samples import FAKE, REAL, SampleError, load_labelled_folder


def _write(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((20, 20, 3), value, np.uint8))


def test_images_of_every_evidence_suffix_are_read_with_their_label(tmp_path):
    _write(tmp_path / "real" / "a-00001-0123456789.jpg", 40)
    _write(tmp_path / "real" / "nested" / "b.PNG", 80)
    _write(tmp_path / "fake" / "a-00001-abcdefabcd.JPG", 200)
    (tmp_path / "fake" / "notes.txt").write_text("not a face")

    samples = load_labelled_folder(tmp_path, 16, "blend")

    assert samples.images.shape == (3, 3, 16, 16)
    assert samples.labels.tolist() == [REAL, REAL, FAKE]
    assert samples.ids == ["a-00001-0123456789", "b", "a-00001-abcdefabcd"]
    assert samples.tasks == ["blend"] * 3
    assert abs(int(samples.images[2].float().mean()) - 200) <= 2  # JPEG, resized: near the written value


def test_a_folder_without_faces_is_named(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "readme.md").write_text("x")
    with pytest.raises(SampleError, match=str(tmp_path)):
        load_labelled_folder(tmp_path, 16, "blend")
