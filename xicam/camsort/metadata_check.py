"""Cross-check a prediction against geometry hints in the frame's header.

Headers often still carry the incidence angle (grazing incidence) or the sample-detector distance
(small vs wide angle) even when the technique label was lost. A prediction that disagrees with
them is not overruled, only reported, because headers are also often stale.
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np

INCIDENCE_KEYS = ("alpha_i", "alphai", "incident_angle", "incidence_angle", "incident angle",
                  "incidence angle", "grazing_angle", "theta_incident", "th_incident")
"""Header keys (lower-case) holding the grazing incidence angle in degrees."""

STAGE_KEYS = ("sample alpha stage",)
"""Header keys (lower-case) holding the sample's tilt motor in degrees (ALS 7.3.3's header text file).
Shown, never checked: in a grazing measurement it reads about the incidence angle, but a sample in
transmission may sit at any small tilt (7.3.3's AgB calibrations at 2 m read 0.36 deg)."""

DISTANCE_KEYS = ("distance", "sample_distance", "sampledistance", "detector_distance", "sdd",
                 "sample detector distance", "sample-detector distance", "det_dist")
"""Header keys (lower-case) holding the sample-detector distance (m, or mm when > 20)."""

GRAZING, SMALL_ANGLE = {"GISAXS", "GIWAXS"}, {"SAXS", "GISAXS"}
_NUMBER = re.compile(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?")


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _NUMBER.search(str(value)) if value is not None else None
    return float(match.group()) if match else None


def _find(metadata: dict[str, Any], keys: tuple[str, ...]) -> tuple[float, str] | None:
    """The number and its unit (lower-case text after it, '' if none) of the first header entry named by
    one of ``keys``; an HDF5 path matches by its last component."""
    for name, value in metadata.items():
        if str(name).rsplit("/", 1)[-1].strip().lower() in keys:
            number = _number(value)
            if number is not None:
                unit = _NUMBER.split(str(value), maxsplit=1)[-1].strip().lower() if isinstance(value, str) else ""
                return number, unit
    return None


DISTANCE_UNITS = {"m": 1.0, "meter": 1.0, "metre": 1.0, "cm": 0.01, "mm": 0.001, "um": 1e-6}
"""Metres per distance unit a header may name."""


def geometry_hints(metadata: dict[str, Any]) -> dict[str, float]:
    """Incidence angle and sample tilt stage (deg) and distance (m) found in a header, when present.
    Units are taken as the header names them (NeXus ``units``: ``rad``, ``mm``, ...); a bare distance
    above 20 is in mm."""
    hints: dict[str, float] = {}
    for name, keys in (("incidence_deg", INCIDENCE_KEYS), ("stage_tilt_deg", STAGE_KEYS)):
        found = _find(metadata, keys)
        if found:
            angle, unit = found
            hints[name] = float(np.degrees(angle)) if unit.startswith("rad") else angle
    found = _find(metadata, DISTANCE_KEYS)
    if found:
        value, unit = found
        scale = DISTANCE_UNITS.get(unit)
        hints["distance_m"] = value * scale if scale is not None else (value / 1000.0 if value > 20 else value)
    return hints


CHECKED_HINTS = ("incidence_deg", "distance_m")
"""The hints :func:`check_metadata` holds a prediction against (a tilt stage is not one of them)."""


def check_metadata(metadata: dict[str, Any], technique: str) -> str:
    """'' when the header agrees with (or says nothing about) ``technique``; else why it disagrees."""
    if technique not in GRAZING | {"SAXS", "WAXS"}:
        return ""
    hints = geometry_hints(metadata)
    problems = []
    angle = hints.get("incidence_deg")
    if angle is not None:
        if 0.02 <= abs(angle) <= 5 and technique not in GRAZING:
            problems.append(f"header incidence angle {angle:g} deg suggests grazing incidence")
        elif abs(angle) < 0.005 and technique in GRAZING:
            problems.append("header incidence angle 0 suggests transmission")
    distance = hints.get("distance_m")
    if distance is not None:
        if distance < 0.5 and technique in SMALL_ANGLE:
            problems.append(f"header distance {distance:.3g} m suggests wide angle")
        elif distance > 1.5 and technique not in SMALL_ANGLE:
            problems.append(f"header distance {distance:.3g} m suggests small angle")
    return "; ".join(problems)
