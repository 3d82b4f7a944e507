"""A model directory's integrity: a SHA-256 manifest written on save and verified before loading.

Loading never unpickles, but a checksum manifest still catches a corrupted or edited file before
any library parses it, and names the file.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .errors import CamsortError

CHECKSUMS = "SHA256SUMS.json"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_model_dir(model_dir: str | os.PathLike) -> Path:
    """``model_dir`` if a model may be written there (new, empty, or a camsort model); else a CamsortError."""
    root = Path(model_dir)
    if root.exists() and (not root.is_dir() or any(root.iterdir())) and not (root / "config.json").exists():
        raise CamsortError(f"{root}: exists and is not a camsort model; choose an empty folder")
    return root


def prepare_model_dir(model_dir: str | os.PathLike) -> Path:
    """Create ``model_dir``, or empty the camsort model already in it; refuse a folder that is not a model."""
    root = check_model_dir(model_dir)
    root.mkdir(parents=True, exist_ok=True)
    for stale in sorted(root.rglob("*"), reverse=True):  # a folder's files before the folder
        stale.rmdir() if stale.is_dir() and not stale.is_symlink() else stale.unlink()
    return root


def write_checksums(model_dir: str | os.PathLike) -> None:
    """Record the SHA-256 of every file in the model directory (except the manifest itself)."""
    root = Path(model_dir)
    sums = {p.relative_to(root).as_posix(): _digest(p)
            for p in sorted(root.rglob("*")) if p.is_file() and p != root / CHECKSUMS}
    (root / CHECKSUMS).write_text(json.dumps(sums, indent=1, sort_keys=True) + "\n")


def model_digest(model_dir: str | os.PathLike) -> str:
    """SHA-256 of a model directory's checksum manifest: one digest for all its files (verified on load)."""
    return _digest(Path(model_dir) / CHECKSUMS)


def verify_checksums(model_dir: str | os.PathLike) -> None:
    """Raise :class:`CamsortError` naming the first missing, altered or unlisted file."""
    root = Path(model_dir)
    manifest = root / CHECKSUMS
    if not manifest.is_file():
        raise CamsortError(f"{root}: not a camsort model directory (no {CHECKSUMS})")
    try:
        sums = json.loads(manifest.read_text())
    except ValueError as exc:
        raise CamsortError(f"{manifest}: unreadable checksum manifest ({exc})") from None
    for rel, expected in sums.items():
        path = root / rel
        if not path.is_file():
            raise CamsortError(f"{path}: listed in {CHECKSUMS} but missing")
        if _digest(path) != expected:
            raise CamsortError(f"{path}: checksum mismatch (file altered or corrupt); refusing to load")
    listed = set(sums)
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and path != manifest and rel not in listed:
            raise CamsortError(f"{path}: file not listed in {CHECKSUMS}; refusing to load")


def load_skops(path: str | os.PathLike, allowed: tuple[str, ...] = ()):
    """Load a skops file; any type beyond skops' defaults must be in ``allowed`` or it is refused."""
    from skops.io import get_untrusted_types, load

    path = os.fspath(path)
    try:
        untrusted = get_untrusted_types(file=path)
    except Exception as exc:
        raise CamsortError(f"{path}: not a readable skops file ({type(exc).__name__}: {exc})") from None
    refused = sorted(set(untrusted) - set(allowed))
    if refused:
        raise CamsortError(f"{path}: refusing to load untrusted types {refused}")
    return load(path, trusted=list(untrusted))
