"""The frame viewer: a judged frame with its face boxes and, on key frames, the Grad-CAM heatmap."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.theme import NOTE_STYLE


@dataclass
class FaceBox:
    """A face to outline: box (x, y, w, h) in frame pixels, its caption and colour; bold when ``emphasised``."""

    box: list[float]
    caption: str
    colour: str
    emphasised: bool = True


class FrameCanvas(QWidget):
    """Paints the frame fitted to the widget, the heatmap over it at ``opacity``, then the boxes."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(320, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.image: QImage | None = None
        self.frame_size = (0, 0)
        self.heat: QImage | None = None
        self.show_heat = True
        self.opacity = 0.7
        self.faces: list[FaceBox] = []
        self.placeholder = ""
        self.setToolTip(
            "Bold box: the face track selected in the table above, whose heatmap is shown. Thin dashed "
            "boxes: other faces in this frame; select their track in the table, or click their curve on "
            "the timeline, to follow them."
        )

    def frame_rect(self) -> QRectF:
        """Where the frame lies in the widget (fitted, centred)."""
        width, height = self.frame_size
        if not width or not height:
            return QRectF()
        scale = min(self.width() / width, self.height() / height)
        shown_w, shown_h = width * scale, height * scale
        return QRectF((self.width() - shown_w) / 2, (self.height() - shown_h) / 2, shown_w, shown_h)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#202124"))
        if self.image is None:
            painter.setPen(QColor("#e8eaed"))
            painter.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder
            )
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        target = self.frame_rect()
        painter.drawImage(target, self.image)
        if self.heat is not None and self.show_heat:
            painter.setOpacity(self.opacity)
            painter.drawImage(target, self.heat)
            painter.setOpacity(1.0)
        scale = target.width() / self.frame_size[0]
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(painter.font())
        font.setPointSize(9)
        font.setBold(True)
        painter.setFont(font)
        # The selected track's box last, on top of any it overlaps.
        for face in sorted(self.faces, key=lambda face: face.emphasised):
            x, y, w, h = face.box
            box = QRectF(target.x() + x * scale, target.y() + y * scale, w * scale, h * scale)
            colour = QColor(face.colour)
            pen = QPen(colour, 3)
            if not face.emphasised:
                colour.setAlpha(130)
                pen = QPen(colour, 1, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawRect(box)
            text = painter.fontMetrics().boundingRect(face.caption).adjusted(-4, -2, 4, 2)
            top = box.top() - text.height() if box.top() - text.height() >= 0 else box.bottom()
            caption = QRectF(box.left(), top, text.width(), text.height())
            painter.fillRect(caption, QColor(0, 0, 0, 170 if face.emphasised else 80))
            painter.drawText(caption, Qt.AlignmentFlag.AlignCenter, face.caption)


class FrameViewer(QWidget):
    """The canvas with the heatmap controls and the frame's place in the video; step buttons emit ``step``."""

    step = Signal(int)  # -1 previous, +1 next
    overlay_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.canvas = FrameCanvas()
        self.overlay_check = QCheckBox("Grad-CAM heatmap")
        self.overlay_check.setChecked(True)
        self.overlay_check.setToolTip(
            "Where in the selected track's face the evidence for 'manipulated' lies: kept by the analysis for "
            "the key frames (stars on the timeline), computed when you stop on any other frame"
        )
        self.overlay_check.toggled.connect(self._toggle_overlay)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(70)
        self.opacity_slider.setMinimumWidth(90)
        self.opacity_slider.setMaximumWidth(160)
        self.opacity_slider.setToolTip("Opacity of the heatmap")
        self.opacity_slider.valueChanged.connect(self._set_opacity)
        self.previous_button = QToolButton(text="◀")
        self.previous_button.setToolTip("Previous judged frame (Left arrow)")
        self.previous_button.clicked.connect(lambda: self.step.emit(-1))
        self.next_button = QToolButton(text="▶")
        self.next_button.setToolTip("Next judged frame (Right arrow)")
        self.next_button.clicked.connect(lambda: self.step.emit(1))
        self.position_label = QLabel("-")
        self.note = QLabel()
        self.note.setStyleSheet(NOTE_STYLE)
        self.note.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(self.previous_button)
        controls.addWidget(self.position_label)
        controls.addWidget(self.next_button)
        controls.addStretch(1)
        controls.addWidget(self.overlay_check)
        controls.addWidget(QLabel("opacity"))
        controls.addWidget(self.opacity_slider)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, stretch=1)
        layout.addLayout(controls)
        layout.addWidget(self.note)

    @property
    def heatmap_shown(self) -> bool:
        """Whether a heatmap is drawn on the frame now."""
        return self.canvas.image is not None and self.canvas.heat is not None and self.canvas.show_heat

    def show_frame(
        self,
        image: QImage | None,
        frame_size: tuple[int, int],
        faces: list[FaceBox],
        heat: QImage | None,
        position: str,
        note: str,
    ) -> None:
        canvas = self.canvas
        canvas.image, canvas.frame_size, canvas.faces, canvas.heat = image, frame_size, faces, heat
        canvas.placeholder = "Reading the frames of the evidence..." if image is None else ""
        self.position_label.setText(position)
        self.note.setText(note)
        self.overlay_check.setEnabled(heat is not None)
        canvas.update()

    def show_message(self, message: str) -> None:
        canvas = self.canvas
        canvas.image, canvas.heat, canvas.faces, canvas.placeholder = None, None, [], message
        self.position_label.setText("-")
        self.note.setText("")
        canvas.update()

    def _toggle_overlay(self, shown: bool) -> None:
        self.canvas.show_heat = shown
        self.canvas.update()
        self.overlay_toggled.emit(shown)

    def _set_opacity(self, value: int) -> None:
        self.canvas.opacity = value / 100
        self.canvas.update()
