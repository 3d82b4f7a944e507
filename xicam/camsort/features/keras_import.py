"""Keras, with TensorFlow loaded the first time without its C++ INFO lines in the user's terminal.

TensorFlow 2.21 logs from C++ while it loads (oneDNN on, CPU instructions it was not built for) before its log
honours ``TF_CPP_MIN_LOG_LEVEL``: four lines at the start of every ``camsort sort`` on a CPU with AVX-512. The
load's stderr is held and given back without the lines that level hides; warnings and errors pass as they came.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from types import ModuleType

_LOG_LINE = re.compile(r"(?P<absl>[IWEF])\d{4} [\d:.]+ +\d+ \S+:\d+\] "
                       r"|\d{4}-\d\d-\d\d [\d:.]+: (?P<tsl>[IWEF]) \S+:\d+\] ")
"""The start of a line of TensorFlow's C++ log, absl's or its own: severity, date and time (thread), source line."""

_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"

_LOADING = threading.Lock()
"""Held while stderr is: two threads swapping descriptor 2 at once could leave it pointing at a held file."""

_HIDDEN_FROM = {"I": 1, "W": 2, "E": 3}
"""``TF_CPP_MIN_LOG_LEVEL`` from which a severity's lines are hidden (TensorFlow's own meaning of it)."""


def keras() -> ModuleType:
    """The ``keras`` module; the first call loads TensorFlow with its C++ log filtered by ``TF_CPP_MIN_LOG_LEVEL``."""
    with _LOADING:
        if "tensorflow" not in sys.modules:
            _load_filtered(int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") or 0))
    import keras as module

    return module


def _load_filtered(level: int) -> None:
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to hold (a daemon's closed descriptor): it loads as it comes
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import keras  # noqa: F401  (loads TensorFlow)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            said = without_hidden_lines(held.read().decode(errors="replace"), level)
            if said:
                sys.stderr.write(said)
                sys.stderr.flush()


def without_hidden_lines(text: str, level: int) -> str:
    """``text`` of TensorFlow's C++ log without the lines of severities ``level`` hides (a line that is not a log
    line's start goes with the line before it), and without absl's preamble from level 1."""
    kept, hiding = [], False
    for line in text.splitlines(keepends=True):
        start = _LOG_LINE.match(line)
        if start:
            hiding = level >= _HIDDEN_FROM.get(start["absl"] or start["tsl"], 4)
        elif line.rstrip("\n") == _ABSL_PREAMBLE:
            hiding = level >= 1
        if not hiding:
            kept.append(line)
    return "".join(kept)
