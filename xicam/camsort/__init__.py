"""camsort: tell which X-ray scattering technique (SAXS, WAXS, GISAXS, GIWAXS) made a detector frame.

The pure core (io, preprocess, simulate, features, reduce, classify, metrics, sorter) knows
nothing of Qt or Xi-cam; ``operations``, ``workflows``, ``executors`` and ``gui`` sit on top.
"""
from __future__ import annotations

__version__ = "0.1.0"

TECHNIQUES: tuple[str, ...] = ("SAXS", "WAXS", "GISAXS", "GIWAXS")
"""The four classes, in the fixed order used for labels and probability columns."""

__all__ = ["TECHNIQUES", "__version__"]
