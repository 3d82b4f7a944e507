"""Physics-based simulator of SAXS / WAXS / GISAXS / GIWAXS detector frames: camsort's training set.

Each frame draws a real detector, an X-ray energy, a q-range (hence a sample-detector distance),
a beam position (centred, near or beyond an edge), a sample from the technique's physics, a
beamstop, background, exposure from weak to the detector's full scale with Poisson noise,
detector defects and sometimes a 90-degree mounting. Ranges overlap where nature overlaps, and
every technique appears on every detector, so neither frame size nor intensity statistics give
the class away.
"""
from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from .. import TECHNIQUES
from ..pattern import Pattern
from .beamstop import holder_stop, rod_stop, spot_stop
from .detector import DETECTORS, Detector, add_defects, binned, bright_end, choose_detector, expose
from .geometry import Geometry, distance_for_q, q_at_two_theta
from .grazing import giwaxs_map, gisaxs_map
from .transmission import saxs_map, waxs_map

Q_MAX = {"SAXS": (0.06, 0.7), "GISAXS": (0.06, 0.6), "WAXS": (1.2, 5.0), "GIWAXS": (1.0, 4.0)}
"""Range of the largest q (1/A) on the detector per technique: sets the distance. The small-angle
and wide-angle ranges touch (a short-distance SAXS and a long-distance WAXS look alike), as in nature."""

ENERGIES_KEV = (8.04, 10.0, 12.0, 13.5, 16.0, 17.48)

HIGH_ENERGY = {"share": 0.25, "energy_kev": (30.0, 90.0), "q_max": (4.0, 12.0)}
"""WAXS at a high-energy powder-diffraction or total-scattering beamline (XPD, PDF): a hard beam and a
detector close to the sample, so dozens of thin rings out to q of 12 1/A (Dioptas' CeO2 frame)."""

MAX_TWO_THETA_DEG = 75.0
"""Largest scattering angle a flat detector facing the beam records at its far corner."""


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _beam_position(technique: str, det: Detector, rng: np.random.Generator) -> tuple[float, float]:
    """Direct-beam (row, col): central for SAXS, anywhere incl. off-detector for WAXS, low for GI
    (whose row :func:`simulate` then sets from the horizon)."""
    rows, cols = det.shape
    strip = min(rows, cols) < 300
    u = rng.random()
    if technique == "SAXS":
        fr, fc = (rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7)) if u < 0.7 else rng.uniform(0.05, 0.95, 2)
    elif technique == "WAXS":
        if u < 0.4:
            fr, fc = rng.uniform(0.25, 0.75, 2)
        elif u < 0.7:
            fr, fc = rng.uniform(0.0, 1.0, 2)
        else:  # beam beyond an edge: the detector sees one side of the rings
            fr, fc = rng.uniform(-0.4, 1.4, 2)
            side = rng.integers(4)
            fr = [-rng.uniform(0.02, 0.5), 1 + rng.uniform(0.02, 0.5), fr, fr][side]
            fc = [fc, fc, -rng.uniform(0.02, 0.5), 1 + rng.uniform(0.02, 0.5)][side]
    elif technique == "GISAXS":
        fr, fc = rng.uniform(0.45, 0.97), rng.uniform(0.25, 0.75)
    else:  # GIWAXS: beam low, often below or beside the detector
        fr = rng.uniform(0.6, 1.15)
        fc = rng.uniform(0.3, 0.7) if u < 0.6 else float(rng.choice([rng.uniform(-0.3, 0.1), rng.uniform(0.9, 1.3)]))
    if strip and technique in ("SAXS", "GISAXS"):
        fr = rng.uniform(0.3, 0.7) if rows < cols else fr
        fc = rng.uniform(0.3, 0.7) if cols < rows else fc
    return float(fr * rows), float(fc * cols)


HORIZON_ON_FRAME = {"GISAXS": (0.2, 0.8), "GIWAXS": (0.45, 0.97)}
"""Where the sample horizon falls, as a fraction of the detector height from the top: a grazing set-up
is aligned so that the detector sees the scattering above the horizon (and GIWAXS detectors sit low to
see the most of it); a horizon off the frame would leave nothing that tells the technique apart."""


def _beam_row_below_horizon(technique: str, det: Detector, rng: np.random.Generator, horizon_offset: float) -> float:
    """Direct-beam row that puts the horizon (``horizon_offset`` pixels above the beam) on the frame."""
    lo, hi = HORIZON_ON_FRAME[technique]
    return float(rng.uniform(lo, hi) * det.shape[0] + horizon_offset)


def _far_edge(det: Detector, row: float, col: float) -> float:
    """Distance in pixels from the beam to the farthest detector corner."""
    rows, cols = det.shape
    return float(max(np.hypot(r - row, c - col) for r in (0, rows) for c in (0, cols)))


def _background(q: np.ndarray, rng: np.random.Generator, technique: str, level: float) -> np.ndarray:
    """Air, window (Kapton) and fluorescence background around ``level`` (a typical signal value)."""
    level *= 10 ** rng.uniform(-2.5, 0.3)
    air = level * rng.uniform(0, 3) / (1 + (q / rng.uniform(0.01, 0.1)) ** 2)
    background = air + level * rng.uniform(0, 1)
    if technique in ("WAXS", "GIWAXS") and rng.random() < 0.4:
        background = background + level * rng.uniform(0, 5) * np.exp(-0.5 * ((q - 0.4) / 0.05) ** 2)
    return background.astype(np.float32)


def simulate(technique: str, rng: np.random.Generator | int | None = None, **overrides: Any) -> Pattern:
    """One native-size detector frame of ``technique`` (int counts as float32, gaps -1 or 0).

    ``overrides`` fix parameters otherwise drawn: ``detector`` (name), ``energy_kev``, ``q_max``,
    ``beam`` ((row, col)) or ``beam_fraction`` (of the detector's rows, cols), ``alpha_i_deg`` (GI),
    ``peak_counts``, ``rotate`` (0-3 quarter turns), ``long_side`` (simulate the detector binned so
    its long side is about this many pixels).
    """
    if technique not in TECHNIQUES:
        raise ValueError(f"unknown technique {technique!r}; expected one of {TECHNIQUES}")
    rng = _rng(rng)
    det = choose_detector(rng, overrides.get("detector"))
    if overrides.get("long_side"):  # simulate a binned read-out directly: same physics, fewer pixels
        det = binned(det, max(1, max(det.shape) // int(overrides["long_side"])))
    hard = technique == "WAXS" and rng.random() < HIGH_ENERGY["share"]
    energy = float(overrides.get("energy_kev", rng.uniform(*HIGH_ENERGY["energy_kev"]) if hard else
                                 rng.choice(ENERGIES_KEV) if rng.random() < 0.4 else rng.uniform(7, 20)))
    row, col = overrides.get("beam", _beam_position(technique, det, rng))
    if "beam_fraction" in overrides:  # a fixed set-up, whatever the binning
        row, col = (float(f) * n for f, n in zip(overrides["beam_fraction"], det.shape))
    lo, hi = HIGH_ENERGY["q_max"] if hard else Q_MAX[technique]
    hi = min(hi, q_at_two_theta(MAX_TWO_THETA_DEG, energy))
    q_max = float(overrides.get("q_max", np.exp(rng.uniform(np.log(lo), np.log(hi)))))
    distance = distance_for_q(q_max, energy, _far_edge(det, row, col), det.pixel_m)
    grazing = technique.startswith("GI")
    if grazing:
        alpha_c = np.radians(rng.uniform(0.08, 0.25))
        alpha_i = np.radians(float(overrides.get("alpha_i_deg", rng.uniform(0.08, 0.4) if technique == "GISAXS"
                                                  else rng.uniform(0.1, 0.5))))
        if "beam" not in overrides:
            row = _beam_row_below_horizon(technique, det, rng, distance * np.tan(alpha_i) / det.pixel_m)
    geo = Geometry(distance, energy, det.pixel_m, row, col)
    meta: dict[str, Any] = {"technique": technique, "detector": det.name, "energy_kev": energy,
                            "distance_m": distance, "pixel_um": det.pixel_m * 1e6, "beam_row": row,
                            "beam_col": col, "q_max": q_max}
    if grazing:
        g = geo.grazing(det.shape, alpha_i)
        make = gisaxs_map if technique == "GISAXS" else giwaxs_map
        image, params = make(g, alpha_i, alpha_c, rng, q_max, geo.k)
        q_map, cos2t = g["q"], np.cos(g["two_theta_f"]) * np.cos(g["alpha_f"] + alpha_i)
        meta.update(alpha_i_deg=float(np.degrees(alpha_i)), alpha_c_deg=float(np.degrees(alpha_c)),
                    horizon_row=float(geo.horizon_row(alpha_i)))
    else:
        q_map, cos2t = geo.transmission(det.shape)
        image, params = (saxs_map if technique == "SAXS" else waxs_map)(q_map, geo.azimuth(det.shape), rng, q_max)
    meta["sample"] = params
    sample = image.ravel()[::11]
    scale = float(np.percentile(sample, 99.9)) or 1.0
    image = image / scale
    image += _background(q_map, rng, technique,
                         float(np.median(sample[sample > 0])) / scale if (sample > 0).any() else 1e-3)
    image *= cos2t * cos2t * cos2t  # solid angle of flat-detector pixels
    if technique in ("WAXS", "GIWAXS"):
        image *= _stops_wide(det, geo, rng, grazing, meta)
    else:
        image *= _stops_small(det, geo, rng, grazing, meta)
    top = bright_end(image)
    peak = float(overrides.get("peak_counts", _exposure(image, top, det, rng)))
    counts = add_defects(expose(image, det, rng, peak / top), det, rng)
    turns = int(overrides.get("rotate", rng.choice(4, p=[0.85, 0.06, 0.03, 0.06])))
    counts = np.rot90(counts, turns)
    meta.update(peak_counts=peak, rotate=turns)
    return Pattern(data=np.ascontiguousarray(counts, dtype=np.float32), metadata=meta)


MEAN_COUNTS = (0.2, 2000.0)
"""Range of the exposure as mean counts per pixel (log-uniform). The real example frames hold 10 to 150;
below 0.2 most pixels read 0 and a frame holds nothing that tells its technique."""


def _exposure(intensity: np.ndarray, top: float, det: Detector, rng: np.random.Generator) -> float:
    """Counts at the frame's bright end ``top`` (:func:`bright_end`) for a mean exposure drawn from
    :data:`MEAN_COUNTS`, lowered where it would clip more than the brightest pixels.

    The mean, not the peak, sets the exposure: a specular spot can outshine a film's scattering by 10^4,
    and a peak of 20 counts then leaves the film at 0. Users set exposure times so that at most the
    brightest pixels clip; a CCD's full scale in photons is its ADU range over its highest gain
    (4 ADU per photon, see expose).
    """
    mean = float(intensity.ravel()[::7].mean()) or top
    full_scale = det.max_count * rng.uniform(0.6, 1.2) / (1 if det.counting else 4)
    return float(min(10 ** rng.uniform(*np.log10(MEAN_COUNTS)) * top / mean, full_scale))


def _stops_small(det: Detector, geo: Geometry, rng: np.random.Generator, grazing: bool, meta: dict) -> np.ndarray:
    rows, cols = det.shape
    if not grazing:
        return holder_stop(det.shape, geo.beam_row, geo.beam_col, rng)
    alpha_i = np.radians(meta["alpha_i_deg"])
    specular_row = geo.beam_row - 2 * geo.distance_m * np.tan(alpha_i) / geo.pixel_m
    kind = rng.choice(["rod", "spots", "holder"], p=[0.5, 0.3, 0.2])
    if kind == "rod":
        return rod_stop(det.shape, geo.beam_col, specular_row - rng.uniform(0, 15), rng)
    if kind == "spots":
        return (spot_stop(det.shape, specular_row, geo.beam_col, rng)
                * spot_stop(det.shape, geo.beam_row, geo.beam_col, rng))
    return holder_stop(det.shape, geo.beam_row, geo.beam_col, rng, radius=rng.uniform(0.01, 0.03) * max(rows, cols))


def _stops_wide(det: Detector, geo: Geometry, rng: np.random.Generator, grazing: bool, meta: dict) -> np.ndarray:
    rows, cols = det.shape
    on_detector = -20 <= geo.beam_row <= rows + 20 and -20 <= geo.beam_col <= cols + 20
    if not on_detector or rng.random() < 0.15:
        return np.ones(det.shape, np.float32)
    if grazing:
        return rod_stop(det.shape, geo.beam_col, geo.beam_row - rng.uniform(5, 40), rng)
    return holder_stop(det.shape, geo.beam_row, geo.beam_col, rng, radius=rng.uniform(0.008, 0.03) * max(rows, cols))


def _one(args: tuple[str, int, int | None]) -> tuple[np.ndarray, dict]:
    technique, seed, size = args
    pattern = simulate(technique, np.random.default_rng(seed), long_side=size)
    return pattern.data, pattern.metadata


def bin_frame(data: np.ndarray, size: int) -> np.ndarray:
    """Sum-bin a frame by the integer factor that brings its long side to about ``size`` (keeps counts Poisson)."""
    factor = max(1, int(round(max(data.shape) / size)))
    if factor == 1:
        return data
    h, w = (data.shape[0] // factor) * factor, (data.shape[1] // factor) * factor
    blocks = data[:h, :w].reshape(h // factor, factor, w // factor, factor)
    invalid = (blocks < 0).any(axis=(1, 3))
    return np.where(invalid, -1, np.clip(blocks, 0, None).sum(axis=(1, 3))).astype(np.float32)


def simulate_batch(n_per_class: int, seed: int, size: int | None = None,
                   techniques: Sequence[str] = TECHNIQUES, workers: int = 2, start: int = 0
                   ) -> tuple[list[np.ndarray], list[str], np.ndarray, list[dict]]:
    """``n_per_class`` frames of each technique, numbered from ``start``: (frames, labels, group ids, parameters).

    Frame i of technique t uses seed ``hash(seed, t, i)``, so results do not depend on ``workers``
    and a batch can be simulated in parts (``start``) that together equal the whole.
    Each frame is its own simulated sample, so its group id is its index. ``size`` simulates binned
    read-outs (long side about ``size``), ten times faster than native frames for training sets.
    """
    jobs = [(t, int(np.random.SeedSequence([seed, ti, i]).generate_state(1)[0]), size)
            for ti, t in enumerate(techniques) for i in range(start, start + n_per_class)]
    if workers > 1 and len(jobs) > 8:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_one, jobs, chunksize=4))
    else:
        results = [_one(j) for j in jobs]
    frames = [r[0] for r in results]
    params = [r[1] for r in results]
    labels = [j[0] for j in jobs]
    return frames, labels, np.arange(len(jobs)), params


__all__ = ["DETECTORS", "Q_MAX", "bin_frame", "simulate", "simulate_batch"]
