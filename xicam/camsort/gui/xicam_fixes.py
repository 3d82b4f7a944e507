"""Fixes for Xi-cam 2.4.6 widgets that break on Python 3.11 with PyQt5 (Qt side of ``compat``).

``SearchLineEdit.resizeEvent`` passes a float to ``QWidget.move``, which PyQt5 on Python 3.10+
rejects with a TypeError on every resize of Xi-cam's main window; the same layout with integers.
"""
from __future__ import annotations

from typing import Any


def _resize_event(self: Any, event: Any) -> None:
    from qtpy.QtWidgets import QStyle

    size = self.clearButton.sizeHint()
    frame = self.style().pixelMetric(QStyle.PM_DefaultFrameWidth)
    top = (self.rect().bottom() + 1 - size.height()) // 2
    self.clearButton.move(self.rect().right() - frame - size.width(), top)
    self.searchButton.move(self.rect().left() + 1, top)


def apply() -> None:
    """Install the fixes (idempotent)."""
    from xicam.gui.widgets.searchlineedit import SearchLineEdit

    SearchLineEdit.resizeEvent = _resize_event


apply()
