"""The simulator: reproducible, physically consistent, varied in detector, and not trivially separable."""
from __future__ import annotations

import numpy as np
import pytest

from xicam.camsort import TECHNIQUES
from xicam.camsort.simulate import DETECTORS, bin_frame, simulate, simulate_batch
from xicam.camsort.simulate.geometry import Geometry
from xicam.camsort.simulate.profiles import AGBH_D_A


def test_same_seed_same_frame_other_seed_other_frame():
    for t in TECHNIQUES:
        a, b = simulate(t, 123), simulate(t, 123)
        np.testing.assert_array_equal(a.data, b.data)
        assert a.metadata == b.metadata
        assert not np.array_equal(a.data, simulate(t, 124, detector=a.metadata["detector"]).data) or \
            a.metadata["detector"] != simulate(t, 124).metadata["detector"]


def test_batch_independent_of_workers():
    f1, l1, g1, _ = simulate_batch(3, seed=5, size=128, workers=1)
    f2, l2, g2, _ = simulate_batch(3, seed=5, size=128, workers=2)
    assert l1 == l2 == [t for t in TECHNIQUES for _ in range(3)]
    for a, b in zip(f1, f2):
        np.testing.assert_array_equal(a, b)
    assert len(set(g1)) == len(g1)


def test_a_training_set_simulated_in_chunks_is_the_whole_set(monkeypatch):
    """Large training sets are simulated a chunk at a time (memory); the frames and their order are the same."""
    from xicam.camsort import training

    whole, labels, _, _ = simulate_batch(5, seed=5, size=64, workers=1)
    parts = [simulate_batch(n, seed=5, size=64, workers=1, start=s)[0] for s, n in ((0, 2), (2, 2), (4, 1))]
    for t in range(len(TECHNIQUES)):  # each part is technique-major: part p holds its frames of every technique
        chunked = [f for part, n in zip(parts, (2, 2, 1)) for f in part[t * n:(t + 1) * n]]
        for a, b in zip(whole[t * 5:(t + 1) * 5], chunked):
            np.testing.assert_array_equal(a, b)
    X, y = training.simulated_set(5, seed=5, size=64, negatives=2)
    monkeypatch.setattr(training, "SIMULATION_CHUNK", 2)
    Xc, yc = training.simulated_set(5, seed=5, size=64, negatives=2)
    np.testing.assert_array_equal(X, Xc)
    assert list(y) == list(yc) == labels + ["NOT_SCATTERING"] * 2


def test_a_region_of_interest_is_a_gap_free_rectangle_cut_from_the_frame():
    from xicam.camsort.simulate.detector import region_of_interest

    frame = simulate("SAXS", 3, detector="pilatus300k", rotate=0).data
    rng = np.random.default_rng(0)
    for _ in range(20):
        roi = region_of_interest(frame, rng)
        h, w = roi.shape
        assert 0.4 * 619 - 1 <= h <= 0.9 * 619 and 0.4 * 487 - 1 <= w <= 0.9 * 487
        hits = [(r, c) for r in range(619 - h + 1) for c in range(487 - w + 1)
                if frame[r, c] == roi[0, 0] and np.array_equal(frame[r:r + h, c:c + w], roi)]
        assert hits, "the region is not a piece of the frame"


def test_training_sets_cut_the_recipe_share_of_frames_to_regions_of_interest():
    from xicam.camsort import training

    X, y = training.simulated_set(10, seed=5, size=64)
    Xr, yr = training.simulated_set(10, seed=5, size=64, roi_share=0.5)
    assert list(y) == list(yr)
    changed = (np.abs(X - Xr).reshape(len(X), -1).max(axis=1) > 0).sum()
    assert 8 <= changed <= 32  # about half of 40


def test_frames_look_like_detector_output():
    for t in TECHNIQUES:
        p = simulate(t, 7, detector="pilatus1m", rotate=0)
        assert p.data.shape == (1043, 981) and p.data.dtype == np.float32
        assert np.array_equal(p.data, np.round(p.data))  # integer counts
        assert (p.data[195:212] <= 0).all()  # the first module gap: -1 or 0
        assert p.data.max() > 10


def test_every_technique_on_every_detector_kind():
    """Binned read-outs (as training sets are simulated): the detector drawn is the same, in fewer pixels."""
    rng = np.random.default_rng(0)
    seen = {t: {simulate(t, rng, long_side=128).metadata["detector"].split("/")[0] for _ in range(40)}
            for t in TECHNIQUES}
    for t in TECHNIQUES:
        assert len(seen[t]) >= 5, (t, seen[t])


def test_frame_shapes_are_named_by_the_detector_they_match():
    from xicam.camsort.simulate.detector import describe_shape

    assert describe_shape((1043, 981)) == "pilatus1m 1043×981"
    assert describe_shape((981, 1043)) == "pilatus1m turned 981×1043"
    assert describe_shape((1024, 1024)) == "ccd1k 1024×1024"
    assert describe_shape((256, 240)) == "256×240"


@pytest.mark.parametrize("technique", ["GISAXS", "GIWAXS"])
def test_no_scattering_below_the_horizon(technique, monkeypatch):
    """Below the horizon (minus a few pixels of edge) only the substrate shadow's leak and noise remain.

    Beam spilling past the sample and air or window scattering downstream of it are not shadowed, by
    design; both are switched off here (spill-over is tested on its own)."""
    import xicam.camsort.simulate as simulator
    from xicam.camsort.simulate import grazing

    monkeypatch.setitem(grazing.SPILL_OVER, technique, 0.0)
    monkeypatch.setattr(simulator, "_background", lambda q, *_: np.zeros_like(q, dtype=np.float32))
    for seed in range(4):
        p = simulate(technique, seed, detector="pilatus1m", rotate=0, beam=(700.0, 490.0), peak_counts=1e5)
        horizon = int(p.metadata["horizon_row"])
        below = p.data[horizon + 25:]
        above = p.data[max(0, horizon - 300):horizon - 5]
        valid_b, valid_a = below[below >= 0], above[above >= 0]
        assert valid_b.mean() < 0.05 * valid_a.mean() + 20, (seed, valid_b.mean(), valid_a.mean())


@pytest.mark.parametrize("technique", ["GISAXS", "GIWAXS"])
def test_the_horizon_is_on_the_frame(technique):
    """A grazing set-up shows what lies above the horizon: the horizon row falls on the detector, in the
    band of its technique, whatever the detector, distance and incidence angle drawn."""
    from xicam.camsort.simulate import HORIZON_ON_FRAME

    lo, hi = HORIZON_ON_FRAME[technique]
    rng = np.random.default_rng(11)
    for _ in range(30):
        p = simulate(technique, rng, rotate=0, long_side=256)
        fraction = p.metadata["horizon_row"] / p.data.shape[0]
        assert lo - 0.02 <= fraction <= hi + 0.02, (p.metadata["detector"], fraction)


def test_waxs_rings_follow_lattice_q_through_geometry():
    """An AgBH-like SAXS ladder and a WAXS ring sit where q = 4 pi sin(theta) / lambda puts them."""
    geo = Geometry(distance_m=2.0, energy_kev=12.0, pixel_m=172e-6, beam_row=520.0, beam_col=490.0)
    q, _ = geo.transmission((1043, 981))
    p = simulate("SAXS", 3, detector="pilatus1m", rotate=0, beam=(520.0, 490.0), energy_kev=12.0,
                 q_max=float(q.max()), peak_counts=1e5)
    assert p.metadata["sample"]["model"] in {"agbh", "spheres", "guinier_porod", "cylinders", "mesophase", "lamellar"}
    # radial profile peaks for whatever ring model was drawn must match its q1 ladder if it is AgBH
    if p.metadata["sample"]["model"] == "agbh":
        q1 = p.metadata["sample"]["q1"]
        assert abs(q1 - 2 * np.pi / AGBH_D_A) < 0.002
    # a WAXS frame: ring radii ratios follow reflection q ratios through the geometry
    w = simulate("WAXS", 11, detector="pilatus2m", rotate=0, beam=(840.0, 737.0), energy_kev=12.0, peak_counts=1e6)
    m = w.metadata
    geo = Geometry(m["distance_m"], m["energy_kev"], m["pixel_um"] * 1e-6, m["beam_row"], m["beam_col"])
    qmap, _ = geo.transmission(w.data.shape)
    valid = w.data >= 0
    bins = np.linspace(0.2, m["q_max"] * 0.95, 600)
    which = np.digitize(qmap[valid], bins)
    profile = np.bincount(which, w.data[valid], minlength=len(bins) + 1) / np.maximum(
        np.bincount(which, minlength=len(bins) + 1), 1)
    profile = profile[1:len(bins)]
    centres = (bins[1:] + bins[:-1]) / 2
    from scipy.signal import find_peaks

    rings = np.array(m["sample"]["rings_q"])
    step = bins[1] - bins[0]
    tolerance = 3 * m["sample"]["ring_width"] * (1 + 0.3 * rings.max()) + step
    # sharp peaks only: the broad amorphous halo is not a ring
    peaks, _ = find_peaks(profile, prominence=profile.max() * 0.05, width=(None, 2 * tolerance / step))
    assert m["sample"]["model"] != "amorphous" and len(peaks) >= 2
    for found in centres[peaks[np.argsort(profile[peaks])[-3:]]]:  # the three strongest measured rings
        assert np.abs(rings - found).min() < tolerance, (found, rings)


def test_saxs_intensity_decays_with_q_away_from_peaks():
    for seed in range(5):
        p = simulate("SAXS", seed, detector="pilatus1m", rotate=0, beam=(520.0, 490.0), peak_counts=1e5)
        if p.metadata["sample"]["model"] not in ("spheres", "guinier_porod", "cylinders"):
            continue
        m = p.metadata
        geo = Geometry(m["distance_m"], m["energy_kev"], m["pixel_um"] * 1e-6, m["beam_row"], m["beam_col"])
        q, _ = geo.transmission(p.data.shape)
        valid = p.data >= 0
        inner = (q > m["q_max"] * 0.1) & (q < m["q_max"] * 0.2) & valid
        outer = (q > m["q_max"] * 0.6) & (q < m["q_max"] * 0.8) & valid
        assert p.data[inner].mean() > p.data[outer].mean(), seed


def test_bin_frame_sums_counts_and_keeps_gaps():
    frame = np.ones((8, 8), np.float32)
    frame[0, 0] = -1
    out = bin_frame(frame, 4)
    assert out.shape == (4, 4) and out[0, 0] == -1 and out[1, 1] == 4


def test_detectors_have_real_shapes():
    assert DETECTORS["pilatus1m"].shape == (1043, 981)
    assert DETECTORS["pilatus2m"].shape == (1679, 1475)
    assert DETECTORS["pilatus300kw"].shape == (195, 1475)
    assert DETECTORS["pilatus100k"].shape == (195, 487)
    assert DETECTORS["pilatus1m"].gap_mask()[195:212].all()


def test_spill_over_is_the_direct_beam_below_the_horizon():
    """Beam that misses the sample lands at the direct-beam pixel, under the horizon, and falls off around it."""
    from xicam.camsort.simulate.grazing import _spill_over

    geo = Geometry(distance_m=3.0, energy_kev=10.0, pixel_m=172e-6, beam_row=400.0, beam_col=250.0)
    alpha_i = np.radians(0.2)
    spill = _spill_over(geo.grazing((500, 500), alpha_i), alpha_i, np.random.default_rng(0), 100.0, chance=1.0)
    row, col = np.unravel_index(np.argmax(spill), spill.shape)
    assert abs(row - 400) <= 1 and abs(col - 250) <= 1 and row > geo.horizon_row(alpha_i)
    assert spill[400, 250] > 30 * spill[400, 480] > 0
    nothing = _spill_over(geo.grazing((500, 500), alpha_i), alpha_i, np.random.default_rng(0), 100.0, chance=0.0)
    assert not nothing.any()


@pytest.mark.parametrize("name", ["pilatus100k", "pilatus1m", "eiger1m", "ccd1k"])
def test_defects_never_blank_a_whole_frame(name):
    """Dead pixels, a dead module, masked corners and partial read-outs leave most of the frame: a
    single-module detector whose one module is dead records nothing, and nobody keeps such a frame."""
    from xicam.camsort.simulate.detector import DETECTORS, add_defects

    det = DETECTORS[name]
    valid = [(add_defects(np.full(det.shape, 5.0), det, np.random.default_rng(s)) > 0).mean() for s in range(300)]
    assert min(valid) > 0.05, name


@pytest.mark.parametrize("name", ["ccd1k", "pilatus1m"])
def test_exposure_records_the_pattern_without_saturating_the_frame(name):
    """Exposures range from weak to the detector's full scale: the brightest pixels may clip, never more
    than a sliver of the frame (a CCD's 16-bit range at 4 ADU per photon included), and no frame is
    left empty because a specular spot set the scale (the mean exposure is drawn, not the peak)."""
    det = DETECTORS[name]
    saturated, means = [], []
    for seed in range(40):
        p = simulate(TECHNIQUES[seed % 4], seed, detector=name, long_side=256)
        valid = p.data[p.data >= 0]
        saturated.append((valid >= det.max_count).mean())
        means.append(valid.mean())
    assert max(saturated) < 0.01, name
    assert min(means) > 0.1 and max(means) / min(means) > 30  # never empty, still weak to well exposed


def test_wide_angle_crystals_show_a_ring_on_the_detector():
    """A wide-angle set-up records its sample's reflections: a crystal whose rings all fall outside
    the detector's q-range is redrawn, for transmission WAXS and for the lattice draw GIWAXS uses."""
    from xicam.camsort.simulate.profiles import crystal_reflections

    for seed in range(200):
        _, q, _ = crystal_reflections(np.random.default_rng(seed), q_max=2.3, q_min=2.0)
        assert ((q > 2.0) & (q < 2.3)).any(), seed
    for seed in range(30):  # beam beyond an edge: the detector sees a narrow band of q
        p = simulate("WAXS", seed, detector="pilatus300k", beam=(-300.0, 240.0), long_side=256, rotate=0)
        m = p.metadata
        if "rings_q" in m["sample"]:  # a crystal, not an amorphous halo
            geo = Geometry(m["distance_m"], m["energy_kev"], m["pixel_um"] * 1e-6, m["beam_row"], m["beam_col"])
            q = geo.transmission(p.data.shape)[0]
            assert any(q.min() < ring < q.max() for ring in m["sample"]["rings_q"]), seed


def test_cubic_reflections_follow_the_extinction_rules_of_real_calibrants():
    """The first reflections and multiplicities of CeO2 (fcc), Si (diamond) and LaB6 (primitive cubic)."""
    from xicam.camsort.simulate.profiles import _cubic_allowed, _cubic_multiplicity, _indices

    expected = {"fcc": [(1, 1, 1), (2, 0, 0), (2, 2, 0), (3, 1, 1), (2, 2, 2), (4, 0, 0)],
                "diamond": [(1, 1, 1), (2, 2, 0), (3, 1, 1), (4, 0, 0), (3, 3, 1), (4, 2, 2)],
                "sc": [(1, 0, 0), (1, 1, 0), (1, 1, 1), (2, 0, 0), (2, 1, 0), (2, 1, 1)]}
    for lattice, first in expected.items():
        hkl = _indices(8.0, np.full(3, 5.4))
        hkl = hkl[(hkl[:, 0] >= hkl[:, 1]) & (hkl[:, 1] >= hkl[:, 2]) & _cubic_allowed(lattice, hkl)]
        hkl = hkl[np.argsort((hkl**2).sum(1), kind="stable")]
        assert [tuple(int(i) for i in v) for v in hkl[:6]] == first, lattice
    assert _cubic_multiplicity(np.array([(1, 1, 1), (2, 0, 0), (2, 2, 0), (3, 1, 1), (3, 2, 1)])).tolist() == \
        [8, 6, 12, 24, 48]


def test_high_energy_powder_frames_show_dozens_of_rings_within_the_detector_angle():
    """A quarter of WAXS frames come from a hard-X-ray powder beamline (30-90 keV, q up to 12 1/A)
    with many rings, like Dioptas' CeO2 frame; no frame asks for more than 75 degrees of 2 theta."""
    from xicam.camsort.simulate import MAX_TWO_THETA_DEG
    from xicam.camsort.simulate.geometry import HC_KEV_A

    rng = np.random.default_rng(5)
    meta = [simulate("WAXS", rng, long_side=128).metadata for _ in range(120)]
    hard = [m for m in meta if m["energy_kev"] >= 30]
    assert 0.12 < len(hard) / len(meta) < 0.4
    for m in meta:
        reach = 4 * np.pi * np.sin(np.radians(MAX_TWO_THETA_DEG / 2)) * m["energy_kev"] / HC_KEV_A
        assert m["q_max"] <= reach * 1.0001, m
    rings = [m["sample"]["n_rings"] for m in hard if "n_rings" in m["sample"]]
    assert np.median(rings) >= 15, rings


def test_hardware_shadow_hides_at_most_two_fifths_of_the_frame():
    """A flight-tube corner or window edge hides part of the frame, never most of it: corners up to
    60 % x 60 %, full-width or full-height bands up to 40 % deep, always touching the frame's edge."""
    from xicam.camsort.simulate.detector import hardware_shadow

    for seed in range(300):
        frame = np.full((200, 300), 1000.0, np.float32)
        hardware_shadow(frame, np.random.default_rng(seed), -1)
        hidden = frame < 1000
        assert 0.02 < hidden.mean() <= 0.4, (seed, hidden.mean())
        rows, cols = np.flatnonzero(hidden.any(1)), np.flatnonzero(hidden.any(0))
        assert rows[0] == 0 or rows[-1] == 199, seed
        assert cols[0] == 0 or cols[-1] == 299, seed


def test_giwaxs_film_diffuse_glows_around_the_beam_and_is_shadowed_below_the_horizon(monkeypatch):
    """The film's small-angle scattering adds a glow that falls off with q above the horizon and is
    hidden below it; the rest of the frame's random draws are unchanged by it."""
    from xicam.camsort.simulate import grazing

    geo = Geometry(distance_m=0.3, energy_kev=12.0, pixel_m=172e-6, beam_row=900.0, beam_col=490.0)
    alpha_i = np.radians(0.2)
    g = geo.grazing((1043, 981), alpha_i)
    maps = {}
    for share in (0.0, 1.0):
        monkeypatch.setattr(grazing, "FILM_DIFFUSE", share)
        maps[share], _ = grazing.giwaxs_map(g, alpha_i, np.radians(0.15), np.random.default_rng(3), 3.0, geo.k)
    glow = maps[1.0] - maps[0.0]
    assert glow.min() >= -1e-6
    above, below = g["alpha_f"] > np.radians(0.05), g["alpha_f"] < -np.radians(0.05)
    low_q, high_q = above & (g["q"] < 0.3), above & (g["q"] > 1.5)
    assert glow[low_q].mean() > 10 * glow[high_q].mean() > 0
    assert glow[below].max() < 0.01 * glow[above].max()  # the shadow leaks at most 1e-3 of a brighter q
