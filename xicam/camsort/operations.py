"""Xi-cam OperationPlugins: thin wrappers over camsort's core, composed into workflow graphs.

Each operation is a plain function whose metadata (names, descriptions, limits, categories) sits in
Xi-cam's decorators, so the workflow editor builds its controls from data. :data:`OPERATIONS` is the
registered set: workflow files may name these and nothing else. The compat module is imported
first so Xi-cam 2.4.6 runs on Python 3.11 with numpy 2. Annotations stay real types (no postponed
evaluation): Xi-cam builds each input's control from its type, so a ``bool`` is a tick box and an ``int`` a spin
box; inputs that arrive by links (arrays, batches of items) are hidden from the editor.
"""
from . import compat  # noqa: F401  (must precede the xicam imports)

import inspect  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from xicam.plugins.operationplugin import (  # noqa: E402
    categories, describe_input, describe_output, display_name, limits, opts, output_names, visible)
from xicam.plugins.operationplugin import operation as xicam_operation  # noqa: E402

from . import io as _io  # noqa: E402
from . import preprocess as _pre  # noqa: E402
from .classify import CLASSIFIERS  # noqa: E402
from .features import FEATURIZERS  # noqa: E402
from .reduce import METHODS  # noqa: E402
from .sortjob import MODES  # noqa: E402


def operation(func: Callable) -> type:
    """Xi-cam's ``operation``, with the inputs that arrive by links hidden from its editor: an array or a batch
    (``list``) is not a value to type, and Xi-cam would show an empty image or drop-down for it."""
    for name, parameter in inspect.signature(func).parameters.items():
        if parameter.annotation in (np.ndarray, list):
            func = visible(name, False)(func)
    return xicam_operation(func)


def choice(name: str, values: tuple[str, ...]) -> Callable[[Callable], Callable]:
    """Show a text input as a drop-down of the values it accepts."""
    return opts(name, type="list", limits=list(values))


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
@describe_output("confidence", "'high' from a top probability of 0.95, 'medium' below it, 'low' when UNSURE")
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
    from .gradcam import sorter_cam
    from .sorter import load_cached

    return sorter_cam(load_cached(model_dir or None), np.asarray(image, np.float32)[None])[0]


# -- batches: the units a workflow is mapped over -----------------------------------------------
@operation
@output_names("items")
@display_name("Read frames")
@describe_input("paths", "Detector files (a batch), or parts of long HDF5 stacks ({path, dataset, start, stop}); "
                         "unreadable ones become error items, not exceptions")
@describe_input("done", "(source, frame) keys already finished by an earlier run: skipped")
@describe_input("all_detectors", "Also read the other detectors' image datasets of an HDF5 file")
@describe_input("raw_shape", "ROWSxCOLS of headerless .raw files whose size does not tell it (empty: by size)")
@describe_output("items", "One item per frame: source, frame index, pattern, checksum, or the error")
@categories(("CamSort", "Read"))
def read_frames(paths: list = (), done: list = (), all_detectors: bool = False, raw_shape: str = "") -> list:
    """Read and checksum every frame of a batch of files or parts of stacks."""
    from .sortjob import load_items

    return load_items(paths, done, all_detectors=all_detectors, shape=shape_of(raw_shape))


def shape_of(raw_shape: str) -> tuple[int, int] | None:
    """Read frames' ``raw_shape`` as a shape (None when empty), or a one-line error naming the parameter."""
    from .errors import CamsortError

    try:
        return _io.parse_shape(raw_shape) if raw_shape else None
    except ValueError as exc:
        raise CamsortError(f"Read frames' raw_shape: {exc}") from None


@operation
@output_names("images")
@display_name("Preprocess frames")
@describe_input("items", "Items from Read frames")
@describe_input("size", "Side of the square output images in pixels (the model's input size)")
@describe_output("images", "Preprocessed images (N, size, size) of the readable frames, in order")
@limits("size", [16, 1024])
@categories(("CamSort", "Preprocess"))
def preprocess_frames(items: list = (), size: int = _pre.DEFAULT_SIZE) -> np.ndarray:
    """Preprocess the readable frames of a batch into one stack."""
    from .sortjob import stack_images

    readable = [it for it in items if it.pattern is not None]
    for it in readable:
        it.image = _pre.preprocess(it.pattern.data, size)
    return stack_images(readable)


@operation
@output_names("decisions")
@display_name("Classify frames")
@describe_input("images", "Preprocessed images at the model's size")
@describe_input("model_dir", "Model directory; empty for the model shipped with camsort")
@describe_input("items", "Items from Read frames: their headers and file names weigh the decisions "
                         "(none: the images alone)")
@describe_input("weigh_metadata", "Weigh what the items' headers and file names say (off: the images alone, "
                                  "as --ignore-metadata)")
@describe_output("decisions", "Per image: label, calibrated probabilities, confidence")
@categories(("CamSort", "Classify"))
def classify_frames(images: np.ndarray, model_dir: str = "", items: list = (), weigh_metadata: bool = True) -> list:
    """Decide the technique of every image with a saved sorter, weighing what the frames' headers and
    file names say as ``camsort sort`` does."""
    from .errors import CamsortError
    from .sorter import for_run, load_cached
    from .sortjob import weighed_decisions

    sorter = for_run(load_cached(model_dir or None), weigh_metadata=weigh_metadata)
    if len(images) and images.shape[1:] != (sorter.size, sorter.size):
        raise CamsortError(f"images are {images.shape[1:]} but the model expects {sorter.size}x{sorter.size}; "
                           f"set Preprocess frames' size to {sorter.size}")
    if not len(images):
        return []
    decisions = sorter.decide(images)
    return weighed_decisions(sorter, list(items), decisions) if items else decisions


@operation
@output_names("rows")
@display_name("Place frames")
@describe_input("items", "Items from Read frames")
@describe_input("decisions", "Decisions from Classify frames")
@describe_input("out", "Output folder: frames go to OUT/<TECHNIQUE>/ (never overwriting)")
@describe_input("mode", "copy, link, symlink or manifest-only")
@describe_output("rows", "Manifest rows, errors included")
@choice("mode", MODES)
@categories(("CamSort", "Sort"))
def place_frames(items: list = (), decisions: list = (), out: str = "", mode: str = "copy") -> list:
    """Deliver decided frames into technique folders, exactly as ``camsort sort`` does."""
    from .sortjob import batch_rows

    return batch_rows(list(items), list(decisions), out, mode)


@operation
@output_names("rows")
@display_name("Grad-CAM overlays")
@describe_input("items", "Items from Read frames (their images set by Preprocess frames)")
@describe_input("images", "Preprocessed images of the readable items")
@describe_input("model_dir", "Model directory with a CNN featurizer; empty for the shipped model")
@describe_input("out", "Folder for the overlay PNGs")
@describe_output("rows", "Manifest rows whose output is the PNG written for each frame")
@categories(("CamSort", "Explain"))
def gradcam_frames(items: list = (), images: np.ndarray = None, model_dir: str = "", out: str = "") -> list:
    """Write one Grad-CAM overlay PNG per frame and report where."""
    from .gradcam import explain_images
    from .manifest import probability_columns, stat_cells
    from .sorter import load_cached

    readable = [it for it in items if it.pattern is not None]
    sorter = load_cached(model_dir or None)
    outcomes = sorter.decide(images) if readable else []
    pngs = explain_images(sorter, [it.pattern.name for it in readable], images, out, outcomes) if readable else []
    rows = []
    for it, png, outcome in zip(readable, pngs, outcomes):
        rows.append({"source": it.source, "frame": it.frame, "output": str(png), "technique": outcome["label"],
                     "confidence": outcome["confidence"], "sha256": it.sha256,
                     **probability_columns(outcome["probabilities"]), **stat_cells(it.signature)})
    return rows + [{"source": it.source, "frame": it.frame, "technique": "ERROR", "error": it.error}
                   for it in items if it.error]


# -- labelled data, featurizers, reducers, classifiers, metrics: the study's graph ------------
@operation
@output_names("images", "labels", "groups")
@display_name("Load labelled folder")
@describe_input("folder", "A labelled folder (labels.csv, or one sub-folder per technique)")
@describe_input("size", "Side of the square preprocessed images")
@describe_output("labels", "Technique index per image (into SAXS, WAXS, GISAXS, GIWAXS)")
@describe_output("groups", "Group per image (frames of one sample share a group)")
@limits("size", [16, 1024])
@categories(("CamSort", "Read"))
def load_labelled(folder: str = "", size: int = _pre.DEFAULT_SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read and preprocess a labelled folder."""
    from .datasets import labelled_images

    images, labels, table = labelled_images(folder, size)
    return images, labels, np.array(table["group"])


@operation
@output_names("fit_images", "fit_labels", "eval_images", "eval_labels")
@display_name("Split by group")
@describe_input("fraction", "Fraction of groups held out for evaluation")
@categories(("CamSort", "Evaluate"))
def split_groups(images: np.ndarray, labels: np.ndarray, groups: np.ndarray, fraction: float = 0.5,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split into a fitting and an evaluation part with no group on both sides (the paper's 50/50)."""
    from .datasets import group_split

    fit, ev = group_split(labels, groups, fraction, seed)
    return images[fit], labels[fit], images[ev], labels[ev]


def _featurize_operation(name: str):
    """The Featurize operation of one featurizer (networks fit on the fitting images when given)."""

    def featurize(images: np.ndarray, fit_images: np.ndarray = None, fit_labels: np.ndarray = None,
                  model_dir: str = "") -> tuple[np.ndarray, Any]:
        from .features import make_featurizer
        from .sorter import load_cached

        if model_dir:
            featurizer = load_cached(model_dir).featurizer
        else:
            featurizer = make_featurizer(name)
            if fit_images is not None:
                featurizer.fit(fit_images, fit_labels)
            else:
                featurizer.fit(images, None)
        return featurizer.transform(images), featurizer

    featurize.__name__ = featurize.__qualname__ = f"featurize_{name.replace('-', '_')}"
    featurize.__doc__ = f"Feature rows of images by the {name} featurizer."
    decorated = describe_output("featurizer", "The fitted featurizer")(
        describe_output("features", "One feature row per image")(
            describe_input("model_dir", "Take the fitted featurizer of this model directory instead")(
                describe_input("fit_images", "Images to fit on (networks; needs fit_labels)")(featurize))))
    return operation(output_names("features", "featurizer")(display_name(f"Featurize: {name}")(
        categories(("CamSort", "Featurize"))(decorated))))


FEATURIZE_OPERATIONS = {f"featurize_{n.replace('-', '_')}": _featurize_operation(n) for n in FEATURIZERS}
globals().update(FEATURIZE_OPERATIONS)


@operation
@output_names("reduced", "reducer")
@display_name("Reduce (PCA/ICA)")
@describe_input("n_components", "Components kept (the paper: 5)")
@describe_input("method", "pca or ica")
@describe_input("reducer", "A fitted reducer to apply instead of fitting a new one")
@limits("n_components", [1, 4096])
@choice("method", METHODS)
@categories(("CamSort", "Reduce"))
def reduce_features(features: np.ndarray, n_components: int = 5, method: str = "pca", reducer: Any = None,
                    seed: int = 0) -> tuple[np.ndarray, Any]:
    """StandardScaler then PCA (or ICA), fitted here unless a fitted reducer is given."""
    from .reduce import make_reducer

    if reducer is None:
        reducer = make_reducer(n_components, method=method, random_state=seed).fit(features)
    return reducer.transform(features), reducer


def _fit_operation(name: str):
    """The Fit operation of one classifier (tuned by randomized search when ``tune_iter`` > 0)."""

    def fit(features: np.ndarray, labels: np.ndarray, tune_iter: int = 0, seed: int = 0) -> Any:
        from .classify import make_classifier, tune

        if tune_iter > 0:
            return tune(name, features, labels, n_iter=tune_iter, cv=3, seed=seed)
        return make_classifier(name, random_state=seed).fit(features, labels)

    fit.__name__ = fit.__qualname__ = f"fit_{name}"
    fit.__doc__ = f"A fitted {name} classifier."
    return operation(output_names("classifier")(display_name(f"Fit: {name}")(
        describe_input("tune_iter", "Randomized-search candidates (0: library defaults)")(
            categories(("CamSort", "Classify"))(fit)))))


FIT_OPERATIONS = {f"fit_{n}": _fit_operation(n) for n in CLASSIFIERS}
globals().update(FIT_OPERATIONS)


@operation
@output_names("predictions", "probabilities")
@display_name("Predict")
@describe_output("predictions", "Class index per row")
@describe_output("probabilities", "Probability per row and class seen in training")
@categories(("CamSort", "Classify"))
def predict(classifier: Any, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and probabilities of a fitted classifier."""
    return classifier.predict(features), classifier.predict_proba(features)


@operation
@output_names("scores")
@display_name("Metrics")
@describe_output("scores", "accuracy, recall, precision, F1, Cohen's kappa, MCC")
@categories(("CamSort", "Evaluate"))
def score_predictions(labels: np.ndarray, predictions: np.ndarray) -> dict:
    """The study's quality metrics of predictions against labels."""
    from .metrics import scores

    return scores(np.asarray(labels), np.asarray(predictions))


@operation
@output_names("records", "summary")
@display_name("Cross-validate")
@describe_input("classifier", "rf, et, lightgbm, xgboost or catboost")
@describe_input("tune_iter", "Randomized-search candidates inside each training fold (0: defaults)")
@describe_input("groups", "Source frame per row (BLA's rotated copies): a group never spans training and test")
@describe_output("records", "Per fold: the six metrics, fit/predict seconds, confusion matrix")
@describe_output("summary", "Mean and standard deviation of every metric over folds")
@limits("folds", [2, 20])
@choice("classifier", CLASSIFIERS)
@categories(("CamSort", "Evaluate"))
def cross_validate_classifier(features: np.ndarray, labels: np.ndarray, classifier: str = "rf",
                              n_components: int = 5, folds: int = 5, seed: int = 0, tune_iter: int = 0,
                              groups: np.ndarray = None) -> tuple[list, dict]:
    """Scaler -> PCA -> classifier under stratified k-fold (by group when given): one combination of Algorithm 1."""
    from .metrics import summarise
    from .study import run_combination

    records = run_combination(features, labels, classifier, n_components=n_components, folds=folds, seed=seed,
                              tune_iter=tune_iter, groups=groups)
    return records, summarise(records)


@operation
@output_names("features", "labels", "groups")
@display_name("Load feature matrix")
@describe_input("features_path", "An .npz with arrays 'features' and 'labels' (camsort featurize / sweep)")
@describe_output("groups", "The source frame of each row when the matrix has them (BLA), else None")
@categories(("CamSort", "Read"))
def load_feature_matrix(features_path: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A saved feature matrix, its labels and row groups if stored (no pickles are loaded)."""
    with np.load(features_path, allow_pickle=False) as matrix:
        return matrix["features"], matrix["labels"], matrix["groups"] if "groups" in matrix.files else None


OPERATIONS: dict[str, type] = {
    "read_frame": read_frame, "preprocess_frame": preprocess_frame, "sort_pattern": sort_pattern,
    "gradcam_map": gradcam_map, "read_frames": read_frames, "preprocess_frames": preprocess_frames,
    "classify_frames": classify_frames, "place_frames": place_frames, "gradcam_frames": gradcam_frames,
    "load_labelled": load_labelled, "split_groups": split_groups, **FEATURIZE_OPERATIONS,
    "reduce_features": reduce_features, **FIT_OPERATIONS, "predict": predict,
    "score_predictions": score_predictions, "cross_validate_classifier": cross_validate_classifier,
    "load_feature_matrix": load_feature_matrix,
}
"""The registered operations by workflow name; ``entry_points.cfg`` lists each as ``camsort_<name>``."""
