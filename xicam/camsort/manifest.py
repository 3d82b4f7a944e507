"""The sort manifest: one CSV row per frame, appended and flushed as work finishes.

A crash loses at most the row being written (a torn last line is ignored on reading), a re-run
reads the manifest to skip finished frames whose file is as it was when they were sorted, and
:func:`compact` rewrites it atomically at the end of a run that wrote a frame's row again, keeping the
newest row per frame and the rows of a file's earlier contents (a file rewritten since: their outputs are
still in the folder).
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from . import CLASSES
from .errors import CamsortError

SOURCE_STAT: tuple[str, ...] = ("source_bytes", "source_mtime_ns")
"""Size and modification time (ns) of the source file when its frame was read: a re-run sorts the frames of
a file that has changed since again, and skips the rest unread."""

COLUMNS: tuple[str, ...] = (
    "source", "frame", "output", "technique", *(f"p_{t}" for t in CLASSES), "confidence",
    "sha256", "metadata_check", "error", *SOURCE_STAT,
)
"""Manifest columns in order; ``p_<CLASS>`` are the calibrated class probabilities."""

EARLIER_COLUMNS: tuple[str, ...] = COLUMNS[: -len(SOURCE_STAT)]
"""The columns of manifests written before camsort recorded :data:`SOURCE_STAT` (until 2026-12-03): read,
their frames taken as unchanged, and rewritten with :data:`COLUMNS` before a run appends to them."""

TEXT = {"encoding": "utf-8", "errors": "surrogateescape", "newline": ""}
"""How the manifest is read and written: UTF-8, with a file name that is not UTF-8 (Latin-1 bytes from an old
share) kept byte for byte, so that its row names the very file and a re-run finds it."""

Signature = tuple[int, int]
"""A source file's (size in bytes, modification time in ns)."""


def probability_columns(probabilities) -> dict[str, str]:
    """The ``p_<CLASS>`` manifest cells of one frame's calibrated probabilities."""
    return {f"p_{t}": f"{p:.4f}" for t, p in zip(CLASSES, probabilities)}


def key(source: str, frame: int | str | None) -> tuple[str, str]:
    """The identity of one frame across runs: absolute source path and frame index ('' if single)."""
    return os.path.abspath(source), "" if frame in (None, "") else str(frame)


def signature(path: str | os.PathLike) -> Signature:
    """The (size, mtime in ns) of a file as it is now."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def stat_cells(sig: Signature | None) -> dict[str, str]:
    """The :data:`SOURCE_STAT` cells of a row whose source had signature ``sig`` when it was read."""
    return dict(zip(SOURCE_STAT, ("", "") if sig is None else map(str, sig)))


def recorded_signature(row: dict[str, str]) -> Signature | None:
    """The signature a row recorded of its source; None for rows of manifests written before it was."""
    try:
        return int(row["source_bytes"]), int(row["source_mtime_ns"])
    except ValueError:
        return None


def _header(path: Path) -> tuple[str, ...] | None:
    """The first line's cells of an existing manifest; None for a missing or empty file."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        return tuple(next(csv.reader([fh.readline()]), ()))


def check_ours(path: str | os.PathLike) -> None:
    """Raise a :class:`CamsortError` when ``path`` exists and is not a manifest camsort wrote: a run would
    append to and then rewrite someone else's file."""
    header = _header(Path(path))
    if header is not None and header not in (COLUMNS, EARLIER_COLUMNS):
        raise CamsortError(f"{path}: not a camsort manifest (its first line is not camsort's header); camsort "
                           "never writes over a file it did not make: sort into another folder or move the file")


def _rows(path: Path) -> Iterator[dict[str, str]]:
    """The complete rows of a manifest in the order written (empty for a foreign or missing file); a torn
    last line is left out and rows of :data:`EARLIER_COLUMNS` get empty :data:`SOURCE_STAT` cells."""
    if not path.exists():
        return
    with open(path, **TEXT) as fh:
        text = fh.read()
    complete = text if text.endswith("\n") else text[: text.rfind("\n") + 1]
    reader = csv.reader(io.StringIO(complete))
    header = tuple(next(reader, ()))
    if header not in (COLUMNS, EARLIER_COLUMNS):
        return
    for values in reader:
        if len(values) == len(header):
            yield {**stat_cells(None), **dict(zip(header, values))}


def read(path: str | os.PathLike) -> dict[tuple[str, str], dict[str, str]]:
    """Newest complete row per frame; torn or foreign lines are skipped."""
    return {key(row["source"], row["frame"]): row for row in _rows(Path(path))}


def finished(rows: dict[tuple[str, str], dict[str, str]], among: set[str]) -> tuple[set[tuple[str, str]], set[str]]:
    """The frames of ``rows`` (from :func:`read`) that a run over the files ``among`` (absolute paths) skips, and
    the files among them changed since their rows were written, whose frames it sorts again; files outside
    ``among`` are not looked at (a pass of ``watch`` over a few new files does not stat a whole beamtime's).

    A frame is finished when its row has no error and its file is as the file's newest row recorded it (or is
    gone, or no row recorded it). A file of many frames that is larger than then has grown (a series written
    frame by frame): its earlier frames stay finished and only its new ones are sorted. One that changed without
    growing was rewritten, and all its frames are sorted again.
    """
    newest: dict[str, Signature] = {}
    stacks = {source for source, frame in rows if frame}
    for (source, _), row in rows.items():
        recorded = recorded_signature(row)
        if source in among and recorded is not None and not row["error"]:
            newest[source] = max(newest.get(source, recorded), recorded, key=lambda sig: sig[1])
    changed = {source for source, recorded in newest.items() if _rewritten(source, recorded, source in stacks)}
    done = {k for k, row in rows.items() if not row["error"] and k[0] not in changed}
    return done, changed


def _rewritten(source: str, recorded: Signature, stack: bool) -> bool:
    """Whether ``source`` changed since its newest row recorded it, other than by a stack's growing."""
    try:
        now = signature(source)
    except OSError:
        return False
    return now != recorded and not (stack and now[0] > recorded[0])


class ManifestUnwritable(CamsortError):
    """The file system refused a write to the manifest (a full disk, a quota)."""


class Writer:
    """Append rows to the manifest, flushing each so that a crash loses nothing finished."""

    broken = False
    """Whether a write was refused (a full disk): the rows still buffered are not written again on closing."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        check_ours(self.path)
        self._repair_torn_tail()
        header = _header(self.path)
        if header == EARLIER_COLUMNS:
            compact(self.path)  # rewritten with today's columns before rows of them are appended
        self._fh = open(self.path, "a", **TEXT)
        self._csv = csv.writer(self._fh)
        if header is None:
            try:
                with self._refused():
                    self._csv.writerow(COLUMNS)
                    self._fh.flush()
            except CamsortError:
                self.close()
                raise

    def _repair_torn_tail(self) -> None:
        """Drop a half-written last line left by a crash so that new rows start on a fresh line."""
        if not self.path.exists():
            return
        with open(self.path, "rb+") as fh:
            data = fh.read()
            if data and not data.endswith(b"\n"):
                fh.truncate(data.rfind(b"\n") + 1)

    def write(self, row: dict[str, object]) -> None:
        with self._refused():
            self._csv.writerow(["" if row.get(c) is None else row.get(c) for c in COLUMNS])
            self._fh.flush()

    def sync(self) -> None:
        """Force the rows written so far to disk (called once per batch)."""
        with self._refused():
            self._fh.flush()
            os.fsync(self._fh.fileno())

    @contextlib.contextmanager
    def _refused(self) -> Iterator[None]:
        """Turn a write the file system refuses (a full disk, a quota) into a :class:`CamsortError` naming the
        manifest; the rows written before stay, a torn last one is dropped when the manifest is next opened."""
        try:
            yield
        except OSError as exc:
            self.broken = True
            raise ManifestUnwritable(f"{self.path}: cannot write the manifest ({exc.strerror or exc}); the frames "
                                     "it records are kept, and a run once there is room sorts the rest") from None

    def close(self) -> None:
        if self._fh.closed:
            return
        if self.broken:
            with contextlib.suppress(OSError):
                self._fh.close()
            return
        self.sync()
        self._fh.close()

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _kept(rows: Iterable[dict[str, str]]) -> dict[tuple[str, str], list[dict[str, str]]]:
    """Per frame, the rows :func:`compact` keeps, oldest first: the newest row, and before it the newest
    successful row of each earlier content of the file (another sha256), whose output is still in the folder."""
    newest: dict[tuple[str, str], dict[str, str]] = {}
    contents: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
    for row in rows:
        k = key(row["source"], row["frame"])
        newest[k] = row
        if not row["error"]:
            versions = contents.setdefault(k, {})
            versions.pop(row["sha256"], None)
            versions[row["sha256"]] = row
    kept = {}
    for k, last in newest.items():
        superseded = last["sha256"] if not last["error"] else None
        kept[k] = [r for sha, r in contents.get(k, {}).items() if sha != superseded] + [last]
    return kept


def compact(path: str | os.PathLike, order: Iterable[tuple[str, str]] | None = None) -> None:
    """Rewrite the manifest with the rows :func:`_kept` keeps, frames of ``order`` first (atomically:
    temp file + rename)."""
    path = Path(path)
    kept = _kept(_rows(path))
    keys = list(dict.fromkeys(k for k in (order or []) if k in kept))
    listed = set(keys)
    keys += [k for k in kept if k not in listed]
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", **TEXT) as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            for k in keys:
                for row in kept[k]:
                    writer.writerow([row[c] for c in COLUMNS])
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CamsortError(f"{path}: cannot rewrite the manifest without its superseded rows ({exc.strerror or exc});"
                           " it stays as appended, and reads the same") from None
    os.replace(tmp, path)
