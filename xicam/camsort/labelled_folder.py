"""Save frames a user labelled as a labelled folder, ``OUT/<LABEL>/``, which ``camsort adapt --data``,
``camsort evaluate`` and ``camsort train --data`` read.

A single-frame file is copied whole (with its header text file), a frame of a multi-frame file or
another detector's dataset is written as a TIFF of its own, as ``camsort sort`` does; originals are only
read. ``OUT/labelled_frames.csv`` records where each saved frame came from, so saving again into the
same folder adds the new frames, skips the ones already there and moves a relabelled frame's copy to
its new class folder: the folder names stay the truth a reader of the folder sees.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import CLASSES, manifest
from .errors import CamsortError, PatternReadError
from .io import read_pattern
from .sidecar import sidecar_path
from .sortjob import Item, deliver, sha256_file, write_error

RECORD = "labelled_frames.csv"
"""Where the saved frames came from: one row per frame, rewritten whole (temp file + rename)."""

COLUMNS = ("source", "dataset", "frame", "label", "output", "sha256")

Labelled = tuple[str, "str | None", "int | None", str]
"""(file, dataset, frame, label) of one labelled frame; dataset and frame None for a file's one frame."""


def as_labelled(labels: Mapping[tuple[str, str | None, int | None], str]) -> list[Labelled]:
    """Labels kept by frame key (file, dataset, frame), as the GUI keeps them, as :data:`Labelled` tuples."""
    return [(*key, label) for key, label in labels.items()]


@dataclass
class SaveSummary:
    """What saving labelled frames did: frames written, moved to another class, already there, failed."""

    written: int = 0
    moved: int = 0
    kept: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.written} frame(s) written, {self.moved} moved to a new label, {self.kept} already there, "
                f"{len(self.errors)} error(s)")


def save_labelled_frames(labelled: Iterable[Labelled], out: str | os.PathLike) -> SaveSummary:
    """Copy each labelled frame into ``out/<label>/`` and record it; a frame that cannot be read or
    written is reported in the summary's errors (file and reason) and the others are saved."""
    out, labelled = Path(out), list(labelled)
    for source, _, _, label in labelled:
        if label not in CLASSES:
            raise CamsortError(f"{source}: unknown label {label!r}; choose one of {', '.join(CLASSES)}")
    if out.exists() and not out.is_dir():
        raise CamsortError(f"{out}: not a folder")
    out.mkdir(parents=True, exist_ok=True)
    record = read_record(out)
    summary = SaveSummary()
    try:
        for source, dataset, frame, label in labelled:
            key = _key(source, dataset, frame)
            before = record.get(key)
            if before and before["label"] == label and (out / before["output"]).is_file():
                summary.kept += 1
                continue
            try:
                pattern = read_pattern(source, frame=frame, dataset=dataset)
                item = Item(source, frame, pattern, dataset=dataset)
                item.sha256 = sha256_file(source) if item.whole_file else ""  # not a whole stack's
                target, header_error = deliver(item, out / label, "copy")
            except PatternReadError as exc:
                summary.errors.append(str(exc))
                continue
            except OSError as exc:
                summary.errors.append(f"{source}: {write_error(exc)}")
                continue
            if header_error:
                summary.errors.append(f"{source}: {header_error}")
            if before and before["output"] != str(target.relative_to(out)):
                _remove_copy(out, before["output"], item.whole_file and "sidecar" in pattern.metadata)
            if before and before["label"] != label:
                summary.moved += 1
            else:
                summary.written += 1
            record[key] = {"source": source, "dataset": dataset or "", "frame": "" if frame is None else frame,
                           "label": label, "output": str(target.relative_to(out)), "sha256": item.sha256}
    finally:
        _write_record(out, record)
    return summary


def read_record(out: str | os.PathLike) -> dict[tuple[str, str, str], dict[str, str]]:
    """The rows of ``out``'s record, by (file, dataset, frame) as text; empty when there is none."""
    path = Path(out) / RECORD
    if not path.is_file():
        return {}
    with open(path, **manifest.TEXT) as fh:
        return {(row["source"], row["dataset"], row["frame"]): row for row in csv.DictReader(fh)}


def recorded_labels(folder: str | os.PathLike) -> dict[str, str]:
    """The label of each frame file in a folder written by :func:`save_labelled_frames`, by resolved path,
    from its record; empty for any other folder (a sorted folder's technique folders hold predictions,
    not labels)."""
    folder = Path(folder)
    labels = {}
    for row in read_record(folder).values():
        path = _own_copy(folder, row["output"])
        if path is not None and path.parent.name == row["label"] and path.is_file():
            labels[str(path.resolve())] = row["label"]
    return labels


def _own_copy(out: Path, output: str) -> Path | None:
    """``out / output`` if it lies in one of ``out``'s label folders, else None, whatever a hand-edited record says."""
    path = out / output
    return path if path.parent.parent.resolve() == out.resolve() and path.parent.name in CLASSES else None


def _key(source: str, dataset: str | None, frame: int | None) -> tuple[str, str, str]:
    return source, dataset or "", "" if frame is None else str(frame)


def _remove_copy(out: Path, output: str, with_header: bool) -> None:
    """Remove this folder's own earlier copy of a relabelled frame (and the header it brought along); only
    ever a file in one of ``out``'s label folders (:func:`_own_copy`)."""
    path = _own_copy(out, output)
    if path is None:
        return
    path.unlink(missing_ok=True)
    if with_header:
        sidecar_path(path).unlink(missing_ok=True)


def _write_record(out: Path, record: dict[tuple[str, str, str], dict[str, str]]) -> None:
    tmp = out / f".{RECORD}.{os.getpid()}.tmp"
    with open(tmp, "w", **manifest.TEXT) as fh:
        writer = csv.DictWriter(fh, COLUMNS)
        writer.writeheader()
        writer.writerows(record.values())
    os.replace(tmp, out / RECORD)
