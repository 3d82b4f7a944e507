"""One run at a time per output folder: an exclusive lock on ``OUT/.camsort.lock`` while a run writes there.

Two runs into one folder (a ``watch`` and a ``sort``, or two jobs of an array) would interleave their manifest
rows, sort the same frames twice, and lose the rows one of them appends while the other rewrites the manifest
at its end. ``flock`` is released by the kernel when the process dies, so a crashed run leaves no stale lock;
on NFS it is taken as a POSIX lock on the server. The file holds who has the lock, for the message.
"""
from __future__ import annotations

import datetime
import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from .errors import CamsortError

LOCK_NAME = ".camsort.lock"
"""The lock file in an output folder (hidden; left in place, as removing it would race with the next run)."""


class FolderBusy(CamsortError):
    """Another run holds the output folder's lock; the message says which."""


def lock_folder(out: Path) -> IO[str]:
    """Take ``out``'s lock without waiting (raise :class:`FolderBusy` when another run has it); close the
    returned file to release it. Where the file system has no locks, the run goes on unlocked."""
    fh = open(out / LOCK_NAME, "a+", encoding="utf-8")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "a process that has not said which"
        fh.close()
        raise FolderBusy(f"{out} is being sorted by another camsort run ({holder}); wait for it to finish "
                         "or sort into another folder") from None
    except OSError:  # no locks on this file system (ENOLCK, EOPNOTSUPP)
        return fh
    fh.seek(0)
    fh.truncate()
    since = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    fh.write(f"pid {os.getpid()} on {socket.gethostname()} since {since}\n")
    fh.flush()
    return fh
