"""Pictures between numpy (the engine's RGB arrays) and Qt (QImage, QPixmap), and the heatmap colours."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap

# Grad-CAM colours: the heat's colour from the "turbo" map, and an opacity that grows with the
# heat, so a cold region leaves the face visible instead of tinting it blue.
_HEAT_LUT = pg.colormap.get("turbo").getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)
_HEAT_ALPHA = np.clip(np.linspace(0.0, 1.0, 256) * 1.6 - 0.1, 0.0, 1.0)


def rgb_to_image(rgb: np.ndarray) -> QImage:
    """An RGB uint8 array as a QImage that owns its pixels (any thread)."""
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    image = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return image.copy()  # the QImage must not outlive the numpy buffer


def rgb_to_pixmap(rgb: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(rgb_to_image(rgb))


def png_to_pixmap(png: bytes) -> QPixmap:
    pixmap = QPixmap()
    pixmap.loadFromData(png, "PNG")
    return pixmap


def heat_to_image(heat: np.ndarray) -> QImage:
    """A heatmap in [0, 1] (H, W) as a see-through colour picture: clear where cold, opaque where hot."""
    levels = np.clip(np.nan_to_num(heat) * 255, 0, 255).astype(np.uint8)
    rgba = np.empty((*levels.shape, 4), np.uint8)
    rgba[..., :3] = _HEAT_LUT[levels]
    rgba[..., 3] = (_HEAT_ALPHA[levels] * 255).astype(np.uint8)
    height, width = levels.shape
    image = QImage(rgba.data, width, height, 4 * width, QImage.Format.Format_RGBA8888)
    return image.copy()


def fitted(pixmap: QPixmap, width: int, height: int) -> QPixmap:
    return pixmap.scaled(
        width, height, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
