"""Exception types of camsort: one per failure kind, each naming the file and the reason."""
from __future__ import annotations

import os


class CamsortError(Exception):
    """Base class of every error camsort raises on purpose."""


class PatternReadError(CamsortError):
    """A file could not be read as a 2-D detector frame; the message names the file and why."""

    def __init__(self, path: str | os.PathLike | None, reason: str):
        self.path = None if path is None else os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path else reason)
