"""Keras, with TensorFlow loaded the first time without its C++ INFO lines in the user's terminal.

TensorFlow 2.21 logs from C++ while it loads (oneDNN on, CPU instructions it was not built for) before its log
honours ``TF_CPP_MIN_LOG_LEVEL``: four lines at the start of every ``camsort sort`` on a CPU with AVX-512. While
it loads, stderr passes through a filter that drops the lines that level hides; warnings and errors pass.
"""
from __future__ import annotations

import os
import re
import sys
import threading
from types import ModuleType

_LOG_LINE = re.compile(r"(?P<absl>[IWEF])\d{4} [\d:.]+ +\d+ \S+:\d+\] "
                       r"|\d{4}-\d\d-\d\d [\d:.]+: (?P<tsl>[IWEF]) \S+:\d+\] ")
"""The start of a line of TensorFlow's C++ log, absl's or its own: severity, date and time (thread), source line."""

_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"

_LOADING = threading.Lock()
"""Held while stderr is filtered: two threads swapping descriptor 2 at once could leave it pointing at a pipe."""

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
    """Import keras (and TensorFlow) with stderr sent through a pipe whose lines are passed on, filtered, as they
    come: a crash while TensorFlow loads still shows what it said before."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to filter (a daemon's closed descriptor): it loads as it comes
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    forward = threading.Thread(target=_forward, args=(read_end, saved, level), daemon=True)
    forward.start()
    try:
        import keras  # noqa: F401  (loads TensorFlow)
    finally:
        os.dup2(saved, 2)  # the pipe's last write end closes: the forwarding thread reads to its end and stops
        forward.join()
        os.close(saved)


def _forward(read_end: int, stderr: int, level: int) -> None:
    """Pass the lines read from ``read_end`` on to ``stderr``, without those ``level`` hides."""
    hidden = _Hidden(level)
    with open(read_end, "rb") as pipe:
        for line in pipe:
            if not hidden(line.decode(errors="replace")):
                try:
                    os.write(stderr, line)
                except OSError:  # stderr gone (a closed terminal): the pipe is still drained, the load never waits
                    pass


class _Hidden:
    """Whether each line of TensorFlow's C++ log, in turn, is one ``level`` hides: a log line's own severity
    decides, a line that starts no log line goes with the line before it, and absl's preamble is hidden from 1."""

    def __init__(self, level: int):
        self.level, self.hiding = level, False

    def __call__(self, line: str) -> bool:
        start = _LOG_LINE.match(line)
        if start:
            self.hiding = self.level >= _HIDDEN_FROM.get(start["absl"] or start["tsl"], 4)
        elif line.rstrip("\n") == _ABSL_PREAMBLE:
            self.hiding = self.level >= 1
        return self.hiding


def without_hidden_lines(text: str, level: int) -> str:
    """``text`` of TensorFlow's C++ log without the lines ``level`` hides (:class:`_Hidden`)."""
    hidden = _Hidden(level)
    return "".join(line for line in text.splitlines(keepends=True) if not hidden(line))
