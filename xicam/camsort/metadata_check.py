"""What a frame's header and file name say about its technique: weighed in the decision, and held against it.

Headers often still carry the incidence angle (grazing incidence) or the sample-detector distance
(small vs wide angle) even when the technique label was lost, and file names the angle or the detector
(``_th0.300_``, ``_WAXS1``). Where a header also gives the wavelength (or energy), the pixel size and the
beam centre, the q range the detector sees follows, which says small or wide angle better than the
distance alone. The strong hints multiply the odds of the techniques they point to (:func:`weighed_odds`),
by a factor that settles what the image leaves open but cannot overrule a sure image, because headers
and names are also often stale; what disagrees with the outcome is reported (:func:`check_metadata`).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from collections.abc import Iterable
from typing import Any

import numpy as np

from .simulate.geometry import HC_KEV_A

Claim = tuple[set[str], str, bool]
"""What one hint says: the techniques it points to, in words, and whether a decision weighs it."""

INCIDENCE_KEYS = ("alpha_i", "alphai", "incident_angle", "incidence_angle", "incident angle",
                  "incidence angle", "grazing_angle", "theta_incident", "th_incident")
"""Header keys (lower-case) holding the grazing incidence angle in degrees."""

STAGE_KEYS = ("sample alpha stage",)
"""Header keys (lower-case) holding the sample's tilt motor in degrees (ALS 7.3.3's header text file).
Shown, never checked: in a grazing measurement it reads about the incidence angle, but a sample in
transmission may sit at any small tilt (7.3.3's AgB calibrations at 2 m read 0.36 deg)."""

DISTANCE_KEYS = ("distance", "sample_distance", "sampledistance", "detector_distance", "detector_dist", "sdd",
                 "sample detector distance", "sample-detector distance", "det_dist")
"""Header keys (lower-case) holding the sample-detector distance (m, or mm when > 20)."""

WAVELENGTH_KEYS = ("wavelength", "wave_length", "incident_wavelength", "xray_wavelength", "lambda")
"""Header keys (lower-case) holding the X-ray wavelength (Pilatus ``Wavelength 1.54 A``, EDF ``WaveLength`` in m)."""

ENERGY_KEYS = ("energy", "photon_energy", "incident_energy", "beam_energy", "xray_energy")
"""Header keys (lower-case) holding the photon energy (keV, or eV when above 1000 or named so)."""

PIXEL_KEYS = ("pixel_size", "x_pixel_size", "pixelsize", "det_pixel_size", "psize_1")
"""Header keys (lower-case) holding the pixel size (Pilatus ``172e-6 m x 172e-6 m``, NeXus ``x_pixel_size``,
EDF ``PSize_1`` in m, SAXSLAB ``pixelsize`` in mm); the first number is taken."""

CENTRE_PAIR_KEYS = ("beam_xy", "beamcenter_actual", "beam_center", "beam_centre", "beamcenter")
"""Header keys (lower-case) holding the direct beam's column and row in one value (Pilatus ``Beam_xy (498.18,
515.77) pixels``)."""

CENTRE_SPLIT_KEYS = (("beam_center_x", "beam_center_y"), ("beam_centre_x", "beam_centre_y"),
                     ("center_1", "center_2"), ("xcenter", "ycenter"))
"""Pairs of header keys (lower-case) holding the direct beam's column and row (NeXus, EDF ``Center_1``)."""

Q_WIDE_ANGLE_REACH = 0.6
"""A detector that sees no q above this (1/A) records no spacing below 10 A, so no wide-angle pattern
(molecular and atomic spacings); a medium-angle set-up (MAXS, q up to about 1 1/A) still counts as wide."""

Q_SMALL_ANGLE_START = 0.5
"""A detector whose nearest pixel to the beam sees q above this (1/A) records no spacing above 13 A, so no
small-angle pattern."""

Q_SMALL_ANGLE_REACH = 3.0
"""A detector that reaches q above this (1/A, d below 2.1 A) is set up for wide angles, beam on it or not."""

GRAZING, TRANSMISSION = {"GISAXS", "GIWAXS"}, {"SAXS", "WAXS"}
SMALL_ANGLE, WIDE_ANGLE = {"SAXS", "GISAXS"}, {"WAXS", "GIWAXS"}
_NUMBER = re.compile(r"[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?")


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = _NUMBER.search(str(value)) if value is not None else None
    return float(match.group()) if match else None


def _named_entries(metadata: dict[str, Any]) -> list[tuple[str, Any]]:
    """The header's entries by lower-case name (an HDF5 path by its last component), in header order:
    named once, looked up for every hint."""
    return [(str(name).rsplit("/", 1)[-1].strip().lower(), value) for name, value in metadata.items()]


def _entry(entries: list[tuple[str, Any]], keys: tuple[str, ...]) -> Any:
    """The value of the first of ``entries`` (:func:`_named_entries`) named by one of ``keys`` that holds a
    number, or None."""
    return next((value for name, value in entries if name in keys and _number(value) is not None), None)


def _find(entries: list[tuple[str, Any]], keys: tuple[str, ...]) -> tuple[float, str] | None:
    """The number and its unit (lower-case text after it, '' if none) of the first of ``entries``
    (:func:`_named_entries`) named by one of ``keys``."""
    value = _entry(entries, keys)
    if value is None:
        return None
    unit = _NUMBER.split(str(value), maxsplit=1)[-1].strip().lower() if isinstance(value, str) else ""
    return _number(value), unit


def _unit_word(unit: str) -> str:
    """The unit's first word: ``m x 172e-6 m`` -> ``m``, ``) pixels`` -> ``pixels``."""
    match = re.search(r"[a-zµå]+", unit)
    return match.group() if match else ""


def _wavelength_a(entries: list[tuple[str, Any]]) -> float | None:
    """The wavelength in angstrom from a wavelength or an energy entry, or None when neither gives a
    plausible one (0.01-10 A)."""
    found, energy = _find(entries, WAVELENGTH_KEYS), _find(entries, ENERGY_KEYS)
    wavelength = None
    if found:
        value, unit = found[0], _unit_word(found[1])
        scale = {"m": 1e10, "nm": 10.0, "a": 1.0, "å": 1.0, "angstrom": 1.0, "ang": 1.0}.get(unit)
        wavelength = value * scale if scale else (value * 1e10 if value < 1e-6 else value)
    elif energy:
        value, unit = energy[0], _unit_word(energy[1])
        kev = value if unit == "kev" else value / 1000 if unit == "ev" or value > 1000 else value
        wavelength = HC_KEV_A / kev if kev > 0 else None
    return wavelength if wavelength is not None and 0.01 <= wavelength <= 10 else None


def _pixel_m(entries: list[tuple[str, Any]]) -> float | None:
    """The pixel size in metres (first number of a pixel-size entry), or None unless 5 um to 5 mm."""
    found = _find(entries, PIXEL_KEYS)
    if not found:
        return None
    value, unit = found[0], _unit_word(found[1])
    scale = {"m": 1.0, "mm": 1e-3, "um": 1e-6, "µm": 1e-6, "micron": 1e-6, "microns": 1e-6}.get(unit)
    pixel = value * scale if scale else value if value < 0.005 else value * 1e-3 if value < 2 else value * 1e-6
    return pixel if 5e-6 <= pixel <= 5e-3 else None


def _beam_centre_px(entries: list[tuple[str, Any]], pixel_m: float | None) -> tuple[float, float] | None:
    """The direct beam's (column, row) in pixels; None when absent or written as (0, 0), a header's unset
    default. A centre in mm or m needs the pixel size."""
    pair = _entry(entries, CENTRE_PAIR_KEYS)
    if pair is not None:
        numbers = [float(n) for n in _NUMBER.findall(str(pair))]
        xy, unit = (numbers[:2], _unit_word(_NUMBER.split(str(pair))[-1])) if len(numbers) >= 2 else (None, "")
    else:
        xy, unit = None, ""
        for x_keys, y_keys in CENTRE_SPLIT_KEYS:
            x, y = _find(entries, (x_keys,)), _find(entries, (y_keys,))
            if x and y:
                xy, unit = [x[0], y[0]], _unit_word(x[1])
                break
    if xy is None or xy == [0.0, 0.0]:
        return None
    scale = {"mm": 1e-3, "m": 1.0}.get(unit)
    if scale is not None:
        if not pixel_m:
            return None
        xy = [v * scale / pixel_m for v in xy]
    return float(xy[0]), float(xy[1])


def q_range(wavelength_a: float, distance_m: float, pixel_m: float, beam_xy: tuple[float, float],
            shape: tuple[int, int]) -> tuple[float, float]:
    """Smallest and largest q (1/A) on a flat detector of ``shape`` (rows, columns) normal to the beam,
    ``distance_m`` from the sample, with the direct beam at ``beam_xy`` (column, row; on the detector or
    not): q = 4 pi sin(theta) / lambda, 2 theta = atan(r / D)."""
    rows, cols = shape
    x, y = beam_xy
    far = max(np.hypot(c - x, r - y) for r in (0, rows) for c in (0, cols))
    near = np.hypot(min(max(x, 0), cols) - x, min(max(y, 0), rows) - y)
    q = [4 * np.pi * np.sin(np.arctan(r * pixel_m / distance_m) / 2) / wavelength_a for r in (near, far)]
    return float(q[0]), float(q[1])


NAME_INCIDENCE = re.compile(r"(?:^|[_\-. ])(?:s?th|ai|alphai|alpha_i|incidence|incident)"
                            r"[_=]?(\d*\.\d+)(?=deg|[_\-. ]|$)",
                            re.IGNORECASE)
"""An incidence angle written into a file name, as grazing-incidence beamlines name frames: NSLS-II
SMI/CMS ``..._th0.300_0.49s_..._maxs.tiff``, CFN ``...-sth0.60.60s_WAXS`` (a decimal point is needed,
so run numbers and exposures are not taken for angles)."""

NAME_TECHNIQUE = re.compile(r"(?:^|[_\-. ])(gi)?([sw])axs\d*(?=[_\-. ]|$)", re.IGNORECASE)
"""A technique or a detector's role written into a file name, as beamlines name a frame by the detector that
took it: NSLS-II LiX ``..._SAXS.cbf``, ``..._WAXS1.cbf``, CFN ``...-sth0.60.60s_WAXS``, or ``GISAXS_film_3.tif``
(delimited: ``pywaxs`` or ``usaxs`` are not taken, nor SMI's mid-angle ``maxs``)."""

NAME_DISTANCE = re.compile(r"(?:^|[_\-. ])(?i:sdd|dist)?[_=]?(\d+(?:\.\d+)?)(m|mm)(?=[_\-. ]|$)")
"""A sample-detector distance written into a file name, as SAXS beamlines name calibrations (ALS 7.3.3
``AgB_5s_lo_2m.edf``, ``..._sdd300mm_...``): delimited and in lower case, so a Pilatus ``2M``, a ``10mM``
solution, ``5min`` or ``0p5m`` (0.5 molar) are not taken. Only reported, as the header's distance is."""

DISTANCE_UNITS = {"m": 1.0, "meter": 1.0, "metre": 1.0, "cm": 0.01, "mm": 0.001, "um": 1e-6}
"""Metres per distance unit a header may name."""


def geometry_hints(metadata: dict[str, Any], source: str | os.PathLike = "",
                   shape: tuple[int, int] | None = None) -> dict[str, float]:
    """Incidence angle and sample tilt stage (deg), distance (m), wavelength (A), pixel size (um) and beam
    centre (px) found in a header, an incidence angle and a distance in the file name of ``source``, and, when all of
    distance, wavelength, pixel size and centre are there and the frame's ``shape`` is given, the smallest
    and largest q on the detector (1/A). Units are taken as the header names them (NeXus ``units``:
    ``rad``, ``mm``, ...); a bare distance above 20 is in mm."""
    hints: dict[str, float] = {}
    entries = _named_entries(metadata)
    name = Path(source).name if source else ""
    named = NAME_INCIDENCE.search(name)
    if named:
        hints["name_incidence_deg"] = float(named.group(1))
    named = NAME_DISTANCE.search(name)
    if named:
        hints["name_distance_m"] = float(named.group(1)) * DISTANCE_UNITS[named.group(2)]
    for name, keys in (("incidence_deg", INCIDENCE_KEYS), ("stage_tilt_deg", STAGE_KEYS)):
        found = _find(entries, keys)
        if found:
            angle, unit = found
            hints[name] = float(np.degrees(angle)) if unit.startswith("rad") else angle
    found = _find(entries, DISTANCE_KEYS)
    if found:
        value, unit = found
        scale = DISTANCE_UNITS.get(unit)
        hints["distance_m"] = value * scale if scale is not None else (value / 1000.0 if value > 20 else value)
    wavelength, pixel = _wavelength_a(entries), _pixel_m(entries)
    centre = _beam_centre_px(entries, pixel)
    for name, value in (("wavelength_A", wavelength), ("pixel_um", pixel and pixel * 1e6)):
        if value:
            hints[name] = value
    if centre:
        hints["beam_x_px"], hints["beam_y_px"] = centre
    if shape is not None and centre and wavelength and pixel and hints.get("distance_m", 0) > 0:
        hints["q_min_inv_A"], hints["q_max_inv_A"] = q_range(wavelength, hints["distance_m"], pixel, centre, shape)
    return hints


HINT_WORDS: dict[str, tuple[str, str]] = {
    "incidence_deg": ("incidence angle", "deg"), "stage_tilt_deg": ("sample tilt stage", "deg"),
    "distance_m": ("distance", "m"), "wavelength_A": ("wavelength", "A"), "pixel_um": ("pixel size", "um"),
    "beam_x_px": ("beam centre x", "px"), "beam_y_px": ("y", "px"),
    "name_incidence_deg": ("incidence angle in the file name", "deg"),
    "name_distance_m": ("distance in the file name", "m")}
"""What each hint of :func:`geometry_hints` but the q range is called when shown, and its unit."""


def said(hints: dict[str, float]) -> str:
    """The hints in words, e.g. ``incidence angle 0.15 deg, distance 2 m, q 0 to 0.31 1/A on the detector``."""
    words = [f"{HINT_WORDS[k][0]} {hints[k]:.4g} {HINT_WORDS[k][1]}" for k in HINT_WORDS if k in hints]
    if "q_max_inv_A" in hints:
        words.append(f"q {hints['q_min_inv_A']:.2g} to {hints['q_max_inv_A']:.2g} 1/A on the detector")
    return ", ".join(words)


CHECKED_HINTS = ("incidence_deg", "name_incidence_deg", "distance_m", "name_distance_m", "q_min_inv_A", "q_max_inv_A")
"""The hints :func:`check_metadata` holds a prediction against (a tilt stage is not one of them)."""

WEIGHED = "weighed: "
"""How a note of :func:`note_parts` on what a decision weighed begins (the manifest's ``metadata_check``)."""

EVIDENCE_ODDS = 5.0
"""How much a grazing incidence angle (in the header or the file name), the q range of the header's geometry
or a technique named in the file name (``_SAXS``, ``_WAXS1``, ``GISAXS_``) multiplies the odds of the
techniques it points to, when a decision weighs them (:func:`weighed_odds`).
Enough to settle what the image leaves open (grazing incidence wins from about 1 in 6), never to overrule
an image that is sure: a SAXS frame at 0.99 named ``th0.3`` stays SAXS at 0.95, a stale header cannot
turn it. The distance alone and a header angle of 0 are only reported: a small-angle set-up may stand
close, and templates write 0 for angles never set."""


def claims(metadata: dict[str, Any], source: str | os.PathLike = "",
           shape: tuple[int, int] | None = None) -> list[Claim]:
    """What the header and the file name of ``source`` say: the techniques each hint points to, in words, and
    whether a decision weighs it (a frame's own: :attr:`.pattern.Pattern.claims`, worked out once)."""
    return _hint_claims(geometry_hints(metadata, source, shape)) + _name_claims(Path(source).name if source else "")


def _name_claims(name: str) -> list[Claim]:
    """What technique names in a file name say (:data:`NAME_TECHNIQUE`): the techniques all of them allow,
    nothing when they disagree (``saxs_waxs_scan``)."""
    matches = list(NAME_TECHNIQUE.finditer(name))
    allowed = set(GRAZING | TRANSMISSION)
    for match in matches:
        allowed &= SMALL_ANGLE if match.group(2).lower() == "s" else WIDE_ANGLE
        if match.group(1):
            allowed &= GRAZING
    if not matches or not allowed:
        return []
    words = ", ".join(repr(match.group(0).strip("_-. ")) for match in matches)
    return [(allowed, f"file name {words} suggests {_named(allowed)}", True)]


def _named(techniques: set[str]) -> str:
    """A set of techniques in words: one technique by name, else small or wide angle."""
    if len(techniques) == 1:
        return next(iter(techniques))
    return "small angle" if techniques == SMALL_ANGLE else "wide angle"


def _hint_claims(hints: dict[str, float]) -> list[Claim]:
    """What the hints say: the techniques each points to, in words, and whether a decision weighs it."""
    found = []
    named, angle = hints.get("name_incidence_deg"), hints.get("incidence_deg")
    if named is not None and angle is None and 0.02 <= named <= 5:
        found.append((GRAZING, f"file name incidence angle {named:g} deg suggests grazing incidence", True))
    if angle is not None and 0.02 <= abs(angle) <= 5:
        found.append((GRAZING, f"header incidence angle {angle:g} deg suggests grazing incidence", True))
    elif angle is not None and abs(angle) < 0.005:
        found.append((TRANSMISSION, "header incidence angle 0 suggests transmission", False))
    if "q_max_inv_A" in hints:
        found += _q_claims(hints["q_min_inv_A"], hints["q_max_inv_A"])
    elif "distance_m" in hints or "name_distance_m" in hints:
        where = "header" if "distance_m" in hints else "file name"
        distance = hints.get("distance_m", hints.get("name_distance_m"))
        if distance < 0.5:
            found.append((WIDE_ANGLE, f"{where} distance {distance:.3g} m suggests wide angle", False))
        elif distance > 1.5:
            found.append((SMALL_ANGLE, f"{where} distance {distance:.3g} m suggests small angle", False))
    return found


def check_metadata(metadata: dict[str, Any], technique: str, source: str | os.PathLike = "",
                   shape: tuple[int, int] | None = None) -> str:
    """'' when the header and the file name of ``source`` agree with (or say nothing about)
    ``technique``; else why they disagree. A file name's angle only ever says grazing incidence: names
    of transmission frames rarely carry one, so a 0 there is no evidence. Small against wide angle is
    judged by the q range when the header gives it (with the frame's ``shape``), else by the distance."""
    return _against(claims(metadata, source, shape), technique)


def _against(told: list[Claim], technique: str) -> str:
    """The claims of ``told`` that point away from ``technique`` (none for UNSURE or NOT_SCATTERING), in words."""
    if technique not in GRAZING | TRANSMISSION:
        return ""
    return "; ".join(words for techniques, words, _ in told if technique not in techniques)


def weighed_odds(told: list[Claim]) -> np.ndarray | None:
    """Per class of :data:`CLASSES`, the factor the claims ``told`` of a header and a file name put on its odds
    (:data:`EVIDENCE_ODDS` for each weighed hint that points to it, 1 otherwise), or None when they weigh nothing."""
    from . import CLASSES

    weighed = [techniques for techniques, _, weigh in told if weigh]
    if not weighed:
        return None
    return np.array([EVIDENCE_ODDS ** sum(c in techniques for techniques in weighed) for c in CLASSES])


def patterns_odds(patterns: Iterable[Any]) -> list[np.ndarray | None]:
    """:func:`weighed_odds` of each :class:`~.pattern.Pattern`: what :meth:`Sorter.reconsider` takes."""
    return [weighed_odds(p.claims) for p in patterns]


def metadata_note(outcome: dict[str, Any], told: list[Claim]) -> str:
    """The manifest's ``metadata_check``: both parts of :func:`note_parts` in one line."""
    return "; ".join(filter(None, note_parts(outcome, told)))


def note_parts(outcome: dict[str, Any], told: list[Claim]) -> tuple[str, str]:
    """How the claims ``told`` of a frame's header and file name weighed ``outcome`` (:meth:`Sorter.reconsider`:
    what they said, what the image alone gave, whether the image outweighed them; '' when they weighed nothing),
    and what else they say against its label (:func:`check_metadata`)."""
    from . import CLASSES
    from .calibration import shown

    image = outcome.get("image_probabilities")
    if image is None:
        return "", _against(told, outcome["label"])
    weighed = [claim for claim in told if claim[2]]
    top = int(np.argmax(image))
    note = (f"{WEIGHED}{'; '.join(words for _, words, _ in weighed)} "
            f"(image alone: {CLASSES[top]} {shown(image[top], 2):.2f})")
    if _against(weighed, outcome["label"]):
        note += "; the image outweighed it"
    return note, _against([claim for claim in told if not claim[2]], outcome["label"])


def _q_claims(q_min: float, q_max: float) -> list[Claim]:
    """What the q range the detector sees says: small or wide angle."""
    if q_max < Q_WIDE_ANGLE_REACH:
        return [(SMALL_ANGLE, f"header geometry reaches q = {q_max:.2g} 1/A at most, which suggests small angle", True)]
    if q_min > Q_SMALL_ANGLE_START:
        return [(WIDE_ANGLE,
                 f"header geometry puts the whole detector above q = {q_min:.2g} 1/A, which suggests wide angle", True)]
    if q_max > Q_SMALL_ANGLE_REACH:
        return [(WIDE_ANGLE, f"header geometry reaches q = {q_max:.2g} 1/A, which suggests wide angle", True)]
    return []
