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
    ``check`` what the header's geometry says against the label ('' when nothing); ``members`` each
    member's top class and probability when the model is an ensemble.
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
    cam: np.ndarray | None = None
    error: str = ""
    members: tuple[tuple[str, float], ...] = ()

    @property
    def name(self) -> str:
        """File name, with the frame index for frames of multi-frame files."""
        base = os.path.basename(self.source)
        return base if self.frame is None else f"{base}#{self.frame}"

    @property
    def p_top(self) -> float:
        """Probability of the most probable class (0 for error rows)."""
        return max(self.probabilities, default=0.0)

    def probability(self, label: str) -> float:
        """Probability of one class (0 for error rows)."""
        return self.probabilities[CLASSES.index(label)] if self.probabilities else 0.0
