"""Make Xi-cam 2.4.6 import and run on Python 3.11 with numpy 2.

Xi-cam 2.4.6 (2022) uses ``collections.MutableMapping`` (removed in Python 3.10) and pins
pyqtgraph 0.11, which uses ``np.int``/``np.float`` (removed in numpy 1.24). :func:`apply` restores
those aliases; every camsort module that imports xicam calls it first. It is idempotent and only
adds names that are missing, so it never changes behaviour for code that already works.
"""
from __future__ import annotations

import collections
import collections.abc
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


apply()
