"""Scattering geometry of a flat detector normal to the beam: pixel -> angles -> q.

Transmission: q = 4 pi / lambda * sin(theta) with 2 theta the angle off the direct beam, and the
azimuth chi. Grazing incidence: exit angle alpha_f above the sample horizon, in-plane angle
2 theta_f, and the exact q_xy, q_z (so that q_xy never reaches 0 off the specular plane: the
missing wedge). q in inverse angstrom, angles in radians.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HC_KEV_A = 12.398419843320026
"""h c in keV * angstrom: lambda = HC_KEV_A / E."""


@dataclass(frozen=True)
class Geometry:
    """Where the detector sits: distance (m), energy (keV), pixel size (m), direct beam (row, col)."""

    distance_m: float
    energy_kev: float
    pixel_m: float
    beam_row: float
    beam_col: float

    @property
    def wavelength_a(self) -> float:
        return HC_KEV_A / self.energy_kev

    @property
    def k(self) -> float:
        """Wave number 2 pi / lambda (1/A)."""
        return 2 * np.pi / self.wavelength_a

    def offsets(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Horizontal (right +) and vertical (up +) distances of pixel centres from the beam, in m."""
        rows = (self.beam_row - np.arange(shape[0], dtype=np.float32)) * np.float32(self.pixel_m)
        cols = (np.arange(shape[1], dtype=np.float32) - self.beam_col) * np.float32(self.pixel_m)
        return cols[None, :], rows[:, None]

    def transmission(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """q (1/A) and cos(2 theta) per pixel, without trigonometric calls (cos 2theta = D / path)."""
        x, y = self.offsets(shape)
        d = np.float32(self.distance_m)
        cos2t = d / np.sqrt(x * x + y * y + d * d)
        q = np.float32(2 * self.k) * np.sqrt(np.maximum((1 - cos2t) / 2, 0))
        return q.astype(np.float32), cos2t.astype(np.float32)

    def azimuth(self, shape: tuple[int, int]) -> np.ndarray:
        """Azimuth chi per pixel (rad; 0 = right, pi/2 = up)."""
        x, y = self.offsets(shape)
        return np.arctan2(*np.broadcast_arrays(y, x)).astype(np.float32)

    def grazing(self, shape: tuple[int, int], alpha_i: float) -> dict[str, np.ndarray]:
        """alpha_f, 2 theta_f, q_xy (signed by side), q_z and |q| per pixel for incidence ``alpha_i``.

        The direct beam is at (beam_row, beam_col); the sample horizon (alpha_f = 0) lies alpha_i above it.
        """
        x, y = self.offsets(shape)
        d = np.float32(self.distance_m)
        two_theta_f = np.arctan2(x, d) * np.ones_like(y)
        alpha_f = np.arctan2(y, np.sqrt(d * d + x * x)) - np.float32(alpha_i)
        k = np.float32(self.k)
        ca, cf = np.float32(np.cos(alpha_i)), np.cos(alpha_f)
        qx = k * (cf * np.cos(two_theta_f) - ca)
        qy = k * cf * np.sin(two_theta_f)
        qz = k * (np.sin(alpha_f) + np.float32(np.sin(alpha_i)))
        q_xy = np.sign(qy) * np.sqrt(qx * qx + qy * qy)
        return {"alpha_f": alpha_f.astype(np.float32), "two_theta_f": two_theta_f.astype(np.float32),
                "q_xy": q_xy.astype(np.float32), "q_z": qz.astype(np.float32),
                "q": np.sqrt(q_xy * q_xy + qz * qz).astype(np.float32)}

    def horizon_row(self, alpha_i: float) -> float:
        """Detector row of the sample horizon (alpha_f = 0) on the column of the direct beam."""
        return self.beam_row - self.distance_m * np.tan(alpha_i) / self.pixel_m


def q_at_two_theta(two_theta_deg: float, energy_kev: float) -> float:
    """q (1/A) scattered at the angle 2 theta: 4 pi sin(theta) / lambda."""
    return float(4 * np.pi * np.sin(np.radians(two_theta_deg / 2)) * energy_kev / HC_KEV_A)


def distance_for_q(q_edge: float, energy_kev: float, r_pixels: float, pixel_m: float) -> float:
    """Sample-detector distance that puts ``q_edge`` at ``r_pixels`` from the beam."""
    lam = HC_KEV_A / energy_kev
    two_theta = 2 * np.arcsin(min(q_edge * lam / (4 * np.pi), 0.99))
    return float(r_pixels * pixel_m / np.tan(two_theta))
