"""Predict a batch of files into table rows (Qt-free; the worker thread calls it).

Files are read and preprocessed by the same loader ``camsort sort`` uses, so a file the GUI shows
as an error is exactly one the sort job would record as an error, with the same reason.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import CLASSES
from ..errors import CamsortError
from ..gradcam import keras_model_of, sorter_cam
from ..metadata_check import note_parts
from ..sortjob import STACK_PART, Item, iter_item_parts, stack_images, weighed_decisions
from .records import FrameResult


def cam_model(sorter: Any) -> Any | None:
    """The sorter's CNN for Grad-CAM, or None when its featurizer is not a CNN."""
    try:
        return keras_model_of(sorter)
    except CamsortError:
        return None


def predict_files(sorter: Any, paths: Iterable[str | os.PathLike], model: Any | None = None,
                  all_detectors: bool = False, shape: tuple[int, int] | None = None) -> list[FrameResult]:
    """One row per frame of ``paths`` (one error row per unreadable file), in file order.

    ``model`` is the sorter's CNN (see :func:`cam_model`): given, each row carries the Grad-CAM
    of its most probable class. ``all_detectors`` adds the frames of an HDF5 file's other detectors; ``shape``
    reads headerless ``.raw`` files (Read frames' ``raw_shape``).
    Frames are read and decided a few dozen at a time, so a long HDF5 stack is never held whole.
    """
    rows: list[FrameResult] = []
    items: list[Item] = []
    for part in iter_item_parts(paths, size=sorter.size, all_detectors=all_detectors, shape=shape):
        items += part
        if len(items) >= STACK_PART:
            rows += _rows(sorter, model, items)
            items = []
    return rows + _rows(sorter, model, items) if items else rows


def _rows(sorter: Any, model: Any | None, items: list[Item]) -> list[FrameResult]:
    """The table rows of ``items``, decided together."""
    images = stack_images(items)
    decisions = weighed_decisions(sorter, items, sorter.decide(images)) if len(images) else []
    cams = _cams(sorter, model, images, decisions)
    readable = iter(zip(decisions, cams))
    rows = []
    for item in items:
        if item.error:
            rows.append(FrameResult(item.source, item.frame, error=item.error, dataset=item.dataset))
            continue
        decision, cam = next(readable)
        metadata = item.pattern.metadata
        weighed, check = note_parts(decision, item.pattern.claims)
        rows.append(FrameResult(
            item.source, item.frame, label=decision["label"], top=decision["top"],
            probabilities=tuple(decision["probabilities"]), confidence=decision["confidence"],
            members=tuple(decision.get("members", ())),
            metadata=metadata, shape=item.pattern.shape, check=check, weighed=weighed,
            cam=cam, dataset=item.dataset))
    return rows


def predict_batch(model_dir: str | None, paths: list[str], all_detectors: bool = False,
                  weigh_metadata: bool = True, shape: tuple[int, int] | None = None) -> list[FrameResult]:
    """:func:`predict_files` with the (cached) model of ``model_dir``, weighing headers and file names or not:
    the task a dask worker runs."""
    from ..sorter import for_run, load_cached

    sorter = for_run(load_cached(model_dir), weigh_metadata=weigh_metadata)
    return predict_files(sorter, paths, cam_model(sorter), all_detectors, shape)


def _cams(sorter: Any, model: Any | None, images: np.ndarray, decisions: list[dict]) -> list[np.ndarray | None]:
    """Grad-CAM of each image's most probable class, or Nones without a CNN."""
    if model is None or not len(images):
        return [None] * len(decisions)
    classes = np.array([CLASSES.index(d["top"]) for d in decisions])
    return list(sorter_cam(sorter, images, classes, model))
