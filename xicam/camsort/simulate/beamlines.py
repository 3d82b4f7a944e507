"""Fixed instrument set-ups, for datasets like the paper's: one beamline, one set-up per technique.

camsort's own training set randomises detector, energy, distance, beam position and mounting;
the camSortXS study's frames came from one beamline (ALS 7.3.3) with four fixed set-ups. A
``beamline`` dataset keeps each technique's instrument fixed and lets only the sample, the
exposure, the noise, the defects and (for grazing incidence) the incidence angle vary, so the
paper's protocol can be reproduced on a domain as narrow as the paper's.
"""
from __future__ import annotations

from typing import Any

from ..errors import CamsortError

BEAMLINES: dict[str, dict[str, dict[str, Any]]] = {
    "als733": {  # Pilatus 2M for the small angles, Pilatus 1M for the wide angles, 10 keV
        "SAXS": {"detector": "pilatus2m", "energy_kev": 10.0, "q_max": 0.3, "beam_fraction": (0.55, 0.5), "rotate": 0},
        "GISAXS": {"detector": "pilatus2m", "energy_kev": 10.0, "q_max": 0.25, "rotate": 0},
        "WAXS": {"detector": "pilatus1m", "energy_kev": 10.0, "q_max": 2.5, "beam_fraction": (1.05, 0.1), "rotate": 0},
        "GIWAXS": {"detector": "pilatus1m", "energy_kev": 10.0, "q_max": 2.0, "rotate": 0},
    },
}
"""Per beamline, the :func:`~xicam.camsort.simulate.simulate` overrides of each technique's set-up."""


def setup(beamline: str | None, technique: str) -> dict[str, Any]:
    """The fixed parameters of ``technique`` at ``beamline`` (none for the randomised default)."""
    if beamline is None:
        return {}
    if beamline not in BEAMLINES:
        raise CamsortError(f"unknown beamline {beamline!r}; choose one of {', '.join(BEAMLINES)}")
    return dict(BEAMLINES[beamline][technique])
