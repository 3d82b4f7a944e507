"""The sort manifest: one CSV row per frame, appended and flushed as work finishes.

A crash loses at most the row being written (a torn last line is ignored on reading), a re-run
reads the manifest to skip finished frames, and :func:`compact` rewrites it atomically at the end
keeping the newest row per frame.
"""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path

from . import CLASSES

COLUMNS: tuple[str, ...] = (
    "source", "frame", "output", "technique", *(f"p_{t}" for t in CLASSES), "confidence",
    "sha256", "metadata_check", "error",
)
"""Manifest columns in order; ``p_<CLASS>`` are the calibrated class probabilities."""


def probability_columns(probabilities) -> dict[str, str]:
    """The ``p_<CLASS>`` manifest cells of one frame's calibrated probabilities."""
    return {f"p_{t}": f"{p:.4f}" for t, p in zip(CLASSES, probabilities)}


def key(source: str, frame: int | str | None) -> tuple[str, str]:
    """The identity of one frame across runs: absolute source path and frame index ('' if single)."""
    return os.path.abspath(source), "" if frame in (None, "") else str(frame)


def read(path: str | os.PathLike) -> dict[tuple[str, str], dict[str, str]]:
    """Newest complete row per frame; torn or foreign lines are skipped."""
    path = Path(path)
    if not path.exists():
        return {}
    rows: dict[tuple[str, str], dict[str, str]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        text = fh.read()
    complete = text if text.endswith("\n") else text[: text.rfind("\n") + 1]
    reader = csv.reader(io.StringIO(complete))
    header = next(reader, None)
    if header is None or tuple(header) != COLUMNS:
        return {}
    for values in reader:
        if len(values) != len(COLUMNS):
            continue
        row = dict(zip(COLUMNS, values))
        rows[key(row["source"], row["frame"])] = row
    return rows


class Writer:
    """Append rows to the manifest, flushing each so that a crash loses nothing finished."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_torn_tail()
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._fh = open(self.path, "a", newline="", encoding="utf-8")
        self._csv = csv.writer(self._fh)
        if new:
            self._csv.writerow(COLUMNS)
            self._fh.flush()

    def _repair_torn_tail(self) -> None:
        """Drop a half-written last line left by a crash so that new rows start on a fresh line."""
        if not self.path.exists():
            return
        with open(self.path, "rb+") as fh:
            data = fh.read()
            if data and not data.endswith(b"\n"):
                fh.truncate(data.rfind(b"\n") + 1)

    def write(self, row: dict[str, object]) -> None:
        self._csv.writerow(["" if row.get(c) is None else row.get(c) for c in COLUMNS])
        self._fh.flush()

    def sync(self) -> None:
        """Force the rows written so far to disk (called once per batch)."""
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self.sync()
            self._fh.close()

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def compact(path: str | os.PathLike, order: Iterable[tuple[str, str]] | None = None) -> None:
    """Rewrite the manifest with the newest row per frame (atomically: temp file + rename)."""
    path = Path(path)
    rows = read(path)
    keys = list(dict.fromkeys(k for k in (order or []) if k in rows))
    listed = set(keys)
    keys += [k for k in rows if k not in listed]
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for k in keys:
            writer.writerow([rows[k][c] for c in COLUMNS])
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
