"""Cross-check a prediction against geometry hints in the frame's header.

Headers often still carry the incidence angle (grazing incidence) or the sample-detector distance
(small vs wide angle) even when the technique label was lost. A prediction that disagrees with
them is not overruled, only reported, because headers are also often stale.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
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


NAME_INCIDENCE = re.compile(r"(?:^|[_\-. ])(?:s?th|ai|alphai|alpha_i|incidence|incident)[_=]?(\d*\.\d+)(?=deg|[_\-. ]|$)",
                            re.IGNORECASE)
"""An incidence angle written into a file name, as grazing-incidence beamlines name frames: NSLS-II
SMI/CMS ``..._th0.300_0.49s_..._maxs.tiff``, CFN ``...-sth0.60.60s_WAXS`` (a decimal point is needed,
so run numbers and exposures are not taken for angles)."""

DISTANCE_UNITS = {"m": 1.0, "meter": 1.0, "metre": 1.0, "cm": 0.01, "mm": 0.001, "um": 1e-6}
"""Metres per distance unit a header may name."""


def geometry_hints(metadata: dict[str, Any], source: str | os.PathLike = "") -> dict[str, float]:
    """Incidence angle and sample tilt stage (deg) and distance (m) found in a header, and an incidence
    angle in the file name of ``source``, when present. Units are taken as the header names them (NeXus
    ``units``: ``rad``, ``mm``, ...); a bare distance above 20 is in mm."""
    hints: dict[str, float] = {}
    named = NAME_INCIDENCE.search(Path(source).name) if source else None
    if named:
        hints["name_incidence_deg"] = float(named.group(1))
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


HINT_WORDS: dict[str, tuple[str, str]] = {
    "incidence_deg": ("incidence angle", "deg"), "stage_tilt_deg": ("sample tilt stage", "deg"),
    "distance_m": ("distance", "m"), "name_incidence_deg": ("incidence angle in the file name", "deg")}
"""What each hint of :func:`geometry_hints` is called when shown, and its unit."""


def said(hints: dict[str, float]) -> str:
    """The hints in words, e.g. ``incidence angle 0.15 deg, distance 2 m``."""
    return ", ".join(f"{HINT_WORDS[k][0]} {hints[k]:.4g} {HINT_WORDS[k][1]}" for k in HINT_WORDS if k in hints)


CHECKED_HINTS = ("incidence_deg", "name_incidence_deg", "distance_m")
"""The hints :func:`check_metadata` holds a prediction against (a tilt stage is not one of them)."""


def check_metadata(metadata: dict[str, Any], technique: str, source: str | os.PathLike = "") -> str:
    """'' when the header and the file name of ``source`` agree with (or say nothing about)
    ``technique``; else why they disagree. A file name's angle only ever says grazing incidence: names
    of transmission frames rarely carry one, so a 0 there is no evidence."""
    if technique not in GRAZING | {"SAXS", "WAXS"}:
        return ""
    hints = geometry_hints(metadata, source)
    problems = []
    named = hints.get("name_incidence_deg")
    if named is not None and "incidence_deg" not in hints and 0.02 <= named <= 5 and technique not in GRAZING:
        problems.append(f"file name incidence angle {named:g} deg suggests grazing incidence")
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
