"""SAXS and WAXS intensity maps in transmission geometry, from 1-D laws and texture in azimuth."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import profiles as P


def _grid(q_max: float) -> np.ndarray:
    return np.linspace(0.0, q_max * 1.02, 4096, dtype=np.float64)


def saxs_profile(rng: np.random.Generator, q_max: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """A random SAXS sample: grid q, diffuse I(q), peak I(q) (may be zero) and its parameters."""
    q = _grid(q_max)
    model = str(rng.choice(["spheres", "guinier_porod", "cylinders", "agbh", "mesophase", "lamellar"],
                           p=[0.25, 0.2, 0.1, 0.1, 0.2, 0.15]))
    params: dict[str, Any] = {"model": model}
    peaks = np.zeros_like(q)
    if model == "spheres":
        r = 10 ** rng.uniform(1.2, 2.6)
        diffuse = P.sphere_intensity(q, r, rng.uniform(0.03, 0.3))
        params.update(radius_a=r)
    elif model == "cylinders":
        rg = 10 ** rng.uniform(1.3, 2.5)
        diffuse = P.guinier_porod(q, rg, 1.0, rng.uniform(3.0, 4.0))
        params.update(rg_a=rg, s=1.0)
    else:
        rg = 10 ** rng.uniform(1.0, 2.6)
        s = float(rng.choice([0.0, 1.0, 2.0], p=[0.5, 0.3, 0.2]))
        diffuse = P.guinier_porod(q, rg, s, rng.uniform(2.0, 4.2))
        params.update(rg_a=rg, s=s)
    if model == "agbh":
        q1 = 2 * np.pi / P.AGBH_D_A * rng.uniform(0.995, 1.005)
        n = np.arange(1, 16, dtype=float)
        peaks = P.peak_series(q, q1, n, rng.uniform(0.0008, 0.003) * (1 + 0.02 * n.mean()), 1.0 / n**1.2)
        params.update(q1=q1)
    elif model in ("mesophase", "lamellar"):
        order = ("lamellar" if model == "lamellar"
                 else str(rng.choice(["hexagonal", "bcc", "fcc", "gyroid", "lamellar"])))
        q1 = rng.uniform(0.12, 0.6) * q_max
        ratios = P.ORDER_RATIOS[order]
        n_orders = int(rng.integers(1, len(ratios) + 1))
        amps = rng.uniform(0.2, 1.0, n_orders) / np.arange(1, n_orders + 1) ** rng.uniform(0.5, 2)
        peaks = P.peak_series(q, q1, ratios[:n_orders], q1 * rng.uniform(0.01, 0.12), amps)
        params.update(order=order, q1=q1, orders=n_orders)
    scale = np.interp(params.get("q1", q_max / 3), q, diffuse) * 10 ** rng.uniform(0.3, 2.0)
    return q, diffuse, peaks * scale, params


def waxs_profile(rng: np.random.Generator, q_max: float, q_min: float = 0.0
                 ) -> tuple[np.ndarray, list[tuple[float, float, float]], np.ndarray, dict[str, Any]]:
    """A random WAXS sample: grid q, rings [(q, intensity, width)], smooth background I(q), parameters.

    A crystal has at least one ring between ``q_min`` and ``q_max``, the q-range the detector sees."""
    q = _grid(q_max)
    halo = P.amorphous_halo(q, rng.uniform(1.1, 2.0), rng.uniform(0.15, 0.5))
    if rng.random() < 0.12:  # nothing crystalline: a glass, a liquid, a solution
        return q, [], halo, {"model": "amorphous"}
    name, positions, intensities = P.crystal_reflections(rng, q_max, q_min)
    width = P.ring_width(rng)
    rings = [(float(p), float(i), width * (1 + 0.3 * p)) for p, i in zip(positions, intensities)]
    halo_weight = rng.uniform(0.0, 0.5)
    return q, rings, halo * halo_weight, {"model": name, "ring_width": width, "n_rings": len(rings),
                                          "rings_q": [round(r[0], 4) for r in rings]}


def azimuthal_texture(chi: np.ndarray, rng: np.random.Generator, sharpness: float) -> np.ndarray:
    """Orientation modulation 0..1 in azimuth: two arcs (fibre/shear orientation) of given sharpness."""
    chi0 = rng.uniform(0, np.pi)
    return (0.5 + 0.5 * np.cos(2 * (chi - chi0))) ** sharpness


def saxs_map(q_map: np.ndarray, chi: np.ndarray, rng: np.random.Generator,
             q_max: float) -> tuple[np.ndarray, dict[str, Any]]:
    """2-D SAXS intensity: isotropic or oriented diffuse scattering plus correlation peaks."""
    q, diffuse, peaks, params = saxs_profile(rng, q_max)
    image = np.interp(q_map, q, diffuse).astype(np.float32)
    oriented = rng.random() < 0.3
    if oriented:
        image *= 0.3 + azimuthal_texture(chi, rng, rng.uniform(0.5, 3))
    if peaks.any():
        ring = np.interp(q_map, q, peaks).astype(np.float32)
        if oriented or rng.random() < 0.15:
            ring *= 0.05 + azimuthal_texture(chi, rng, rng.uniform(2, 40))
        image += ring
    params["oriented"] = bool(oriented)
    return image, params


def waxs_map(q_map: np.ndarray, chi: np.ndarray, rng: np.random.Generator,
             q_max: float) -> tuple[np.ndarray, dict[str, Any]]:
    """2-D WAXS intensity: Debye-Scherrer rings (smooth, textured or spotty) over a halo background."""
    q, rings, background, params = waxs_profile(rng, q_max, float(q_map.min()))
    image = np.interp(q_map, q, background).astype(np.float32)
    style = str(rng.choice(["powder", "textured", "spotty"], p=[0.55, 0.25, 0.2]))
    n_pix = q_map.size
    for position, strength, width in rings:
        band = np.abs(q_map - position) < 4 * width
        if not band.any():
            continue
        idx = np.flatnonzero(band)
        qv, cv = q_map.flat[idx], chi.flat[idx]
        profile = strength * np.exp(-0.5 * ((qv - position) / width) ** 2)
        if style == "textured":
            profile *= 0.1 + azimuthal_texture(cv, rng, rng.uniform(1, 20))
        elif style == "spotty":
            profile *= _spots(cv, rng, n_pix)
        image.flat[idx] += profile.astype(np.float32)
    params["ring_style"] = style
    return image, params


def _spots(chi: np.ndarray, rng: np.random.Generator, n_pix: int) -> np.ndarray:
    """Azimuthal intensity of a ring made of few coarse grains: sharp spots at random angles."""
    n = int(rng.integers(8, 120))
    centres = np.sort(rng.uniform(-np.pi, np.pi, n))
    width = rng.uniform(0.003, 0.02) * np.sqrt(1e6 / n_pix)
    table_chi = np.linspace(-np.pi, np.pi, 4096, dtype=np.float32)
    diff = (table_chi[:, None] - centres[None, :].astype(np.float32) + np.pi) % (2 * np.pi) - np.pi
    table = (rng.uniform(0.2, 1, n) * np.exp(-0.5 * (diff / width) ** 2)).sum(1)
    return 0.03 + np.interp(chi, table_chi, table) * 3
