"""Sort folders of detector frames into technique folders: lossless, resumable, batch-tolerant.

Originals are only ever read. Each output is written under a temporary name and linked into place
with ``os.link`` (atomic, and it refuses to replace an existing file), so ``OUT`` never holds a
half-copied frame and nothing already there is overwritten. The manifest is appended as frames
finish; a re-run skips frames whose manifest row succeeded and whose file is as it was then (size and
modification time), retries the ones that failed and sorts the frames of a file rewritten since again.
"""
from __future__ import annotations

import errno
import hashlib
import os
import sys
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import CLASSES, NOT_SCATTERING, TECHNIQUES, UNSURE, manifest
from .errors import CamsortError, PatternReadError
from .filecopy import copy_file
from .folder_lock import lock_folder
from .io import (HDF5_EXTENSIONS, NoFrameFiles, count_frames, open_frames, regular_file_size, resolved_frame_paths,
                 write_tiff)
from .metadata_check import WEIGHED, metadata_note, patterns_odds
from .pattern import Pattern
from .preprocess import preprocess
from .sidecar import sidecar_path
from .sort_settings import hold_to, run_settings

MODES = ("copy", "link", "symlink", "manifest-only")
"""How a sorted frame reaches ``OUT/<TECHNIQUE>/``: a copy, a hard link, a symlink, or not at all."""

STACK_PART = 32
"""A stack of more frames than this (an Eiger series may hold thousands) is read, preprocessed and
delivered in parts of this many frames, so that the job holds about as many frames in memory for it as
for as many single-frame files."""

LARGE_STACK_FILE = 128 << 20
"""An EDF or TIFF file larger than this (bytes) has its frames counted before it is read, so that a long
multi-frame file is read in parts; an HDF5 file always has (an Eiger master file is small, its series
not), a smaller EDF or TIFF file is read whole (opening it twice would cost more than holding it)."""

_STACK_FILE_ENDINGS = (".edf", ".tif", ".tiff")
"""Endings of the formats that may hold many frames in one file besides HDF5 (see :data:`LARGE_STACK_FILE`)."""


@dataclass
class SortSummary:
    """What a sort run did: counts per outcome, skipped (already done) and failed frames."""

    counts: Counter = field(default_factory=Counter)
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    manifest: Path | None = None
    other_detectors: dict[str, list[str]] = field(default_factory=dict)
    """Files holding other image datasets (other detectors') that this run left unsorted: path -> names."""
    best_guesses: Counter = field(default_factory=Counter)
    """The most probable class of each frame this run set aside as UNSURE."""
    weighed: int = 0
    """Frames whose header or file name was weighed in the decision (``metadata_check`` says what)."""
    changed: int = 0
    """Files sorted by an earlier run and rewritten since, whose frames this run sorted again."""
    no_room: set[str] = field(default_factory=set)
    """Files (resolved paths) with a frame whose output the disk had no room for (a full disk, a quota): their
    rows are errors, which a later run sorts again."""

    @property
    def sorted(self) -> int:
        return sum(self.counts.values())

    def lines(self) -> list[str]:
        """Human-readable summary printed at the end of ``camsort sort``."""
        out = [f"sorted {self.sorted} frame(s), skipped {self.skipped} already done, {len(self.errors)} error(s)"]
        for label in (*TECHNIQUES, UNSURE, NOT_SCATTERING):
            if self.counts.get(label):
                guesses = ", ".join(f"{t} {n}" for t, n in self.best_guesses.most_common()) if label == UNSURE else ""
                out.append(f"  {label:<15}{self.counts[label]}" + (f" (best guesses: {guesses})" if guesses else ""))
        if self.changed:
            out.append(f"{self.changed} file(s) changed since an earlier run sorted them: sorted again (the earlier "
                       "outputs stay, with their rows in the manifest)")
        if self.weighed:
            out.append(f"headers or file names weighed in {self.weighed} decision(s) (metadata_check in the manifest)")
        if self.other_detectors:
            path, names = next(iter(self.other_detectors.items()))
            shown = ", ".join(names[:3]) + (f", ... ({len(names)} datasets)" if len(names) > 3 else "")
            out.append(f"{len(self.other_detectors)} file(s) also hold other image datasets (other detectors?), "
                       f"not sorted (e.g. {Path(path).name}: {shown}); --all-detectors sorts them too")
        out.extend(f"  error: {e}" for e in self.errors[:20])
        if len(self.errors) > 20:
            out.append(f"  ... and {len(self.errors) - 20} more errors (see the manifest)")
        if self.manifest:
            out.append(f"manifest: {self.manifest}")
        return out


@dataclass
class Item:
    """One frame on its way through the job: the pattern (or the error) and its preprocessed image."""

    source: str
    frame: int | None
    pattern: Pattern | None = None
    image: np.ndarray | None = None
    sha256: str = ""
    error: str = ""
    dataset: str | None = None
    """Another detector's image dataset of an HDF5 file (``--all-detectors``); None for the file's own frames."""
    signature: manifest.Signature | None = None
    """The source file's (size, mtime) taken before it was read: the manifest records it."""

    @property
    def key(self) -> int | str | None:
        """The frame's manifest identity: its index, or ``DATASET[i]`` for another detector's frame."""
        return self.frame if self.dataset is None else f"{self.dataset}[{self.frame or 0}]"

    @property
    def whole_file(self) -> bool:
        """The file's one frame: sorted as the file itself (a frame of a stack or another detector's
        dataset is written as a TIFF of its own)."""
        return self.frame is None and self.dataset is None

    @property
    def starts_file(self) -> bool:
        """The first item of a file (or its error): what the per-file progress bar counts."""
        return self.dataset is None and self.frame in (None, 0)


_STACK_DIGESTS: dict[tuple[str, int, int], str] = {}
_DIGEST_LOCKS: dict[tuple[str, int, int], threading.Lock] = {}
_DIGESTS_LOCK = threading.Lock()


def stack_digest(source: str) -> str:
    """The SHA-256 of a file cut into parts, computed once per process for all its parts (in one sort, or
    in one dask worker across its tasks); a file changed since (size, mtime) is hashed again."""
    stat = os.stat(source)
    key = (source, stat.st_size, stat.st_mtime_ns)
    with _DIGESTS_LOCK:
        lock = _DIGEST_LOCKS.setdefault(key, threading.Lock())
    with lock:
        if key not in _STACK_DIGESTS:
            _STACK_DIGESTS[key] = sha256_file(source)
        return _STACK_DIGESTS[key]


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def refuse_inputs_inside(inputs: Iterable[str | os.PathLike], out: Path) -> None:
    """Raise a :class:`CamsortError` for an input that is the output folder ``out`` (resolved) or lies in it: files
    in the output folder are its outputs, never sorted again, so such an input's frames would never be sorted."""
    for item in inputs:
        resolved = Path(item).resolve()
        if resolved == out or out in resolved.parents:
            where = "is the output folder" if resolved == out else f"lies in the output folder {out}"
            raise CamsortError(f"{item}: {where}, whose files are its outputs and never sorted; give --out a "
                               "folder outside the input")


class SortJob:
    """The driver side of a sort: which files are pending, the manifest and the summary.

    Used as a context manager around the batches; whoever computes the rows (threads here, dask
    workers in ``camsort run``) hands them to :meth:`record` in the order they should be kept.
    """

    def __init__(self, inputs: Iterable[str | os.PathLike], out: str | os.PathLike, *, mode: str = "copy",
                 recursive: bool = False, all_detectors: bool = False, settings: dict | None = None):
        if mode not in MODES:
            raise CamsortError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        self.out = Path(out).resolve()
        if self.out.exists() and not self.out.is_dir():
            raise CamsortError(f"{self.out}: exists and is not a folder; --out names the folder to sort into")
        self.manifest = self.out / "manifest.csv"
        inputs = list(inputs)
        refuse_inputs_inside(inputs, self.out)
        if not any(os.path.lexists(i) for i in inputs):  # a mistyped path leaves nothing behind; one missing file
            # of a list is an error row of its own
            raise CamsortError(f"{', '.join(map(str, inputs))}: no such file or folder")
        self._unlisted: list[str] = []  # sub-folders that cannot be listed: errors of the run
        self._sources = {p: str(r) for p, r in resolved_frame_paths(inputs, recursive, self._unlisted).items()
                         if self.out not in r.parents}
        if not self._sources:  # before the output folder is made: a mistyped folder leaves nothing behind
            raise NoFrameFiles(inputs, recursive, self._unlisted)
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            manifest.check_ours(self.manifest)
            self._lock = lock_folder(self.out)  # held until __exit__
        except OSError as exc:
            raise CamsortError(f"{self.out}: cannot sort into it ({exc.strerror or exc})") from None
        try:
            self._start(mode, settings)
        except OSError as exc:  # its settings file, with no room on the disk for it
            self._lock.close()
            raise CamsortError(f"{self.out}: cannot sort into it ({exc.strerror or exc})") from None
        except BaseException:
            self._lock.close()
            raise
        self.all_detectors = all_detectors
        self._order: list[tuple[str, str]] = []
        self._writer: manifest.Writer | None = None

    def _start(self, mode: str, settings: dict | None) -> None:
        """Under the folder's lock: hold to the folder's settings, find what is done."""
        self.files = list(self._sources)
        if mode == "link":
            _refuse_links_across(self.files, self.out)
        rows = manifest.read(self.manifest)
        if settings is not None:  # model, threshold and mode: as the folder's earlier runs had them, or refused
            hold_to(self.out, settings, sorted_before=bool(rows))
        _remove_stale_parts(self.out)
        self.done, changed = manifest.finished(rows, set(self._sources.values()))
        self.summary = SortSummary(manifest=self.manifest, changed=len(changed), errors=list(self._unlisted))
        self._listed = set(rows)

    def pending(self) -> list[Path]:
        """Files with at least one frame still to sort (a whole finished file is counted as skipped)."""
        todo = [p for p in self.files if not _finished(self._sources[p], self.done, self.all_detectors)]
        self.summary.skipped += len(self.files) - len(todo)
        return todo

    def record(self, rows: list[dict[str, object]]) -> None:
        """Append finished rows to the manifest (flushed) and count them."""
        for row in rows:
            self._order.append(manifest.key(str(row["source"]), row["frame"]))
            self._writer.write(row)
            if row.get("error"):
                self.summary.errors.append(f"{row['source']}: {row['error']}")
                if row.get(NO_ROOM):
                    self.summary.no_room.add(str(row["source"]))
            else:
                self.summary.counts[str(row["technique"])] += 1
                if row["technique"] == UNSURE:
                    self.summary.best_guesses[max(CLASSES, key=lambda c: float(row[f"p_{c}"]))] += 1
                self.summary.weighed += str(row.get("metadata_check", "")).startswith(WEIGHED)
        self._writer.sync()

    def _wrote_again(self) -> bool:
        """Whether this run wrote a row for a frame that had one (a retry, a rewritten file): only then does the
        manifest hold rows to drop, so a pass of ``watch`` that only adds frames does not rewrite a long one."""
        return len(set(self._order)) < len(self._order) or not self._listed.isdisjoint(self._order)

    def __enter__(self) -> "SortJob":
        self._writer = manifest.Writer(self.manifest)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._writer.close()
            if self._wrote_again() and not self._writer.broken:
                manifest.compact(self.manifest, self._order)
        finally:
            self._lock.close()


def sort_frames(inputs: Iterable[str | os.PathLike], out: str | os.PathLike, sorter, *, mode: str = "copy",
                recursive: bool = False, workers: int = 2, batch_size: int = 32,
                progress: bool = True, all_detectors: bool = False, shape: tuple[int, int] | None = None
                ) -> SortSummary:
    """Predict every frame under ``inputs`` and place it in ``out/<LABEL>/``; returns the summary.

    An HDF5 file is sorted by its frames (the NeXus default signal or the largest image dataset);
    ``all_detectors`` also sorts the frames of its other detectors' image datasets (a SAXS and a WAXS
    detector written into one file), each written out as a TIFF into its own technique's folder. ``shape``
    (rows, cols) reads headerless ``.raw`` files of a detector whose shape their size does not tell.

    Three stages overlap: ``workers`` threads read, hash and preprocess a bounded window of frames
    ahead (long stacks in parts of :data:`STACK_PART` frames); the calling thread classifies a
    batch; one writer thread delivers the previous batch (copying is I/O, which releases the GIL).
    Manifest rows are recorded in input order.
    """
    from tqdm import tqdm

    job = SortJob(inputs, out, mode=mode, recursive=recursive, all_detectors=all_detectors,
                  settings=run_settings(sorter, mode))
    with job, ThreadPoolExecutor(max(1, workers)) as pool, ThreadPoolExecutor(1) as writer:
        bar = tqdm(total=len(job.files), unit="file", disable=not progress, file=sys.stderr, dynamic_ncols=True)
        loader = _Loader(job.done, sorter.size, all_detectors, shape)
        delivering = None
        for batch in _batches(_read_ahead(pool, loader, job.files, 4 * batch_size), batch_size):
            job.summary.skipped += sum(1 for it in batch if it.pattern is None and not it.error)
            if not all_detectors:
                job.summary.other_detectors.update(_other_detectors(batch))
            images = stack_images(batch)
            decisions = weighed_decisions(sorter, batch, sorter.decide(images)) if len(images) else []
            if delivering is not None:
                job.record(delivering.result())
            delivering = writer.submit(batch_rows, batch, decisions, job.out, mode)
            bar.update(sum(1 for it in batch if it.starts_file))
        if delivering is not None:
            job.record(delivering.result())
    bar.close()
    return job.summary


def _other_detectors(items: list[Item]) -> dict[str, list[str]]:
    """Source -> the other detectors' image datasets, for the items of files that hold some."""
    return {it.source: it.pattern.metadata["hdf5_other_images"] for it in items
            if it.pattern is not None and it.pattern.metadata.get("hdf5_other_images")}


def _read_ahead(pool: ThreadPoolExecutor, fn, targets: Iterable, window: int) -> Iterator:
    """``map(fn, targets)`` on ``pool``, in order, with at most ``window`` calls in flight or waiting:
    reading runs ahead of classification without holding a whole folder of frames in memory. A result
    that is a :class:`_Split` (a long stack) is replaced by its parts' results, read ahead the same way
    a few parts at a time."""
    queue: deque = deque()
    for target in targets:
        queue.append(pool.submit(fn, target))
        if len(queue) >= window:
            yield from _expanded(pool, fn, queue.popleft().result(), window)
    while queue:
        yield from _expanded(pool, fn, queue.popleft().result(), window)


def _expanded(pool: ThreadPoolExecutor, fn, result: Any, window: int) -> Iterator:
    if isinstance(result, _Split):
        yield from _read_ahead(pool, fn, result.parts, max(1, window // STACK_PART))
    else:
        yield result


@dataclass(frozen=True)
class _Part:
    """Frames ``start`` to ``stop`` of one image dataset of an HDF5 file (``dataset`` None: the file's own
    frames), read and preprocessed as one piece of work."""

    path: Path
    dataset: str | None
    start: int
    stop: int

    def as_dict(self) -> dict[str, Any]:
        """The part as a workflow passes it to ``read_frames`` (plain values)."""
        return {"path": str(self.path), "dataset": self.dataset, "start": self.start, "stop": self.stop}


def stack_parts(path: Path, all_detectors: bool = False, part: int = STACK_PART) -> list[_Part] | None:
    """The parts of a file whose own stack (or, with ``all_detectors``, an HDF5 file's other detector's)
    holds more than ``part`` frames, counted without reading them; None for a shorter file."""
    with open_frames(path) as frames:
        sizes = {None: frames.nframes}
        others = frames.metadata.get("hdf5_other_images", []) if all_detectors else []
    for name in others:
        try:
            sizes[name] = count_frames(path, dataset=name)
        except PatternReadError:  # a part of one frame, so that reading it names the error
            sizes[name] = 1
    if max(sizes.values()) <= part:
        return None
    return [_Part(path, name, start, min(start + part, total))
            for name, total in sizes.items() for start in range(0, total, part)]


def _may_be_long(path: Path) -> bool:
    """Whether ``path`` may hold a stack worth counting before it is read (see :data:`LARGE_STACK_FILE`)."""
    name = str(path).lower()
    return name.endswith(HDF5_EXTENSIONS) or (name.endswith(_STACK_FILE_ENDINGS)
                                              and path.stat().st_size > LARGE_STACK_FILE)


def work_units(paths: Iterable[str | os.PathLike], all_detectors: bool = False) -> list[tuple[str | dict, int]]:
    """Each file as one unit of work with its weight in frames (1), and a long stack as its parts
    (as dicts, with their frame counts): how ``camsort run`` spreads files over workers."""
    units: list[tuple[str | dict, int]] = []
    for path in map(Path, paths):
        try:
            parts = stack_parts(path, all_detectors) if _may_be_long(path) else None
        except PatternReadError:  # read whole by a worker, which names the error
            parts = None
        units += [(p.as_dict(), p.stop - p.start) for p in parts] if parts else [(str(path), 1)]
    return units


@dataclass(frozen=True)
class _Split:
    """What the loader returns for a file with a stack of more than :data:`STACK_PART` frames: its parts,
    to be read one by one (nothing of the file has been read yet)."""

    parts: list[_Part]


def load_items(paths: Iterable[str | os.PathLike], done: Iterable[tuple[str, str]] = (), size: int | None = None,
               all_detectors: bool = False, shape: tuple[int, int] | None = None) -> list[Item]:
    """Read (and, given ``size``, preprocess) the frames of ``paths`` not in ``done``; errors become items;
    ``shape`` for headerless ``.raw`` files."""
    return [item for part in iter_item_parts(paths, done, size, all_detectors, shape) for item in part]


def iter_item_parts(paths: Iterable[str | os.PathLike], done: Iterable[tuple[str, str]] = (),
                    size: int | None = None, all_detectors: bool = False,
                    shape: tuple[int, int] | None = None) -> Iterator[list[Item]]:
    """:func:`load_items` a piece of work at a time (a file, or a part of a long stack), for callers
    that need not hold a long stack's frames at once."""
    loader = _Loader({tuple(k) for k in done}, size, all_detectors, shape)
    for target in paths:  # a path, or a part of a stack as :meth:`_Part.as_dict` gives it
        result = loader(_Part(Path(target["path"]), target["dataset"], target["start"], target["stop"])
                        if isinstance(target, dict) else Path(target))
        yield from (loader(part) for part in result.parts) if isinstance(result, _Split) else (result,)


def stack_images(items: list[Item]) -> np.ndarray:
    """The preprocessed images of the readable items, stacked (possibly empty)."""
    images = [it.image for it in items if it.pattern is not None]
    return np.stack(images) if images else np.zeros((0, 0, 0), np.float32)


def weighed_decisions(sorter: Any, items: list[Item], decisions: list[dict]) -> list[dict]:
    """``decisions`` of the readable ``items`` reconsidered with what each frame's header and file name say."""
    return sorter.reconsider(decisions, patterns_odds(it.pattern for it in items if it.pattern is not None))


def batch_rows(items: list[Item], decisions: list[dict], out: str | os.PathLike, mode: str) -> list[dict[str, object]]:
    """Deliver each decided frame to ``out/<LABEL>/``; manifest rows in item order, errors included."""
    readable = sum(1 for it in items if it.pattern is not None)
    if len(decisions) != readable:
        raise CamsortError(f"{readable} frames but {len(decisions)} decisions")
    results = iter(decisions)
    rows = []
    for it in items:
        if it.pattern is not None:
            rows.append(_place(it, next(results), Path(out), mode))
        elif it.error:
            rows.append({"source": it.source, "frame": it.key, "technique": "ERROR", "sha256": it.sha256,
                         "error": it.error, **manifest.stat_cells(it.signature)})
    return rows


class _Loader:
    """Read, checksum and (given a size) preprocess the frames of one file, or of one :class:`_Part` of a
    stack; runs in a thread or a worker."""

    def __init__(self, done: set[tuple[str, str]], size: int | None, all_detectors: bool = False,
                 shape: tuple[int, int] | None = None):
        self.done, self.size, self.all_detectors, self.shape = done, size, all_detectors, shape

    def __call__(self, target: Path | _Part) -> list[Item] | _Split:
        if isinstance(target, _Part):
            return self._part(target)
        path = target
        source = str(path.resolve())
        if _finished(source, self.done, self.all_detectors):
            return [Item(source, None)]
        try:
            regular_file_size(source)  # a named pipe given as an input would hang the checksum's read
            parts = stack_parts(path, self.all_detectors) if _may_be_long(path) else None
            if parts:
                return _Split(parts)
            sig = manifest.signature(source)  # before reading: a file rewritten meanwhile is sorted again later
            digest = sha256_file(source)
            items, others = self._frames(source, digest, sig, None)
        except (PatternReadError, OSError) as exc:
            return [Item(source, None, error=_reason(exc))]
        for name in others if self.all_detectors else ():
            try:
                items += self._frames(source, digest, sig, name)[0]
            except (PatternReadError, OSError) as exc:
                items.append(Item(source, None, sha256=digest, error=_reason(exc), dataset=name, signature=sig))
        return items

    def _part(self, part: _Part) -> list[Item]:
        source = str(part.path.resolve())
        try:
            sig = manifest.signature(source)
            return self._frames(source, stack_digest(source), sig, part.dataset, part.start, part.stop)[0]
        except (PatternReadError, OSError) as exc:
            return [Item(source, part.start, error=_reason(exc), dataset=part.dataset)]

    def _frames(self, source: str, digest: str, sig: manifest.Signature, dataset: str | None, start: int = 0,
                stop: int | None = None) -> tuple[list[Item], list[str]]:
        """The items of frames ``start`` to ``stop`` of one image dataset (None: the file's own frames) and
        the file's other detectors' datasets; ``digest`` and ``sig`` are the file's sha256 and signature. A
        finished frame is not read; a frame of a stack that cannot be read becomes an error item, and the others
        are read."""
        items = []
        with open_frames(source, dataset=dataset, shape=self.shape) as frames:
            others = frames.metadata.get("hdf5_other_images", [])
            for i in range(start, frames.nframes if stop is None else min(stop, frames.nframes)):
                item = Item(source, i if frames.nframes > 1 else None, sha256=digest, dataset=dataset, signature=sig)
                if manifest.key(source, item.key) not in self.done:
                    try:
                        item.pattern = frames.get(i)
                    except PatternReadError as exc:
                        item.error = exc.reason
                    else:
                        item.image = None if self.size is None else preprocess(item.pattern.data, self.size)
                items.append(item)
        return items, others


def _finished(source: str, done: set[tuple[str, str]], all_detectors: bool) -> bool:
    """A file sorted whole before, with nothing left: with ``all_detectors`` an HDF5 file may still hold
    other detectors' frames, so only files of other formats are skipped unread."""
    return manifest.key(source, None) in done and not (all_detectors and source.lower().endswith(HDF5_EXTENSIONS))


def _reason(exc: PatternReadError | OSError) -> str:
    """The one-line reason a file (or one of its datasets) could not be read."""
    return exc.reason if isinstance(exc, PatternReadError) else f"cannot read: {exc.strerror or exc}"


def _batches(per_file: Iterator[list[Item]], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for items in per_file:
        batch.extend(items)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


NO_ROOM = "no_room"
"""A row's mark (not a manifest column) that its frame's output found no room on the disk."""


def _place(item: Item, result: dict, out: Path, mode: str) -> dict[str, object]:
    """Write the frame's output (unless manifest-only) and build its manifest row."""
    label = result["label"]
    row: dict[str, object] = {
        "source": item.source, "frame": item.key, "technique": label, "sha256": item.sha256,
        "confidence": result["confidence"], "metadata_check": metadata_note(result, item.pattern.claims),
        **manifest.probability_columns(result["probabilities"]), **manifest.stat_cells(item.signature),
    }
    if mode == "manifest-only":
        return row
    try:
        target, row["error"] = deliver(item, out / label, mode)
        row["output"] = str(target)
    except OSError as exc:
        row["error"], row[NO_ROOM] = write_error(exc), exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return row


def deliver(item: Item, folder: Path, mode: str) -> tuple[Path, str]:
    """Put the file (or, for a frame of a multi-frame file, that frame as TIFF) into ``folder``, a whole
    file with its header text file beside it; returns where the frame went (never over an existing file)
    and why its header could not go beside it ('' when it did or it has none)."""
    target = _deliver(item, folder, mode)
    if item.whole_file and "sidecar" in item.pattern.metadata:
        try:
            _deliver_sidecar(sidecar_path(item.source), sidecar_path(target), mode)
        except OSError as exc:
            return target, write_error(exc)
    return target, ""


def write_error(exc: OSError) -> str:
    """The one-line reason an output could not be written."""
    if exc.errno == errno.EXDEV:
        return "cannot write output: hard links cannot cross file systems (sort with --mode copy or symlink)"
    return f"cannot write output: {exc.strerror or exc}"


def _refuse_links_across(files: list[Path], out: Path) -> None:
    """Refuse a ``link`` run whose input lies on another file system than ``out`` before it starts, rather
    than fail every frame: hard links cannot cross file systems."""
    device = out.stat().st_dev
    for path in files:
        try:
            elsewhere = path.stat().st_dev != device
        except OSError:  # reading it names the error
            continue
        if elsewhere:
            raise CamsortError(f"--mode link: {path} is on another file system than {out}, and hard links cannot "
                               "cross file systems; sort with --mode copy or --mode symlink, or into a folder on "
                               "the same file system")


def _deliver(item: Item, folder: Path, mode: str) -> Path:
    """Put the file (or, for a frame of a multi-frame file, that frame as TIFF) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    src = Path(item.source)
    if item.whole_file:
        name, make = src.name, lambda tmp: _materialise(src, tmp, mode)
        same = item.sha256
    else:
        detector = "" if item.dataset is None else f"_{item.dataset.rsplit('/', 1)[-1]}"
        tail = f"{detector}_frame{item.frame or 0:05d}.tif"
        name = _clipped(src.stem, NAME_MAX - len(os.fsencode(tail)) - len("_9999")) + tail
        data = item.pattern.stored  # the frame as its file holds it: dtype and the detector's own values
        make, same = (lambda tmp: write_tiff(tmp, data)), None
    return _link_unique(folder, name, make, same)


def _deliver_sidecar(src: Path, dest: Path, mode: str) -> None:
    """Put a frame's header text file beside its output, named after it as Xi-cam and 7.3.3's tools
    look for it; a file already there is kept, and unless it is the same header that is an error."""
    if dest.exists() or dest.is_symlink():
        if dest.is_file() and sha256_file(dest) == sha256_file(src):
            return
        raise FileExistsError(errno.EEXIST, f"{dest} exists with other content, so the frame's header "
                                            f"{src.name} is not beside it")
    tmp = _part_path(dest.parent, dest.name)
    try:
        _materialise(src, tmp, mode)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, f"the frame's header {src}: {exc.strerror or exc}") from exc
    try:
        os.link(tmp, dest, follow_symlinks=False)
    finally:
        tmp.unlink()


def _materialise(src: Path, tmp: Path, mode: str) -> None:
    if mode == "copy":
        copy_file(src, tmp)
    elif mode == "link":
        os.link(src, tmp)
    else:
        os.symlink(src, tmp)


def _remove_stale_parts(out: Path) -> None:
    """Delete half-written ``.NAME.PID.part`` files in ``out/<LABEL>/`` left by a camsort process that
    died mid-copy (its PID is gone); a live process's parts are left alone."""
    for part in out.glob("*/.*.part"):
        pid = _part_owner(part)
        if pid is None:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            part.unlink(missing_ok=True)
        except PermissionError:  # alive, owned by someone else
            continue


NAME_MAX = 255
"""Bytes a file name may hold on the file systems beamlines use (ext4, XFS, GPFS, NFS)."""


def _clipped(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes as the file system stores it (a cut character stays bytes)."""
    return os.fsdecode(os.fsencode(text)[:limit])


def _part_path(folder: Path, name: str) -> Path:
    """Where this process writes ``name`` before linking it into place: ``.NAME.TAG.PID.part``, with NAME cut so
    that a file whose own name is near the length limit can still be written (TAG tells cut names apart)."""
    tag = hashlib.sha256(os.fsencode(name)).hexdigest()[:8]
    return folder / f".{_clipped(name, 160)}.{tag}.{os.getpid()}.part"


def _part_owner(part: Path) -> int | None:
    """The PID that wrote a ``.NAME.PID.part`` file (None for a name not of that form)."""
    pid = part.name.rsplit(".", 2)[-2]
    return int(pid) if pid.isdigit() else None


def _link_unique(folder: Path, name: str, make, same_sha: str | None) -> Path:
    """Create ``folder/name`` (or ``stem_1.ext``, ...) without ever replacing an existing file.

    When a file of the same name and the same checksum (``same_sha``, or else that of what ``make`` wrote) is
    already there, it is the same frame sorted before: that path is returned and nothing is written.
    """
    stem, suffix = (name.split(".", 1) + [""])[:2]
    suffix = f".{suffix}" if suffix else ""
    tmp = _part_path(folder, name)
    if tmp.exists() or tmp.is_symlink():
        tmp.unlink()
    make(tmp)
    try:
        for n in range(10000):
            target = folder / (name if n == 0 else f"{stem}_{n}{suffix}")
            if target.exists() or target.is_symlink():
                if target.is_file():
                    same_sha = same_sha or sha256_file(tmp)  # hashed only on a clash
                    if sha256_file(target) == same_sha:
                        return target
                continue
            try:
                os.link(tmp, target, follow_symlinks=False)
                return target
            except FileExistsError:
                continue
        raise CamsortError(f"{folder}: more than 10000 files named like {name}")
    finally:
        tmp.unlink()
