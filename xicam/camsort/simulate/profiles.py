"""1-D scattering laws I(q): form factors, Guinier-Porod, correlation peaks, crystal rings, halos.

Every function evaluates on a 1-D q grid; 2-D frames interpolate these profiles at each pixel's q,
which keeps a megapixel frame to a few interpolations.
"""
from __future__ import annotations

import numpy as np

AGBH_D_A = 58.38
"""Silver behenate long period (angstrom): the SAXS calibrant with its ladder of orders."""


def sphere_intensity(q: np.ndarray, radius: float, polydispersity: float, n_radii: int = 21) -> np.ndarray:
    """Orientation-free form factor of polydisperse spheres (Gaussian radii, volume-squared weighted)."""
    radii = radius * (1 + polydispersity * np.linspace(-2.5, 2.5, n_radii))
    radii = radii[radii > 1.0]
    weights = np.exp(-0.5 * ((radii / radius - 1) / max(polydispersity, 1e-3)) ** 2) * radii**6
    x = np.maximum(np.outer(radii, q), 1e-6)
    amp = 3 * (np.sin(x) - x * np.cos(x)) / x**3
    return (weights[:, None] * amp**2).sum(0) / weights.sum()


def guinier_porod(q: np.ndarray, rg: float, s: float, d: float) -> np.ndarray:
    """Hammouda's Guinier-Porod law: Guinier knee at Rg, Porod slope d, shape s (0 sphere, 1 rod, 2 sheet)."""
    d = max(d, s + 0.2)
    q1 = np.sqrt((d - s) * (3 - s) / 2) / rg
    dpar = np.exp(-q1**2 * rg**2 / (3 - s)) * q1 ** (d - s)
    qs = np.maximum(q, 1e-6)
    low = qs ** (-s) * np.exp(-qs**2 * rg**2 / (3 - s))
    high = dpar * qs ** (-d)
    return np.where(qs < q1, low, high)


def peak_series(q: np.ndarray, q1: float, ratios: np.ndarray, width: float, amplitudes: np.ndarray,
                lorentz_fraction: float = 0.5) -> np.ndarray:
    """Sum of pseudo-Voigt peaks at q1 * ratios (correlation peaks, Bragg orders)."""
    out = np.zeros_like(q)
    for r, a in zip(ratios, amplitudes):
        dq = q - q1 * r
        gauss = np.exp(-0.5 * (dq / width) ** 2)
        lor = 1 / (1 + (dq / width) ** 2)
        out += a * ((1 - lorentz_fraction) * gauss + lorentz_fraction * lor)
    return out


ORDER_RATIOS = {
    "lamellar": np.arange(1, 9, dtype=float),
    "hexagonal": np.sqrt([1, 3, 4, 7, 9, 12, 13]),
    "bcc": np.sqrt([1, 2, 3, 4, 5, 6, 7]),
    "fcc": np.sqrt([3, 4, 8, 11, 12, 16]) / np.sqrt(3),
    "gyroid": np.sqrt([6, 8, 14, 16, 20, 22]) / np.sqrt(6),
}
"""Peak-position ratios q/q* of ordered mesophases (SAXS correlation peaks)."""

MAX_RINGS = 60
"""Strongest reflections kept per lattice: beyond a few dozen, high-q rings of a large cell merge."""

CUBIC_CENTRING = ("sc", "bcc", "fcc", "diamond")
"""Cubic lattices by their reflection conditions (CeO2 and Si are fcc and diamond, LaB6 sc)."""


def _cubic_allowed(lattice: str, hkl: np.ndarray) -> np.ndarray:
    """Reflections of a cubic lattice that its centring does not extinguish."""
    h, k, l = hkl.T
    if lattice == "bcc":
        return (h + k + l) % 2 == 0
    parity = hkl % 2
    fcc = (parity.min(1) == parity.max(1))  # all odd or all even
    if lattice == "fcc":
        return fcc
    if lattice == "diamond":
        return fcc & ((parity.min(1) == 1) | ((h + k + l) % 4 == 0))
    return np.ones(len(hkl), bool)


def _indices(q_max: float, cell: np.ndarray) -> np.ndarray:
    """All (h, k, l) with 0 <= indices, not all zero, up to the largest index a reflection below
    ``q_max`` can have in a cell of edges ``cell`` (A): high-energy powder frames show dozens of rings."""
    top = [int(np.ceil(q_max * 1.05 * c / (2 * np.pi))) for c in cell]
    grid = np.stack(np.meshgrid(*[np.arange(t + 1) for t in top], indexing="ij"), -1).reshape(-1, 3)
    return grid[grid.any(1)]


def _cubic_multiplicity(hkl: np.ndarray) -> np.ndarray:
    """Number of cubic-equivalent reflections of each h >= k >= l >= 0: distinct permutations of
    the indices times a sign choice per non-zero index."""
    h, k, l = hkl.T
    equal = (h == k).astype(int) + (k == l)
    permutations = np.where(equal == 2, 1, np.where(equal == 1, 3, 6))
    return (permutations * 2 ** (hkl > 0).sum(1)).astype(float)


def crystal_reflections(rng: np.random.Generator, q_max: float, q_min: float = 0.0,
                        tries: int = 25) -> tuple[str, np.ndarray, np.ndarray]:
    """A random real-like lattice with at least one reflection between ``q_min`` and ``q_max`` (1/A):
    its name, reflection positions below ``q_max`` and intensities.

    Wide-angle set-ups are chosen to record the sample's reflections, so a crystal whose rings all
    miss the detector's q-range is redrawn (up to ``tries`` times) rather than simulated as a blank.
    """
    for _ in range(tries):
        name, q, intensity = _lattice(rng, q_max)
        if ((q > q_min) & (q < q_max)).any():
            break
    return name, q, intensity


def _lattice(rng: np.random.Generator, q_max: float) -> tuple[str, np.ndarray, np.ndarray]:
    """One random lattice: name, reflection positions below ``q_max`` and their normalised intensities."""
    kind = str(rng.choice(["cubic", "hexagonal", "lamellar_polymer", "orthorhombic"], p=[0.45, 0.2, 0.15, 0.2]))
    if kind == "cubic":
        lattice = str(rng.choice(CUBIC_CENTRING))
        a = rng.uniform(3.0, 9.0)
        hkl = _indices(q_max, np.array([a, a, a]))
        hkl = hkl[(hkl[:, 0] >= hkl[:, 1]) & (hkl[:, 1] >= hkl[:, 2]) & _cubic_allowed(lattice, hkl)]
        q = 2 * np.pi * np.sqrt((hkl**2).sum(1)) / a
        mult = _cubic_multiplicity(hkl)
        name = f"{lattice} a={a:.2f}"
    elif kind == "hexagonal":
        a, c = rng.uniform(2.5, 6.0), rng.uniform(4.0, 10.0)
        h, k, l = _indices(q_max, np.array([a * np.sqrt(3) / 2, a * np.sqrt(3) / 2, c])).T
        q = 2 * np.pi * np.sqrt(4 / 3 * (h * h + h * k + k * k) / a**2 + l * l / c**2)
        mult = np.where(l == 0, 6.0, 12.0)
        name = f"hexagonal a={a:.2f} c={c:.2f}"
    elif kind == "orthorhombic":
        cell = rng.uniform(3, 12, 3)
        hkl = _indices(q_max, cell)
        q = 2 * np.pi * np.sqrt(((hkl / cell) ** 2).sum(1))
        mult = np.full(len(q), 8.0)
        name = "orthorhombic {:.1f}/{:.1f}/{:.1f}".format(*cell)
    else:  # semicrystalline polymer: lamellar orders plus sub-cell reflections
        d = rng.uniform(12, 45)
        q = np.concatenate([2 * np.pi * np.arange(1, 6) / d, rng.uniform(1.3, 1.7, 3)])
        mult = np.concatenate([np.geomspace(8, 0.5, 5), rng.uniform(2, 10, 3)])
        name = f"lamellar polymer d={d:.1f}"
    q, which = np.unique(np.round(q, 4), return_inverse=True)
    mult = np.bincount(which.ravel(), mult)  # reflections at one q add up to one ring
    structure = rng.uniform(0.05, 1.0, len(q)) ** 1.5  # unknown structure factors: random but fixed per sample
    debye_waller = np.exp(-rng.uniform(0.5, 3.0) * q**2 / (8 * np.pi**2) * 4)
    intensity = mult * structure * debye_waller / np.maximum(q, 0.05) ** 2
    keep = (q < q_max * 1.05) & (q > 0.05)
    if keep.sum() > MAX_RINGS:
        keep &= intensity >= np.sort(intensity[keep])[-MAX_RINGS]
    return name, q[keep], intensity[keep] / max(intensity[keep].max(), 1e-12) if keep.any() else intensity[keep]


def ring_width(rng: np.random.Generator) -> float:
    """Peak FWHM-like width in q from a Scherrer crystallite size (50-2000 A) plus instrument."""
    size = 10 ** rng.uniform(1.7, 3.3)
    return float(np.hypot(0.9 * 2 * np.pi / size / 2.355, rng.uniform(0.002, 0.01)))


def amorphous_halo(q: np.ndarray, center: float, width: float) -> np.ndarray:
    """Broad liquid/glass peak (e.g. 1.2-2.0 1/A) with a smooth shoulder."""
    return np.exp(-0.5 * ((q - center) / width) ** 2) + 0.3 * np.exp(-0.5 * ((q - 2.1 * center) / (1.6 * width)) ** 2)
