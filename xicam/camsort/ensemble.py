"""A deep ensemble: sorters trained alike from different seeds, whose calibrated probabilities are averaged
and the average calibrated once more.

One training run's class boundaries move with its seed, and real frames from unseen instruments can sit
near them; the average of several runs is steadier there and as good as the best run elsewhere
(docs/results.md). An average of calibrated members is less sure than the members are right together
(their disagreements pull it towards the middle), so the ensemble fits a temperature of its own on the
members' pooled calibration frames.
Saved as one model directory holding each member's own directory and one checksum manifest over all.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from . import CLASSES
from .calibration import apply_temperature, shown
from .errors import CamsortError
from .model_files import prepare_model_dir
from .sorter import FORMAT_VERSION, Sorter, config_temperature, write_config

ENSEMBLE_FORMAT = "camsort-ensemble"


class Ensemble(Sorter):
    """Averages its members' calibrated probabilities, rescales the mean by its own ``temperature``
    (:meth:`Sorter.calibrate` fits it), and decides (UNSURE, NOT_SCATTERING) as one :class:`Sorter`.

    Where one network is needed (Grad-CAM, similarity features, per-stage benchmarks) the first
    member stands in: its featurizer, reducer and classifier are this object's.
    """

    def __init__(self, members: list[Sorter], threshold: float | None = None, info: dict[str, Any] | None = None,
                 temperature: float = 1.0):
        if not members or any(isinstance(m, Ensemble) for m in members):
            raise CamsortError("an ensemble needs one or more single sorters as members")
        if len({m.size for m in members}) > 1:
            raise CamsortError(f"ensemble members differ in input size: {[m.size for m in members]}")
        first = members[0]
        super().__init__(first.featurizer, first.reducer, first.classifier, first.classifier_name,
                         size=first.size, threshold=first.threshold if threshold is None else threshold,
                         temperature=temperature, mirror=first.mirror, info={"members": len(members), **(info or {})})
        self.members = list(members)

    def member_proba(self, X: np.ndarray) -> np.ndarray:
        """Each member's calibrated probabilities (members, N, len(CLASSES))."""
        return np.stack([m.predict_proba(X) for m in self.members])

    def raw_proba(self, X: np.ndarray) -> np.ndarray:
        """The mean of the members' calibrated probabilities (N, len(CLASSES)), before the ensemble's temperature."""
        return self.member_proba(X).mean(axis=0)

    def decide(self, X: np.ndarray) -> list[dict[str, Any]]:
        """:meth:`Sorter.decide`, each outcome also with ``members``: every member's top class and its
        probability, so that a user sees whether an ``UNSURE`` frame split the members or puzzled them all."""
        per_member = self.member_proba(X)
        outcomes = self._outcomes(apply_temperature(per_member.mean(axis=0), self.temperature), X)
        for i, outcome in enumerate(outcomes):
            outcome["members"] = [(CLASSES[int(p.argmax())], float(p.max())) for p in per_member[:, i]]
        return outcomes

    def save(self, model_dir: str | os.PathLike) -> Path:
        """Write ``member-1/``, ``member-2/``, … and the ensemble's config and checksum manifest."""
        root = prepare_model_dir(model_dir)
        names = [f"member-{k}" for k in range(1, len(self.members) + 1)]
        for name, member in zip(names, self.members):
            member.save(root / name)
        write_config(root, {"format": ENSEMBLE_FORMAT, "format_version": FORMAT_VERSION, "size": self.size,
                            "threshold": self.threshold, "temperature": self.temperature, "members": names,
                            "info": self.info})
        return root

    @classmethod
    def from_config(cls, root: Path, config: dict[str, Any]) -> "Ensemble":
        """Rebuild from a verified ensemble directory: each member is loaded (and verified) as a :class:`Sorter`."""
        names = config.get("members")
        if not isinstance(names, list) or not names or not all(re.fullmatch(r"[\w-]+", str(n)) for n in names):
            raise CamsortError(f"{root}: ensemble member list {names!r} is not a list of sub-folder names")
        return cls([Sorter.load(root / name) for name in names], threshold=float(config["threshold"]),
                   info=config.get("info", {}), temperature=config_temperature(root, config.get("temperature", 1.0)))


def describe_members(members: list[tuple[str, float]]) -> str:
    """Members' top classes for people: ``GIWAXS 0.92, GIWAXS 0.62, SAXS 0.88``."""
    return ", ".join(f"{technique} {shown(p, 2):.2f}" for technique, p in members)


def member_dirs(model_dir: Path) -> list[Path]:
    """The directories of a model's sorters: an ensemble's members in order, or the model itself; the
    first stands for the model where one network is needed."""
    config = json.loads((model_dir / "config.json").read_text())
    return [model_dir / name for name in config["members"]] if config.get("format") == ENSEMBLE_FORMAT else [model_dir]
