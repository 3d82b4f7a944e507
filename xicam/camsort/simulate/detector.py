"""Real detector layouts (shape, pixel size, module gaps) and the frame-level artefacts they add.

Pilatus modules are 195 x 487 pixels of 172 um with 17-row and 7-column gaps; Eiger modules
514 x 1030 of 75 um with 37-row gaps; CCDs are square, gap-free, with a dark offset and read noise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Detector:
    """A detector model: name, (rows, cols), pixel size, module grid and gap sizes, counting kind."""

    name: str
    shape: tuple[int, int]
    pixel_m: float
    module: tuple[int, int] | None = None
    gap: tuple[int, int] = (0, 0)
    counting: bool = True  # photon counting (Pilatus/Eiger): no dark offset or read noise
    max_count: int = 2**20 - 1

    def gap_mask(self) -> np.ndarray:
        """True on pixels that sit in the gaps between modules."""
        mask = np.zeros(self.shape, bool)
        if self.module is None:
            return mask
        (mh, mw), (gh, gw) = self.module, self.gap
        for r in range(mh, self.shape[0], mh + gh):
            mask[r:r + gh] = True
        for c in range(mw, self.shape[1], mw + gw):
            mask[:, c:c + gw] = True
        return mask


DETECTORS: dict[str, Detector] = {
    "pilatus1m": Detector("pilatus1m", (1043, 981), 172e-6, (195, 487), (17, 7)),
    "pilatus2m": Detector("pilatus2m", (1679, 1475), 172e-6, (195, 487), (17, 7)),
    "pilatus300k": Detector("pilatus300k", (619, 487), 172e-6, (195, 487), (17, 7)),
    "pilatus300kw": Detector("pilatus300kw", (195, 1475), 172e-6, (195, 487), (17, 7)),
    "pilatus300kw_v": Detector("pilatus300kw_v", (1475, 195), 172e-6, (487, 195), (7, 17)),
    "pilatus100k": Detector("pilatus100k", (195, 487), 172e-6, (195, 487), (17, 7)),
    "eiger1m": Detector("eiger1m", (1065, 1030), 75e-6, (514, 1030), (37, 0)),
    "ccd1k": Detector("ccd1k", (1024, 1024), 100e-6, counting=False, max_count=2**16 - 1),
    "ccd2k": Detector("ccd2k", (2048, 2048), 80e-6, counting=False, max_count=2**16 - 1),
    "rayonix": Detector("rayonix", (960, 960), 177e-6, counting=False, max_count=2**16 - 1),
}
"""Detectors the simulator draws from, shared by every technique so size never gives the class away."""

UNSEEN_DETECTORS: dict[str, Detector] = {
    "pilatus6m": Detector("pilatus6m", (2527, 2463), 172e-6, (195, 487), (17, 7)),
    "eiger4m": Detector("eiger4m", (2167, 2070), 75e-6, (514, 1030), (37, 10)),
    "pilatus200k": Detector("pilatus200k", (407, 487), 172e-6, (195, 487), (17, 7)),
    "hypix3000": Detector("hypix3000", (385, 775), 100e-6),
    "photon2": Detector("photon2", (768, 1024), 135e-6, counting=False, max_count=2**16 - 1),
}
"""Detectors the simulator draws only when asked by name (``camsort simulate --detector``): no training
set holds them, so a model scored on them meets geometries it has never seen. A Pilatus 6M and an Eiger
4M (synchrotron), a Pilatus3 200K, a Rigaku HyPix-3000 and a Bruker PHOTON II (integrating; lab sources)."""

KNOWN_DETECTORS: dict[str, Detector] = {**DETECTORS, **UNSEEN_DETECTORS}
"""Every detector model the simulator knows, by name: the ones it draws from and the unseen ones."""

DETECTOR_WEIGHTS = {"pilatus1m": 0.32, "pilatus2m": 0.14, "pilatus300k": 0.08, "pilatus300kw": 0.06,
                    "pilatus300kw_v": 0.03, "pilatus100k": 0.05, "eiger1m": 0.12, "ccd1k": 0.12,
                    "ccd2k": 0.03, "rayonix": 0.05}


def describe_shape(shape: tuple[int, ...]) -> str:
    """A frame shape for people, with the detector model it matches: ``pilatus1m 1043×981``,
    ``pilatus1m turned 981×1043``, or the shape alone (binned, cropped or unknown detectors)."""
    size = "×".join(str(n) for n in shape)
    for name, det in KNOWN_DETECTORS.items():
        if tuple(shape) == det.shape:
            return f"{name} {size}"
        if tuple(shape) == det.shape[::-1] and det.shape[0] != det.shape[1]:
            return f"{name} turned {size}"
    return size


def binned(det: Detector, factor: int) -> Detector:
    """The same detector read out with ``factor`` x ``factor`` pixel binning (fast training frames)."""
    if factor <= 1:
        return det
    module = None if det.module is None else (det.module[0] // factor, det.module[1] // factor)
    gap = tuple(int(np.ceil(g / factor)) if g else 0 for g in det.gap)
    return Detector(f"{det.name}/bin{factor}", (det.shape[0] // factor, det.shape[1] // factor),
                    det.pixel_m * factor, module, gap, det.counting, det.max_count)


def choose_detector(rng: np.random.Generator, name: str | None = None) -> Detector:
    """A detector by name (unseen ones included), or drawn with the weights of what beamlines actually use."""
    if name is not None:
        return KNOWN_DETECTORS[name]
    names = list(DETECTOR_WEIGHTS)
    p = np.array([DETECTOR_WEIGHTS[n] for n in names])
    return DETECTORS[names[rng.choice(len(names), p=p / p.sum())]]


def bright_end(intensity: np.ndarray) -> float:
    """The 99.99th percentile of an intensity map (over every 7th pixel): the level a frame's
    ``peak_counts`` refers to."""
    return float(np.percentile(intensity.ravel()[::7], 99.99)) or 1.0


def expose(intensity: np.ndarray, det: Detector, rng: np.random.Generator, counts_per_unit: float) -> np.ndarray:
    """Counts from an intensity map: scale by ``counts_per_unit``, Poisson noise, detector response."""
    rate = np.clip(intensity * counts_per_unit, 0, None)
    gain = np.ones(det.shape, np.float32)
    if det.module is not None:  # module-to-module sensitivity
        (mh, mw), (gh, gw) = det.module, det.gap
        for r in range(0, det.shape[0], mh + gh):
            for c in range(0, det.shape[1], mw + gw):
                gain[r:r + mh, c:c + mw] = rng.normal(1.0, 0.03)
    counts = poisson_fast((rate * gain).astype(np.float32), rng)
    if not det.counting:
        counts = counts * rng.uniform(0.5, 4) + rng.uniform(10, 300) + rng.normal(0, rng.uniform(1, 8), det.shape)
    return np.clip(counts, 0, det.max_count)


def poisson_fast(rate: np.ndarray, rng: np.random.Generator, exact_below: float = 50.0) -> np.ndarray:
    """Poisson counts: exact where the rate is low, the normal approximation (rounded) where it is high.

    Above ~50 counts the two are indistinguishable, and normal deviates cost a fraction of Poisson ones.
    """
    out = np.rint(rate + np.sqrt(rate) * rng.standard_normal(rate.shape, dtype=np.float32))
    low = rate < exact_below
    out[low] = rng.poisson(rate[low])
    return np.maximum(out, 0)


def add_defects(counts: np.ndarray, det: Detector, rng: np.random.Generator) -> np.ndarray:
    """Gaps (-1 or 0), dead and hot pixels, and now and then a dead module or a partial readout."""
    out = counts.astype(np.int32)
    gap_value = -1 if rng.random() < 0.7 else 0
    if rng.random() < 0.15:
        hardware_shadow(out, rng, gap_value)
    n = out.size
    dead = rng.integers(0, n, int(n * rng.uniform(0, 2e-4)))
    out.flat[dead] = gap_value
    hot = rng.integers(0, n, int(rng.integers(0, 12)))
    out.flat[hot] = rng.integers(10**4, det.max_count, hot.size)
    if det.module is not None and rng.random() < 0.05 and det.module != det.shape:  # one dead module of several
        (mh, mw), (gh, gw) = det.module, det.gap
        r = int(rng.integers(0, max(1, det.shape[0] // (mh + gh)))) * (mh + gh)
        c = int(rng.integers(0, max(1, det.shape[1] // (mw + gw)))) * (mw + gw)
        out[r:r + mh, c:c + mw] = gap_value
    if rng.random() < 0.03:  # partial frame: readout stopped part-way
        out[int(rng.uniform(0.5, 0.95) * det.shape[0]):] = 0
    out[det.gap_mask()] = gap_value  # last: gaps hold no counts, hot or otherwise
    return out


def region_of_interest(frame: np.ndarray, rng: np.random.Generator, side: tuple[float, float] = (0.4, 0.9)
                       ) -> np.ndarray:
    """A random rectangle of ``frame``, each side a ``side`` fraction of the frame's: what a detector
    read out in ROI mode, or a user saved as a crop, holds. Its shape is any aspect ratio, without gaps."""
    rows, cols = frame.shape
    h, w = int(rows * rng.uniform(*side)), int(cols * rng.uniform(*side))
    r0, c0 = int(rng.integers(0, rows - h + 1)), int(rng.integers(0, cols - w + 1))
    return frame[r0:r0 + h, c0:c0 + w].copy()


def hardware_shadow(frame: np.ndarray, rng: np.random.Generator, masked_value: int) -> None:
    """A corner or edge region blocked by the flight tube, a window frame or the user's mask file.

    Half the time it is masked (invalid value), half the time shadowed (a few stray counts): either
    way a dark straight-edged region that is not a sample horizon, as in many real frames.
    """
    rows, cols = frame.shape
    h, w = rows * rng.uniform(0.15, 0.6), cols * rng.uniform(0.15, 0.6)
    if rng.random() < 0.3:  # a full-width or full-height band instead of a corner, at most 40 % deep
        h, w = (min(h, 0.4 * rows), cols) if rng.random() < 0.5 else (rows, min(w, 0.4 * cols))
    h, w = int(h), int(w)
    r0 = 0 if rng.random() < 0.5 else rows - h
    c0 = 0 if rng.random() < 0.5 else cols - w
    region = frame[r0:r0 + h, c0:c0 + w]
    if rng.random() < 0.5:
        region[...] = masked_value
    else:
        region[...] = rng.poisson(rng.uniform(0, 0.5), region.shape)
