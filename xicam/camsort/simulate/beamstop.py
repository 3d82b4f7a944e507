"""Beamstops as transmission maps: a disc or square on the beam with a holder arm to the frame edge,
and the vertical rod stops of grazing-incidence set-ups."""
from __future__ import annotations

import numpy as np


def _rows_cols(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(shape[0], dtype=np.float32)[:, None], np.arange(shape[1], dtype=np.float32)[None, :]


def holder_stop(shape: tuple[int, int], row: float, col: float, rng: np.random.Generator,
                radius: float | None = None) -> np.ndarray:
    """Transmission (0..1) of a round/square stop at (row, col) held by an arm running to an edge."""
    rr, cc = _rows_cols(shape)
    radius = radius if radius is not None else rng.uniform(0.012, 0.045) * max(shape)
    if rng.random() < 0.7:
        blocked = (rr - row) ** 2 + (cc - col) ** 2 <= radius**2
    else:
        blocked = (np.abs(rr - row) <= radius) & (np.abs(cc - col) <= radius)
    if rng.random() < 0.9:  # the holder arm
        angle = rng.choice([0, 0.5, 1, 1.5]) * np.pi + rng.normal(0, 0.25) * (rng.random() < 0.4)
        width = rng.uniform(0.25, 0.7) * radius
        dx, dy = np.cos(angle), -np.sin(angle)
        along = (cc - col) * dx + (rr - row) * dy
        across = np.abs(-(cc - col) * dy + (rr - row) * dx)
        blocked |= (along >= 0) & (across <= width)
    transmission = rng.choice([0.0, 1e-4, 1e-3, 5e-3], p=[0.4, 0.3, 0.2, 0.1])
    out = np.where(blocked, np.float32(transmission), np.float32(1.0))
    return _soften(out, rng)


def rod_stop(shape: tuple[int, int], col: float, top_row: float, rng: np.random.Generator) -> np.ndarray:
    """Vertical rod from the bottom edge up to ``top_row``: blocks direct and specular beams in GI set-ups."""
    rr, cc = _rows_cols(shape)
    half = rng.uniform(3, 12) * max(shape) / 1000
    blocked = (np.abs(cc - col) <= half) & (rr >= top_row)
    return _soften(np.where(blocked, np.float32(rng.choice([0.0, 1e-3])), np.float32(1.0)), rng)


def spot_stop(shape: tuple[int, int], row: float, col: float, rng: np.random.Generator) -> np.ndarray:
    """Small round stop on the specular or direct beam (no arm: held by a thin wire or tape)."""
    rr, cc = _rows_cols(shape)
    radius = rng.uniform(0.005, 0.02) * max(shape)
    return np.where((rr - row) ** 2 + (cc - col) ** 2 <= radius**2, np.float32(0.0), np.float32(1.0))


def _soften(transmission: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur the stop edge by a pixel or two (penumbra), as real stops are not pixel-sharp."""
    if rng.random() < 0.5:
        from scipy.ndimage import uniform_filter

        return uniform_filter(transmission, size=3)
    return transmission
