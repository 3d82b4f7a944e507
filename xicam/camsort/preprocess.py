"""Turn raw detector frames of any shape into fixed-size, log-scaled, normalised images.

Order of operations, chosen for speed and for physics: invalid pixels (gaps, dead, NaN, overflow)
are masked; the frame is letterboxed to a square (so rings stay round whatever the detector's
aspect) and area-binned by averaging the valid counts (binning before the log, as a coarser
detector would); then ``log1p`` and a robust percentile stretch to [0, 1]. Frames of one shape are
processed together as one 3-D array.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from skimage.transform import resize

DEFAULT_SIZE = 256
"""Side of the square images the featurizers receive."""

OVERFLOW = float(2**31 - 1)
"""Counts at or above this are detector overflow markers (int32/uint32 max), not photons."""

LOW_PERCENTILE, HIGH_PERCENTILE = 1.0, 99.9
"""Percentiles of the valid log-intensities mapped to 0 and 1: robust to hot pixels and offsets."""


def valid_mask(frames: np.ndarray) -> np.ndarray:
    """Pixels that carry a measurement: finite, non-negative and below the overflow marker."""
    return np.isfinite(frames) & (frames >= 0) & (frames < OVERFLOW)


def bin_to_square(frames: np.ndarray, size: int = DEFAULT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Letterbox (N, H, W) frames to squares and area-bin them to (N, size, size).

    Returns the mean of the valid counts per output pixel and the fraction of valid pixels behind it.
    """
    frames = np.asarray(frames, dtype=np.float32)
    n, h, w = frames.shape
    side = max(h, w)
    factor = max(1, side // size)
    padded = -(-side // factor) * factor
    valid = valid_mask(frames)
    counts = np.zeros((n, padded, padded), np.float32)
    weight = np.zeros((n, padded, padded), np.float32)
    top, left = (padded - h) // 2, (padded - w) // 2
    counts[:, top:top + h, left:left + w] = np.where(valid, frames, 0.0)
    weight[:, top:top + h, left:left + w] = valid
    if factor > 1:
        m = padded // factor
        counts = counts.reshape(n, m, factor, m, factor).sum(axis=(2, 4))
        weight = weight.reshape(n, m, factor, m, factor).sum(axis=(2, 4))
    if counts.shape[1] != size:
        counts = resize(counts, (n, size, size), order=1, anti_aliasing=False, preserve_range=True)
        weight = resize(weight, (n, size, size), order=1, anti_aliasing=False, preserve_range=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(weight > 1e-6, counts / np.maximum(weight, 1e-6), 0.0).astype(np.float32)
    return mean, (weight / (factor * factor)).astype(np.float32)


def log_normalise(binned: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """log1p and stretch each image's valid pixels between its robust low and high percentiles."""
    logged = np.log1p(np.maximum(binned, 0.0))
    covered = coverage > 0.05
    masked = np.where(covered, logged, np.nan)
    lo, hi = (np.nanpercentile(masked.reshape(len(masked), -1), [LOW_PERCENTILE, HIGH_PERCENTILE],
                               axis=1) if covered.any() else (np.zeros(len(masked)),) * 2)
    lo = np.nan_to_num(lo)[:, None, None]
    hi = np.nan_to_num(hi)[:, None, None]
    span = np.where(hi - lo > 1e-6, hi - lo, 1.0)
    out = np.clip((logged - lo) / span, 0.0, 1.0)
    return np.where(covered, out, 0.0).astype(np.float32)


def preprocess_stack(frames: np.ndarray, size: int = DEFAULT_SIZE) -> np.ndarray:
    """Preprocess frames of one shape, (N, H, W) -> (N, size, size) float32 in [0, 1]."""
    binned, coverage = bin_to_square(frames, size)
    return log_normalise(binned, coverage)


def preprocess(data: np.ndarray, size: int = DEFAULT_SIZE) -> np.ndarray:
    """Preprocess one 2-D frame -> (size, size) float32 in [0, 1]."""
    return preprocess_stack(np.asarray(data)[None], size)[0]


def preprocess_batch(frames: Iterable[np.ndarray], size: int = DEFAULT_SIZE) -> np.ndarray:
    """Preprocess frames of any shapes -> (N, size, size); frames of equal shape go as one stack."""
    frames = [np.asarray(f) for f in frames]
    out = np.empty((len(frames), size, size), np.float32)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, f in enumerate(frames):
        by_shape.setdefault(f.shape, []).append(i)
    for idx in by_shape.values():
        out[idx] = preprocess_stack(np.stack([frames[i] for i in idx]), size)
    return out
