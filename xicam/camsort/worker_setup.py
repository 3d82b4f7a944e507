"""What a dask worker of camsort does when it starts: import Xi-cam in its main thread.

Xi-cam's thread manager starts a Qt timer when first imported. Imported by a task, in one of the worker's
threads, the timer is stopped from the main thread as the worker ends, and Qt prints ``QObject::killTimer: Timers
cannot be stopped from another thread`` in every worker's log. A worker plugin's ``setup`` runs in the worker's
event loop, its main thread, for the workers there when it is registered and for those that join later (Slurm jobs
that start late).
"""
from __future__ import annotations

from typing import Any

from distributed import WorkerPlugin


class ImportXicam(WorkerPlugin):
    """Imports camsort's Xi-cam operations (and Xi-cam with them) as the worker starts."""

    name = "camsort-import-xicam"

    def setup(self, worker: Any) -> None:
        from . import operations  # noqa: F401  (imported for its side effect: Xi-cam loaded in this thread)
