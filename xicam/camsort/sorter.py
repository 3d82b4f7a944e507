"""A fitted sorter: preprocessing size + featurizer + reducer + classifier + calibrated decision.

Saved as a self-describing, versioned directory: ``config.json`` (what to rebuild and how it was
trained), the featurizer's Keras file when it has weights, the reducer as skops, the classifier in
its library's own format, and a checksum manifest verified before anything is parsed. Nothing in
it is unpickled, and Keras files load with ``safe_mode=True``.
"""
from __future__ import annotations

import copy
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import CLASSES, NOT_SCATTERING, UNSURE, __version__
from .calibration import apply_temperature, expected_calibration_error, fit_temperature
from .errors import CamsortError
from .model_files import model_digest, prepare_model_dir, verify_checksums, write_checksums
from .preprocess import structure_index

FORMAT, FORMAT_VERSION = "camsort-model", 1
FLAT_RANGE = 0.02
"""A preprocessed image spanning less than this (blank, constant) holds no pattern: NOT_SCATTERING."""
NOISE_STRUCTURE = 1.6
"""A preprocessed image whose :func:`~.preprocess.structure_index` is below this is pixel noise and
nothing else: NOT_SCATTERING, whatever the network makes of the detector's gaps. Pure noise scores
0.4–1.35 on every detector layout; of 2,200 simulated scattering frames one scored below (1.25, a
Pilatus3 200K frame of 6 counts at its brightest, which the network too called NOT_SCATTERING), the
rest 2.9 and up. A pattern so faint that a few arcs on a CCD's read noise are all it holds can score
as noise too."""
DEFAULT_MODEL_DIR = Path(__file__).with_name("default_model")

CALIBRATION_FRACTION = 0.2
"""Share of a training set (stratified by class) that a sorter holds out to fit its temperature."""

HIGH_CONFIDENCE = 0.95
"""Calibrated top probability from which an outcome is ``high`` confidence (on the shipped model's fresh
simulated folders 98.3 and 99.6 % of such frames are right: docs/results.md); a frame sorted below it is
``medium``, an UNSURE one ``low``."""


class Sorter:
    """preprocess -> featurizer -> reducer -> classifier, with temperature-calibrated probabilities
    (with ``mirror``, of each image and its mirror image averaged).

    ``decide`` turns probabilities into an outcome: the technique, ``NOT_SCATTERING``, or ``UNSURE``
    when the calibrated top probability is below ``threshold``. ``origin`` is the folder a loaded model
    came from and the digest of its checksum manifest (None for a model never saved).
    """

    weigh_metadata = True
    """Whether :meth:`reconsider` weighs what headers and file names say (``--ignore-metadata`` turns it off
    for a run); a setting of the run, not of the model."""

    def __init__(self, featurizer: Any, reducer: Any, classifier: Any, classifier_name: str,
                 size: int = 128, threshold: float = 0.6, temperature: float = 1.0, mirror: bool = False,
                 info: dict[str, Any] | None = None):
        self.featurizer, self.reducer, self.classifier = featurizer, reducer, classifier
        self.classifier_name = classifier_name
        self.size, self.threshold, self.temperature, self.mirror = size, threshold, temperature, mirror
        self.info = dict(info or {})
        self.origin: dict[str, str] | None = None

    # -- training -------------------------------------------------------------------------
    @classmethod
    def train(cls, X: np.ndarray, y: np.ndarray, *, featurizer: str = "lenet-fast", classifier: str = "rf",
              n_components: int = 16, size: int = 128, threshold: float = 0.6, seed: int = 0,
              featurizer_params: dict[str, Any] | None = None, calibration_fraction: float = CALIBRATION_FRACTION,
              mirror: bool = False, info: dict[str, Any] | None = None) -> "Sorter":
        """Fit every stage on preprocessed images ``X`` (N, size, size) with labels in :data:`CLASSES`.

        A stratified ``calibration_fraction`` is held out to fit the temperature and report calibration;
        ``mirror``: predict by the mean over each image and its mirror image (:meth:`raw_proba`).
        """
        from .features import make_featurizer

        y_idx = label_indices(y)
        tr, cal = calibration_split(y_idx, calibration_fraction, seed)
        t0 = time.perf_counter()
        feat = make_featurizer(featurizer, **(featurizer_params or {}))
        feat.fit(X[tr], y_idx[tr])
        sorter = cls.fit_head(feat, X, y_idx, tr, cal, classifier=classifier, n_components=n_components,
                              size=size, threshold=threshold, seed=seed, mirror=mirror,
                              info={**(info or {}), "featurizer": featurizer})
        sorter.info["calibration"]["train_seconds"] = round(time.perf_counter() - t0, 1)
        return sorter

    @classmethod
    def fit_head(cls, featurizer: Any, X: np.ndarray, y_idx: np.ndarray, tr: np.ndarray, cal: np.ndarray, *,
                 classifier: str, n_components: int, size: int, threshold: float, seed: int, mirror: bool = False,
                 info: dict[str, Any]) -> "Sorter":
        """Fit reducer and classifier on the fitted featurizer's features of images ``X[tr]``; calibrate on
        ``X[cal]``."""
        from .classify import make_classifier
        from .reduce import make_reducer

        F = featurizer.transform(X)[tr]  # all once: ``tr`` may repeat frames (adapt)
        reducer = make_reducer(n_components=n_components, random_state=seed).fit(F)
        clf = make_classifier(classifier, random_state=seed).fit(reducer.transform(F), y_idx[tr])
        sorter = cls(featurizer, reducer, clf, classifier, size=size, threshold=threshold, mirror=mirror,
                     info={**info, "n_components": n_components, "seed": seed,
                           "calibration": {"n_train": int(len(tr))}})
        sorter.calibrate(X[cal], y_idx[cal])
        return sorter

    def calibrate(self, X: np.ndarray, y_idx: np.ndarray) -> None:
        """Fit the temperature on held-out images ``X`` with class indices ``y_idx``; record calibration in ``info``."""
        raw = self.raw_proba(X)
        self.temperature = fit_temperature(raw, y_idx)
        calibrated = apply_temperature(raw, self.temperature)
        self.info["calibration"] = {
            **self.info.get("calibration", {}), "n_calibration": int(len(y_idx)),
            "calibration_accuracy": float((calibrated.argmax(1) == y_idx).mean()),
            "ece_before": expected_calibration_error(raw, y_idx),
            "ece_after": expected_calibration_error(calibrated, y_idx),
        }

    # -- inference ------------------------------------------------------------------------
    def raw_proba(self, X: np.ndarray) -> np.ndarray:
        """The classifier's probabilities before calibration for preprocessed images (N, size, size).

        With ``mirror``, the mean over each image and its left-right mirror image: all four techniques
        are symmetric about the vertical through the beam, and the two views' errors differ.
        """
        views = np.concatenate([X, X[:, :, ::-1]]) if self.mirror else X
        proba = _full_proba(self.classifier, self.reducer.transform(self.featurizer.transform(views)))
        return proba.reshape(2, len(X), -1).mean(axis=0) if self.mirror else proba

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (N, len(CLASSES)) for preprocessed images (N, size, size)."""
        return apply_temperature(self.raw_proba(X), self.temperature)

    def decide(self, X: np.ndarray) -> list[dict[str, Any]]:
        """Outcome per image: label (technique, NOT_SCATTERING or UNSURE), probabilities, confidence.

        Images with no contrast at all (blank or constant frames) or with no spatial structure beyond
        pixel noise are NOT_SCATTERING outright.
        """
        return self._outcomes(self.predict_proba(X), X)

    def _outcomes(self, proba: np.ndarray, X: np.ndarray) -> list[dict[str, Any]]:
        """:meth:`decide` given the probabilities ``proba`` of the images ``X``."""
        empty = (np.ptp(X.reshape(len(X), -1), axis=1) < FLAT_RANGE) | (structure_index(X) < NOISE_STRUCTURE)
        proba[empty] = np.eye(len(CLASSES))[CLASSES.index(NOT_SCATTERING)]
        return [self._outcome(p) for p in proba]

    def _outcome(self, p: np.ndarray) -> dict[str, Any]:
        """Label (UNSURE below the threshold), probabilities, confidence level and top class of probabilities ``p``."""
        top = int(p.argmax())
        sure = p[top] >= self.threshold
        level = "low" if not sure else "high" if p[top] >= max(HIGH_CONFIDENCE, self.threshold) else "medium"
        return {"label": CLASSES[top] if sure else UNSURE, "probabilities": p.tolist(), "confidence": level,
                "top": CLASSES[top]}

    def reconsider(self, outcomes: list[dict[str, Any]], odds: list[np.ndarray | None]) -> list[dict[str, Any]]:
        """``outcomes`` of :meth:`decide` decided again with each frame's class odds multiplied by ``odds``
        (what its header and file name say, :func:`~.metadata_check.weighed_odds`; None where they say
        nothing). A weighed outcome keeps the image's own probabilities as ``image_probabilities``."""
        out = []
        for outcome, factors in zip(outcomes, odds):
            if factors is None or not self.weigh_metadata:
                out.append(outcome)
                continue
            image = np.asarray(outcome["probabilities"])
            weighed = image * factors
            out.append({**outcome, **self._outcome(weighed / weighed.sum()), "image_probabilities": image.tolist()})
        return out

    # -- persistence ----------------------------------------------------------------------
    def save(self, model_dir: str | os.PathLike) -> Path:
        """Write the model directory (refuses to write into a non-empty folder that is not a model)."""
        from .classify import save_classifier
        from .features import save_featurizer
        from .reduce import save_reducer

        root = prepare_model_dir(model_dir)
        write_config(root, {
            "format": FORMAT, "format_version": FORMAT_VERSION, "size": self.size, "threshold": self.threshold,
            "temperature": self.temperature, "mirror": self.mirror, "classifier": self.classifier_name,
            "featurizer": save_featurizer(self.featurizer, root / "featurizer"),
            "reducer": save_reducer(self.reducer, root / "reducer.skops"),
            "classifier_files": save_classifier(self.classifier, root / "classifier"),
            "info": self.info,
        })
        return root

    @classmethod
    def load(cls, model_dir: str | os.PathLike | None = None) -> "Sorter":
        """Load and verify a model directory, one sorter or an :class:`~.ensemble.Ensemble` of them;
        ``None`` loads the default model shipped with camsort."""
        from .classify import load_classifier
        from .ensemble import ENSEMBLE_FORMAT, Ensemble
        from .features import load_featurizer
        from .reduce import load_reducer

        root = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
        if not (root / "config.json").is_file():
            hint = " (the default model is built by `make default-model`)" if model_dir is None else ""
            raise CamsortError(f"{root}: no camsort model here (config.json missing){hint}")
        verify_checksums(root)
        config = json.loads((root / "config.json").read_text())
        if tuple(config.get("classes", ())) != CLASSES:
            raise CamsortError(f"{root}: model classes {config.get('classes')} differ from {list(CLASSES)}")
        kind = (config.get("format"), config.get("format_version"))
        if kind == (ENSEMBLE_FORMAT, FORMAT_VERSION):
            sorter = Ensemble.from_config(root, config)
        elif kind == (FORMAT, FORMAT_VERSION):
            sorter = cls(load_featurizer(config["featurizer"], root / "featurizer"),
                         load_reducer(root / "reducer.skops"),
                         load_classifier(root / "classifier"), config["classifier"],
                         size=int(config["size"]), threshold=float(config["threshold"]),
                         temperature=config_temperature(root, config["temperature"]),
                         mirror=config.get("mirror", False) is True, info=config.get("info", {}))
        else:
            raise CamsortError(f"{root}: unsupported model format {config.get('format')!r} "
                               f"v{config.get('format_version')}")
        sorter.origin = {"path": str(root.resolve()), "sha256": model_digest(root)}
        return sorter


def config_temperature(root: Path, value: Any) -> float:
    """A temperature read from ``root``'s config: a positive finite number, or a clear error (0 would
    divide by zero, a negative one would turn every ranking of classes upside down)."""
    try:
        temperature = float(value)
    except (TypeError, ValueError):
        temperature = float("nan")
    if not (math.isfinite(temperature) and temperature > 0):
        raise CamsortError(f"{root}: temperature {value!r} in config.json is not a positive number")
    return temperature


def write_config(root: Path, config: dict[str, Any]) -> None:
    """Write a model directory's ``config.json`` (with version and classes) and then its checksum manifest."""
    config = {**config, "camsort_version": __version__, "classes": list(CLASSES)}
    (root / "config.json").write_text(json.dumps(config, indent=1, default=_json_default) + "\n")
    write_checksums(root)


_CACHE: dict[tuple[str, float], Sorter] = {}


def load_cached(model_dir: str | os.PathLike | None = None) -> Sorter:
    """Load a sorter once per process (GUI and repeated predictions reuse the decoded model)."""
    root = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
    stamp = (root / "config.json").stat().st_mtime if (root / "config.json").exists() else 0.0
    key = (str(root.resolve()), stamp)
    if key not in _CACHE:
        _CACHE[key] = Sorter.load(model_dir)
    return _CACHE[key]


def for_run(sorter: Sorter, threshold: float | None = None, weigh_metadata: bool = True) -> Sorter:
    """``sorter`` as one run uses it: itself, or a shallow copy with another ``threshold`` or deciding by the
    images alone (``weigh_metadata`` off), so the shared cached sorter is left as it is."""
    if threshold is None and weigh_metadata == sorter.weigh_metadata:
        return sorter
    run = copy.copy(sorter)
    run.threshold = sorter.threshold if threshold is None else threshold
    run.weigh_metadata = weigh_metadata
    return run


def calibration_split(y_idx: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the fitting rows and of the stratified ``fraction`` held out to fit the temperature:
    the same split for the same labels and seed, so that a trained model's calibration frames can be made again."""
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(len(y_idx)), test_size=fraction, stratify=y_idx, random_state=seed)


def label_indices(y: np.ndarray) -> np.ndarray:
    """Class indices into :data:`CLASSES` of labels given as names (or already as indices)."""
    y = np.asarray(y)
    if y.dtype.kind in "iu":
        return y.astype(int)
    unknown = sorted(set(y) - set(CLASSES))
    if unknown:
        raise CamsortError(f"unknown labels {unknown}; expected some of {list(CLASSES)}")
    return np.array([CLASSES.index(v) for v in y])


def _full_proba(clf: Any, Z: np.ndarray) -> np.ndarray:
    """Probabilities over all CLASSES even if some class was absent from training."""
    proba = clf.predict_proba(Z)
    classes = [int(c) for c in getattr(clf, "classes_", range(proba.shape[1]))]
    full = np.zeros((len(Z), len(CLASSES)))
    full[:, classes] = proba
    return full


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
