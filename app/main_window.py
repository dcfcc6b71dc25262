"""The main window: open or drop evidence, see what it is (metadata, first frame, hashes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.workers import Job
from cffd_engine.media import video

EVIDENCE_FILTER = (
    "Evidence (*.mp4 *.mov *.avi *.mkv *.webm *.m4v *.jpg *.jpeg *.png *.webp *.bmp);;All files (*)"
)
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


def rgb_to_pixmap(rgb: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())  # copy: the QImage must not outlive the numpy buffer


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


class MainWindow(QMainWindow):
    """Evidence in: drop or open a file, read its metadata, first frame and hashes."""

    evidence_loaded = Signal(object)  # MediaInfo
    evidence_failed = Signal(str)
    hashes_ready = Signal(dict)

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("CFFD Studio")
        self.setAcceptDrops(True)
        self.resize(1100, 680)
        self._jobs: set[Job] = set()
        self._hash_job: Job | None = None
        self._frame_pixmap: QPixmap | None = None
        self.current_path: Path | None = None

        self.preview = QLabel("Drop a video or image here, or use File > Open")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(480, 360)
        self.preview.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.preview.setStyleSheet("QLabel { border: 2px dashed #8a8f98; color: #555; font-size: 15px; }")

        self.error_banner = QLabel()
        self.error_banner.setWordWrap(True)
        self.error_banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_banner.setStyleSheet(
            "QLabel { background: #fdecea; color: #8a1c12; border: 1px solid #e0a39c; padding: 8px; }"
        )
        self.error_banner.hide()

        form = QFormLayout()
        self.metadata_labels: dict[str, QLabel] = {}
        for key, title in METADATA_FIELDS:
            label = QLabel("-")
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.metadata_labels[key] = label
            form.addRow(f"{title}:", label)
        self.hash_progress = QProgressBar()
        self.hash_progress.setRange(0, 1000)
        self.hash_progress.setFormat("hashing %p%")
        self.hash_progress.hide()
        form.addRow("", self.hash_progress)

        side = QWidget()
        side.setLayout(form)
        side.setMinimumWidth(420)
        body = QHBoxLayout()
        body.addWidget(self.preview, stretch=3)
        body.addWidget(side, stretch=2)
        layout = QVBoxLayout()
        layout.addWidget(self.error_banner)
        layout.addLayout(body)
        central = QWidget()
        central.setLayout(layout)
        self.setCentralWidget(central)
        self._build_menu()
        self.statusBar().showMessage("Ready")

    def _build_menu(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open evidence...", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._choose_files)
        file_menu.addAction(open_action)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

    def _choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open evidence", "", EVIDENCE_FILTER)
        if paths:
            self.open_paths(paths)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.open_paths(paths)
            event.acceptProposedAction()

    def open_paths(self, paths: list[str | Path]) -> None:
        """Open the first file among ``paths`` (a folder contributes its files, sorted)."""
        files = []
        for path in map(Path, paths):
            files.extend(sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path])
        if not files:
            self._show_error(f"{', '.join(map(str, paths))}: nothing to open (an empty folder?)")
            return
        self.open_file(files[0])
        if len(files) > 1:
            self.statusBar().showMessage(f"Opened {files[0].name}; {len(files) - 1} more file(s) not opened")

    def open_file(self, path: Path) -> None:
        if self._hash_job is not None:
            self._hash_job.cancel()
        self.current_path = path
        self.error_banner.hide()
        for label in self.metadata_labels.values():
            label.setText("-")
        self.statusBar().showMessage(f"Reading {path.name}...")
        job = self._start(lambda control: (video.probe(path), video.read_first_frame(path)))
        job.finished.connect(lambda result: self._show_evidence(path, *result))
        job.failed.connect(self._show_error)

    def _start(self, work) -> Job:
        job = Job(work, self)
        self._jobs.add(job)
        for signal in (job.finished, job.failed, job.cancelled):
            signal.connect(lambda *_, job=job: self._jobs.discard(job))
        job.start()
        return job

    def _show_evidence(self, path: Path, info: video.MediaInfo, first_frame: np.ndarray) -> None:
        if path != self.current_path:
            return
        for key, text in describe(info).items():
            self.metadata_labels[key].setText(text)
        self.metadata_labels["sha256"].setText("computing...")
        self.metadata_labels["md5"].setText("computing...")
        pixmap = rgb_to_pixmap(first_frame)
        self.preview.setPixmap(
            pixmap.scaled(
                self.preview.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )
        self.statusBar().showMessage(f"{path.name}: {info.kind}, {info.width} x {info.height}")
        self.evidence_loaded.emit(info)
        self._hash(path)

    def _fit_preview(self) -> None:
        if self._frame_pixmap is not None:
            self.preview.setPixmap(
                self._frame_pixmap.scaled(
                    self.preview.size(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._fit_preview()

    def _hash(self, path: Path) -> None:
        self.hash_progress.setValue(0)
        self.hash_progress.show()
        job = self._start(lambda control: video.file_hashes(path, control))
        self._hash_job = job
        job.progress.connect(lambda fraction, _message: self.hash_progress.setValue(int(fraction * 1000)))
        job.finished.connect(lambda hashes: self._show_hashes(path, hashes))
        job.failed.connect(self._show_error)

    def _show_hashes(self, path: Path, hashes: dict) -> None:
        if path != self.current_path:
            return
        self.hash_progress.hide()
        self.metadata_labels["sha256"].setText(hashes["sha256"])
        self.metadata_labels["md5"].setText(hashes["md5"])
        self.hashes_ready.emit(hashes)

    def _show_error(self, message: str) -> None:
        self.hash_progress.hide()
        self.error_banner.setText(message)
        self.error_banner.show()
        self._frame_pixmap = None
        self.preview.clear()
        self.preview.setText("Drop a video or image here, or use File > Open")
        self.statusBar().showMessage("Could not open the evidence; see the message above")
        self.evidence_failed.emit(message)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        for job in list(self._jobs):
            job.cancel()
        super().closeEvent(event)
