"""Header geometry hints flag predictions that contradict them."""
from __future__ import annotations

from xicam.camsort.metadata_check import check_metadata, geometry_hints


def test_als_incidence_angle_contradicts_transmission():
    meta = {"Sample Alpha Stage": "0.15", "count_time": "10"}
    assert geometry_hints(meta) == {"incidence_deg": 0.15}
    assert "grazing incidence" in check_metadata(meta, "SAXS")
    assert check_metadata(meta, "GISAXS") == ""


def test_distance_in_mm_or_m():
    assert geometry_hints({"SampleDistance": "3500"}) == {"distance_m": 3.5}
    assert "small angle" in check_metadata({"distance": 3.5}, "WAXS")
    assert "wide angle" in check_metadata({"Distance": "150 mm"}, "GISAXS")
    assert check_metadata({"Distance": "150 mm"}, "GIWAXS") == ""


def test_no_hints_no_complaint():
    assert check_metadata({"Model": "Pilatus"}, "WAXS") == ""
    assert check_metadata({"Sample Alpha Stage": "0.15"}, "UNSURE") == ""
