"""What an evidence file is: its metadata, its first frame and its hashes, read in the background."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QPixmap
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QWidget

from app.images import fitted, rgb_to_pixmap
from app.workers import JobGroup
from cffd_engine.media import video

DROP_HINT = "Drop videos, images or folders here, or use File > Open"
METADATA_FIELDS = (
    ("file", "File"),
    ("container", "Container"),
    ("codec", "Codec"),
    ("resolution", "Resolution"),
    ("fps", "Frame rate"),
    ("frame_count", "Frames"),
    ("duration", "Duration"),
    ("file_size", "File size"),
    ("rotation", "Rotation"),
    ("creation_time", "Created"),
    ("encoder", "Encoder"),
    ("sha256", "SHA-256"),
    ("md5", "MD5"),
)


def describe(info: video.MediaInfo) -> dict[str, str]:
    """The metadata of an evidence file as the texts the form shows."""
    size_mb = info.file_size / 1e6
    return {
        "file": info.path,
        "container": info.container,
        "codec": info.codec,
        "resolution": f"{info.width} x {info.height}",
        "fps": f"{info.fps:.3f}" if info.kind == "video" else "still image",
        "frame_count": str(info.frame_count),
        "duration": f"{info.duration_s:.2f} s" if info.kind == "video" else "-",
        "file_size": f"{size_mb:.2f} MB ({info.file_size:,} bytes)",
        "rotation": f"{info.rotation} degrees",
        "creation_time": info.creation_time or "not recorded",
        "encoder": info.encoder or "not recorded",
    }


class EvidencePanel(QWidget):
    """The first frame beside the metadata form; ``show_file`` reads them (and the hashes) off the GUI thread."""

    evidence_loaded = Signal(object)  # MediaInfo
    evidence_failed = Signal(str)
    hashes_ready = Signal(dict)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._jobs = JobGroup()
        self._hash_job = None
        self._frame_pixmap: QPixmap | None = None
        self._intake_hashes: dict[str, str] | None = None
        self.current_path: Path | None = None

        self.preview = QLabel(DROP_HINT)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(320, 240)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.preview.setStyleSheet("QLabel { border: 2px dashed #8a8f98; color: #555; font-size: 15px; }")

        form = QFormLayout()
        self.metadata_labels: dict[str, QLabel] = {}
        for key, title in METADATA_FIELDS:
            label = QLabel("-")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if key in ("sha256", "md5"):
                # Hashes do not wrap, and a compact fixed-width font keeps them whole on screen.
                font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
                font.setPointSizeF(font.pointSizeF() * 0.9)
                label.setFont(font)
            self.metadata_labels[key] = label
            form.addRow(f"{title}:", label)
        self.hash_progress = QProgressBar()
        self.hash_progress.setRange(0, 1000)
        self.hash_progress.setFormat("hashing %p%")
        self.hash_progress.hide()
        form.addRow("", self.hash_progress)
        side = QWidget()
        side.setLayout(form)
        side.setMinimumWidth(430)
        layout = QHBoxLayout(self)
        layout.addWidget(self.preview, stretch=3)
        layout.addWidget(side, stretch=2)

    def show_file(self, path: Path, intake_hashes: dict[str, str] | None = None) -> None:
        """Read ``path``'s metadata and first frame; hash it unless the hashes taken at intake are given."""
        if self._hash_job is not None:
            self._hash_job.abandon()
        self.current_path = path
        self._intake_hashes = intake_hashes
        for label in self.metadata_labels.values():
            label.setText("-")
        job = self._jobs.start(lambda control: (video.probe(path), video.read_first_frame(path)))
        job.finished.connect(lambda result: self._show_evidence(path, *result))
        job.failed.connect(lambda message: self._show_error(path, message))

    def _show_evidence(self, path: Path, info: video.MediaInfo, first_frame: np.ndarray) -> None:
        if path != self.current_path:
            return
        for key, text in describe(info).items():
            self.metadata_labels[key].setText(text)
        self.metadata_labels["sha256"].setText("computing...")
        self.metadata_labels["md5"].setText("computing...")
        self._frame_pixmap = rgb_to_pixmap(first_frame)
        self._fit_preview()
        self.evidence_loaded.emit(info)
        if self._intake_hashes:
            self._show_hashes(path, self._intake_hashes)
        else:
            self._hash(path)

    def _fit_preview(self) -> None:
        if self._frame_pixmap is not None:
            self.preview.setPixmap(fitted(self._frame_pixmap, self.preview.width(), self.preview.height()))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._fit_preview()

    def _hash(self, path: Path) -> None:
        self.hash_progress.setValue(0)
        self.hash_progress.show()
        job = self._jobs.start(lambda control: video.file_hashes(path, control))
        self._hash_job = job
        job.progress.connect(lambda fraction, _message: self.hash_progress.setValue(int(fraction * 1000)))
        job.finished.connect(lambda hashes: self._show_hashes(path, hashes))
        job.failed.connect(lambda message: self._show_error(path, message))

    def _show_hashes(self, path: Path, hashes: dict) -> None:
        if path != self.current_path:
            return
        self.hash_progress.hide()
        self.metadata_labels["sha256"].setText(hashes["sha256"])
        self.metadata_labels["md5"].setText(hashes["md5"])
        self.hashes_ready.emit(hashes)

    def _show_error(self, path: Path, message: str) -> None:
        if path != self.current_path:
            return
        self.hash_progress.hide()
        self._frame_pixmap = None
        self.preview.clear()
        self.preview.setText(DROP_HINT)
        self.evidence_failed.emit(message)

    def close_jobs(self) -> None:
        self._jobs.abandon_all()
