"""Read any detector frame into a :class:`Pattern`, whatever the format, or fail with a named reason.

TIFF goes through tifffile, HDF5/NeXus through h5py (Eiger master files included), ``.npy`` and
``.npz`` through numpy, headerless ``.raw`` by shape and size (int32, float32 or uint16), and
everything else fabio reads (EDF, CBF, MarCCD, ...) through fabio. The format is sniffed from the
file's first bytes, so a frame with a wrong extension still reads.
"""
from __future__ import annotations

import base64
import bisect
import bz2
import contextlib
import gzip
import hashlib
import io
import json
import logging
import math
import os
import re
import stat
import threading
import warnings
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CamsortError, PatternReadError
from .pattern import Pattern
from .preprocess import zeros_are_fill
from .read_errors import plain_reason
from .sidecar import with_sidecar

FABIO_EXTENSIONS: frozenset[str] = frozenset(
    {".tif", ".tiff", ".edf", ".cbf", ".npy", ".img", ".mccd", ".gfrm", ".sfrm", ".spe", ".esperanto",
     ".kcd", ".osc", *(f".mar{n}" for n in (1200, 1600, 1800, 2000, 2300, 2400, 3000, 3450)),
     ".ge", *(f".ge{n}" for n in range(1, 6))}
)
"""Endings of frame files fabio (or tifffile, numpy) reads, plain or compressed (:data:`COMPRESSED`):
among them the GE flat panels of APS' high-energy beamlines (``.ge2`` … ``.ge5``, several frames each)
and Rigaku R-AXIS (``.osc``)."""

COMPRESSED = (".gz", ".bz2")
"""Compression endings fabio reads through: archives keep EDF, CBF and TIFF frames as ``.edf.bz2``, ``.cbf.gz``."""

FITS_EXTENSIONS = (".fits", ".fit", ".fts")
"""Endings of FITS files (ALS soft X-ray CCDs write them), plain or compressed (astropy reads through)."""

FRAME_EXTENSIONS: frozenset[str] = FABIO_EXTENSIONS | {".h5", ".hdf5", ".hdf", ".nxs", ".nx5", ".npz", ".raw",
                                                       *FITS_EXTENSIONS}
"""File name endings that ``camsort`` treats as detector frames when scanning folders."""

HDF5_EXTENSIONS = (".h5", ".hdf5", ".hdf", ".nxs", ".nx5")
"""File name endings of HDF5 files (NeXus included)."""

RAW_SHAPES: tuple[tuple[int, int], ...] = (
    (1043, 981), (1679, 1475), (195, 487), (195, 1475), (1475, 195), (619, 487), (407, 487),
    (2527, 2463), (3269, 3110), (1065, 1030), (2167, 2070), (4371, 4150), (514, 1030), (1062, 1028),
    (2162, 2068), (3262, 3108), (4362, 4148), (512, 1028), (512, 2068), (2068, 512), (512, 4148), (4148, 512),
    (1024, 1024), (2048, 2048),
)
"""Pilatus, Eiger and Eiger2 frame shapes (rows, cols) tried for a headerless ``.raw`` file by its size (4 bytes
per pixel first); a wide detector lying or standing."""

RAW_CCD_SHAPES: tuple[tuple[int, int], ...] = (
    (1024, 1024), (2048, 2048), (4096, 4096), (960, 960), (1536, 1536), (3072, 3072), (2880, 2880),
    (3840, 3840),
)
"""CCD and flat-panel frame shapes tried for a headerless ``.raw`` file by its size (2 bytes per pixel first)."""

MIN_RAW_SIDE = 64
"""Smallest side of a square frame guessed for a headerless ``.raw`` of no known detector's size."""

FLOAT_BITS = 2**26
"""A 4-byte ``.raw`` whose typical value read as int32 exceeds this holds float32: counts never
reach it in most pixels, while float32 bit patterns of ordinary values (1.0 reads 1065353216) do."""

_MAGIC = (
    (b"II*\x00", "tiff"), (b"MM\x00*", "tiff"), (b"II+\x00", "tiff"), (b"MM\x00+", "tiff"),
    (b"\x89HDF\r\n\x1a\n", "hdf5"), (b"\x93NUMPY", "npy"), (b"SIMPLE  =", "fits"),
)


def parse_shape(text: str) -> tuple[int, int]:
    """A frame shape written ROWSxCOLS (``1043x981``), as ``--shape`` and Read frames' ``raw_shape`` take it."""
    rows, _, cols = text.lower().partition("x")
    try:
        shape = int(rows), int(cols)
    except ValueError:
        shape = (0, 0)
    if min(shape) < 1:
        raise ValueError(f"shape must look like ROWSxCOLS, e.g. 1043x981, not {text!r}")
    return shape


def is_frame_file(path: str | os.PathLike) -> bool:
    """True when the file name ends like a detector frame camsort can read, or like one compressed
    with gzip or bzip2 (not HDF5, whose compression is inside the file), or when a file whose name
    names no type (:data:`NAMED_TYPE`) starts as a frame file does."""
    name = os.fspath(path).lower()
    if name.endswith(COMPRESSED):
        return uncompressed_name(name).endswith((*FABIO_EXTENSIONS, *FITS_EXTENSIONS))
    if name.endswith(tuple(FRAME_EXTENSIONS)):
        return True
    return not NAMED_TYPE.search(name) and _has_frame_signature(path)


NAMED_TYPE = re.compile(r"\.[a-z][a-z0-9]{0,4}$")
"""An ending that names a file type (``.txt``, ``.png``, ``.log``): such files are never sniffed. A name
without one, or ending in a number (``image.0001``) or in a part of a name (``sth0.60.60s_WAXS``), is."""

EDF_HEADER_KEYS = (b"HeaderID", b"ByteOrder", b"EDF_DataBlockID", b"DataType")
"""Keys one of which an EDF header (``{ ... }`` at the start of the file) names in its first kilobyte."""


def _has_frame_signature(path: str | os.PathLike) -> bool:
    """Whether a file's first bytes are those of a TIFF, HDF5, numpy, FITS, CBF or EDF file (frames saved
    without an ending: py4xs' example frames are TIFFs named ``..._WAXS``)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1024)
    except OSError:
        return False
    if any(head.startswith(magic) for magic, _ in _MAGIC) or head.startswith(CBF_MAGIC):
        return True
    return head.lstrip().startswith(b"{") and any(key in head for key in EDF_HEADER_KEYS)


def uncompressed_name(name: str) -> str:
    """``name`` without a gzip or bzip2 ending: what the file holds once decompressed."""
    return name.rsplit(".", 1)[0] if name.endswith(COMPRESSED) else name


def read_pattern(path: str | os.PathLike, *, frame: int | None = None, dataset: str | None = None,
                 shape: tuple[int, int] | None = None) -> Pattern:
    """Read one 2-D frame; a multi-frame file needs ``frame`` (or use :func:`iter_patterns`)."""
    patterns = _read_frames(path, dataset=dataset, shape=shape, frame=frame)
    if frame is None and patterns.nframes > 1:
        raise PatternReadError(path, f"3-D stack of {patterns.nframes} frames where a 2-D frame is "
                                     "expected (give a frame index or read it with iter_patterns)")
    return patterns.get(0 if frame is None else frame)


def iter_patterns(path: str | os.PathLike, *, dataset: str | None = None,
                  shape: tuple[int, int] | None = None) -> Iterator[Pattern]:
    """Yield every frame of a file (one for single-frame formats), each with its frame index; an HDF5
    stack is read one frame at a time."""
    with open_frames(path, dataset=dataset, shape=shape) as frames:
        for i in range(frames.nframes):
            yield frames.get(i)


@contextlib.contextmanager
def open_frames(path: str | os.PathLike, *, dataset: str | None = None,
                shape: tuple[int, int] | None = None) -> Iterator["_Frames"]:
    """The frames of a file, its header and frame count known, each read by ``get(i)`` when asked for: an
    HDF5 stack (an Eiger series of thousands of frames) stays on disk, open until the block ends."""
    frames = _read_frames(path, dataset=dataset, shape=shape, lazy=True)
    try:
        yield frames
    finally:
        frames.close()


def count_frames(path: str | os.PathLike, *, dataset: str | None = None) -> int:
    """Number of frames a file holds (1 for single-frame formats); an HDF5 stack's without reading it."""
    with open_frames(path, dataset=dataset) as frames:
        return frames.nframes


def write_tiff(path: str | os.PathLike, data: np.ndarray, metadata: dict[str, Any] | None = None) -> None:
    """Write a frame as a TIFF (as detectors do: int32 counts stay int32), metadata as JSON description."""
    import tifffile

    description = json.dumps(metadata, default=str) if metadata else None
    tifffile.imwrite(os.fspath(path), np.asarray(data), description=description, metadata=None)


class _Frames:
    """The frames of one opened file: an array of frames ``first..`` plus the file's header metadata.

    A reader asked for one frame of a long stack may load only that frame (``first`` = its index,
    ``total`` = the file's frame count), so reading frame 900 of an Eiger file does not load 900.
    ``invalid`` is the file's own mask of pixels without data (an Eiger ``pixel_mask``), and ``dummy``
    its value marking them (ESRF's ``Dummy`` ± ``DDummy``): such pixels read as NaN.
    """

    def __init__(self, path: str, stack: Any, metadata: dict[str, Any], fmt: str,
                 first: int = 0, total: int | None = None, invalid: np.ndarray | None = None,
                 dummy: tuple[float, float] | None = None):
        self.path, self.stack, self.metadata, self.format = path, stack, _with_camserver_fields(metadata), fmt
        self.first, self.invalid, self.dummy = first, invalid, dummy
        self.nframes = total or (1 if stack.ndim == 2 else int(stack.shape[0]))

    def close(self) -> None:
        """Close the file a lazily read stack keeps open (nothing for frames already in memory)."""
        if isinstance(self.stack, _LazyStack):
            self.stack.close()

    def get(self, index: int, indexed: bool | None = None) -> Pattern:
        if not 0 <= index < self.nframes:
            raise PatternReadError(self.path, f"frame {index} out of range (file has {self.nframes})")
        data = self.stack if self.stack.ndim == 2 else self.stack[index - self.first]
        raw = np.asarray(data)
        data = _validated(self.path, raw)
        data = _unsigned_markers_masked(raw, data)
        if zeros_are_fill(data):
            data = np.where(data == 0, np.float32(np.nan), data)
        if self.invalid is not None:
            data = np.where(self.invalid, np.float32(np.nan), data)
        if self.dummy is not None:
            value, delta = self.dummy
            data = np.where(np.abs(data - value) <= delta, np.float32(np.nan), data)
        show_index = self.nframes > 1 if indexed is None else indexed
        meta = dict(self.metadata, format=self.format, dtype=str(raw.dtype))
        return Pattern(data=data, metadata=meta, source=self.path, frame=index if show_index else None, stored=raw)


CAMSERVER_HEADERS = ("ImageDescription", "_array_data.header_contents")
"""Header entries where a Pilatus (camserver) writes its ``# Key value`` lines: TIFF and CBF."""

_CAMSERVER_LINE = re.compile(r"#\s*([A-Za-z][\w()-]*)\s*[:=]?\s*(.*?)\s*$")


def _with_camserver_fields(metadata: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` with each ``# Key value`` line of a Pilatus header as an entry of its own
    (``Detector_distance: 1.00000 m``, ``Wavelength: 1.54000 A``), so that the geometry check and
    users can find them; an entry the file already has is kept."""
    fields: dict[str, Any] = {}
    for name in CAMSERVER_HEADERS:
        text = metadata.get(name)
        if not isinstance(text, str) or not text.lstrip().startswith("#"):
            continue
        for line in text.splitlines():
            match = _CAMSERVER_LINE.match(line.strip())
            if match and match.group(2):
                fields.setdefault(match.group(1), match.group(2))
    return {**fields, **metadata} if fields else metadata


def _read_frames(path: str | os.PathLike, *, dataset: str | None = None,
                 shape: tuple[int, int] | None = None, frame: int | None = None, lazy: bool = False) -> _Frames:
    """The frames of a file (``lazy``: an HDF5 stack is left on disk, read frame by frame, and the file
    stays open until ``close``), or a :class:`PatternReadError` naming the file and the reason."""
    path = os.fspath(path)
    try:
        size = regular_file_size(path)
        with open(path, "rb") as fh:
            head = fh.read(16)
    except FileNotFoundError:
        raise PatternReadError(path, "no such file") from None
    except PermissionError:
        raise PatternReadError(path, "permission denied") from None
    except OSError as exc:
        raise PatternReadError(path, f"cannot open: {exc.strerror or exc}") from None
    if size == 0:
        raise PatternReadError(path, "empty file (0 bytes)")
    fmt = _sniff(path, head)
    reader = _READERS[fmt]
    try:
        frames = reader(path, dataset=dataset, shape=shape, size=size, frame=frame, head=head, lazy=lazy)
        frames.metadata = with_sidecar(path, frames.format, frames.metadata)
        return frames
    except PatternReadError:
        raise
    except MemoryError:
        raise PatternReadError(path, "frame too large to fit in memory") from None
    except Exception as exc:  # any library's failure becomes one named error, in plain words where known
        reason = plain_reason(exc, header_keys=fmt == "fabio") or f"unreadable {fmt} file ({_library_words(exc)})"
        raise PatternReadError(path, reason) from exc


def regular_file_size(path: str | os.PathLike) -> int:
    """The size of ``path``, or a :class:`PatternReadError` if it is a folder or a special file: opening a named
    pipe waits for a writer and a device may never end, so neither is opened (an ``OSError`` if it is not there)."""
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise PatternReadError(path, "is a directory, not a frame")
    if not stat.S_ISREG(st.st_mode):
        raise PatternReadError(path, f"not a regular file but {_special_kind(st.st_mode)}, not a frame")
    return st.st_size


def _special_kind(mode: int) -> str:
    """What a file that is neither a regular file nor a folder is, in a few words."""
    kinds = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"))
    return next((words for test, words in kinds if test(mode)), "a special file")


def _library_words(exc: BaseException) -> str:
    """A library's failure as one line: its type and the first line of its message."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _sniff(path: str, head: bytes) -> str:
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return fmt
    lower = path.lower()
    if lower.endswith(".raw"):
        return "raw"
    if uncompressed_name(lower).endswith(FITS_EXTENSIONS):
        return "fits"
    if lower.endswith(".npz") and head.startswith(b"PK\x03\x04"):
        return "npz"
    if lower.endswith((".tif", ".tiff", ".npy", ".npz", *HDF5_EXTENSIONS)):
        # the extension promises a format whose signature is missing
        kind = "TIFF" if ".tif" in lower else ("numpy" if lower.endswith((".npy", ".npz")) else "HDF5")
        raise PatternReadError(path, f"not a {kind} file (no {kind} signature in its first bytes)")
    return "fabio"


def _read_tiff(path: str, *, frame: int | None = None, lazy: bool = False, **_: Any) -> _Frames:
    import tifffile

    tif = tifffile.TiffFile(path)
    try:
        main = _main_series(tif)
        meta = _tiff_tags(main.keyframe)
        pages = _frame_pages(tif) or []
        if pages and lazy:  # frames read when asked for
            lazy_frames = _Frames(path, _TiffPages(path, tif, pages), meta, "tiff", total=len(pages))
            tif = None  # kept open by the frames
            return lazy_frames
        if frame is not None and 0 <= frame < len(pages):  # that page alone
            return _Frames(path, pages[frame].asarray(), meta, "tiff", first=frame, total=len(pages))
        data = np.stack([page.asarray() for page in pages]) if pages else main.asarray()
    finally:
        if tif is not None:
            tif.close()
    data = _squeeze_to_frames(path, data)
    return _Frames(path, data, meta, "tiff")


def _main_series(tif: Any) -> Any:
    """The series that holds the frame: the first, unless a later one is larger (a thumbnail or preview
    image written before the frame)."""
    return max(tif.series, key=lambda series: series.size)


def _frame_pages(tif: Any) -> list[Any] | None:
    """The pages of a TIFF that hold one 2-D frame each, when it holds more than one: a multi-page
    detector or ImageJ stack (one series), or frames appended one write at a time (a series each), which
    are read page by page; None for a single frame, RGB, a pyramid and the like, read as the first series."""
    series = tif.series
    first = series[0]
    if len(series) > 1 and all(len(s.shape) == 2 and s.shape == first.shape and s.dtype == first.dtype
                               and len(s.pages) == 1 for s in series):
        return [s.pages[0] for s in series]
    if len(first.shape) == 3 and first.shape[0] > 1 and len(first.pages) == first.shape[0] and all(
            page is not None and page.shape == first.shape[1:] for page in first.pages):
        return list(first.pages)
    return None


def _tiff_tags(page: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for tag in page.tags.values():
        if tag.name in ("StripOffsets", "StripByteCounts", "TileOffsets", "TileByteCounts"):
            continue
        meta[tag.name] = _jsonable(tag.value)
    description = meta.get("ImageDescription")
    if isinstance(description, str) and description.startswith("{"):
        try:
            parsed = json.loads(description)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):  # camsort/simulator parameters written by write_tiff
            meta.update({k: v for k, v in parsed.items() if k not in meta})
    return meta


def _read_hdf5(path: str, *, dataset: str | None = None, frame: int | None = None, lazy: bool = False,
               **_: Any) -> _Frames:
    import h5py
    import hdf5plugin  # noqa: F401  registers the filters Eiger files are compressed with (bitshuffle-LZ4)

    fh = h5py.File(path, "r", locking=False)  # never keeps a detector's file writer from the file
    images, header, missing = _hdf5_layout(fh, path)
    name = dataset or _first_image_dataset(fh, images)
    if name is None:
        fh.close()
        if missing:
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            raise PatternReadError(path, f"its frames are in {shown} (external links, as an Eiger master file keeps "
                                         "its data files), not found beside it: copy them with this file")
        raise PatternReadError(path, "no numeric image dataset (2-D, or stacked 2-D frames) in this HDF5 file")
    if name not in fh:
        fh.close()
        raise PatternReadError(path, f"no dataset {name!r} in this HDF5 file")
    dset = fh[name]
    meta = header
    meta.update({f"{name}@{k}": _jsonable(v) for k, v in dset.attrs.items()})
    meta["hdf5_dataset"] = name
    if dset.ndim < 2 or dset.dtype.kind not in "biuf":
        fh.close()
        raise PatternReadError(path, f"dataset {name!r} is {dset.ndim}-D {dset.dtype}, not a numeric frame or stack")
    parts = [dset] if dataset or dset.ndim == 2 else _series(images, name, dset)
    if len(parts) > 1:
        meta["hdf5_series"] = [next(n for n, d in images if d == p) for p in parts]  # the master's link names
    others = _other_images(images, name, parts)
    if others:
        meta["hdf5_other_images"] = others
    sources = _virtual_parts(dset) if len(parts) == 1 else []
    if sources and not any(_source_there(path, name) for name in {sources[0][2], sources[-1][2]}) \
            and not any(_source_there(path, name) for _, _, name in sources):  # copied without its data files
        fh.close()
        shown = sorted({name for _, _, name in sources})
        raise PatternReadError(path, f"its frames are in {', '.join(shown[:3])}"
                                     + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
                                     + " (a virtual dataset, as NeXus writers keep their data files), not found beside "
                                       "it: copy them with this file")
    series = _Series(path, fh, parts, sources)
    one = frame is not None and dset.ndim >= 3 and 0 <= frame < series.total
    mask = _pixel_mask(images, dset.shape[-2:])
    if mask is not None:
        meta["pixel_mask"] = mask[0]
    invalid = None if mask is None else mask[1]
    if lazy:  # left on disk: each frame read when asked for
        return _Frames(path, series, meta, "hdf5", total=series.total, invalid=invalid)
    try:
        if one:
            data = series[frame]
        else:
            for start, _, name in sources:
                if not _source_there(path, name):
                    raise PatternReadError(path, f"frame {start}: its data file {name} is not there (yet)")
            data = np.concatenate([_as_stack(p) for p in parts]) if len(parts) > 1 else _as_stack(dset)
    finally:
        fh.close()
    return _Frames(path, _squeeze_to_frames(path, data), meta, "hdf5", first=frame if one else 0, total=series.total,
                   invalid=invalid)


class _LazyStack:
    """Frames left in an open file, each read when asked for; a frame that cannot be read is a
    :class:`PatternReadError` of its own (a truncated chunk, a data file gone since the listing)."""

    ndim = 3

    def __init__(self, path: str, handle: Any):
        self.path, self.handle = path, handle

    def __getitem__(self, index: int) -> np.ndarray:
        try:
            return np.asarray(self._read(index))
        except PatternReadError as exc:
            raise PatternReadError(self.path, f"frame {index}: {exc.reason}") from None
        except Exception as exc:
            plain = plain_reason(exc)
            raise PatternReadError(self.path, f"frame {index}: {plain}" if plain else
                                   f"frame {index} unreadable ({_library_words(exc)})") from None

    def _read(self, index: int) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        self.handle.close()


class _Series(_LazyStack):
    """The frames of an HDF5 stack, or of the parts of an Eiger series, from the open file; a frame of a virtual
    dataset (its ``sources``: :func:`_virtual_parts`) whose data file is not there is an error, not its fill
    value (each data file looked for once while the file is open)."""

    def __init__(self, path: str, fh: Any, parts: list[Any], sources: Sequence[tuple[int, int, str]] = ()):
        super().__init__(path, fh)
        self.parts, self.sources = parts, sources
        self.starts = [start for start, _, _ in sources]
        self.there: dict[str, bool] = {}
        self.ends = np.cumsum([_frame_count(p) for p in parts])
        self.total = int(self.ends[-1])

    def _read(self, index: int) -> Any:
        at = bisect.bisect_right(self.starts, index) - 1
        if at >= 0 and index < self.sources[at][1]:
            name = self.sources[at][2]
            if not self.there.setdefault(name, _source_there(self.path, name)):
                raise PatternReadError(self.path, f"its data file {name} is not there (yet)")
        part = int(np.searchsorted(self.ends, index, side="right"))
        local = index - (self.ends[part - 1] if part else 0)
        return self.parts[part][np.unravel_index(local, self.parts[part].shape[:-2])]


class _TiffPages(_LazyStack):
    """The pages of a multi-page TIFF, one frame each, from the open file."""

    def __init__(self, path: str, tif: Any, pages: Any):
        super().__init__(path, tif)
        self.pages = pages

    def _read(self, index: int) -> Any:
        return self.pages[index].asarray()


class _FabioFrames(_LazyStack):
    """The frames of a multi-frame file fabio reads (EDF, SPE), from the open image; those the file ends before
    (``cut``: :func:`_edf_frames_cut`) are errors, never read."""

    def __init__(self, path: str, img: Any, cut: dict[int, str]):
        super().__init__(path, img)
        self.cut = cut

    def _read(self, index: int) -> Any:
        if index in self.cut:
            raise PatternReadError(self.path, self.cut[index])
        return self.handle.getframe(index).data


def _other_images(images: list[tuple[str, Any]], name: str, parts: list[Any]) -> list[str]:
    """The file's other datasets of frames of at least 64×64 pixels, not calibration arrays: a file that
    holds two detectors' frames (SAXS and WAXS) is read by one of them, and ``--dataset`` picks another."""
    return [n for n, d in images if n != name and not any(d == part for part in parts)  # h5py: same object
            and min(d.shape[-2:]) >= 64 and not _is_calibration(n)]


def _frame_count(dset: Any) -> int:
    """Frames in an image dataset: 1 for a 2-D frame, the product of the leading axes of a stack, which
    NeXus writers nest as (scan point, frame, rows, columns)."""
    return int(np.prod(dset.shape[:-2], dtype=np.int64))


def _is_image_array(array: Any) -> bool:
    """An array (or HDF5 dataset) that can hold frames: numeric, not boolean (masks), 2-D frames on its
    last two axes, neither side shorter than :data:`MIN_FRAME_SIDE` nor :data:`MAX_FRAME_ASPECT` times
    shorter than the other."""
    return (array.ndim >= 2 and array.dtype.kind in "iuf" and min(array.shape[-2:]) >= MIN_FRAME_SIDE
            and not _too_narrow(array.shape[-2:]))


def _too_narrow(frame_shape: tuple[int, ...]) -> bool:
    """A frame shape more than :data:`MAX_FRAME_ASPECT` times longer than wide: no area detector's."""
    return max(frame_shape) > MAX_FRAME_ASPECT * min(frame_shape)


def _largest_frames_first(name: str, array: Any) -> tuple:
    """Sort key among a file's image arrays: the largest frames, then the most of them, then the name."""
    return -int(np.prod(array.shape[-2:])), -_frame_count(array), name


def _as_stack(data: Any) -> np.ndarray:
    """An image array (or HDF5 dataset) as one frame (H, W) or a stack (N, H, W), its leading axes flattened."""
    data = np.asarray(data[()])
    return data if data.ndim <= 3 else data.reshape(-1, *data.shape[-2:])


MIN_FRAME_SIDE = 16
"""Arrays with a shorter side are tables (an Eiger meta file's frame sizes), never taken for frames unless
asked for by name."""

MAX_FRAME_ASPECT = 20
"""No area detector's frame is longer than this many times its width (the narrowest, a Pilatus 300K-W, is
195×1475): such an array is a stack of 1-D patterns, as reduction software writes them, or a sinogram."""

HEADER_SCALARS = 400
"""At most this many single-valued datasets of an HDF5 file are kept as its header metadata."""


def _header_scalars(fh: Any) -> dict[str, Any]:
    """The file's single-valued datasets (numbers, strings), by path, as its header: where NeXus and
    Eiger master files keep the geometry (``entry/instrument/detector/detector_distance``) that
    :mod:`~xicam.camsort.metadata_check` compares a prediction with. Units, when given, follow the value."""
    import h5py

    found: dict[str, Any] = {}

    def visit(name: str, obj: Any) -> Any:
        if len(found) >= HEADER_SCALARS:
            return True  # stop: a header is not this big
        if isinstance(obj, h5py.Dataset) and obj.size == 1 and obj.dtype.kind in "biufSO":
            try:
                value = _jsonable(obj[()].reshape(-1)[0] if obj.ndim else obj[()])
                units = obj.attrs.get("units")
            except (OSError, TypeError, ValueError):  # a value h5py cannot read: not worth losing the frame
                return None
            found[name] = f"{value} {_jsonable(units)}" if units is not None else value
        return None

    fh.visititems(visit)
    return found


CALIBRATION_DATASETS = frozenset({"pixel_mask", "mask", "flatfield", "flat_field", "flat", "dark",
                                  "dark_current", "gain", "pedestal", "background", "trimbit"})
"""Last path components of HDF5 datasets that hold a detector's calibration, not frames (an Eiger
master file keeps its ``pixel_mask`` and ``flatfield`` beside external links to the frames)."""


def _is_calibration(name: str) -> bool:
    """True for a dataset path whose last component names a calibration array, numbered or not
    (``flatfield2`` and ``mask2`` beside an Eiger's ``flatfield`` and ``mask``)."""
    return name.rsplit("/", 1)[-1].lower().rstrip("0123456789_") in CALIBRATION_DATASETS


def _auxiliary_names(group: Any) -> set[str]:
    """Datasets of an NXdata (or NXcanSAS SASdata) group that are not its signal but describe it: the axes
    (``axes``, ``I_axes``, ``Q_indices``: a Q map has the frame's shape), uncertainties and the mask."""
    def names(value: Any) -> list[str]:
        values = value if isinstance(value, np.ndarray) else [value]
        return [v.decode() if isinstance(v, bytes) else str(v) for v in values]

    def attribute(obj: Any, key: str) -> Any:
        try:
            return obj.attrs.get(key)
        except (OSError, TypeError, ValueError, KeyError):  # an attribute of a type h5py cannot read
            return None

    found: set[str] = set()
    for key in group.attrs.keys():
        if key in ("axes", "data_uncertainty", "mask") or key.endswith("_axes"):
            value = attribute(group, key)
            found.update(names(value) if value is not None else [])
        elif key.endswith("_indices"):
            found.add(key[:-len("_indices")])
    if "signal" in group.attrs:  # an NXdata group: its signal names its uncertainties
        for key in group.keys():
            try:
                uncertainties = attribute(group[key], "uncertainties")
            except (KeyError, OSError):  # an external link to a missing file
                continue
            if uncertainties is not None:
                found.update(names(uncertainties))
    return found


def _image_datasets(fh: Any) -> tuple[list[tuple[str, Any]], bool, list[str]]:
    """Every numeric dataset of 2-D frames (a frame, or a stack of frames on leading axes), following soft
    and external links (visititems does not follow external links, where an Eiger master file keeps its
    frames); a broken link is skipped, and so are masks (boolean) and an NXdata group's axes and
    uncertainties (:func:`_auxiliary_names`). Also whether the file is self-contained: no link led to
    another file or nowhere (an Eiger series' data file not written yet); and the files that broken
    external links name, in the order met (a master file copied without its data files)."""
    import h5py

    found, seen, missing = [], set(), []
    contained = True

    def walk(group: Any, depth: int) -> None:
        nonlocal contained
        auxiliary = _auxiliary_names(group)
        for key in sorted(group.keys()):
            try:
                obj = group[key]
            except (KeyError, OSError):  # an external link to a missing file
                contained = False
                link = group.get(key, getlink=True)
                if isinstance(link, h5py.ExternalLink) and link.filename not in missing:
                    missing.append(link.filename)
                continue
            contained = contained and obj.file.filename == fh.filename
            ident = (obj.file.filename, obj.name)
            if ident in seen:
                continue
            seen.add(ident)
            if isinstance(obj, h5py.Group) and depth < 8:
                walk(obj, depth + 1)
            elif isinstance(obj, h5py.Dataset) and _is_image_array(obj) and key not in auxiliary:
                found.append((f"{group.name.rstrip('/')}/{key}".lstrip("/"), obj))

    walk(fh, 0)
    return found, contained, missing


_LAYOUTS: dict[tuple[str, int, int], tuple[tuple[str, ...], dict[str, Any]]] = {}
_LAYOUTS_KEPT = 16
_LAYOUTS_LOCK = threading.Lock()


def _hdf5_layout(fh: Any, path: str) -> tuple[list[tuple[str, Any]], dict[str, Any], list[str]]:
    """The file's image datasets (:func:`_image_datasets`), a fresh copy of its header (:func:`_header_scalars`)
    and the files its broken external links name, worked out once per version of a self-contained file (path,
    modification time, size): reading its other detectors' datasets one by one (``--all-detectors``) walks its
    tree once, not once per dataset. The last :data:`_LAYOUTS_KEPT` files are remembered; a file with
    external links is walked every time, since the files it links to change on their own."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_mtime_ns, stat.st_size)
    with _LAYOUTS_LOCK:
        known = _LAYOUTS.get(key)
    if known is not None:
        try:
            return [(name, fh[name]) for name in known[0]], dict(known[1]), []  # self-contained: no links
        except (KeyError, OSError):  # a link that no longer resolves the same way: walk again
            pass
    images, contained, missing = _image_datasets(fh)
    header = _header_scalars(fh)
    if contained:
        with _LAYOUTS_LOCK:
            if len(_LAYOUTS) >= _LAYOUTS_KEPT:
                del _LAYOUTS[next(iter(_LAYOUTS))]
            _LAYOUTS[key] = (tuple(name for name, _ in images), header)
    return images, dict(header), missing


def _first_image_dataset(fh: Any, images: list[tuple[str, Any]]) -> str | None:
    """Of the file's ``images`` (:func:`_image_datasets`), prefer the NeXus default signal; else the largest
    frames (the most of them, then the first name), leaving out calibration arrays
    (:data:`CALIBRATION_DATASETS`)."""
    found = [(name, d) for name, d in images if not _is_calibration(name)]
    entry = fh.attrs.get("default")
    if entry is not None:
        entry = entry.decode() if isinstance(entry, bytes) else str(entry)
        group = fh.get(entry)
        data_name = group.attrs.get("default") if group is not None else None
        if data_name is not None:
            data_name = data_name.decode() if isinstance(data_name, bytes) else str(data_name)
            nxdata = group.get(data_name)
            signal = nxdata.attrs.get("signal") if nxdata is not None else None
            if signal is not None:
                signal = signal.decode() if isinstance(signal, bytes) else str(signal)
                candidate = f"{entry}/{data_name}/{signal}"
                if any(name == candidate for name, _ in found):
                    return candidate
    if not found:
        return None
    return min(found, key=lambda nd: _largest_frames_first(*nd))[0]


SERIES_PART = re.compile(r"data_\d{6}")
"""Names of the datasets over which an Eiger master file spreads one series of frames."""


def _series(images: list[tuple[str, Any]], name: str, first: Any) -> list[Any]:
    """The stack ``first`` (named ``name``) and, if it is one part of an Eiger series (``data_000001``,
    ...), every part of the series among the file's ``images`` in its group with the same frame shape,
    in name order (a missing data file is not among them)."""
    group, _, leaf = name.rpartition("/")
    if not SERIES_PART.fullmatch(leaf):
        return [first]
    parts = []
    for other, dset in images:
        other_group, _, other_leaf = other.rpartition("/")
        if other_group == group and SERIES_PART.fullmatch(other_leaf) and dset.ndim == 3 \
                and dset.shape[1:] == first.shape[1:]:
            parts.append(dset)
    return parts


def _virtual_sources(dset: Any) -> list[tuple[str, Any]]:
    """The other files a virtual dataset maps frames from, each with its selection in the dataset's space."""
    return [(vm.file_name, vm.vspace) for vm in dset.virtual_sources() if vm.file_name != "."]


def _source_places(path: str | os.PathLike, name: str) -> tuple[Path, Path]:
    """Where HDF5 looks for a virtual dataset's data file ``name``: as named (beside the file that maps it, if
    the name is relative), then by its base name beside that file (data copied with it from the beamline)."""
    folder = Path(path).parent
    return folder / name, folder / Path(name).name


def _source_there(path: str, name: str) -> bool:
    """Whether HDF5 finds the data file ``name`` of a virtual dataset in ``path`` (else it gives fill values)."""
    return any(place.exists() for place in _source_places(path, name))


def _virtual_parts(dset: Any) -> list[tuple[int, int, str]]:
    """The frames (start, stop) a virtual dataset maps from each of its data files, with that file's name, in
    frame order; empty for an ordinary dataset."""
    if not dset.is_virtual:
        return []
    parts = []
    leading = dset.shape[:-2]
    for name, space in _virtual_sources(dset):
        low, high = space.get_select_bounds()
        parts.append((0, 1, name) if not leading else (int(np.ravel_multi_index(low[:-2], leading)),
                                                       int(np.ravel_multi_index(high[:-2], leading)) + 1, name))
    return sorted(parts)


def _pixel_mask(images: list[tuple[str, Any]], frame_shape: tuple[int, ...]) -> tuple[str, np.ndarray] | None:
    """The detector's ``pixel_mask`` of the frames' shape among the file's ``images``, if it has one
    (Eiger, NXmx): nonzero marks gaps, dead and hot pixels, which Eiger frames hold as large counts."""
    for name, dset in images:
        if name.rsplit("/", 1)[-1] == "pixel_mask" and dset.shape == tuple(frame_shape):
            return name, np.asarray(dset[()]) != 0
    return None


_WARNINGS_CAUGHT = threading.Lock()
"""Held while a reader catches warnings: ``warnings.catch_warnings`` swaps module-wide state, so two reader
threads catching at once would lose one's warnings to the terminal and leave the other's catcher in place."""


def _read_fits(path: str, **_: Any) -> _Frames:
    """A FITS file: the frames of its first image HDU (an ALS CCD writes a header-only primary HDU, a table
    of I0 values, then the images); the cards of the primary and the image HDU are the header."""
    from astropy.io import fits

    with _WARNINGS_CAUGHT, warnings.catch_warnings(record=True) as said, fits.open(path, memmap=False) as hdus:
        warnings.simplefilter("always")  # astropy's warnings (a truncated file) become the error's reason
        images = [hdu for hdu in hdus if hdu.is_image and hdu.header.get("NAXIS", 0) >= 2]
        if not images:
            raise PatternReadError(path, f"no image in this FITS file (its {len(hdus)} HDU(s) hold headers or "
                                         f"tables{'; ' + _said(said) if said else ''})")
        try:
            data = np.asarray(images[0].data)
        except (ValueError, OSError) as exc:
            raise PatternReadError(path, f"unreadable FITS image: {_said(said) or exc}") from None
        meta = {card.keyword: _jsonable(card.value) for header in (hdus[0].header, images[0].header)
                for card in header.cards if card.keyword not in ("", "COMMENT", "HISTORY")}
    return _Frames(path, _squeeze_to_frames(path, _as_stack(data)), meta, "fits")


def _said(caught: list[warnings.WarningMessage]) -> str:
    """The distinct messages of warnings caught while reading a file, as one line."""
    return "; ".join(dict.fromkeys(" ".join(str(w.message).split()) for w in caught))


def _read_npy(path: str, **_: Any) -> _Frames:
    data = np.load(path, mmap_mode="r", allow_pickle=False)
    return _Frames(path, _squeeze_to_frames(path, data), {}, "npy")


NPZ_IMAGE_NAMES = ("data", "image", "images", "frame", "frames", "im", "img")
"""Names of a ``.npz`` archive's arrays taken for its frames before any other (then the largest frames)."""


def _read_npz(path: str, *, dataset: str | None = None, **_: Any) -> _Frames:
    """A numpy archive: the array ``dataset``, else the first of :data:`NPZ_IMAGE_NAMES`, else the largest
    numeric array of 2-D frames (masks, boolean, are not frames); single values are its header."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    images = {name: a for name, a in arrays.items() if _is_image_array(a)}
    if dataset is not None and dataset not in arrays:
        raise PatternReadError(path, f"no array {dataset!r} in this .npz (it holds {', '.join(arrays)})")
    named = [n for n in NPZ_IMAGE_NAMES if n in images]
    name = dataset or (named[0] if named else min(images, key=lambda n: _largest_frames_first(n, images[n]),
                                                  default=None))
    if name is None:
        raise PatternReadError(path, "no numeric image array (2-D, or stacked 2-D frames) in this .npz")
    data = arrays[name]
    meta = {n: _jsonable(a.reshape(-1)[0]) for n, a in arrays.items() if a.size == 1}
    meta["npz_array"] = name
    return _Frames(path, _squeeze_to_frames(path, _as_stack(data)), meta, "npz")


def _read_raw(path: str, *, shape: tuple[int, int] | None = None, size: int = 0, **_: Any) -> _Frames:
    """A headerless frame: little-endian int32 (or float32) of a photon-counting detector, or
    uint16 of a CCD, told apart by the file size and, for 4 bytes per pixel, by the values."""
    if shape is None:
        matches = _raw_shapes_of_size(size)
        if not matches:
            raise PatternReadError(path, f"headerless .raw of {size} bytes matches no known detector "
                                         "shape; give the shape (--shape ROWSxCOLS; in the GUI, Read frames' "
                                         "raw_shape)")
        if len(matches) > 1:  # one pixel count, two layouts: a wide detector lying or standing
            flat = np.fromfile(path, dtype="<u2" if size == matches[0][0] * matches[0][1] * 2 else "<i4")
            matches.sort(key=lambda s: _vertical_step(flat.reshape(s)))
        shape = matches[0]
    rows, cols = shape
    if size not in (rows * cols * 2, rows * cols * 4):
        raise PatternReadError(path, f"size {size} bytes does not match shape {rows}x{cols} "
                                     "at 2 (uint16) or 4 (int32, float32) bytes per pixel")
    data = np.fromfile(path, dtype="<u2" if size == rows * cols * 2 else "<i4").reshape(rows, cols)
    if data.dtype.itemsize == 4 and np.median(np.abs(data[::7, ::7].astype(np.int64))) > FLOAT_BITS:
        data = data.view("<f4")
    return _Frames(path, data, {"raw_shape": [rows, cols]}, "raw")


def _raw_shapes_of_size(size: int) -> list[tuple[int, int]]:
    """Frame shapes a headerless file of ``size`` bytes may hold: a known detector at its usual depth (4 bytes
    for counting detectors, 2 for CCDs), then at the other, then a square frame of either depth (most CCDs
    and image plates are square); empty if none fits."""
    for shapes, depth in ((RAW_SHAPES, 4), (RAW_CCD_SHAPES, 2), (RAW_SHAPES, 2), (RAW_CCD_SHAPES, 4)):
        matches = [s for s in shapes if s[0] * s[1] * depth == size]
        if matches:
            return matches
    for depth in (4, 2):
        side = math.isqrt(size // depth)
        if side >= MIN_RAW_SIDE and side * side * depth == size:
            return [(side, side)]
    return []


def _vertical_step(frame: np.ndarray) -> float:
    """Mean change between vertically adjacent pixels: smallest in the layout the detector read out,
    where they are neighbours on the sensor, not pixels a row's length apart."""
    return float(np.mean(np.abs(np.diff(frame.astype(np.float64), axis=0))))


_STDOUT_SWAP = threading.Lock()
"""Held while one reader thread has swapped ``sys.stdout`` (process-wide) for :func:`_quiet_if_compressed`."""


COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh")
"""First bytes of a gzip or bzip2 file."""


@contextlib.contextmanager
def _quiet_if_compressed(head: bytes) -> Iterator[None]:
    """Around fabio's reading of a file whose first bytes (``head``) are gzip's or bzip2's, send stdout
    nowhere: fabio (2026.6) prints a debug line there opening some (a .tif.gz), which must not land in
    ``camsort predict --json``."""
    if not head.startswith(COMPRESSED_MAGIC):
        yield
        return
    with _STDOUT_SWAP, contextlib.redirect_stdout(io.StringIO()):
        yield


logging.getLogger("fabio").addHandler(logging.NullHandler())
"""fabio logs, as errors, what camsort reports itself as a file's error (a frame cut short, a file it cannot
read); with no handler of its own, Python would print its records on stderr beside camsort's line naming the
file. A program that configures logging still receives them."""


def _read_fabio(path: str, *, frame: int | None = None, head: bytes = b"", lazy: bool = False, size: int = 0,
                **_: Any) -> _Frames:
    import fabio

    size, checked_cbf = _refuse_cut_short(path, head, size)
    with _quiet_if_compressed(head):
        try:  # a CBF whose checksum camsort checked is read without fabio's second one (1.4 ms of 3.7 for 1M)
            img = fabio.cbfimage.CbfImage().read(path, check_MD5=False) if checked_cbf else fabio.open(path)
        except Exception:
            if head.startswith(CBF_MAGIC):
                _explain_cbf(path)
            raise
        try:
            nframes = int(getattr(img, "nframes", 1) or 1)
            meta = {str(k): _jsonable(v) for k, v in dict(img.header).items()}
            cut = _edf_frames_cut(img, size)
            if lazy and nframes > 1 and not head.startswith(COMPRESSED_MAGIC):  # frames read when asked for
                lazy_frames = _Frames(path, _FabioFrames(path, img, cut), meta, _fabio_format(img), total=nframes,
                                      dummy=_esrf_dummy(meta))
                img = None  # kept open by the frames
                return lazy_frames
            one = frame is not None and nframes > 1 and 0 <= frame < nframes
            wanted = frame if one else next(iter(cut), None)
            if wanted in cut:
                raise PatternReadError(path, ("" if nframes == 1 else f"frame {wanted}: ") + cut[wanted])
            if nframes == 1:
                data = img.data
            elif one:
                data = img.getframe(frame).data
            else:
                data = np.stack([img.getframe(i).data for i in range(nframes)])
            fmt = _fabio_format(img)
        finally:
            if img is not None:
                img.close()
    if data is None:
        raise PatternReadError(path, "file has a header but no image data")
    return _Frames(path, _squeeze_to_frames(path, np.asarray(data)), meta, fmt,
                   first=frame if one else 0, total=nframes, dummy=_esrf_dummy(meta))


def _edf_frames_cut(img: Any, size: int) -> dict[int, str]:
    """The frames of an EDF file of ``size`` bytes (decompressed) that the file ends before, each with why, found
    from the headers before any frame's data is read: fabio would pad them with zeros (logging only "Data stream
    is incomplete"), allocating as much as a (maybe damaged) header says."""
    from fabio.edfimage import EdfImage

    if not isinstance(img, EdfImage):
        return {}
    cut = {}
    for i, f in enumerate(img.frames()):
        packed = str(f.header.get("Compression", "none")).strip().lower() not in ("", "none")
        need = f.blobsize if packed else max(f.blobsize, f.size)  # as its dimensions and data type make it
        if f.start + need > size:
            cut[i] = f"file cut short: {max(0, size - f.start)} of the frame's {need} bytes of data"
    return cut


def _fabio_format(img: Any) -> str:
    return type(img).__name__.replace("Image", "").lower() or "fabio"


CBF_MAGIC = b"###CBF"
CBF_BINARY_START = re.compile(rb"--CIF-BINARY-FORMAT-SECTION--\r?\n")
"""Where each image array's binary section of a CBF file begins (its end marker has two more dashes)."""


CBF_DATA_START = b"\x0c\x1a\x04\xd5"
"""The bytes that open a CBF binary section's data, after its MIME header."""

CBF_NO_DATA = "CBF file holds no image data (no binary section)"
"""Why a CBF file without a binary section is refused."""

CBF_DATA_SIZE = re.compile(rb"X-Binary-Size:\s*(\d+)")
"""The MIME header line of a CBF binary section that gives its data's length in bytes."""

CBF_DATA_MD5 = re.compile(rb"Content-MD5:\s*(\S+)")
"""The MIME header line of a CBF binary section that gives its data's MD5 checksum (base64), as Pilatus and fabio
write it."""

CBF_SECTION_SEARCH = (b"--CIF-BINARY-FORMAT-SECTION--", 16 * 512)
"""What fabio (2026.6) takes for the start of a CBF's binary section, and how far into the file it looks for it
(beyond, it parses the whole file as CIF text and takes the value of ``_array_data.data``)."""


def _refuse_cut_short(path: str, head: bytes, size: int) -> tuple[int, bool]:
    """Refuse, before fabio reads it, a file cut short or damaged in a way fabio (2026.6) does not stop at: a gzip
    or bzip2 stream that ends early (fabio returns a frame of zeros), a CBF file, plain or compressed, cut (or
    damaged) before or in its binary data (fabio would read on for the data's first bytes for ever, or pad), or
    whose data does not match its MD5 checksum (fabio logs it and decodes the damaged data). Returns the length
    of what fabio reads (the file's ``size``, a compressed file's decompressed length), for
    :func:`_edf_frames_cut`, and whether the file is a CBF whose binary section was checked here."""
    if head.startswith(COMPRESSED_MAGIC):
        try:
            with (gzip.open if head.startswith(b"\x1f\x8b") else bz2.open)(path) as fh:
                data = fh.read()
        except (OSError, EOFError, ValueError) as exc:
            raise PatternReadError(path, f"compressed file cut short or corrupt ({exc})") from None
    elif head.startswith(CBF_MAGIC) or path.lower().endswith(".cbf"):
        with open(path, "rb") as fh:
            data = fh.read()
    else:
        return size, False
    cbf = data.startswith(CBF_MAGIC) or uncompressed_name(path.lower()).endswith(".cbf")  # fabio goes by either
    binary = _cbf_binary_section(data) if cbf else None
    if binary is None:
        return len(data), False
    start = binary.find(CBF_DATA_START)
    if start < 0:
        raise PatternReadError(path, "CBF file cut short or damaged: no image data follows its binary section's "
                                     "header")
    size = CBF_DATA_SIZE.search(binary, 0, start)
    there = len(binary) - start - len(CBF_DATA_START)
    if size and there < int(size[1]):
        raise PatternReadError(path, f"CBF file cut short: {there} of the frame's {int(size[1])} bytes of (compressed) "
                                     "data")
    md5 = CBF_DATA_MD5.search(binary, 0, start)
    if md5 and size:
        begins = start + len(CBF_DATA_START)
        if base64.b64encode(hashlib.md5(binary[begins:begins + int(size[1])]).digest()) != md5[1]:
            raise PatternReadError(path, "CBF data damaged: it does not match the MD5 checksum its header records")
    return len(data), True


def _cbf_binary_section(data: bytes) -> bytes | None:
    """The bytes of a CBF file from where fabio takes its binary section to start (None where fabio finds none
    and fails of itself), found as fabio finds it."""
    marker, within = CBF_SECTION_SEARCH
    at = data.find(marker, 0, within)
    if at >= 0:
        return data[at:]
    from fabio.cbfimage import CbfImage

    cif = CbfImage().cif
    try:
        cif._parseCIF(data)  # as fabio parses a file whose header is longer than it looks through
    except Exception:  # fabio fails on it of itself and says why
        return None
    value = cif.get(CbfImage.CIF_BINARY_BLOCK_KEY)
    return value if isinstance(value, bytes) else None


def _explain_cbf(path: str) -> None:
    """When fabio fails on a CBF file, say why in the user's terms if its layout tells: a multi-panel
    imgCIF (an XFEL CSPAD writes each of its 64 panels as its own array) or one with no image data."""
    with open(path, "rb") as fh:
        arrays = len(CBF_BINARY_START.findall(fh.read()))
    if arrays > 1:
        raise PatternReadError(path, f"multi-panel CBF with {arrays} image arrays (one per detector panel); "
                                     "camsort reads CBF files that hold one image")
    if arrays == 0:
        raise PatternReadError(path, CBF_NO_DATA)


def _esrf_dummy(header: dict[str, Any]) -> tuple[float, float] | None:
    """ESRF's marker of pixels without data (ID02, the SAXS package): ``|value - Dummy| <= DDummy``.

    ``Dummy`` 0 or absent means the file marks none, so that real zero counts stay valid.
    """
    try:
        value, delta = float(header.get("Dummy", 0)), abs(float(header.get("DDummy", 0)))
    except (TypeError, ValueError):
        return None
    return (value, delta) if value != 0 and np.isfinite(value) and np.isfinite(delta) else None


def _squeeze_to_frames(path: str, data: np.ndarray) -> np.ndarray:
    """Accept (H, W) or (N, H, W); reject colour images and other shapes with a reason."""
    if data.ndim == 3 and data.shape[-1] in (3, 4) and data.shape[0] > 4:
        raise PatternReadError(path, f"RGB/colour image of shape {data.shape}, not a detector frame")
    while data.ndim > 3 and data.shape[0] == 1:
        data = data[0]
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    if data.ndim not in (2, 3):
        raise PatternReadError(path, f"{data.ndim}-D array of shape {data.shape}, not a 2-D frame")
    return data


def _validated(path: str, data: np.ndarray) -> np.ndarray:
    if data.dtype.kind == "c":
        raise PatternReadError(path, f"complex data ({data.dtype}); a detector frame is real-valued")
    if data.dtype.kind not in "biuf":
        raise PatternReadError(path, f"non-numeric data ({data.dtype})")
    if min(data.shape) < 2:
        raise PatternReadError(path, f"frame of shape {data.shape} is too small to be a detector image")
    if _too_narrow(data.shape):
        raise PatternReadError(path, f"a {data.shape[0]}×{data.shape[1]} array is too narrow for an area "
                                     "detector's frame (a stack of 1-D patterns?)")
    out = np.asarray(data, dtype=np.float32)
    if data.dtype.kind == "f" and not np.isfinite(out).any():  # integer counts are always finite
        raise PatternReadError(path, "no finite pixel (all NaN/inf)")
    return out


def _unsigned_markers_masked(raw: np.ndarray, data: np.ndarray) -> np.ndarray:
    """``data`` with NaN where an unsigned frame of 16 bits or more holds its type's maximum, if those
    pixels fill a whole row or column: that is how an Eiger in 16-bit mode (or a file written without
    its ``pixel_mask``) marks module gaps, which would otherwise read as the brightest pixels of the
    frame, lines like a horizon. A few saturated pixels, as on a CCD, never fill a line and stay counts.
    """
    if raw.dtype.kind != "u" or raw.dtype.itemsize < 2:
        return data
    at_max = raw == np.iinfo(raw.dtype).max
    if not (at_max.all(axis=1).any() or at_max.all(axis=0).any()):
        return data
    return np.where(at_max, np.float32(np.nan), data)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, np.ndarray) and value.size <= 16:
        return value.tolist()
    if isinstance(value, (list, tuple)) and len(value) <= 16:
        return [_jsonable(v) for v in value]
    text = str(value)
    return text if len(text) <= 256 else text[:253] + "..."


_READERS = {"tiff": _read_tiff, "hdf5": _read_hdf5, "npy": _read_npy, "npz": _read_npz, "raw": _read_raw,
            "fits": _read_fits, "fabio": _read_fabio}


def describe(pattern: Pattern) -> dict[str, Any]:
    """Summary of a frame for ``camsort info``: shape, dtype, value range, invalid pixels, the value of one
    photon (1 for frames of counts; see :func:`preprocess.count_scale`), geometry the header gives
    (:func:`metadata_check.geometry_hints`), what of the header and the file name a decision weighs
    (:attr:`Pattern.claims`), the header text file read with it (:mod:`sidecar`), metadata keys."""
    from .metadata_check import geometry_hints
    from .preprocess import count_scale

    data = pattern.data
    finite = np.isfinite(data)
    valid = finite & (data >= 0)
    vals = data[valid]
    return {
        "path": pattern.source, "frame": pattern.frame, "format": pattern.metadata.get("format"),
        "shape": list(data.shape), "dtype": pattern.metadata.get("dtype", str(data.dtype)),
        "min": float(vals.min()) if vals.size else None, "max": float(vals.max()) if vals.size else None,
        "mean": float(vals.mean()) if vals.size else None,
        "invalid_pixels": int(data.size - valid.sum()),
        "count_scale": count_scale(data),
        "geometry_hints": geometry_hints(pattern.metadata, pattern.source or "", pattern.shape),
        "weighed": [words for _, words, weigh in pattern.claims if weigh],
        "other_images": list(pattern.metadata.get("hdf5_other_images", [])),
        "sidecar": pattern.metadata.get("sidecar"),
        "metadata_keys": sorted(k for k in pattern.metadata if k not in ("format", "dtype")),
    }


@lru_cache(maxsize=4096)
def linked_files(path: Path, signature: tuple[int, int]) -> frozenset[Path]:
    """The files an HDF5 file reaches through external links or virtual datasets: an Eiger master file's data
    files, a NeXus scan file's detector files (Diamond's Odin maps its data files' frames as a virtual dataset).
    Nothing for a file h5py cannot open or walk (a damaged file: reading it later names its error, and the
    folder's other files are listed). Opened without HDF5's file lock, so a detector's file writer is never kept
    from a file camsort looks at; cached by ``signature`` (its size and mtime), so ``camsort watch`` does not
    reopen every file at each poll."""
    import h5py

    found: set[Path] = set()

    def visit(_: str, link: Any) -> None:
        if isinstance(link, h5py.ExternalLink):
            found.add((path.parent / link.filename).resolve())

    def visit_sources(_: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset) and item.is_virtual:
            found.update(p.resolve() for name, _ in _virtual_sources(item) for p in _source_places(path, name))

    try:
        with h5py.File(path, "r", locking=False) as fh:
            fh.visititems_links(visit)
            fh.visititems(visit_sources)
    except Exception:  # h5py raises RuntimeError, KeyError, ... for damaged structures, not only OSError
        return frozenset()
    return frozenset(found)


def _unlinked(files: dict[Path, Path]) -> dict[Path, Path]:
    """``files`` (each with its resolved path) without those another of them links to: a master or NeXus
    file reads them (in series order, with the pixel mask), so reading them as well would give every frame
    twice."""
    linked: set[Path] = set()
    for f in files:
        if f.suffix.lower() in HDF5_EXTENSIONS:
            try:
                st = f.stat()
            except OSError:
                continue
            linked |= linked_files(f, (st.st_size, st.st_mtime_ns))
    return {f: r for f, r in files.items() if r not in linked} if linked else files


class NoFrameFiles(CamsortError):
    """No frame file among the inputs: an empty or mistyped folder, or sub-folders scanned without ``-r``."""

    def __init__(self, inputs: list[str | os.PathLike], recursive: bool, unlisted: Sequence[str] = ()):
        more = f" (and {len(unlisted) - 1} more folder(s))" if len(unlisted) > 1 else ""
        super().__init__(f"no frame files in {', '.join(map(str, inputs))}"
                         + ("" if recursive else " (-r for sub-folders)")
                         + (f"; {unlisted[0]}{more}" if unlisted else ""))


class FolderUnlisted(CamsortError):
    """An input folder could not be listed (gone, not readable, its file server away)."""


def _folder_files(folder: Path, recursive: bool, unlisted: list[str] | None = None) -> dict[Path, Path]:
    """Frame files in ``folder`` (and, ``recursive``, its subfolders, not through links to folders), each
    with its resolved path. One directory read per folder: an entry's type comes from the listing, and a
    file that is not a link resolves as its folder does, so a folder of 100,000 frames is not stat'ed and
    resolved file by file at each poll of ``camsort watch``. A subfolder that cannot be listed is passed over
    and, given ``unlisted``, named there with the reason."""
    found: dict[Path, Path] = {}
    stack = [(folder, folder.resolve())]
    while stack:
        here, resolved = stack.pop()
        try:
            with os.scandir(here) as entries:
                listed = list(entries)
        except OSError as exc:
            reason = f"{here}: cannot list the folder: {exc.strerror or exc}"
            if here == folder:
                raise FolderUnlisted(reason) from exc
            if unlisted is not None:
                unlisted.append(reason)
            continue
        for entry in listed:
            path = here / entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        stack.append((path, resolved / entry.name))
                elif entry.is_file() and is_frame_file(path):
                    found[path] = path.resolve() if entry.is_symlink() else resolved / entry.name
            except OSError:  # gone or unreadable since the listing
                continue
    return found


def frame_paths(inputs: list[str | os.PathLike], recursive: bool = False,
                unlisted: list[str] | None = None) -> list[Path]:
    """Expand files and folders into a sorted list of frame files (folders scanned by extension, leaving
    files that another file of the folder links to, as an Eiger master its data files, to that file);
    files named explicitly are kept as given. A file reached twice (named and in a folder named, or through
    a link) is listed once, where it was first reached. An input folder that cannot be listed raises
    :class:`FolderUnlisted`; a subfolder that cannot be is named in ``unlisted`` (when given) and passed over."""
    return list(resolved_frame_paths(inputs, recursive, unlisted))


def resolved_frame_paths(inputs: list[str | os.PathLike], recursive: bool = False,
                         unlisted: list[str] | None = None) -> dict[Path, Path]:
    """:func:`frame_paths`, each with its resolved path (which tells a file reached twice): for callers that
    need both, as resolving stats every component of a path, a round trip each on NFS."""
    unique: dict[Path, Path] = {}
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files = _unlinked(_folder_files(p, recursive, unlisted))
            for f in sorted(files, key=lambda f: f.parts):
                unique.setdefault(files[f], f)
        else:
            unique.setdefault(p.resolve(), p)
    return {p: resolved for resolved, p in unique.items()}
