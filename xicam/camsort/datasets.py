"""Labelled datasets on disk: ``<root>/<TECHNIQUE>/*.tif`` plus ``labels.csv``, and the paper's variants.

UB keeps the natural imbalance of the ALS data (Table I: 373 WAXS / 322 SAXS / 373 GIWAXS /
1756 GISAXS in the training half), BL takes equal counts (the minority count), BLA is BL times the
four quarter-turn rotations. Splits are group-aware: no simulated sample in both train and test.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

from . import TECHNIQUES
from .errors import CamsortError
from .io import frame_paths, read_pattern, write_tiff

TABLE1_TRAIN = {"WAXS": 373, "SAXS": 322, "GIWAXS": 373, "GISAXS": 1756}
"""The paper's UB training counts per technique (Table I)."""

LABEL_COLUMNS = ("path", "technique", "group", "params")


def ub_counts(total: int) -> dict[str, int]:
    """Per-technique counts of a dataset of ``total`` frames with Table I's proportions."""
    n = sum(TABLE1_TRAIN.values())
    counts = {t: max(1, int(round(total * c / n))) for t, c in TABLE1_TRAIN.items()}
    return {t: counts[t] for t in TECHNIQUES}


def write_dataset(root: str | os.PathLike, counts: int | dict[str, int], seed: int, size: int | None = None,
                  workers: int = 2, progress: bool = False, beamline: str | None = None,
                  detector: str | None = None) -> Path:
    """Simulate a labelled dataset into ``root`` (resumable: existing frames are kept); returns labels.csv.

    ``size`` simulates binned read-outs with a long side of about ``size`` pixels (fast, small files);
    ``beamline`` fixes each technique's instrument set-up (:mod:`~xicam.camsort.simulate.beamlines`);
    ``detector`` puts every frame on one detector model, an unseen one included.
    """
    from tqdm import tqdm

    from .simulate import simulate
    from .simulate.beamlines import setup

    if beamline and detector:
        raise CamsortError("a beamline fixes each technique's detector: give a beamline or a detector, not both")
    fixed = {"detector": detector} if detector else {}
    root = Path(root)
    counts = {t: counts for t in TECHNIQUES} if isinstance(counts, int) else dict(counts)
    rows = []
    jobs = [(t, i) for t in TECHNIQUES for i in range(counts.get(t, 0))]
    for technique, i in tqdm(jobs, disable=not progress, unit="frame", desc="simulate"):
        folder = root / technique
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"frame_{seed}_{i:05d}.tif"  # no technique in the name: a name is weighed as evidence
        child = int(np.random.SeedSequence([seed, TECHNIQUES.index(technique), i]).generate_state(1)[0])
        if path.exists():
            params = {"seed": child}
        else:
            pattern = simulate(technique, np.random.default_rng(child), long_side=size, **setup(beamline, technique),
                               **fixed)
            params = {**pattern.metadata, "seed": child}
            write_tiff(path, pattern.data.astype(np.int32), params)
        rows.append({"path": path.relative_to(root).as_posix(), "technique": technique,
                     "group": f"{seed}-{technique}-{i}", "params": json.dumps(params, default=str)})
    labels = root / "labels.csv"
    with open(labels, "w", newline="") as fh:
        writer = csv.DictWriter(fh, LABEL_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    from .catalog import write_catalog

    write_catalog(root)
    return labels


def read_labelled_folder(root: str | os.PathLike, classes: tuple[str, ...] = TECHNIQUES) -> dict[str, list]:
    """Paths, techniques and groups of a labelled folder: from labels.csv, else from folder names;
    ``classes`` are the labels it may hold (``CLASSES`` also takes a ``NOT_SCATTERING`` folder)."""
    root = Path(root)
    if not root.is_dir():
        raise CamsortError(f"{root}: not a folder")
    labels = root / "labels.csv"
    table: dict[str, list] = {"path": [], "technique": [], "group": []}
    if labels.is_file():
        with open(labels, newline="") as fh:
            for row in csv.DictReader(fh):
                table["path"].append(str(root / row["path"]))
                table["technique"].append(row["technique"])
                table["group"].append(row.get("group") or row["path"])
    else:
        for technique in classes:
            for path in frame_paths([root / technique], recursive=True) if (root / technique).is_dir() else []:
                table["path"].append(str(path))
                table["technique"].append(technique)
                table["group"].append(str(path))
    if not table["path"]:
        raise CamsortError(f"{root}: no labelled frames (expected labels.csv or folders {', '.join(classes)})")
    unknown = sorted(set(table["technique"]) - set(classes))
    if unknown:
        raise CamsortError(f"{root}: unknown techniques {unknown} in labels")
    return table


def labelled_images(root: str | os.PathLike, size: int) -> tuple[np.ndarray, np.ndarray, dict[str, list]]:
    """Preprocessed images, technique indices (into TECHNIQUES) and the table of a labelled folder."""
    from .preprocess import preprocess_batch

    table = read_labelled_folder(root)
    X = preprocess_batch((read_pattern(p).data for p in table["path"]), size)
    return X, np.array([TECHNIQUES.index(t) for t in table["technique"]]), table


def variant_indices(labels: np.ndarray, variant: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices into a labelled pool and quarter-turn counts for dataset variant UB, BL or BLA.

    UB: Table I proportions (as many frames as the pool allows); BL: the same number per
    technique (the minority count); BLA: BL with each frame at 0/90/180/270 degrees.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    per = {t: np.flatnonzero(labels == t) for t in TECHNIQUES}
    if variant == "UB":
        scale = min(len(per[t]) / c for t, c in TABLE1_TRAIN.items() if c)
        take = {t: int(np.floor(TABLE1_TRAIN[t] * scale)) for t in TECHNIQUES}
    elif variant in ("BL", "BLA"):
        m = min(len(v) for v in per.values())
        take = {t: m for t in TECHNIQUES}
    else:
        raise CamsortError(f"unknown dataset variant {variant!r}; choose UB, BL or BLA")
    idx = np.concatenate([rng.permutation(per[t])[: take[t]] for t in TECHNIQUES])
    turns = np.zeros(len(idx), int)
    if variant == "BLA":
        idx, turns = np.repeat(idx, 4), np.tile(np.arange(4), len(idx))
    return idx, turns


def group_split(labels: np.ndarray, groups: np.ndarray, test_size: float = 0.5, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:
    """Train/test indices with every group on one side only, stratified by technique."""
    from sklearn.model_selection import StratifiedGroupKFold

    folds = max(2, int(round(1 / test_size)))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    train, test = next(splitter.split(np.zeros(len(labels)), labels, groups))
    return train, test
