"""Images that are not scattering patterns, so the sorter can learn to say NOT_SCATTERING.

Users' folders hold more than detector frames: blank or dark frames, flat fields, pure noise,
camera photos and micrographs. Each generator below draws one such image family with random
size and exposure; the sorter is trained with them as a fifth class.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.transform import resize

from .simulate.detector import Detector, binned, choose_detector

KINDS = ("blank", "constant", "noise", "flatfield", "photo", "micrograph", "gradient")


def _shape(rng: np.random.Generator) -> tuple[int, int]:
    return int(rng.integers(200, 1100)), int(rng.integers(200, 1100))


def _scale(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Map a [0, 1] image to counts of a random exposure (8-bit camera up to 20-bit detector)."""
    top = 10 ** rng.uniform(1.5, 5.5)
    return img * top + rng.uniform(0, 0.05) * top


def _smooth_field(shape: tuple[int, int], rng: np.random.Generator, beta: float) -> np.ndarray:
    """Random field with a 1/f^beta power spectrum (natural-image statistics), scaled to [0, 1]."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    spectrum = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f ** (beta / 2)
    field = np.fft.irfft2(spectrum, s=shape)
    field -= field.min()
    return field / max(field.max(), 1e-12)


def not_scattering(rng: np.random.Generator, kind: str | None = None) -> np.ndarray:
    """One float32 image that is not a scattering pattern, of a random (or given) kind."""
    kind = kind or str(rng.choice(KINDS))
    shape = _shape(rng)
    if kind == "blank":
        img = rng.poisson(rng.uniform(0, 0.05), shape).astype(float)
    elif kind == "constant":
        img = np.full(shape, rng.uniform(0, 1000))
    elif kind == "noise":
        img = rng.poisson(10 ** rng.uniform(0, 3), shape).astype(float)
    elif kind == "flatfield":
        yy, xx = np.mgrid[: shape[0], : shape[1]] / max(shape)
        img = _scale(0.8 + 0.2 * np.cos(rng.uniform(0.5, 3) * (xx - rng.uniform())) *
                     np.cos(rng.uniform(0.5, 3) * (yy - rng.uniform())), rng)
        img = rng.poisson(np.maximum(img, 0)).astype(float)
    elif kind == "photo":
        img = _scale(_smooth_field(shape, rng, rng.uniform(1.6, 2.4)), rng)
    elif kind == "micrograph":
        img = _micrograph(shape, rng)
    else:  # gradient
        yy, xx = np.mgrid[: shape[0], : shape[1]] / max(shape)
        angle = rng.uniform(0, 2 * np.pi)
        img = _scale(np.clip(np.cos(angle) * xx + np.sin(angle) * yy, 0, None), rng)
    return img.astype(np.float32)


def _micrograph(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """SEM/AFM-like: grains or particles with bright edges over a textured background."""
    seeds = np.zeros(shape, bool)
    n = int(rng.integers(20, 400))
    seeds[rng.integers(0, shape[0], n), rng.integers(0, shape[1], n)] = True
    distance = ndimage.distance_transform_edt(~seeds)
    grains = np.exp(-distance / rng.uniform(3, 30))
    edges = ndimage.gaussian_gradient_magnitude(grains, rng.uniform(0.5, 2))
    img = 0.5 * grains + edges / max(edges.max(), 1e-12) + 0.3 * _smooth_field(shape, rng, 2.0)
    img = ndimage.gaussian_filter(img, rng.uniform(0, 1.5))
    return _scale(img / img.max(), rng) * (1 + rng.normal(0, 0.05, shape))


def on_detector(image: np.ndarray, det: Detector, rng: np.random.Generator) -> np.ndarray:
    """``image`` as ``det`` would record it: resized to its shape, its module gaps invalid (-1) or 0.

    Without these, every negative is gap-free and every gap-free training detector is square, so
    "no gaps and not square" would mark NOT_SCATTERING and a rectangular lab detector's rings too.
    """
    out = resize(image, det.shape, order=1, preserve_range=True, anti_aliasing=False).astype(np.float32)
    out[det.gap_mask()] = -1 if rng.random() < 0.7 else 0
    return out


def not_scattering_batch(n: int, seed: int, on_detectors: float = 0.0, long_side: int = 256) -> list[np.ndarray]:
    """``n`` negatives cycling through every kind, reproducible for a seed; a share ``on_detectors``
    of them laid out on a detector drawn as training frames draw theirs, binned to a long side of about
    ``long_side`` pixels as their read-outs are (:func:`on_detector`)."""
    rng, placing = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    images = [not_scattering(rng, KINDS[i % len(KINDS)]) for i in range(n)]
    for i in np.flatnonzero(placing.random(n) < on_detectors):
        det = choose_detector(placing)
        images[i] = on_detector(images[i], binned(det, max(1, max(det.shape) // long_side)), placing)
    return images
