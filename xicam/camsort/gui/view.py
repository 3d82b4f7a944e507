"""The centre of the Sort stage: the frame on a log scale in Xi-cam's image view, its Grad-CAM on top."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from qtpy.QtCore import QRectF, Qt
from qtpy.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget
from xicam.gui.widgets.dynimageview import DynImageView

from .elided import ElidedLabel
from .imaging import cam_placement, display_levels, log_image
from .palette import font

HINT = "Load frames with “Add files…” or “Add folder…”"
"""Title of the view while it shows nothing."""
CAM_COLORMAP = "jet"
TRANSPARENT_BELOW, OPAQUE_FROM = 0.1, 0.5
"""CAM values fade in between these two: weak attention stays transparent so the pattern shows through."""


def cam_lookup_table() -> np.ndarray:
    """RGBA lookup table of the CAM overlay: a heat colormap whose alpha rises with the value."""
    from matplotlib import colormaps

    values = np.linspace(0.0, 1.0, 256)
    lut = colormaps[CAM_COLORMAP](values)
    lut[:, 3] = np.clip((values - TRANSPARENT_BELOW) / (OPAQUE_FROM - TRANSPARENT_BELOW), 0.0, 1.0)
    return (lut * 255).astype(np.uint8)


class PatternView(QWidget):
    """Shows one frame (log counts, detector orientation: row 0 at the top) and, toggled, its Grad-CAM."""

    def __init__(self):
        super().__init__()
        self.title = ElidedLabel(HINT)
        self.title.setFont(font(11, bold=True))
        self.overlay = QCheckBox("Grad-CAM overlay")
        self.overlay.setToolTip("Where the network looked to choose the most probable class (red: most)")
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(55)
        self.opacity.setFixedWidth(140)
        self.opacity.setToolTip("Opacity of the Grad-CAM overlay")

        self.image_view = DynImageView()
        self.image_view.setPredefinedGradient("grey")
        self.image_view.view.invertY(True)
        self.image_view.ui.roiBtn.hide()
        self.image_view.ui.menuBtn.hide()
        self.image_view.ui.histogram.item.axis.setLabel("log(1 + counts)")
        self.cam_item = pg.ImageItem(axisOrder="row-major")
        self.cam_item.setLookupTable(cam_lookup_table())
        self.cam_item.setZValue(10)
        self.image_view.view.addItem(self.cam_item)

        self.overlay.toggled.connect(self._update_overlay)
        self.opacity.valueChanged.connect(self._update_overlay)

        bar = QHBoxLayout()
        bar.addWidget(self.title, 1)
        bar.addWidget(self.overlay)
        bar.addWidget(QLabel("opacity"))
        bar.addWidget(self.opacity)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.image_view, 1)
        self._has_cam = False
        self._update_overlay()

    def show_frame(self, data: np.ndarray, cam: np.ndarray | None, title: str) -> None:
        """Show a raw frame (log scale) and its CAM (a square map at the network's input size) or none."""
        image = log_image(data)
        self.image_view.setImage(image, autoRange=True, autoLevels=False, levels=display_levels(image))
        self._has_cam = cam is not None
        if cam is not None:
            crop, (x, y, width, height) = cam_placement(cam, image.shape)
            self.cam_item.setImage(crop, levels=(0.0, 1.0), autoLevels=False)
            self.cam_item.setRect(QRectF(x, y, width, height))
        self.title.setText(title)
        self._update_overlay()

    def clear(self, title: str = HINT) -> None:
        """Show nothing (an error row, or no frame loaded)."""
        self.image_view.clear()
        self._has_cam = False
        self.title.setText(title)
        self._update_overlay()

    def set_overlay(self, on: bool) -> None:
        """Switch the Grad-CAM overlay on or off."""
        self.overlay.setChecked(on)

    def _update_overlay(self, *_: object) -> None:
        self.overlay.setEnabled(self._has_cam)
        self.opacity.setEnabled(self._has_cam and self.overlay.isChecked())
        self.cam_item.setOpacity(self.opacity.value() / 100.0)
        self.cam_item.setVisible(self._has_cam and self.overlay.isChecked())
