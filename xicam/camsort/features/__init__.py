"""Featurizers: scikit-learn transformers from preprocessed images (N, H, W) to feature rows.

``make_featurizer(name)`` builds one by name; ``save_featurizer``/``load_featurizer`` persist it
inside a model directory as JSON parameters plus, for networks, a ``.keras`` file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import CamsortError
from .cnn import APPS, KerasAppFeatures
from .glcm import GLCMFeatures
from .histogram import HistogramFeatures
from .lenet import ARCHS as LENET_ARCHS
from .lenet import LeNetFeatures

FEATURIZERS: dict[str, type] = {"hist": HistogramFeatures, "glcm": GLCMFeatures,
                                **{arch: LeNetFeatures for arch in LENET_ARCHS},
                                **{arch: KerasAppFeatures for arch in APPS}}
"""Name -> class of every featurizer camsort can build."""


def make_featurizer(name: str, **params: Any):
    """A new (unfitted) featurizer by name."""
    if name not in FEATURIZERS:
        raise CamsortError(f"unknown featurizer {name!r}; choose one of {', '.join(FEATURIZERS)}")
    cls = FEATURIZERS[name]
    if issubclass(cls, LeNetFeatures):
        params = {"arch": name, **params}
    return cls(**params)


def _name_of(featurizer: Any) -> str:
    if isinstance(featurizer, LeNetFeatures):
        return featurizer.arch
    for name, cls in FEATURIZERS.items():
        if type(featurizer) is cls:
            return name
    raise CamsortError(f"cannot save featurizer of type {type(featurizer).__name__}")


def save_featurizer(featurizer: Any, folder: str | os.PathLike) -> dict[str, Any]:
    """Write the featurizer into ``folder``; returns the JSON spec that :func:`load_featurizer` reads."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"name": _name_of(featurizer), "params": json.loads(json.dumps(featurizer.get_params(), default=list))}
    if isinstance(featurizer, LeNetFeatures):
        featurizer.save(folder / "model.keras")
        spec["file"] = "model.keras"
    if hasattr(featurizer, "initial_weights_"):
        spec["initial_weights"] = featurizer.initial_weights_
    return spec


def load_featurizer(spec: dict[str, Any], folder: str | os.PathLike):
    """Rebuild a featurizer from its spec (and weights file) without executing stored code."""
    params = dict(spec.get("params", {}))
    if "distances" in params:
        params["distances"] = tuple(params["distances"])
    featurizer = make_featurizer(spec["name"], **{k: v for k, v in params.items() if k != "arch"})
    if spec.get("file"):
        featurizer.load_weights_from(Path(folder) / spec["file"])
    return featurizer
