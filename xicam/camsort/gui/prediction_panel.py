"""The right of the Sort stage: the outcome in large type, a bar per class, and the header."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (QAbstractItemView, QComboBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QProgressBar,
                            QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from .. import CLASSES, UNSURE
from ..calibration import shown
from ..ensemble import describe_members
from ..metadata_check import CHECKED_HINTS, geometry_hints, said
from .elided import ElidedLabel
from .palette import color, font
from .records import FrameResult

BAR_STEPS = 1000
NO_LABEL = "— not labelled —"
"""The label chooser's first entry: the user has not said what the frame is."""


class PredictionPanel(QWidget):
    """What the model decided about the selected frame, why it might be unsure, and what the header says;
    and the class the user says it is (**Your label**), which **Adapt model** learns from."""

    sigLabelled = Signal(object, object)
    """The shown :class:`FrameResult` and the class the user chose for it (None: label removed)."""

    def __init__(self):
        super().__init__()
        self.setMinimumWidth(340)
        self.file = ElidedLabel()
        self.file.setFont(font(bold=True))
        self.path = ElidedLabel()
        self.path.setFont(font(8))
        self.label = QLabel("—")
        self.label.setAlignment(Qt.AlignCenter)
        self.label.setFont(font(30, bold=True))
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setFont(font(12))
        self.detail.setAlignment(Qt.AlignCenter)
        self.check = QLabel()
        self.check.setWordWrap(True)
        self.truth = QComboBox()
        self.truth.addItems([NO_LABEL, *CLASSES])
        self.truth.setToolTip("What this frame really is, if you know: labelled frames can adapt the model "
                              "to your instrument (Adapt model…)")
        self.truth.activated.connect(self._labelled)
        self._row: FrameResult | None = None

        bars = QGridLayout()
        self.bars: dict[str, QProgressBar] = {}
        for row, name in enumerate(CLASSES):
            bars.addWidget(QLabel(name.replace("_", " ")), row, 0)
            bar = QProgressBar()
            bar.setRange(0, BAR_STEPS)
            bar.setTextVisible(True)
            bar.setAlignment(Qt.AlignCenter)
            bar.setFixedHeight(24)
            bars.addWidget(bar, row, 1)
            self.bars[name] = bar

        self.metadata = QTableWidget(0, 2)
        self.metadata.setHorizontalHeaderLabels(["Header key", "Value"])
        self.metadata.verticalHeader().hide()
        self.metadata.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.metadata.horizontalHeader().resizeSection(0, 150)
        self.metadata.horizontalHeader().setStretchLastSection(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.file)
        layout.addWidget(self.path)
        layout.addWidget(self.label)
        layout.addWidget(self.detail)
        own = QHBoxLayout()
        own.addWidget(QLabel("Your label:"))
        own.addWidget(self.truth, 1)
        layout.addLayout(own)
        layout.addWidget(_rule())
        layout.addWidget(_heading("Class probabilities (calibrated)"))
        layout.addLayout(bars)
        layout.addWidget(_rule())
        layout.addWidget(_heading("Header check"))
        layout.addWidget(self.check)
        layout.addWidget(_heading("Header metadata"))
        layout.addWidget(self.metadata, 1)
        self.threshold: float | None = None
        self.show_result(None)

    def show_result(self, row: FrameResult | None) -> None:
        """Fill the panel for one row (None: nothing selected)."""
        self._row = row
        self.truth.setCurrentText((row and row.truth) or NO_LABEL)
        self.truth.setEnabled(row is not None and not row.error)
        self.file.setText("" if row is None else row.name)
        self.path.setText("" if row is None else str(Path(row.source).parent))
        label = "—" if row is None else row.label
        self.label.setText(label.replace("_", " "))
        self.label.setStyleSheet(f"color: {color(label)};")
        self.detail.setText(self._detail(row))
        for name, bar in self.bars.items():
            p = 0.0 if row is None else row.probability(name)
            bar.setValue(round(p * BAR_STEPS))
            bar.setFormat(f"{shown(p, 3):.1%}")
            top = row is not None and not row.error and name == row.top
            bar.setStyleSheet(f"QProgressBar::chunk {{ background: {color(name)}; }}"
                              + ("QProgressBar { font-weight: bold; }" if top else ""))
        self._show_check(row)
        self._show_metadata({} if row is None else row.metadata)

    def _labelled(self, index: int) -> None:
        if self._row is not None:
            self.sigLabelled.emit(self._row, None if index == 0 else self.truth.itemText(index))

    def _detail(self, row: FrameResult | None) -> str:
        if row is None:
            return "Select a frame in the table."
        if row.error:
            return f"Not sorted: {row.error}"
        members = f"<br><small>Members: {describe_members(list(row.members))}</small>" if row.members else ""
        if row.label == UNSURE:
            limit = "" if self.threshold is None else f" (below the model's threshold of {self.threshold:.0%})"
            return f"Abstains: best guess <b>{row.top}</b> at {shown(row.p_top, 2):.0%}{limit}{members}"
        return f"{row.confidence.capitalize()} confidence: p = {shown(row.p_top, 2):.2f}{members}"

    def _show_check(self, row: FrameResult | None) -> None:
        hints = {} if row is None else {k: v for k, v in geometry_hints(row.metadata, row.source, row.shape).items()
                                        if k in CHECKED_HINTS}
        weighed = f"⚖ {row.weighed[0].upper()}{row.weighed[1:]}." if row is not None and row.weighed else ""
        if row is None or row.error:
            text, style = "", ""
        elif row.check:
            text, style = (f"⚠ The header or file name disagrees: {row.check}.",
                           "background: #fff3cd; color: #7a5a00; padding: 4px;")
        elif weighed:
            text, style = "", "background: #e3f2fd; color: #0d47a1; padding: 4px;"
        elif hints:
            text, style = f"✓ Consistent with the header and file name ({said(hints)}).", "color: #2e7d32;"
        else:
            text, style = "Header and file name hold no incidence angle or distance to check against.", "color: #666;"
        self.check.setText("<br>".join(filter(None, [weighed, text])))
        self.check.setStyleSheet(style)

    def _show_metadata(self, metadata: dict[str, Any]) -> None:
        keys = sorted(metadata, key=str.lower)
        self.metadata.setRowCount(len(keys))
        for i, key in enumerate(keys):
            value = metadata[key]
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            self.metadata.setItem(i, 0, QTableWidgetItem(str(key)))
            item = QTableWidgetItem(text if len(text) <= 200 else text[:197] + "...")
            item.setToolTip(text[:2000])
            self.metadata.setItem(i, 1, item)


def _heading(text: str) -> QLabel:
    return QLabel(f"<b>{text}</b>")


def _rule() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.HLine)
    line.setFrameShadow(QFrame.Sunken)
    return line
