"""Header geometry hints flag predictions that contradict them."""
from __future__ import annotations

import fabio
import h5py
import numpy as np
import tifffile

from xicam.camsort.io import read_pattern
from xicam.camsort.metadata_check import check_metadata, geometry_hints


def test_an_incidence_angle_contradicts_transmission():
    meta = {"alpha_i": "0.15", "count_time": "10"}
    assert geometry_hints(meta) == {"incidence_deg": 0.15}
    assert "grazing incidence" in check_metadata(meta, "SAXS")
    assert check_metadata(meta, "GISAXS") == ""


def test_a_sample_tilt_stage_is_shown_and_never_held_against_a_prediction():
    """ALS 7.3.3's AgB calibrations in transmission read Sample Alpha Stage 0.36: a motor, not an angle of incidence."""
    meta = {"Sample Alpha Stage": "0.360141", "count_time": "5"}
    assert geometry_hints(meta) == {"stage_tilt_deg": 0.360141}
    assert all(check_metadata(meta, t) == "" for t in ("SAXS", "WAXS", "GISAXS", "GIWAXS"))


def test_distance_in_mm_or_m():
    assert geometry_hints({"SampleDistance": "3500"}) == {"distance_m": 3.5}
    assert "small angle" in check_metadata({"distance": 3.5}, "WAXS")
    assert "wide angle" in check_metadata({"Distance": "150 mm"}, "GISAXS")
    assert check_metadata({"Distance": "150 mm"}, "GIWAXS") == ""


def test_no_hints_no_complaint():
    assert check_metadata({"Model": "Pilatus"}, "WAXS") == ""
    assert check_metadata({"alpha_i": "0.15"}, "UNSURE") == ""


def test_units_named_in_the_header_are_honoured():
    assert geometry_hints({"Distance": "150 mm"}) == {"distance_m": 0.15}
    assert geometry_hints({"distance": "12 mm"}) == {"distance_m": 0.012}  # not taken for metres
    assert abs(geometry_hints({"distance": "35 cm"})["distance_m"] - 0.35) < 1e-9
    angle = geometry_hints({"incident_angle": "0.0026 rad"})["incidence_deg"]
    assert abs(angle - 0.149) < 1e-3  # radians are not read as an angle of 0 (transmission)


def test_a_nexus_file_carries_its_geometry_to_the_check(tmp_path):
    """An Eiger master / NXmx file keeps the distance as a dataset with a units attribute."""
    path = tmp_path / "master.h5"
    with h5py.File(path, "w") as fh:
        fh.create_dataset("entry/data/data", data=np.ones((2, 20, 30), np.uint32))
        distance = fh.create_dataset("entry/instrument/detector/detector_distance", data=250.0)
        distance.attrs["units"] = "mm"
        fh.create_dataset("entry/instrument/detector/description", data=b"Dectris EIGER2 1M")
    pattern = read_pattern(path, frame=0)
    assert pattern.metadata["entry/instrument/detector/description"] == "Dectris EIGER2 1M"
    assert geometry_hints(pattern.metadata) == {"distance_m": 0.25}
    assert "wide angle" in check_metadata(pattern.metadata, "SAXS")
    assert check_metadata(pattern.metadata, "WAXS") == ""


PILATUS_HEADER = ("# Detector: PILATUS 1M, S/N 1-0001\r\n# Pixel_size 172e-6 m x 172e-6 m\r\n"
                  "# Exposure_time 0.4950000 s\r\n# Tau = 0 s\r\n# Wavelength 1.54000 A\r\n"
                  "# Detector_distance 0.25000 m\r\n# Alpha 0.0000 deg.\r\n")


def test_a_pilatus_header_in_a_tiff_or_cbf_carries_its_geometry_to_the_check(tmp_path):
    """camserver writes ``# Key value`` lines into the TIFF description and the mini-CBF header."""
    frame = np.ones((20, 30), np.int32)
    tifffile.imwrite(tmp_path / "p.tif", frame, description=PILATUS_HEADER, metadata=None)
    fabio.cbfimage.CbfImage(data=frame, header={"_array_data.header_convention": "PILATUS_1.2",
                                                "_array_data.header_contents": PILATUS_HEADER}).write(
        str(tmp_path / "p.cbf"))
    for name in ("p.tif", "p.cbf"):
        meta = read_pattern(tmp_path / name).metadata
        assert meta["Detector_distance"] == "0.25000 m" and meta["Tau"] == "0 s", name
        assert meta["Detector"] == "PILATUS 1M, S/N 1-0001" and meta["Wavelength"] == "1.54000 A"
        # Alpha is a goniometer angle, not incidence; without a beam centre there is no q range
        assert geometry_hints(meta, name, (20, 30)) == {"distance_m": 0.25, "wavelength_A": 1.54, "pixel_um": 172.0}
        assert "wide angle" in check_metadata(meta, "GISAXS")


def test_an_incidence_angle_in_the_file_name_says_grazing_incidence_and_only_that():
    """NSLS-II SMI/CMS and CFN name grazing frames with the angle: ``..._th0.300_0.49s_..._maxs.tiff``."""
    pbi2 = "/data/sam0_pbi2_dmf_0p5m_5scfh_Si_40uL_001_2140.9s_x2.002_th0.300_0.49s_1115972_001000_maxs.tiff"
    assert geometry_hints({}, pbi2) == {"name_incidence_deg": 0.3}
    assert check_metadata({}, "SAXS", pbi2) == "file name incidence angle 0.3 deg suggests grazing incidence"
    assert check_metadata({}, "GIWAXS", pbi2) == ""
    assert "0.6 deg" in check_metadata({}, "WAXS", "film-ODTS-sth0.60.60s_WAXS")
    assert "0.12 deg" in check_metadata({}, "WAXS", "sample_ai0.12deg_001.tif")
    for name in ("x_th0.000_10s.tif", "run_th12.tif", "width0.5.tif", "film-sth_-0.5_10-attn0.5_42s_WAXS",
                 "AgB_5s_hi_2m.edf", "Sol-b_000018_WAXS1.cbf"):  # no angle, a zero, or no decimal point
        assert "incidence" not in check_metadata({}, "SAXS", name), name
    assert check_metadata({}, "GISAXS", "x_th0.000_10s.tif") == ""  # a 0 in a name is no evidence
    assert (check_metadata({"alpha_i": "0.2"}, "SAXS", pbi2)
            == "header incidence angle 0.2 deg suggests grazing incidence")


def test_the_q_range_from_header_geometry_equals_the_simulators(tmp_path):
    """A header that gives wavelength, distance, pixel size and beam centre puts the same q range on the
    detector as the simulator's geometry of the frame, and agrees with the frame's technique."""
    from xicam.camsort.simulate import simulate
    from xicam.camsort.simulate.geometry import Geometry

    rng = np.random.default_rng(3)
    for technique in ("SAXS", "WAXS", "GISAXS", "GIWAXS") * 3:
        frame = simulate(technique, rng, rotate=0)
        m = frame.metadata
        header = PILATUS_HEADER.replace("1.54000 A", f"{12.398419843 / m['energy_kev']:.6f} A").replace(
            "0.25000 m", f"{m['distance_m']:.6f} m").replace("172e-6 m", f"{m['pixel_um']:.1f}e-6 m")
        header += f"# Beam_xy ({m['beam_col']:.3f}, {m['beam_row']:.3f}) pixels\r\n"
        tifffile.imwrite(tmp_path / "f.tif", frame.data.astype(np.int32), description=header, metadata=None)
        pattern = read_pattern(tmp_path / "f.tif")
        hints = geometry_hints(pattern.metadata, pattern.source, pattern.shape)
        q = Geometry(m["distance_m"], m["energy_kev"], m["pixel_um"] * 1e-6, m["beam_row"], m["beam_col"]).transmission(
            frame.shape)[0]
        assert abs(hints["q_max_inv_A"] / q.max() - 1) < 0.01, (technique, hints, q.max())
        assert hints["q_min_inv_A"] <= q.min() < hints["q_min_inv_A"] + 0.01 * q.max(), (technique, hints, q.min())
        assert check_metadata(pattern.metadata, technique, pattern.source, pattern.shape) == "", (technique, hints)


def test_the_q_range_says_small_or_wide_angle_where_the_distance_alone_would_be_wrong():
    """A lab SAXS camera at 0.21 m (BAM's MOUSE, SAXSLAB header, Cu) sees q up to 1.2 1/A: small angle is no
    contradiction, although 0.21 m alone reads as wide angle. The same header at 1 A and 0.05 m reaches 5.5."""
    mouse = {"Saxslab/detector_dist": "207.7915", "Saxslab/wavelength": "1.5419", "Saxslab/pixelsize": "0.075 0.075",
             "Saxslab/beamcenter_actual": "401.92    496.21"}
    hints = geometry_hints(mouse, "", (1065, 1030))
    assert hints["wavelength_A"] == 1.5419 and abs(hints["pixel_um"] - 75) < 1e-9
    assert (hints["beam_x_px"], hints["beam_y_px"]) == (401.92, 496.21)
    assert hints["q_min_inv_A"] == 0 and 1.1 < hints["q_max_inv_A"] < 1.3
    assert check_metadata(mouse, "SAXS", "", (1065, 1030)) == ""
    assert "wide angle" in check_metadata(mouse, "SAXS")  # without the frame's shape: the distance rule
    close = dict(mouse, **{"Saxslab/detector_dist": "50", "Saxslab/wavelength": "1.0"})
    assert "reaches q = 5.5 1/A, which suggests wide angle" in check_metadata(close, "GISAXS", "", (1065, 1030))


def test_the_q_range_flags_a_wide_angle_prediction_on_a_small_angle_set_up_and_reads_units():
    """pySAXS' lab frame (EDF, pyFAI-style keys: WaveLength in m, PSize in m, Center in px) at 2.46 m sees
    q up to 0.31 1/A; a beam centre off the detector in mm puts the whole detector at wide angles."""
    edf = {"SampleDistance": "2.46", "WaveLength": "1.54189e-10", "PSize_1": "0.000172", "PSize_2": "0.000172",
           "Center_1": "348", "Center_2": "903"}
    hints = geometry_hints(edf, "", (1043, 981))
    assert abs(hints["wavelength_A"] - 1.54189) < 1e-9 and abs(hints["q_max_inv_A"] - 0.3135) < 1e-3
    assert check_metadata(edf, "WAXS", "", (1043, 981)) == \
        "header geometry reaches q = 0.31 1/A at most, which suggests small angle"
    assert check_metadata(edf, "GISAXS", "", (1043, 981)) == ""
    nexus = {"entry/instrument/beam/incident_energy": "12.4 keV", "entry/instrument/detector/distance": "150 mm",
             "entry/instrument/detector/x_pixel_size": "75 um", "entry/instrument/detector/beam_center_x": "-30 mm",
             "entry/instrument/detector/beam_center_y": "40 mm"}
    hints = geometry_hints(nexus, "", (1065, 1030))
    assert abs(hints["wavelength_A"] - 1.0) < 1e-3 and abs(hints["beam_x_px"] + 400) < 1e-6
    assert hints["q_min_inv_A"] > 0.5
    assert "whole detector above q" in check_metadata(nexus, "SAXS", "", (1065, 1030))
    assert check_metadata(nexus, "WAXS", "", (1065, 1030)) == ""


def test_an_unset_or_implausible_geometry_gives_no_q_range():
    """Pilatus' camserver writes Beam_xy (0.00, 0.00) when nobody set it (the PbI2 example frame); a wavelength
    of 0 or a pixel of 2 m is no geometry."""
    meta = {"Wavelength": "1.54000 A", "Detector_distance": "1.00000 m", "Pixel_size": "172e-6 m x 172e-6 m",
            "Beam_xy": "(0.00, 0.00) pixels"}
    hints = geometry_hints(meta, "", (1043, 981))
    assert "q_max_inv_A" not in hints and "beam_x_px" not in hints and hints["distance_m"] == 1.0
    assert "wavelength_A" not in geometry_hints({"Wavelength": "0 A"})
    assert "pixel_um" not in geometry_hints({"pixel_size": "2 m"})


def test_what_a_decision_weighs_a_grazing_angle_and_the_q_range_not_the_distance_alone():
    """Each weighed hint multiplies the odds of the techniques it points to by EVIDENCE_ODDS; the distance
    alone and an angle of 0 are only reported."""
    from xicam.camsort import CLASSES
    from xicam.camsort.metadata_check import EVIDENCE_ODDS, claims, weighed_odds

    def factors(*args):
        odds = weighed_odds(claims(*args))
        return None if odds is None else dict(zip(CLASSES, odds))

    k = EVIDENCE_ODDS
    assert factors({}, "film_th0.150_10s.tif") == {"SAXS": 1, "WAXS": 1, "GISAXS": k, "GIWAXS": k, "NOT_SCATTERING": 1}
    assert factors({"alpha_i": "0.2"}) == factors({}, "film_th0.150_10s.tif")
    edf = {"SampleDistance": "2.46", "WaveLength": "1.54189e-10", "PSize_1": "0.000172", "Center_1": "348",
           "Center_2": "903"}  # q up to 0.31 1/A: small angle
    assert factors(edf, "", (1043, 981)) == {"SAXS": k, "WAXS": 1, "GISAXS": k, "GIWAXS": 1, "NOT_SCATTERING": 1}
    assert factors(edf, "film_ai0.12_1.edf", (1043, 981))["GISAXS"] == k * k
    for says_little in (({"distance": 3.5},), ({"alpha_i": "0"},), ({}, "run_th0.000_1.tif"), ({}, "scan_12_0005.tif")):
        assert factors(*says_little) is None


def test_a_sorter_reconsiders_its_outcomes_with_the_odds_and_keeps_the_images_own():
    from xicam.camsort import CLASSES
    from xicam.camsort.sorter import Sorter

    sorter = Sorter(None, None, None, "none", threshold=0.6)
    unsure = {"label": "UNSURE", "probabilities": [0.56, 0.004, 0.004, 0.432, 0.0], "confidence": "low", "top": "SAXS",
              "members": [("SAXS", 0.6)]}
    blank = {"label": "NOT_SCATTERING", "probabilities": [0, 0, 0, 0, 1.0], "confidence": "high",
             "top": "NOT_SCATTERING"}
    grazing = np.array([1, 1, 5, 5, 1.0])
    weighed, still_blank, untouched = sorter.reconsider([unsure, blank, unsure], [grazing, grazing, None])
    expected = np.array(unsure["probabilities"]) * grazing / (np.array(unsure["probabilities"]) * grazing).sum()
    assert weighed["label"] == weighed["top"] == "GIWAXS" and weighed["confidence"] == "medium"
    np.testing.assert_allclose(weighed["probabilities"], expected)
    assert weighed["image_probabilities"] == unsure["probabilities"] and weighed["members"] == unsure["members"]
    assert (still_blank["label"] == "NOT_SCATTERING"
            and still_blank["probabilities"][CLASSES.index("NOT_SCATTERING")] == 1)
    assert untouched is unsure
    sorter.weigh_metadata = False
    assert sorter.reconsider([unsure], [grazing]) == [unsure]


def test_the_note_says_what_was_weighed_and_what_the_image_alone_gave():
    from xicam.camsort.metadata_check import claims, metadata_note

    name = "pbi2_th0.300_0.49s_maxs.tiff"
    turned = {"label": "GIWAXS", "probabilities": [0.09, 0, 0, 0.91, 0], "image_probabilities": [0.56, 0, 0, 0.44, 0]}
    assert metadata_note(turned, claims({}, name)) == \
        "weighed: file name incidence angle 0.3 deg suggests grazing incidence (image alone: SAXS 0.56)"
    kept = {"label": "WAXS", "probabilities": [0, 0.84, 0, 0.16, 0], "image_probabilities": [0, 0.96, 0, 0.04, 0]}
    assert metadata_note(kept, claims({"distance": 3.5}, name)) == (
        "weighed: file name incidence angle 0.3 deg suggests grazing incidence (image alone: WAXS 0.96); "
        "the image outweighed it; header distance 3.5 m suggests small angle")
    plain = {"label": "SAXS", "probabilities": [1.0, 0, 0, 0, 0]}
    assert metadata_note(plain, claims({"alpha_i": "0.15"})) == check_metadata({"alpha_i": "0.15"}, "SAXS") != ""


def test_simulated_folders_carry_no_hint_a_decision_weighs(tmp_path):
    """`camsort simulate` stores each frame's parameters in its TIFF (alpha_i_deg, distance_m, ...) and names it
    by technique; none of that may weigh a decision, or `camsort evaluate` on a simulated folder would score the
    simulator's answer instead of the image."""
    from xicam.camsort.datasets import write_dataset
    from xicam.camsort.metadata_check import weighed_odds

    write_dataset(tmp_path, 2, seed=3, size=64)
    frames = sorted(tmp_path.glob("*/*.tif"))
    assert len(frames) == 8
    for path in frames:
        pattern = read_pattern(path)
        assert "distance_m" in pattern.metadata
        assert weighed_odds(pattern.claims) is None, path.name


def test_a_technique_named_in_the_file_name_is_weighed_and_a_wrong_one_cannot_overrule_a_sure_image():
    """Beamlines name frames by the detector that took them (LiX ``_SAXS.cbf``/``_WAXS1.cbf``): that says small or
    wide angle; ``GISAXS`` says the technique; names that do not say one thing say nothing."""
    from xicam.camsort import CLASSES
    from xicam.camsort.metadata_check import EVIDENCE_ODDS, claims, metadata_note, weighed_odds
    from xicam.camsort.sorter import Sorter

    def pointed(name):
        odds = weighed_odds(claims({}, f"/data/saxs/{name}"))  # the folder says nothing: it may be a sorted output
        return None if odds is None else {c for c, k in zip(CLASSES, odds) if k > 1}

    assert pointed("Sol-b_000018_WAXS1.cbf") == {"WAXS", "GIWAXS"}
    assert pointed("AgBH_SAXS.cbf") == pointed("agbh-saxs-0001.edf") == {"SAXS", "GISAXS"}
    assert pointed("GISAXS_film_3.tif") == pointed("film_gisaxs_saxs.tif") == {"GISAXS"}
    for says_nothing in ("saxs_waxs_scan.tif", "pywaxs_pbi2.tif", "usaxs_1.tif", "swaxs_2.tif", "sam0_maxs.tiff",
                         "frame_00001.tif"):
        assert pointed(says_nothing) is None, says_nothing
    both = weighed_odds(claims({}, "film-sth0.60.60s_WAXS.tiff"))
    assert dict(zip(CLASSES, both))["GIWAXS"] == EVIDENCE_ODDS ** 2

    sorter = Sorter(None, None, None, "none", threshold=0.6)
    sure = {"label": "SAXS", "probabilities": [0.99, 0.01, 0, 0, 0], "confidence": "high", "top": "SAXS"}
    [kept] = sorter.reconsider([sure], [weighed_odds(claims({}, "run_WAXS.tif"))])
    assert kept["label"] == "SAXS" and kept["probabilities"][0] > 0.95
    assert metadata_note(kept, claims({}, "run_WAXS.tif")) == ("weighed: file name 'WAXS' suggests wide angle "
                                                       "(image alone: SAXS 0.99); the image outweighed it")


def test_a_distance_in_the_file_name_is_reported_against_the_outcome_never_weighed():
    """SAXS beamlines name calibrations by the distance (ALS 7.3.3 ``AgB_5s_lo_2m.edf``): a far one says small
    angle, a near one wide angle, as the header's distance does, and like it only in the note; a Pilatus
    ``2M``, a ``10mM`` solution, ``0p5m`` (0.5 molar) or ``5min`` are not distances; a header's distance wins."""
    from xicam.camsort.metadata_check import claims, geometry_hints, weighed_odds

    assert check_metadata({}, "WAXS", "/data/AgB_5s_lo_2m.edf") == "file name distance 2 m suggests small angle"
    assert check_metadata({}, "SAXS", "/data/AgB_5s_lo_2m.edf") == ""
    assert check_metadata({}, "SAXS", "film_sdd300mm_3.tif") == "file name distance 0.3 m suggests wide angle"
    assert weighed_odds(claims({}, "AgB_5s_lo_2m.edf")) is None
    for no_distance in ("pilatus_2M_001.tif", "run_10mM_NaCl.tif", "pbi2_dmf_0p5m_5scfh.tiff", "scan_5min.tif",
                        "a_5mg.tif", "frame_0002.tif"):
        assert "name_distance_m" not in geometry_hints({}, no_distance), no_distance
    assert geometry_hints({}, "AgB_10s_lo_1m.edf")["name_distance_m"] == 1.0
    assert check_metadata({"distance": "0.3"}, "WAXS", "AgB_5s_lo_2m.edf") == ""  # the header's 0.3 m wins
