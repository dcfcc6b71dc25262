"""One headless OpenCV beside PySide6, able to write and read back the video codec the tests use."""

from importlib import metadata
from pathlib import Path

import numpy as np


def test_exactly_one_opencv_distribution_and_it_is_headless():
    opencv = sorted(
        d.metadata["Name"].lower()
        for d in metadata.distributions()
        if d.metadata["Name"].lower().startswith("opencv")
    )
    assert opencv == ["opencv-contrib-python-headless"]


def test_cv2_and_pyside6_live_together_without_cv2_qt_plugins():
    import cv2
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    assert app is not None
    assert not (Path(cv2.__file__).parent / "qt" / "plugins").exists()


def test_cv2_writes_and_reads_back_mp4v(tmp_path):
    import cv2

    path = tmp_path / "gradient.mp4"
    frames = [np.full((64, 96, 3), 20 * i, np.uint8) for i in range(8)]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (96, 64))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    capture = cv2.VideoCapture(str(path))
    decoded = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        decoded.append(frame)
    capture.release()
    assert len(decoded) == len(frames)
    assert all(abs(float(d.mean()) - float(f.mean())) < 4 for d, f in zip(decoded, frames, strict=True))
