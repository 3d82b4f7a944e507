"""One colour per outcome, shared by the table, the big label and the probability bars; and the stage's fonts."""
from __future__ import annotations

from qtpy.QtGui import QFont

from .. import NOT_SCATTERING, UNSURE

ERROR = "ERROR"
"""Outcome shown for a file that could not be read or predicted."""

COLORS: dict[str, str] = {
    "SAXS": "#1f77b4", "WAXS": "#2ca02c", "GISAXS": "#9467bd", "GIWAXS": "#d35400",
    NOT_SCATTERING: "#7f7f7f", UNSURE: "#b8860b", ERROR: "#c0392b",
}
"""Hex colour of each outcome (techniques, NOT_SCATTERING, UNSURE, ERROR)."""


def color(label: str) -> str:
    """The colour of an outcome (grey for anything unknown)."""
    return COLORS.get(label, "#555555")


def font(point_size: int | None = None, bold: bool = False) -> QFont:
    """The application's font, at ``point_size`` (None: its own size), bold or not."""
    f = QFont()
    if point_size is not None:
        f.setPointSize(point_size)
    f.setBold(bold)
    return f
