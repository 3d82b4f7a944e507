"""What the Sort stage knows about one loaded frame: its outcome, or why it has none."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import CLASSES
from .palette import ERROR


@dataclass
class FrameResult:
    """One row of the batch table.

    ``label`` is a class, UNSURE or ERROR; ``top`` the most probable class even when unsure;
    ``cam`` the Grad-CAM of ``top`` at the network's input size (None without a CNN or on error);
    ``check`` what the header's geometry says against the label ('' when nothing); ``weighed`` how the
    header and the file name weighed the decision ('' when they did not); ``members`` each
    member's top class and probability when the model is an ensemble; ``truth`` the class the user
    gave the frame (None until they do), which **Adapt model** learns from.
    """

    source: str
    frame: int | None = None
    label: str = ERROR
    top: str = ""
    probabilities: tuple[float, ...] = ()
    confidence: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    shape: tuple[int, int] = (0, 0)
    check: str = ""
    weighed: str = ""
    cam: np.ndarray | None = None
    error: str = ""
    members: tuple[tuple[str, float], ...] = ()
    dataset: str | None = None
    """Another detector's image dataset of an HDF5 file (Read frames' ``all_detectors``); None for the file's own."""
    truth: str | None = None

    @property
    def key(self) -> tuple[str, str | None, int | None]:
        """Which frame this is, the same across predictions by different models: file, dataset, index."""
        return self.source, self.dataset, self.frame

    @property
    def frame_label(self) -> str:
        """Which frame of its file: '' for a single-frame file, the index, or ``DATASET#i`` (the dataset's
        last name) for another detector's frame."""
        if self.dataset is not None:
            return f"{self.dataset.rsplit('/', 1)[-1]}#{self.frame or 0}"
        return "" if self.frame is None else str(self.frame)

    @property
    def name(self) -> str:
        """File name, with :attr:`frame_label` when the file holds more than one frame."""
        base = os.path.basename(self.source)
        if self.dataset is not None:
            return f"{base}:{self.frame_label}"
        return base if self.frame is None else f"{base}#{self.frame}"

    @property
    def p_top(self) -> float:
        """Probability of the most probable class (0 for error rows)."""
        return max(self.probabilities, default=0.0)

    def probability(self, label: str) -> float:
        """Probability of one class (0 for error rows)."""
        return self.probabilities[CLASSES.index(label)] if self.probabilities else 0.0
