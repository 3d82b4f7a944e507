"""Training sets for the sorter (simulated or labelled folders, plus negatives) and the default-model recipe."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from . import CLASSES, NOT_SCATTERING, TECHNIQUES, UNSURE
from .calibration import shown
from .errors import CamsortError
from .negatives import not_scattering_batch
from .preprocess import preprocess_batch
from .sorter import CALIBRATION_FRACTION, DEFAULT_MODEL_DIR, Sorter, calibration_split, label_indices

DEFAULT_RECIPE = {"per_class": 4000, "seed": 20261125, "negatives": 1600, "featurizer": "lenet-fast",
                  "featurizer_params": {"epochs": 50, "patience": 6}, "classifier": "xgboost", "n_components": 32,
                  "size": 128, "threshold": 0.6, "held_out_per_class": 75, "members": 3,
                  "roi_share": 0.0, "negatives_on_detectors": 0.0, "mirror": True}
"""How the shipped default model is trained: ``camsort train --default`` (``make default-model``).
Member k (0, 1, …) is this recipe with seed ``seed + k``: its own simulated set and network initialisation.
``roi_share`` and ``negatives_on_detectors`` (see :func:`simulated_set`) are 0: one member trained with
0.15 and 0.5 sorted crops and noise better and whole frames 1–2 points worse (docs/results.md). ``mirror``:
each member predicts by the mean over a frame and its left-right mirror image, its temperature fitted so
(0.4–4 points better on eight of nine simulated sets, even on real frames: docs/results.md)."""


SIMULATION_CHUNK = 500
"""Frames per technique simulated at a time: only the small preprocessed images of a large set are kept."""


def training_long_side(size: int) -> int:
    """Long side, in pixels, of the binned read-outs training frames (and the negatives laid out on
    detectors) are simulated at for ``size``-pixel preprocessed images."""
    return max(2 * size, 256)


def simulated_set(per_class: int, seed: int, size: int, negatives: int = 0, native: bool = False,
                  roi_share: float = 0.0, negatives_on_detectors: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Preprocessed simulated frames of every technique (+ ``negatives`` NOT_SCATTERING images).

    Training sets simulate binned read-outs (fast); ``native=True`` simulates full-size frames,
    as held-out sets must, so that evaluation sees exactly what users' detectors write. Frames are
    simulated in chunks and returned technique by technique, the same set as one batch would give.
    A share ``roi_share`` of the frames is cut to a region of interest
    (:func:`~.simulate.detector.region_of_interest`); ``negatives_on_detectors`` is passed to
    :func:`~.negatives.not_scattering_batch`.
    """
    from .simulate import simulate_batch
    from .simulate.detector import region_of_interest

    parts, labels = [], []
    cropping = np.random.default_rng([seed, 2])
    for start in range(0, per_class, SIMULATION_CHUNK):
        frames, chunk_labels, _, _ = simulate_batch(min(SIMULATION_CHUNK, per_class - start), seed=seed,
                                                    size=None if native else training_long_side(size), start=start)
        if roi_share:
            frames = [region_of_interest(f, cropping) if cropping.random() < roi_share else f for f in frames]
        parts.append(preprocess_batch(frames, size))
        labels.extend(chunk_labels)
    y = np.asarray(labels, dtype=object)
    order = np.argsort([TECHNIQUES.index(t) for t in y], kind="stable")
    X, y = np.concatenate(parts)[order], y[order]
    return _with_negatives(X, y, negatives, seed, size, negatives_on_detectors)


def folder_set(root: str | os.PathLike, size: int, negatives: int = 0, seed: int = 0,
               negatives_on_detectors: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Preprocessed frames of a labelled folder ``root/<TECHNIQUE>/...`` (+ negatives, a share
    ``negatives_on_detectors`` of them on detector layouts)."""
    from .datasets import read_labelled_folder
    from .io import read_pattern

    table = read_labelled_folder(root)
    X = preprocess_batch((read_pattern(p).data for p in table["path"]), size)
    y = np.asarray(table["technique"], dtype=object)
    return _with_negatives(X, y, negatives, seed, size, negatives_on_detectors)


def _with_negatives(X: np.ndarray, y: np.ndarray, n: int, seed: int, size: int,
                    on_detectors: float) -> tuple[np.ndarray, np.ndarray]:
    """``X, y`` followed by ``n`` preprocessed NOT_SCATTERING images of seed ``seed + 1``."""
    if not n:
        return X, y
    negatives = preprocess_batch(not_scattering_batch(n, seed + 1, on_detectors, training_long_side(size)), size)
    return np.concatenate([X, negatives]), np.concatenate([y, np.full(n, NOT_SCATTERING, dtype=object)])


def evaluate(sorter: Sorter, X: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy (abstentions count as wrong), abstention rate, accuracy of the frames not abstained on
    (what lands in technique folders), coverage and accuracy per confidence threshold, and confusion."""
    return score_outcomes(sorter.decide(X), y)


def score_outcomes(outcome: list[dict], y: np.ndarray) -> dict:
    """Score :meth:`Sorter.decide` outcomes against the true labels ``y`` (see :func:`evaluate`)."""
    from sklearn.metrics import confusion_matrix

    top = np.array([o["top"] for o in outcome])
    labels = np.array([o["label"] for o in outcome])
    y = np.asarray(y).astype(str)
    sorted_ = labels != UNSURE
    confidence = np.array([max(o["probabilities"]) for o in outcome])
    return {
        "n": int(len(y)),
        "accuracy": float((labels == y).mean()),
        "top1_accuracy": float((top == y).mean()),
        "abstained": float((~sorted_).mean()),
        "sorted_accuracy": float((labels == y)[sorted_].mean()) if sorted_.any() else None,
        "coverage_at": {f"{t:.2f}": _selective(confidence >= t, top == y) for t in SELECTIVE_THRESHOLDS},
        "classes": list(CLASSES),
        "confusion": confusion_matrix(y, top, labels=list(CLASSES)).tolist(),
    }


SELECTIVE_THRESHOLDS = (0.6, 0.7, 0.8, 0.9, 0.95)
"""Confidence thresholds at which :func:`score_outcomes` reports how many frames pass and how many of
those are right."""


def _selective(kept: np.ndarray, right: np.ndarray) -> dict:
    """Coverage (share of frames at or above a threshold) and the accuracy of those frames (None if none)."""
    return {"coverage": float(kept.mean()), "accuracy": float(right[kept].mean()) if kept.any() else None}


def evaluate_folder(root: str | os.PathLike, sorter: Sorter) -> tuple[dict, list[tuple[str, str]]]:
    """Score ``sorter`` on a labelled folder (a ``NOT_SCATTERING`` folder too, as the GUI saves frames labelled so),
    skipping unreadable frames (named in ``report["errors"]``), deciding as ``camsort sort`` does (headers and
    file names weighed unless the sorter's ``weigh_metadata`` is off).

    Also returns (path, "truth -> top (probability)") of every frame whose top class is wrong.
    """
    from .datasets import read_labelled_folder
    from .io import read_pattern
    from .metadata_check import patterns_odds
    from .preprocess import preprocess
    from .simulate.detector import describe_shape

    table = read_labelled_folder(root, CLASSES)
    paths, truth, images, shapes, odds, errors = [], [], [], [], [], []
    for path, technique in zip(table["path"], table["technique"]):
        try:
            pattern = read_pattern(path)
            images.append(preprocess(pattern.data, sorter.size))
        except CamsortError as exc:
            errors.append(str(exc))
            continue
        paths.append(path)
        truth.append(technique)
        shapes.append(describe_shape(pattern.shape))
        odds += patterns_odds([pattern])
    if not images:
        raise CamsortError(f"{root}: no readable labelled frame")
    outcome = sorter.reconsider(sorter.decide(np.stack(images)), odds)
    report = {"data": str(root), **score_outcomes(outcome, truth), "by_detector": _by_detector(outcome, truth, shapes),
              "unreadable": len(errors), "errors": errors}
    wrong = [(p, f"{t} -> {o['top']} ({shown(max(o['probabilities']), 2):.2f})")
             for p, t, o in zip(paths, truth, outcome) if o["top"] != t]
    return report, wrong


def _by_detector(outcome: list[dict], truth: list[str], shapes: list[str]) -> dict[str, dict]:
    """Top-1, UNSURE share and accuracy of the sorted frames per detector (frame shape), most frames first:
    which instruments a model serves well."""
    groups: dict[str, list[int]] = {}
    for i, shape in enumerate(shapes):
        groups.setdefault(shape, []).append(i)
    report = {}
    for shape, idx in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        score = score_outcomes([outcome[i] for i in idx], np.asarray(truth, dtype=object)[idx])
        report[shape] = {k: score[k] for k in ("n", "top1_accuracy", "abstained", "sorted_accuracy")}
    return report


def train_default(out: str | os.PathLike = DEFAULT_MODEL_DIR, **overrides) -> tuple[Sorter, dict]:
    """Train the default model by its recipe on simulated data (an :class:`~.ensemble.Ensemble` when
    the recipe has several members, calibrated on their pooled calibration splits), evaluate it on
    held-out frames of another seed, save it.

    Each finished member is kept beside ``out`` until the model is saved, so a run that stops
    (a wall-time limit, Ctrl-C) trains only the members still missing when it is started again.
    """
    import shutil

    from .ensemble import Ensemble

    recipe = {**DEFAULT_RECIPE, **overrides}
    out = Path(out)
    members = [train_default_member(k, out, **overrides) for k in range(1, recipe["members"] + 1)]
    if len(members) == 1:
        model, report = members[0], members[0].info["held_out"]
    else:
        model = Ensemble(members, threshold=recipe["threshold"], info={"recipe": recipe})
        model.calibrate(*pooled_calibration_set(recipe))
        report = model.info["held_out"] = evaluate(model, *held_out_set(recipe))
    model.save(out)
    shutil.rmtree(_kept_members_dir(out))
    return model, report


def train_default_member(k: int, out: str | os.PathLike = DEFAULT_MODEL_DIR, **overrides) -> Sorter:
    """Member ``k`` (1, 2, …) of the default model: trained by its recipe with seed ``seed + k - 1``, or
    loaded if kept from an earlier run. Members can so be trained apart (one cluster job each) and
    then assembled by :func:`train_default`, which trains only the members still missing."""
    recipe = {**DEFAULT_RECIPE, **overrides}
    if not 1 <= k <= recipe["members"]:
        raise CamsortError(f"member {k} does not exist: the recipe has members 1 to {recipe['members']}")
    return _kept_member(_kept_members_dir(Path(out)) / f"member-{k}", member_recipe(recipe, k))


def member_recipe(recipe: dict, k: int) -> dict:
    """The single-sorter recipe of member ``k`` (1, 2, …) of an ensemble ``recipe``: its seed is ``seed + k - 1``."""
    single = {key: value for key, value in recipe.items() if key != "members"}
    return {**single, "seed": recipe["seed"] + k - 1}


def pooled_calibration_set(recipe: dict) -> tuple[np.ndarray, np.ndarray]:
    """Every member's calibration frames (made again from its seed) and their class indices, pooled: where
    an ensemble fits its own temperature. No member trained on any of them; each member's own fitted its
    temperature, and the others' are frames of a seed it never saw."""
    parts = [member_calibration_set(member_recipe(recipe, k)) for k in range(1, recipe["members"] + 1)]
    return np.concatenate([X for X, _ in parts]), np.concatenate([y for _, y in parts])


def member_calibration_set(recipe: dict) -> tuple[np.ndarray, np.ndarray]:
    """The frames a sorter trained by :func:`train_member` with ``recipe`` held out to fit its temperature."""
    X, y = _recipe_set(recipe)
    y_idx = label_indices(y)
    _, cal = calibration_split(y_idx, CALIBRATION_FRACTION, recipe["seed"])
    return X[cal], y_idx[cal]


def _recipe_set(recipe: dict) -> tuple[np.ndarray, np.ndarray]:
    """The simulated training set of a single-sorter ``recipe``."""
    return simulated_set(recipe["per_class"], recipe["seed"], recipe["size"], recipe["negatives"],
                         roi_share=recipe["roi_share"], negatives_on_detectors=recipe["negatives_on_detectors"])


def _kept_members_dir(out: Path) -> Path:
    """Where finished members wait beside the model directory ``out`` until it is saved."""
    return out.parent / f".{out.name}.members"


def _kept_member(folder: Path, recipe: dict) -> Sorter:
    """The member trained by ``recipe``: loaded from ``folder`` if an earlier run finished it (and it
    verifies), else trained now and saved there."""
    try:
        member = Sorter.load(folder) if (folder / "config.json").is_file() else None
    except CamsortError:  # half-written when the earlier run stopped, or damaged since
        member = None
    if member is not None and member.info.get("recipe") == recipe:
        return member
    member = train_member(recipe)
    member.save(folder)
    return member


def train_member(recipe: dict) -> Sorter:
    """One sorter trained by ``recipe`` (no ``members`` key), with its held-out report in its info."""
    X, y = _recipe_set(recipe)
    sorter = Sorter.train(X, y, featurizer=recipe["featurizer"], classifier=recipe["classifier"],
                          n_components=recipe["n_components"], size=recipe["size"],
                          threshold=recipe["threshold"], seed=recipe["seed"],
                          featurizer_params=recipe["featurizer_params"], mirror=recipe["mirror"],
                          info={"recipe": recipe})
    sorter.info["held_out"] = evaluate(sorter, *held_out_set(recipe))
    return sorter


def held_out_set(recipe: dict) -> tuple[np.ndarray, np.ndarray]:
    """Native-size frames of seed ``seed + 1000`` (+ half as many negatives) on which a recipe's model is scored."""
    return _held_out_frames(recipe["held_out_per_class"], recipe["seed"] + 1000, recipe["size"])


@functools.lru_cache(maxsize=4)
def _held_out_frames(per_class: int, seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`held_out_set`, simulated once per process: the default model's first member and the
    ensemble are scored on the same frames. Read-only, since every caller shares them."""
    X, y = simulated_set(per_class, seed, size, per_class // 2, native=True)
    X.flags.writeable = y.flags.writeable = False
    return X, y
