"""Copy a file as cheaply as its filesystem allows: where it can share or copy data on its own side
(a reflink clone on XFS or Btrfs, a server-side copy on NFS 4.2) no data is read or written through the
machine; elsewhere the kernel copies it, as ``shutil`` does."""
from __future__ import annotations

import errno
import os
import shutil

_NOT_HERE = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF, errno.ETXTBSY}
"""Errors with which ``copy_file_range`` says it cannot copy between these two files: copy the usual way."""

CHUNK = 1 << 30
"""Bytes asked of one ``copy_file_range`` call."""


def copy_file(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Copy ``src`` to ``dst`` with its permission bits and times, as :func:`shutil.copy2` does."""
    if not (hasattr(os, "copy_file_range") and _copy_in_kernel(src, dst)):
        shutil.copyfile(src, dst)
    shutil.copystat(src, dst)


def _copy_in_kernel(src: str | os.PathLike, dst: str | os.PathLike) -> bool:
    """Copy with ``copy_file_range`` (which clones where the filesystem can); False when this pair of files
    cannot be copied so, or the copy came out short (some filesystems report 0 bytes copied)."""
    try:
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            while os.copy_file_range(fin.fileno(), fout.fileno(), CHUNK):
                pass
            return os.fstat(fout.fileno()).st_size == os.fstat(fin.fileno()).st_size
    except OSError as exc:
        if exc.errno in _NOT_HERE:
            return False
        raise
