"""Turn raw detector frames of any shape into fixed-size, log-scaled, normalised images.

Order of operations, chosen for speed and for physics: invalid pixels (gaps, dead, NaN, overflow)
are masked; the frame is letterboxed to a square (so rings stay round whatever the detector's
aspect) and area-resampled by averaging the valid counts with sparse overlap matrices (binning
before the log, as a coarser detector would, and fast: two sparse products per batch); frames in
other units than counts are put back on a count scale; then ``log1p`` and a robust percentile
stretch to [0, 1]. Frames of one shape are processed together as one 3-D array.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from scipy import sparse

DEFAULT_SIZE = 256
"""Side of the square images the featurizers receive."""

OVERFLOW = float(2**31 - 1)
"""Counts at or above this are detector overflow markers (int32/uint32 max), not photons."""

LOW_PERCENTILE, HIGH_PERCENTILE = 1.0, 99.9
"""Percentiles of the valid log-intensities mapped to 0 and 1: robust to hot pixels and offsets."""


def valid_mask(frames: np.ndarray) -> np.ndarray:
    """Pixels that carry a measurement: finite, non-negative and below the overflow marker.

    Two comparisons suffice: NaN fails both, -inf the first and +inf the second.
    """
    return (frames >= 0) & (frames < OVERFLOW)


def _positive_sample(frame: np.ndarray) -> np.ndarray:
    """The positive, non-overflow values of every 7th pixel of every 7th row: enough for low percentiles."""
    sample = frame[::7, ::7]
    return sample[(sample > 0) & (sample < OVERFLOW)]


def count_scale(frame: np.ndarray) -> float:
    """The value one detected photon has in ``frame``: 1 for frames of counts.

    Frames divided by a monitor, an exposure time or a transmission, or put on an absolute scale,
    hold values far below 1, where ``log1p`` is linear and a pattern's contrast is lost. Their lowest
    recorded level (1st percentile of the positive values, sampled) stands in for one photon. A frame
    whose positive values are all at least 1 (any frame of counts) is left as it is.
    """
    positive = _positive_sample(frame)
    if positive.size == 0 or positive.min() >= 1:
        return 1.0
    return float(np.percentile(positive, 1))


FILL_FLOOR = 10.0
"""A frame whose recorded floor is this many of its smallest steps above zero cannot read 0 by counting."""


def zeros_are_fill(frame: np.ndarray) -> bool:
    """True when the frame's zeros are fill (outside the active area, masked, a geometry correction's
    blank), not counts: its recorded floor (1st percentile of the positive values, sampled) is at least
    :data:`FILL_FLOOR` of its steps above zero, as on an integrating detector with a pedestal or under a
    strong background. A step is the greatest common divisor of integer values (1 for counts, 100 for
    counts x 100, whose weak pixels read 0, 100, 200) and the smallest positive value of others.
    Read as counts, fill pulls the log stretch's low end to 0 and washes the pattern out.
    """
    positive = _positive_sample(frame)
    if positive.size == 0 or not (frame == 0).any():
        return False
    if np.all(positive == np.round(positive)) and positive.max() < 2**31:
        step = float(np.gcd.reduce(positive.astype(np.int64)))
    else:
        step = float(positive.min())
    return bool(np.percentile(positive, 1) >= FILL_FLOOR * step)


@lru_cache(maxsize=64)
def _area_matrix(n_in: int, side: int, size: int) -> sparse.csr_matrix:
    """Sparse (size, n_in) overlap weights of ``n_in`` pixels centred in ``side`` onto ``size`` bins.

    Entry (j, k) is the length of input pixel k that falls in output bin j, so a product with it
    sums counts exactly as a coarser detector would (area resampling, any ratio).
    """
    scale = side / size
    offset = (side - n_in) / 2.0
    rows, cols, vals = [], [], []
    for j in range(size):
        lo, hi = j * scale, (j + 1) * scale
        k = np.arange(max(0, int(np.floor(lo - offset))), min(n_in, int(np.ceil(hi - offset))))
        overlap = np.minimum(hi, k + offset + 1) - np.maximum(lo, k + offset)
        keep = overlap > 1e-9
        rows.append(np.full(keep.sum(), j))
        cols.append(k[keep])
        vals.append(overlap[keep])
    return sparse.csr_matrix((np.concatenate(vals).astype(np.float32),
                              (np.concatenate(rows), np.concatenate(cols))), shape=(size, n_in))


def _area_resample(frame: np.ndarray, rows: sparse.csr_matrix, cols: sparse.csr_matrix) -> np.ndarray:
    """``rows @ frame @ cols.T``: two sparse products, ~1 ms for a Pilatus 1M frame."""
    return np.asarray(cols @ (rows @ frame).T).T


def bin_to_square(frames: np.ndarray, size: int = DEFAULT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Letterbox (N, H, W) frames to squares and area-resample them to (N, size, size).

    Returns the mean of the valid counts per output pixel (in photons: see :func:`count_scale`) and the
    fraction of it that had valid pixels.
    """
    frames = np.asarray(frames, dtype=np.float32)
    n, h, w = frames.shape
    side = max(h, w)
    rows, cols = _area_matrix(h, side, size), _area_matrix(w, side, size)
    counts = np.empty((n, size, size), np.float32)
    weight = np.empty((n, size, size), np.float32)
    for i, frame in enumerate(frames):  # frame by frame: a stacked product thrashes the cache
        valid = valid_mask(frame)
        counts[i] = _area_resample(np.where(valid, frame, np.float32(0)), rows, cols) / np.float32(count_scale(frame))
        weight[i] = _area_resample(valid.astype(np.float32), rows, cols)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(weight > 1e-6, counts / np.maximum(weight, 1e-6), 0.0).astype(np.float32)
    return mean, (weight / (side / size) ** 2).astype(np.float32)


def log_normalise(binned: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """log1p and stretch each image's valid pixels between its robust low and high percentiles."""
    logged = np.log1p(np.maximum(binned, 0.0))
    covered = coverage > 0.05
    masked = np.where(covered, logged, np.nan).reshape(len(logged), -1)
    lo, hi = np.zeros((2, len(logged)))  # an image with no valid pixel stays 0
    some = covered.reshape(len(covered), -1).any(axis=1)
    if some.any():
        lo[some], hi[some] = np.nanpercentile(masked[some], [LOW_PERCENTILE, HIGH_PERCENTILE], axis=1)
    lo, hi = lo[:, None, None], hi[:, None, None]
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


STRUCTURE_BLOCK = 8
"""Side, in preprocessed pixels, of the blocks :func:`structure_index` averages over."""


def structure_index(images: np.ndarray, block: int = STRUCTURE_BLOCK) -> np.ndarray:
    """How much more the ``block``×``block`` means of each preprocessed image vary than independent
    pixels would make them: about 1 for pure noise, tens for any scattering pattern, which varies
    smoothly over many pixels (falloff, rings, streaks).

    Rows and columns that are zero throughout (letterbox, module gaps) are dropped first, so a
    detector's layout is not mistaken for structure. ``inf`` where too little is left to tell.
    """
    out = np.full(len(images), np.inf)
    for i, image in enumerate(images):
        kept = image[image.any(axis=1)][:, image.any(axis=0)]
        h, w = (kept.shape[0] // block) * block, (kept.shape[1] // block) * block
        if (h // block) * (w // block) < 8:
            continue
        kept = kept[:h, :w]
        spread = kept.var()
        means = kept.reshape(h // block, block, w // block, block).mean(axis=(1, 3))
        out[i] = means.var() / (spread / block**2) if spread > 0 else 0.0
    return out
