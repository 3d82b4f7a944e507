"""Preprocessing: masking, letterboxing, binning, log-normalisation, batches of mixed shapes."""
from __future__ import annotations

import numpy as np
import pytest

from xicam.camsort.io import read_pattern
from xicam.camsort.preprocess import (bin_to_square, count_scale, preprocess, preprocess_batch, structure_index,
                                      valid_mask)


def test_invalid_pixels_are_masked():
    data = np.array([[1, -1, np.nan], [np.inf, 2**31 - 1, 5]], np.float32)
    np.testing.assert_array_equal(valid_mask(data), [[True, False, False], [False, False, True]])


def test_output_range_shape_and_dtype_for_odd_shapes():
    rng = np.random.default_rng(1)
    for shape in [(1043, 981), (195, 1475), (1475, 195), (64, 64), (3000, 40)]:
        out = preprocess(rng.poisson(10, shape).astype(np.float32), size=128)
        assert out.shape == (128, 128) and out.dtype == np.float32
        assert out.min() >= 0 and out.max() <= 1 and np.isfinite(out).all()


def test_letterbox_keeps_aspect_and_centres_the_frame():
    wide = np.full((100, 400), 50.0, np.float32)
    binned, coverage = bin_to_square(wide[None], 64)
    rows_covered = np.where(coverage[0].max(axis=1) > 0.5)[0]
    assert 14 <= len(rows_covered) <= 18  # 100/400 of 64 rows
    assert abs(rows_covered.mean() - 31.5) < 1.5
    np.testing.assert_allclose(binned[0][coverage[0] > 0.99], 50.0, rtol=1e-5)


def test_binning_averages_valid_counts_only():
    frame = np.full((8, 8), 10.0, np.float32)
    frame[:, 3] = -1  # dead column must not pull the mean down
    binned, coverage = bin_to_square(frame[None], 4)
    np.testing.assert_allclose(binned[0], 10.0)
    assert coverage[0, 0, 1] == 0.5 and coverage[0, 0, 0] == 1.0


def test_log_scaling_is_monotonic_and_robust_to_hot_pixels():
    ramp = np.tile(np.logspace(0, 4, 256, dtype=np.float32), (256, 1))
    ramp[5, 5] = 1e9  # one hot pixel must not compress the rest
    out = preprocess(ramp, size=256)
    row = out[100]
    assert np.all(np.diff(row) >= -1e-6)
    assert row[128] > 0.4  # the middle decade stays mid-grey, not crushed to 0


def test_batch_equals_single_and_groups_shapes():
    rng = np.random.default_rng(2)
    frames = [rng.poisson(5, (60, 50)).astype(np.float32), rng.poisson(5, (30, 90)).astype(np.float32),
              rng.poisson(50, (60, 50)).astype(np.float32)]
    batch = preprocess_batch(frames, size=32)
    assert batch.shape == (3, 32, 32)
    for i, f in enumerate(frames):
        np.testing.assert_allclose(batch[i], preprocess(f, 32), atol=1e-6)


def test_blank_frame_gives_zeros_not_nans():
    assert not preprocess(np.zeros((50, 50), np.float32), 16).any()
    assert not preprocess(np.full((50, 50), -1, np.float32), 16).any()


def test_real_frames_keep_their_structure(real_frames):
    out = preprocess_batch([read_pattern(p).data for p in real_frames.values()])
    assert out.shape == (4, 256, 256)
    for img in out:
        assert 0.05 < img.mean() < 0.8 and img.std() > 0.05


def test_normalised_frames_are_put_back_on_a_count_scale():
    """A frame divided by a monitor or put on an absolute scale (values far below 1) preprocesses as
    its counts do; frames of counts, with or without gap markers, are left exactly as they are."""
    from xicam.camsort.simulate import simulate

    counts = simulate("GISAXS", 4, detector="pilatus1m", long_side=512, rotate=0).data
    assert count_scale(counts) == 1.0 and count_scale(np.where(counts < 0, 0, counts)) == 1.0
    assert count_scale(counts * 100) == 1.0  # large units need no help: log1p is already a log there
    normalised = np.where(counts >= 0, counts * np.float32(2.5e-6), -1).astype(np.float32)
    assert count_scale(normalised) == pytest.approx(2.5e-6, rel=1e-3)
    assert np.abs(preprocess(normalised, 128) - preprocess(counts, 128)).max() < 1e-3
    flat_field = np.where(counts >= 0, normalised * np.random.default_rng(0).uniform(0.9, 1.1, counts.shape), -1)
    assert np.abs(preprocess(flat_field.astype(np.float32), 128) - preprocess(counts, 128)).mean() < 0.02


def test_structure_index_tells_pixel_noise_from_patterns_whatever_the_detector_layout():
    """Pure noise on a detector with module gaps, letterboxed, scores about 1; simulated patterns of
    every technique on photon-counting detectors, from 3 counts at the brightest up, score far above.
    (A few faint arcs on a CCD's read noise can score as noise: see ``sorter.NOISE_STRUCTURE``.)"""
    from xicam.camsort import TECHNIQUES
    from xicam.camsort.simulate import DETECTORS, simulate

    rng = np.random.default_rng(3)
    noise = []
    for name in ("pilatus1m", "eiger1m", "pilatus300kw", "pilatus100k", "ccd1k"):
        det = DETECTORS[name]
        for mean in (0.02, 20.0, 1000.0):
            frame = rng.poisson(mean, det.shape).astype(np.float32)
            frame[det.gap_mask()] = -1
            noise.append(frame)
    noise_index = structure_index(preprocess_batch(noise, 128))
    assert noise_index.max() < 1.45, noise_index
    patterns = [simulate(t, seed, detector=d, peak_counts=counts, long_side=512).data for t in TECHNIQUES
                for seed, d in enumerate(("pilatus1m", "eiger1m", "pilatus300k", "pilatus2m"))
                for counts in (3.0, 30.0, 3000.0)]
    assert structure_index(preprocess_batch(patterns, 128)).min() > 2.5
    assert structure_index(np.zeros((1, 128, 128), np.float32))[0] == np.inf  # nothing left to tell

