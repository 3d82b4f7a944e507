"""Plain words for what the reading libraries raise on a damaged file: a beamline user reads "file cut short",
not tifffile's "failed to read 16384 bytes, got 1312" or HDF5's "truncated file: eof = 3091 ...".

The phrases are those the libraries pinned by camsort raise (found by ``benchmarks/damaged_files.py``); a failure
not matched keeps the library's own words, so a library changing its message costs plain words, never the error.
"""
from __future__ import annotations

import re
from collections.abc import Callable

_PHRASES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"failed to read (\d+) bytes, got (\d+)"),  # tifffile, a strip or tile the file ends in
     lambda m: f"file cut short: {m[2]} of {m[1]} bytes of image data there"),
    (re.compile(r"truncated file: eof = (\d+),.*stored_eof = (\d+)"),  # HDF5's superblock records the length
     lambda m: f"HDF5 file cut short: {m[1]} of its {m[2]} bytes"),
    (re.compile(r"mmap length is greater than file size"),  # numpy, a .npy whose header declares more
     lambda m: "file cut short: its header declares more data than it holds"),
    (re.compile(r"cannot reshape array of size (\d+) into shape \((\d+), ?(\d+)\)"),  # fabio, Bruker and others
     lambda m: f"file cut short or its header damaged: {m[1]} values of data for a frame of {m[2]} × {m[3]}"),
    (re.compile(r"Size spec in d\*TREK header does not match size of image data field \[(\d+), (\d+)\] != (\d+)"),
     lambda m: f"file cut short or its header damaged: {m[3]} bytes of data for a frame of {m[1]} × {m[2]}"),
    (re.compile(r"buffer size must be a multiple of element size"),  # fabio's ADSC reader, an odd length
     lambda m: "file cut short or its header damaged: its data does not end on a whole pixel"),
    (re.compile(r"Exception while decompressing pixel data"),  # fabio's Esperanto reader
     lambda m: "file cut short or its compressed pixel data damaged"),
    (re.compile(r"Cannot parse header|Header does not contain the correct keys"),  # numpy, a .npy's header
     lambda m: "damaged header: numpy cannot parse it"),
    (re.compile(r"Error -?\d+ while decompressing data: (.+)"),  # zlib, inside gzip or a compressed TIFF
     lambda m: f"compressed data corrupt or cut short ({m[1]})"),
)


def plain_reason(exc: BaseException, *, header_keys: bool = False) -> str | None:
    """What went wrong in plain words, or None when the failure is not one camsort knows (the caller keeps
    the library's words). ``header_keys``: a ``KeyError`` is a key missing from a text header (fabio's readers),
    not an HDF5 object or a dict lookup of camsort's."""
    if isinstance(exc, UnicodeDecodeError):
        return f"damaged header: a byte that is not text (0x{exc.object[exc.start]:02x}) where text belongs"
    if header_keys and isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):
        return f"damaged or incomplete header: it has no {exc.args[0]!r} key"
    text = str(exc)
    for pattern, words in _PHRASES:
        found = pattern.search(text)
        if found:
            return words(found)
    return None
