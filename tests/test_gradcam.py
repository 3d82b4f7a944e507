"""Grad-CAM maps: finite, non-constant, at input resolution, and on the scattering, not the shadow."""
from __future__ import annotations

import numpy as np
import pytest

from xicam.camsort.errors import CamsortError
from xicam.camsort.gradcam import explain_files, gradcam, keras_model_of, last_conv_layer, sorter_cam
from xicam.camsort.io import write_tiff
from xicam.camsort.preprocess import preprocess
from xicam.camsort.simulate import simulate


def test_maps_are_finite_normalised_and_input_sized(cnn_sorter):
    model = keras_model_of(cnn_sorter)
    assert last_conv_layer(model).startswith("conv")
    n = cnn_sorter.size
    X = np.stack([preprocess(simulate(t, 5, long_side=256).data, n) for t in ("SAXS", "WAXS", "GISAXS", "GIWAXS")])
    cams = gradcam(model, X)
    assert cams.shape == (4, n, n) and np.isfinite(cams).all()
    assert cams.max() <= 1 and cams.min() >= 0
    assert sum(c.std() > 0.01 for c in cams) >= 3  # a map may be empty when no region argues for the class
    other = gradcam(model, X, class_index=1)
    assert not np.allclose(other, cams)


def test_a_mirroring_sorter_is_explained_by_both_views(cnn_sorter):
    """The shipped model decides on each frame and its mirror image: its map is both views' mean, so the map
    of a mirrored frame is the mirrored map, and it differs from the single view's."""
    X = np.stack([preprocess(simulate(t, 6, long_side=256).data, cnn_sorter.size) for t in ("GISAXS", "WAXS")])
    assert cnn_sorter.mirror
    cams = sorter_cam(cnn_sorter, X, 2)
    np.testing.assert_allclose(sorter_cam(cnn_sorter, X[:, :, ::-1], 2), cams[:, :, ::-1], atol=1e-5)
    assert cams.max() == pytest.approx(1) and cams.min() >= 0
    single = gradcam(keras_model_of(cnn_sorter), cnn_sorter.featurizer.network_input(X), 2)
    assert not np.allclose(cams, single, atol=1e-3)


def test_overlays_written_for_files(cnn_sorter, tmp_path):
    write_tiff(tmp_path / "g.tif", simulate("GIWAXS", 9, long_side=256).data.astype(np.int32))
    pngs = explain_files(cnn_sorter, [tmp_path / "g.tif"], tmp_path / "cam")
    assert len(pngs) == 1 and pngs[0].stat().st_size > 10_000 and pngs[0].read_bytes()[:4] == b"\x89PNG"


def test_non_cnn_sorter_is_refused():
    class Plain:
        featurizer = object()

    with pytest.raises(CamsortError, match="needs a CNN featurizer"):
        keras_model_of(Plain())
