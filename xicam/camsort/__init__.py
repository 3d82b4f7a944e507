"""camsort: tell which X-ray scattering technique (SAXS, WAXS, GISAXS, GIWAXS) made a detector frame.

The pure core (io, preprocess, simulate, features, reduce, classify, metrics, sorter) knows
nothing of Qt or Xi-cam; ``operations``, ``workflows``, ``executors`` and ``gui`` sit on top.
"""
from __future__ import annotations

__version__ = "0.1.0"

TECHNIQUES: tuple[str, ...] = ("SAXS", "WAXS", "GISAXS", "GIWAXS")
"""The four techniques, in the fixed order used for labels and probability columns."""

NOT_SCATTERING = "NOT_SCATTERING"
"""Outcome for images that are not scattering patterns (blank, noise, photos, micrographs)."""

CLASSES: tuple[str, ...] = (*TECHNIQUES, NOT_SCATTERING)
"""What the sorter predicts: the techniques plus NOT_SCATTERING."""

UNSURE = "UNSURE"
"""Outcome when the calibrated top probability is below the sorter's threshold."""

__all__ = ["CLASSES", "NOT_SCATTERING", "TECHNIQUES", "UNSURE", "__version__"]
