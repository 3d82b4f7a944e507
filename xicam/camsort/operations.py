"""Xi-cam OperationPlugins: thin wrappers over camsort's core, composed into workflow graphs.

Each operation is a plain function whose metadata (names, descriptions, limits, categories) sits in
Xi-cam's decorators, so the workflow editor builds its controls from data. The compat module is
imported first so Xi-cam 2.4.6 runs on Python 3.11 with numpy 2.
"""
from __future__ import annotations

from . import compat  # noqa: F401  (must precede the xicam imports)

import numpy as np  # noqa: E402
from xicam.plugins.operationplugin import (  # noqa: E402
    categories, describe_input, describe_output, display_name, limits, operation, output_names)

from . import io as _io  # noqa: E402
from . import preprocess as _pre  # noqa: E402


@operation
@output_names("image", "metadata")
@display_name("Read pattern")
@describe_input("path", "A detector frame: TIFF, EDF, CBF, HDF5/NeXus, npy or Pilatus raw")
@describe_input("frame", "Frame index inside a multi-frame file (-1: the file must hold one frame)")
@describe_output("image", "The frame as a float32 2-D array")
@describe_output("metadata", "Header keys of the file")
@categories(("CamSort", "Read"))
def read_frame(path: str = "", frame: int = -1) -> tuple[np.ndarray, dict]:
    """Read one detector frame and its header."""
    pattern = _io.read_pattern(path, frame=None if frame < 0 else frame)
    return pattern.data, pattern.metadata


@operation
@output_names("image")
@display_name("Preprocess")
@describe_input("image", "A raw detector frame (counts; gaps and dead pixels negative or NaN)")
@describe_input("size", "Side of the square output image in pixels")
@describe_output("image", "Log-scaled, normalised, letterboxed square image in [0, 1]")
@limits("size", [16, 1024])
@categories(("CamSort", "Preprocess"))
def preprocess_frame(image: np.ndarray, size: int = _pre.DEFAULT_SIZE) -> np.ndarray:
    """Mask invalid pixels, bin to a square, log-scale and normalise."""
    return _pre.preprocess(image, size)


@operation
@output_names("technique", "probabilities", "confidence")
@display_name("Sort pattern")
@describe_input("image", "A preprocessed image (output of Preprocess) at the model's size")
@describe_input("model_dir", "Model directory; empty for the model shipped with camsort")
@describe_output("technique", "SAXS, WAXS, GISAXS, GIWAXS, NOT_SCATTERING or UNSURE")
@describe_output("probabilities", "Calibrated probability per class")
@describe_output("confidence", "'high', or 'low' when the top probability is below the model's threshold")
@categories(("CamSort", "Classify"))
def sort_pattern(image: np.ndarray, model_dir: str = "") -> tuple[str, dict, str]:
    """Featurize, reduce and classify one preprocessed image with a saved sorter."""
    from . import CLASSES
    from .sorter import load_cached

    outcome = load_cached(model_dir or None).decide(np.asarray(image, np.float32)[None])[0]
    return outcome["label"], dict(zip(CLASSES, outcome["probabilities"])), outcome["confidence"]


@operation
@output_names("heatmap")
@display_name("Grad-CAM")
@describe_input("image", "A preprocessed image (output of Preprocess) at the model's size")
@describe_input("model_dir", "Model directory with a CNN featurizer; empty for the shipped model")
@describe_output("heatmap", "Class-activation map in [0, 1] at the network's input size")
@categories(("CamSort", "Explain"))
def gradcam_map(image: np.ndarray, model_dir: str = "") -> np.ndarray:
    """Where the network looked for its predicted class."""
    from .gradcam import gradcam, keras_model_of
    from .sorter import load_cached

    sorter = load_cached(model_dir or None)
    net_input = sorter.featurizer.network_input(np.asarray(image, np.float32)[None])
    return gradcam(keras_model_of(sorter), net_input)[0]
