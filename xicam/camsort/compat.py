"""Make Xi-cam 2.4.6 import and run on Python 3.11 with numpy 2.

Xi-cam 2.4.6 (2022) uses ``collections.MutableMapping`` (removed in Python 3.10) and pins
pyqtgraph 0.11, which uses ``np.int``/``np.float`` (removed in numpy 1.24). :func:`apply` restores
those aliases; every camsort module that imports xicam calls it first. It is idempotent and only
adds names that are missing, so it never changes behaviour for code that already works. It also imports
Xi-cam's thread manager without the Qt warning it causes where no Qt application runs (:func:`import_threads`).
"""
from __future__ import annotations

import collections
import collections.abc
import sys
import warnings

import numpy as np

_ABC_NAMES = ("Mapping", "MutableMapping", "Sequence", "MutableSequence", "Set", "MutableSet",
              "Iterable", "Iterator", "Callable", "Hashable", "Sized", "Container")
_NUMPY_ALIASES = {"int": int, "float": float, "bool": bool, "complex": complex, "object": object,
                  "str": str}


def apply() -> None:
    """Restore the ``collections`` ABC aliases and the builtin-type aliases on numpy."""
    for name in _ABC_NAMES:
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
    for name, value in _NUMPY_ALIASES.items():
        if name not in np.__dict__:
            setattr(np, name, value)
    # Xi-cam 2.4.6 imports pkg_resources at start-up; its deprecation noise is not the user's concern.
    for message in ("pkg_resources is deprecated", "Setuptools is replacing distutils", "Module xicam was already"):
        warnings.filterwarnings("ignore", message=message)


_TIMER_WITHOUT_APP = "QObject::startTimer: Timers can only be used with threads started with QThread"


def import_threads() -> None:
    """Import ``xicam.core.threads``, whose thread manager starts a Qt timer as it is imported: with no Qt
    application running (``camsort run``, a dask worker) Qt prints :data:`_TIMER_WITHOUT_APP` on stderr, a line
    that tells a user nothing (the timer only refreshes the GUI's thread list). That one message is dropped."""
    if "xicam.core.threads" in sys.modules:
        return
    from qtpy.QtCore import qInstallMessageHandler

    def handler(mode, context, message):
        if message == _TIMER_WITHOUT_APP:
            return
        if before is not None:
            before(mode, context, message)
        else:  # Qt's own handler prints the message
            print(message, file=sys.stderr)

    before = qInstallMessageHandler(handler)
    try:
        import xicam.core.threads  # noqa: F401
    finally:
        qInstallMessageHandler(before)


apply()
import_threads()
