"""A model directory's checksum manifest catches altered, missing and smuggled-in files."""
from __future__ import annotations

import pytest

from xicam.camsort.errors import CamsortError
from xicam.camsort.model_files import verify_checksums, write_checksums


def _model(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "config.json").write_text('{"a": 1}')
    (tmp_path / "sub" / "weights.bin").write_bytes(b"\x00\x01")
    write_checksums(tmp_path)
    verify_checksums(tmp_path)
    return tmp_path


def test_altered_file_is_named(tmp_path):
    _model(tmp_path)
    (tmp_path / "sub" / "weights.bin").write_bytes(b"\x00\x02")
    with pytest.raises(CamsortError, match=r"weights\.bin: checksum mismatch"):
        verify_checksums(tmp_path)


def test_missing_and_extra_files(tmp_path):
    _model(tmp_path)
    (tmp_path / "evil.pkl").write_bytes(b"x")
    with pytest.raises(CamsortError, match=r"evil\.pkl: file not listed"):
        verify_checksums(tmp_path)
    (tmp_path / "evil.pkl").unlink()
    (tmp_path / "config.json").unlink()
    with pytest.raises(CamsortError, match="missing"):
        verify_checksums(tmp_path)


def test_not_a_model_dir(tmp_path):
    with pytest.raises(CamsortError, match="not a camsort model directory"):
        verify_checksums(tmp_path)
