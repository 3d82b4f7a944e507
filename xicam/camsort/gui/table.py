"""The batch table: one row per loaded frame, filterable by outcome, selecting the shown frame."""
from __future__ import annotations

import os
from typing import Any

from qtpy.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from qtpy.QtGui import QColor
from qtpy.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QTableView,
                            QVBoxLayout, QWidget)

from .. import CLASSES, UNSURE
from ..calibration import shown
from .palette import ERROR, color, font
from .records import FrameResult

COLUMNS = ("File", "Frame", "Prediction", "Confidence", "Your label", "Note")
FILE, FRAME, PREDICTION, CONFIDENCE, LABEL, NOTE = range(len(COLUMNS))
ALL = "All outcomes"
FILTERS = (ALL, *CLASSES, UNSURE, ERROR)
"""Choices of the filter combo box: everything, or one outcome."""


class ResultsModel(QAbstractTableModel):
    """The rows of the batch, appended as the worker streams them in."""

    ResultRole = Qt.UserRole + 1
    """Data role giving a row's :class:`FrameResult`."""

    def __init__(self):
        super().__init__()
        self.rows: list[FrameResult] = []

    def append(self, rows: list[FrameResult]) -> None:
        """Add rows at the end."""
        if rows:
            self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(rows) - 1)
            self.rows.extend(rows)
            self.endInsertRows()

    def relabel(self, key: tuple, label: str | None) -> None:
        """Give the rows of one frame (:attr:`FrameResult.key`) the user's label and redraw them."""
        for i, row in enumerate(self.rows):
            if row.key == key:
                row.truth = label
                self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    def clear(self) -> None:
        """Remove every row."""
        self.beginResetModel()
        self.rows = []
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.DisplayRole) -> Any:
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], index.column()
        if role == self.ResultRole:
            return row
        if role == Qt.DisplayRole:
            return _text(row, column)
        if role == Qt.UserRole:
            return _sort_key(row, column)
        if role == Qt.ForegroundRole and (column == PREDICTION or row.error):
            return QColor(color(row.label))
        if role == Qt.ForegroundRole and column == LABEL and row.truth:
            return QColor(color(row.truth))
        if role == Qt.FontRole and column == PREDICTION:
            return font(bold=True)
        if role == Qt.ToolTipRole:
            return row.source if column == FILE else (row.error or _header_note(row) or None)
        return None


def _text(row: FrameResult, column: int) -> Any:
    if column == FILE:
        return os.path.basename(row.source)
    if column == FRAME:
        return row.frame_label
    if column == PREDICTION:
        return row.label
    if column == CONFIDENCE:
        return "" if row.error else (f"{shown(row.p_top, 2):.0%}"
                                     + (f" ({row.confidence})" if row.confidence != "high" else ""))
    if column == LABEL:
        return row.truth or ""
    if row.error:
        return row.error
    guess = f"best guess {row.top}" if row.label == UNSURE else ""
    return "; ".join(filter(None, [guess, _header_note(row)]))


def _header_note(row: FrameResult) -> str:
    """How the header and the file name weighed the decision, and what the header says against it."""
    return "; ".join(filter(None, [row.weighed, f"header: {row.check}" if row.check else ""]))


def _sort_key(row: FrameResult, column: int) -> Any:
    """What a click on a column header sorts by: the number for confidence, frames in index order, else the text."""
    if column == CONFIDENCE:
        return row.p_top
    if column == FRAME:  # a text Qt can compare: the file's own frames first, then by dataset, by index
        return f"{row.dataset or ''}#{'' if row.frame is None else f'{row.frame:09d}'}"
    return str(_text(row, column))


class BatchTable(QWidget):
    """The table with its outcome filter and a count; emits the selected row's :class:`FrameResult`."""

    sigSelected = Signal(object)

    def __init__(self, model: ResultsModel):
        super().__init__()
        self.model = model
        self.proxy = QSortFilterProxyModel()
        self.proxy.setSourceModel(model)
        self.proxy.setFilterKeyColumn(PREDICTION)
        self.proxy.setSortRole(Qt.UserRole)
        self.filter = QComboBox()
        self.filter.addItems(FILTERS)
        self.filter.setToolTip("Show only the frames with this outcome")
        self.filter.currentTextChanged.connect(self._apply_filter)
        self.count = QLabel()
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SingleSelection)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.AscendingOrder)  # keep load order until a header is clicked
        self.view.verticalHeader().setDefaultSectionSize(22)
        header = self.view.horizontalHeader()
        for column, mode in enumerate((QHeaderView.Interactive, QHeaderView.ResizeToContents,
                                       QHeaderView.ResizeToContents, QHeaderView.ResizeToContents,
                                       QHeaderView.ResizeToContents, QHeaderView.Stretch)):
            header.setSectionResizeMode(column, mode)
        header.resizeSection(0, 360)
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        for signal in (model.rowsInserted, model.modelReset, self.proxy.layoutChanged):
            signal.connect(self._update_count)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show:"))
        bar.addWidget(self.filter)
        bar.addStretch(1)
        bar.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.view)
        self._update_count()

    def set_filter(self, outcome: str) -> None:
        """Show only rows whose prediction is ``outcome`` (one of :data:`FILTERS`; :data:`ALL` shows all)."""
        self.filter.setCurrentText(outcome)

    def _apply_filter(self, outcome: str) -> None:
        self.proxy.setFilterRegularExpression("" if outcome == ALL else f"^{outcome}$")
        self._update_count()

    def visible_rows(self) -> list[FrameResult]:
        """The rows that pass the filter, in display order."""
        return [self.proxy.index(i, 0).data(ResultsModel.ResultRole) for i in range(self.proxy.rowCount())]

    def select(self, n: int) -> None:
        """Select the n-th visible row (which shows it)."""
        self.view.selectRow(n)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.sigSelected.emit(current.data(ResultsModel.ResultRole))

    def _update_count(self, *_: Any) -> None:
        rows = self.model.rows
        errors = sum(1 for r in rows if r.error)
        shown = self.proxy.rowCount()
        self.count.setText(f"{len(rows)} frame(s), {errors} error(s)"
                           + ("" if shown == len(rows) else f" — showing {shown}"))
