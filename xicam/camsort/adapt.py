"""Adapt a model to one's own instrument with a few labelled frames: the networks stay as trained, each
member's head (scaler, PCA, classifier, temperature) is fitted again on the user's frames mixed with
simulated ones, and an ensemble's own temperature on the same calibration frames.

The networks learnt from 17,600 simulated frames what a technique looks like; what an instrument the
simulator never drew does differently (a flight tube's shadow, a beam low on the detector, a CCD's
glow) moves a frame's features, and a head refitted on a handful of that instrument's frames learns
where its classes lie. Simulated frames keep the other instruments and the classes the user did not
label in view, and the user's frames (with their mirror images) are repeated to make up ``user_share``
of the fitting rows.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import CLASSES
from .datasets import read_labelled_folder
from .ensemble import Ensemble
from .errors import CamsortError
from .io import iter_patterns
from .preprocess import preprocess
from .sorter import Sorter, calibration_split, label_indices
from .training import simulated_set

USER_SHARE = 0.5
"""Default share of the head's fitting rows that are the user's frames (repeated as often as needed)."""

CALIBRATION_FRACTION = 0.2
"""Share of the frames (the user's and the simulated, stratified by class) held out to fit the temperature."""


def labelled_frames(root: str | os.PathLike, size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every frame of the files of a labelled folder (:func:`~.datasets.read_labelled_folder`, whose
    classes here include NOT_SCATTERING), preprocessed, with its label; and one line per file that could
    not be read, which is left out."""
    images, labels, skipped = [], [], []
    table = read_labelled_folder(root, CLASSES)
    for path, label in zip(table["path"], table["technique"]):
        try:
            frames = [preprocess(p.data, size) for p in iter_patterns(path)]
        except CamsortError as exc:
            skipped.append(str(exc))
            continue
        images += frames
        labels += [label] * len(frames)
    if not images:
        raise CamsortError(f"{root}: no readable labelled frames")
    return np.stack(images), np.asarray(labels, dtype=object), skipped


def base_name(model_dir: str | None) -> str:
    """How an adapted model records the model it was adapted from (None: the shipped one)."""
    return model_dir or "the model shipped with camsort"


def simulated_mix(per_class: int, seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The simulated frames an adaptation mixes in: ``per_class`` per technique and half as many
    NOT_SCATTERING images, preprocessed to ``size``."""
    return simulated_set(per_class, seed, size, per_class // 2)


def adapt(base: Sorter, X_user: np.ndarray, y_user: np.ndarray, *, simulated_per_class: int = 500,
          user_share: float = USER_SHARE, seed: int = 0, info: dict[str, Any] | None = None,
          simulated: tuple[np.ndarray, np.ndarray] | None = None) -> Sorter:
    """``base`` (one sorter or an ensemble) with every member's head refitted on the preprocessed frames
    ``X_user`` labelled ``y_user`` and :func:`simulated_mix` of ``simulated_per_class`` and ``seed``
    (``simulated``, when given, is that mix made beforehand, for several adaptations to share)."""
    if not 0.0 < user_share < 1.0:
        raise CamsortError(f"user_share must be between 0 and 1, not {user_share}")
    if len(X_user) == 0:
        raise CamsortError("no labelled frames to adapt to")
    X_sim, y_sim = simulated if simulated is not None else simulated_mix(simulated_per_class, seed, base.size)
    X = np.concatenate([X_user, X_sim])
    y_idx = label_indices(np.concatenate([np.asarray(y_user, dtype=object), y_sim]))
    tr, cal = calibration_split(y_idx, CALIBRATION_FRACTION, seed)
    own, simulated = tr[tr < len(X_user)], tr[tr >= len(X_user)]
    fitted = len(own)
    # the fitting frames' mirror images too: a mirrored frame is one of the same technique, and a model
    # that averages both views (Sorter.mirror) asks its head about both
    X, y_idx = np.concatenate([X, X[own][:, :, ::-1]]), np.concatenate([y_idx, y_idx[own]])
    own = np.concatenate([own, np.arange(len(X) - fitted, len(X))])
    repeats = max(1, int(round(user_share / (1 - user_share) * len(simulated) / max(len(own), 1))))
    fitting = np.concatenate([simulated, np.repeat(own, repeats)])
    record = {**(info or {}), "user_frames": int(len(X_user)), "user_frames_fitted": int(fitted),
              "user_repeats": repeats, "simulated_per_class": simulated_per_class, "user_share": user_share,
              "seed": seed}
    members = base.members if isinstance(base, Ensemble) else [base]
    heads = [Sorter.fit_head(m.featurizer, X, y_idx, fitting, cal,
                             classifier=m.classifier_name, n_components=int(m.info.get("n_components", 32)),
                             size=m.size, threshold=m.threshold, seed=seed, mirror=m.mirror,
                             info={**_kept(m.info), "adapted": record}) for m in members]
    if not isinstance(base, Ensemble):
        return heads[0]
    adapted = Ensemble(heads, threshold=base.threshold, info={**_kept(base.info), "adapted": record})
    adapted.calibrate(X[cal], y_idx[cal])
    return adapted


def _kept(info: dict[str, Any]) -> dict[str, Any]:
    """A model's info without what described its old heads (their calibration and held-out scores)."""
    return {k: v for k, v in info.items() if k not in ("calibration", "held_out")}
