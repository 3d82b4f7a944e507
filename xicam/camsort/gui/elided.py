"""A label for file names and paths, which can be longer than any window is wide."""
from __future__ import annotations

from qtpy.QtCore import QEvent, Qt
from qtpy.QtWidgets import QLabel, QSizePolicy


class ElidedLabel(QLabel):
    """One line that shortens its text in the middle (…) to fit its width, instead of widening the window for
    a long file name: both ends stay (a title's outcome and a name's extension, an error's file and reason);
    the whole text is its tooltip and :meth:`text`."""

    def __init__(self, text: str = ""):
        super().__init__()
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self._text = ""
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        self._text = text
        self.setToolTip(text)
        self._elide()

    def text(self) -> str:
        return self._text

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._elide()

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().changeEvent(event)
        if event.type() == QEvent.FontChange:
            self._elide()

    def _elide(self) -> None:
        super().setText(self.fontMetrics().elidedText(self._text, Qt.ElideMiddle, max(self.width(), 1)))
