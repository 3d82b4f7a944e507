"""One colour per outcome, shared by the table, the big label and the probability bars."""
from __future__ import annotations

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
