"""Header text files beside frames: ALS 7.3.3 writes ``NAME.edf`` with its motors in ``NAME.txt``.

The EDF holds little more than its shape and exposure; the sample's incidence angle (``Sample Alpha
Stage``), the beamstops' and the detector's positions are in the text file, as ``Key: value``
lines. Xi-cam 1 merged that file into the frame's header the same way, so camsort reads it as part
of the header and delivers it beside the frame when it sorts.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

SIDECAR_FORMATS = frozenset({"edf"})
"""Frame formats (``Pattern.metadata['format']``) whose header may continue in a ``.txt`` beside them."""

MAX_SIDECAR_BYTES = 1 << 20
"""A text file larger than this beside a frame is not a header (7.3.3's are about 3 kB)."""


def sidecar_path(frame_path: str | os.PathLike) -> Path:
    """Where the header text file of ``frame_path`` would be: ``run_0001.edf`` (or ``run_0001.edf.gz``)
    → ``run_0001.txt``; whether it exists is not checked."""
    from .io import uncompressed_name  # io reads frames through this module's with_sidecar

    path = Path(frame_path)
    name = path.name[: len(uncompressed_name(path.name.lower()))]
    return path.with_name(os.path.splitext(name)[0] + ".txt")


def read_sidecar(path: str | os.PathLike) -> dict[str, Any]:
    """The ``Key: value`` lines of a header text file, first occurrence of a key kept; lines of a bare
    number (7.3.3's counter readings) or without a value are left out. A file that cannot be read or
    is too large to be a header gives one entry, ``sidecar_error``, saying why."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            return {"sidecar_error": f"{path.name}: {path.stat().st_size} bytes, too large for a header"}
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return {"sidecar_error": f"{path.name}: {exc.strerror or exc}"}
    header: dict[str, Any] = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if colon and key and value:
            header.setdefault(key, value)
    return header


def with_sidecar(frame_path: str | os.PathLike, fmt: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` with the entries of the frame's header text file added (the frame's own entries
    win) and ``sidecar`` naming that file; unchanged when the format has none or none is there."""
    if fmt not in SIDECAR_FORMATS:
        return metadata
    path = sidecar_path(frame_path)
    if not path.is_file():
        return metadata
    return {**read_sidecar(path), **metadata, "sidecar": path.name}
