"""Turn a raw frame and its Grad-CAM into what the view draws (pure numpy, no Qt).

The view shows the frame itself at full resolution on a log scale; the CAM was computed on the
letterboxed square the network saw, so :func:`cam_placement` maps it back onto the frame's pixels.
"""
from __future__ import annotations

import numpy as np

from ..preprocess import HIGH_PERCENTILE, LOW_PERCENTILE, valid_mask


def log_image(data: np.ndarray) -> np.ndarray:
    """log1p of the valid counts; gaps, dead and overflow pixels become 0 (drawn darkest)."""
    data = np.asarray(data, np.float32)
    return np.log1p(np.where(valid_mask(data), data, np.float32(0))).astype(np.float32)


def display_levels(image: np.ndarray) -> tuple[float, float]:
    """Robust black and white levels of a log image (the percentiles preprocessing stretches)."""
    values = image[image > 0]
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(values[:: max(1, values.size // 200_000)], [LOW_PERCENTILE, HIGH_PERCENTILE])
    return float(lo), float(max(hi, lo + 1e-3))


def cam_placement(cam: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The part of a square CAM that covers a ``shape`` frame, and where it goes in frame pixels.

    Preprocessing centres the frame in a square of side ``max(shape)`` before resampling, so each
    CAM pixel spans ``max(shape) / len(cam)`` frame pixels. Returns the cropped CAM and the
    rectangle ``(x, y, width, height)`` (x along columns, y along rows) it must be drawn into.
    """
    rows, cols = shape
    side = max(rows, cols)
    scale = side / cam.shape[0]
    (r0, r1), y = _span(rows, side, scale)
    (c0, c1), x = _span(cols, side, scale)
    return cam[r0:r1, c0:c1], (x, y, (c1 - c0) * scale, (r1 - r0) * scale)


def _span(n: int, side: int, scale: float) -> tuple[tuple[int, int], float]:
    """CAM index range covering ``n`` frame pixels centred in ``side``, and its start in frame pixels."""
    offset = (side - n) / 2.0
    first = int(np.floor(offset / scale))
    last = int(np.ceil((offset + n) / scale))
    return (first, last), first * scale - offset
