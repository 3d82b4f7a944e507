"""The CamSort GUIPlugin: Xi-cam discovers it through the ``xicam.plugins.GUIPlugin`` entry point."""
from __future__ import annotations

from xicam.plugins import GUIPlugin

from .stage import SortStage


class CamSortPlugin(GUIPlugin):
    """Sort detector frames by technique inside Xi-cam: one stage, **Sort** (see :class:`SortStage`)."""

    name = "CamSort"

    def __init__(self):
        self.sort_stage = SortStage()
        self.stages = {"Sort": self.sort_stage.layout}
        super().__init__()
