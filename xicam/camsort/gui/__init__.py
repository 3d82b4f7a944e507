"""The CamSort Xi-cam GUI: the plugin, its Sort stage and their widgets (all the Qt of camsort lives here).

``compat`` is imported first so that Xi-cam 2.4.6 and pyqtgraph 0.11 import on Python 3.11/numpy 2.
"""
from __future__ import annotations

from .. import compat  # noqa: F401  (must precede every xicam and pyqtgraph import)

from . import xicam_fixes  # noqa: F401, E402
from .plugin import CamSortPlugin  # noqa: E402

__all__ = ["CamSortPlugin"]
