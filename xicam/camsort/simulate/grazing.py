"""GISAXS and GIWAXS intensity maps: scattering above the sample horizon, the substrate's shadow
below it, the Yoneda band at the critical angle, the specular rod, Bragg rods and textured arcs."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import profiles as P
from .transmission import saxs_profile


def yoneda(alpha_f: np.ndarray, alpha_c: float, beta: float = 0.02) -> np.ndarray:
    """Fresnel transmission |t(alpha_f)|^2 of the exit wave: peaks (~4x) at alpha_f = alpha_c, 0 below horizon.

    Evaluated on a 1-D table of exit angles and interpolated (it depends on alpha_f alone).
    """
    table = np.linspace(0.0, max(float(alpha_f.max()), 1e-4), 4096)
    s = np.sin(table).astype(np.complex128)
    sc = np.sin(alpha_c)
    t = 2 * s / (s + np.sqrt(s * s - sc * sc * (1 - 1j * beta)))
    out = np.interp(alpha_f, table, np.abs(t) ** 2).astype(np.float32)
    return np.where(alpha_f > 0, out, np.float32(0))


def _shadow(alpha_f: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Substrate shadow: full intensity above the horizon, a faint transmitted rest below it."""
    leak = np.float32(rng.choice([0.0, 1e-4, 1e-3]))
    edge = np.float32(rng.uniform(2e-5, 2e-4))  # a smooth horizon edge, not a pixel-sharp cut
    return np.clip(0.5 + alpha_f / (2 * edge), leak, 1.0).astype(np.float32)


SPILL_OVER = {"GISAXS": 0.5, "GIWAXS": 0.3}
"""Fraction of grazing frames where part of the beam passes the sample and reaches the detector."""


FILM_DIFFUSE = 0.6
"""Share of GIWAXS films that also scatter at small angles (grains, voids, roughness): a diffuse glow
around the beam that the Yoneda band and the horizon shape, as next to a real film's first reflections."""


def _spill_over(g: dict[str, np.ndarray], alpha_i: float, rng: np.random.Generator, level: float,
                chance: float) -> np.ndarray:
    """Direct beam that missed the sample (beam wider than the footprint, or through the substrate's
    edge): a bright spot below the horizon at alpha_f = -alpha_i with a halo of parasitic scattering,
    which the beamstop then partly hides. Not shadowed by the substrate: it never met it."""
    if rng.random() >= chance:
        return np.zeros_like(g["alpha_f"])
    width = rng.uniform(3e-4, 3e-3)
    d2 = ((g["alpha_f"] + alpha_i) ** 2 + g["two_theta_f"] ** 2) / np.float32(width * width)
    return (level * 10 ** rng.uniform(-0.5, 1.5) * (1 + d2) ** -1.5).astype(np.float32)


def _on_substrate(image: np.ndarray, g: dict[str, np.ndarray], alpha_i: float, rng: np.random.Generator,
                  technique: str) -> np.ndarray:
    """The film's scattering as the detector sees it over a substrate: shadowed below the horizon, plus
    any beam that spilled past the sample (scaled to the scattering's bright end)."""
    spill = _spill_over(g, alpha_i, rng, float(np.percentile(image[::7, ::7], 99.9)), SPILL_OVER[technique])
    return image * _shadow(g["alpha_f"], rng) + spill


def _specular_rod(g: dict[str, np.ndarray], alpha_i: float, rng: np.random.Generator, k: float) -> np.ndarray:
    """Reflectivity along q_z at q_xy ~ 0 (the specular rod) with a bright specular spot at alpha_f = alpha_i."""
    sigma = rng.uniform(0.0004, 0.003)
    out = np.zeros(g["q_xy"].shape, np.float32)
    idx = np.flatnonzero(np.abs(g["q_xy"]) < 5 * sigma)  # the rod is a few pixels wide: work there only
    qz = np.maximum(g["q_z"].flat[idx], 1e-4)
    alpha_f = g["alpha_f"].flat[idx]
    thickness = rng.uniform(50, 800)
    reflect = (0.02 / qz) ** 4 * (1 + 0.5 * np.cos(qz * thickness)) * (alpha_f > 0)
    spot = np.exp(-0.5 * ((alpha_f - alpha_i) / (alpha_i * 0.08 + 2e-4)) ** 2)
    out.flat[idx] = np.exp(-0.5 * (g["q_xy"].flat[idx] / sigma) ** 2) * (reflect + spot * 50)
    return out


def gisaxs_map(g: dict[str, np.ndarray], alpha_i: float, alpha_c: float, rng: np.random.Generator,
               q_max: float, k: float) -> tuple[np.ndarray, dict[str, Any]]:
    """Nanostructures on a substrate: lateral form/structure factor as Bragg rods, vertical form factor, Yoneda."""
    q, diffuse, peaks, params = saxs_profile(rng, q_max)
    qxy = np.abs(g["q_xy"])
    lateral = np.interp(qxy, q, diffuse).astype(np.float32)
    if peaks.any():  # lateral order: Bragg rods extending along q_z
        lateral += np.interp(qxy, q, peaks).astype(np.float32)
    height = 10 ** rng.uniform(1.2, 2.4)
    qz_grid = np.linspace(0, q_max * 1.5, 2048)
    # vertical form factor of the objects plus diffuse roughness scattering: both fall off along q_z
    vertical = P.sphere_intensity(qz_grid, height, rng.uniform(0.05, 0.3)) + \
        rng.uniform(0.001, 0.05) / (1 + (qz_grid * height / 4) ** 2) ** 2
    fz = np.interp(np.abs(g["q_z"]), qz_grid, vertical).astype(np.float32)
    image = lateral * fz * yoneda(g["alpha_f"], alpha_c)
    rod = _specular_rod(g, alpha_i, rng, k)
    image += rod * image.max() * rng.uniform(0.05, 2.0) / max(float(rod.max()), 1e-12)
    params.update(vertical_size_a=height)
    return _on_substrate(image, g, alpha_i, rng, "GISAXS"), params


def giwaxs_map(g: dict[str, np.ndarray], alpha_i: float, alpha_c: float, rng: np.random.Generator,
               q_max: float, k: float) -> tuple[np.ndarray, dict[str, Any]]:
    """A crystalline thin film: rings, arcs or Bragg spots by texture, missing wedge from exact q_xy, Yoneda."""
    name, positions, intensities = P.crystal_reflections(rng, q_max, float(g["q"].min()))
    texture = str(rng.choice(["isotropic", "face-on", "edge-on", "mixed"], p=[0.25, 0.35, 0.25, 0.15]))
    width = P.ring_width(rng)
    qabs = g["q"]
    chi = np.arctan2(np.abs(g["q_xy"]), g["q_z"])  # angle from the surface normal (q_z axis)
    image = np.zeros_like(qabs)
    sigma = np.radians(rng.uniform(3, 25))
    for position, strength in zip(positions, intensities):
        band = np.abs(qabs - position) < 4 * width
        if not band.any():
            continue
        idx = np.flatnonzero(band)
        radial = strength * np.exp(-0.5 * ((qabs.flat[idx] - position) / width) ** 2)
        if texture == "isotropic":
            angular = 1.0
        else:
            centre = {"face-on": 0.0, "edge-on": np.pi / 2}.get(texture, float(rng.choice([0.0, np.pi / 2])))
            if rng.random() < 0.4:  # off-axis reflection of the oriented cell
                centre = rng.uniform(0.2, 1.4)
            angular = 0.05 * (texture == "mixed") + np.exp(-0.5 * ((chi.flat[idx] - centre) / sigma) ** 2)
        image.flat[idx] += (radial * angular).astype(np.float32)
    grid = np.linspace(0, q_max * 1.2, 2048)
    halo = P.amorphous_halo(grid, rng.uniform(1.2, 2.0), rng.uniform(0.2, 0.5))
    image += np.interp(qabs, grid, halo).astype(np.float32) * rng.uniform(0.005, 0.15)
    rg, slope, strength = 10 ** rng.uniform(1.0, 2.3), rng.uniform(2.5, 4.0), rng.uniform(0.05, 3.0)
    if rng.random() < FILM_DIFFUSE:  # drawn either way: the rest of the frame does not depend on it
        diffuse = np.interp(qabs, grid, P.guinier_porod(grid, rg, 0.0, slope))
        image += (diffuse * (strength / max(float(diffuse.max()), 1e-12))).astype(np.float32)
    image *= 0.3 + yoneda(g["alpha_f"], alpha_c)
    rod = _specular_rod(g, alpha_i, rng, k)
    image += rod * image.max() * rng.uniform(0.0, 0.5) / max(float(rod.max()), 1e-12)
    return _on_substrate(image, g, alpha_i, rng, "GIWAXS"), {"model": name, "texture": texture, "ring_width": width,
                                                             "arc_sigma_deg": float(np.degrees(sigma))}
