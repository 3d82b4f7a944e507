"""Copy mode's file copy: byte-identical with the original's times, whichever way the filesystem copies."""
import errno
import os

import pytest

from xicam.camsort.filecopy import copy_file


@pytest.fixture
def original(tmp_path):
    path = tmp_path / "frame.tif"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    os.utime(path, (1_600_000_000, 1_600_000_000))
    path.chmod(0o640)
    return path


def _same(original, copy):
    assert copy.read_bytes() == original.read_bytes()
    assert copy.stat().st_mtime == original.stat().st_mtime == 1_600_000_000
    assert copy.stat().st_mode == original.stat().st_mode


@pytest.mark.skipif(not hasattr(os, "copy_file_range"), reason="copy_file_range is Linux's")
def test_a_copy_in_the_kernel_is_byte_identical_with_the_originals_times(original, tmp_path, monkeypatch):
    calls = []
    real = os.copy_file_range
    monkeypatch.setattr(os, "copy_file_range", lambda *a: calls.append(a) or real(*a))
    copy_file(original, tmp_path / "copy.tif")
    _same(original, tmp_path / "copy.tif")
    assert calls  # the kernel (or the filesystem, cloning) did the copy


@pytest.mark.parametrize("failure", ["cross-device", "short"])
def test_where_the_kernel_cannot_copy_the_file_is_copied_the_usual_way(original, tmp_path, monkeypatch, failure):
    """copy_file_range refuses some pairs of files (another filesystem: EXDEV) and on some filesystems
    copies nothing while saying it is done: both end in an ordinary copy, never a short file."""
    def refuse(*_):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refuse if failure == "cross-device" else (lambda *_: 0), raising=False)
    copy_file(original, tmp_path / "copy.tif")
    _same(original, tmp_path / "copy.tif")


def test_other_errors_are_not_hidden(original, tmp_path, monkeypatch):
    def full(*_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "copy_file_range", full, raising=False)
    with pytest.raises(OSError, match="No space left"):
        copy_file(original, tmp_path / "copy.tif")
