"""Background threads of the Sort stage: prediction (cancellable, streaming), export, adapting the model and
saving labelled frames.

All load the model in their own thread (the first load takes seconds) and report through Qt
signals, which Qt queues to the GUI thread; a failure is kept in ``error`` for whoever handles
``finished``. None lets an exception escape ``run``: PyQt5 aborts the whole process on an
exception that leaves a QThread.
"""
from __future__ import annotations

import os
import threading
from contextlib import closing
from collections.abc import Iterable, Iterator
from pathlib import Path

from qtpy.QtCore import QThread, Signal

from ..adapt import adapt, base_name
from ..executors import DaskExecutor
from ..io import read_pattern
from ..labelled_folder import SaveSummary, as_labelled, save_labelled_frames
from ..operations import shape_of
from ..preprocess import preprocess_batch
from ..sorter import for_run, load_cached
from ..sortjob import SortSummary, sort_frames
from .predict import cam_model, predict_batch, predict_files
from .records import FrameResult


class PredictionWorker(QThread):
    """Predict files in batches of ``batch_size`` files; each batch's rows are emitted as they finish.

    :meth:`cancel` stops the worker before its next batch (the batch in flight is discarded). Given
    a :class:`~xicam.camsort.executors.DaskExecutor` with a cluster, every batch is a dask task
    (results still arrive in file order; cancelling cancels the tasks not yet done).
    ``all_detectors`` also predicts the frames of an HDF5 file's other detectors; ``weigh_metadata`` off decides
    by the images alone.
    """

    sigModel = Signal(object)
    """The loaded :class:`~xicam.camsort.sorter.Sorter`, once, before any result."""
    sigResults = Signal(object)
    """A list of :class:`FrameResult` for one batch of files."""
    sigProgress = Signal(int, int)
    """Files done, files in total."""

    def __init__(self, paths: Iterable[str | os.PathLike], model_dir: str | None, batch_size: int = 8,
                 executor: DaskExecutor | None = None, all_detectors: bool = False, weigh_metadata: bool = True,
                 raw_shape: str = ""):
        super().__init__()
        self.paths = [str(p) for p in paths]
        self.model_dir, self.batch_size, self.executor = model_dir, batch_size, executor
        self.all_detectors, self.weigh_metadata, self.raw_shape = all_detectors, weigh_metadata, raw_shape
        self.shape: tuple[int, int] | None = None
        """``raw_shape`` read as a shape when the worker starts."""
        self.error: str | None = None
        """Why the worker stopped early (a model folder that is not a camsort model, ...)."""
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Ask the worker to stop before its next batch; returns at once."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        try:
            self.shape = shape_of(self.raw_shape)
            sorter = for_run(load_cached(self.model_dir), weigh_metadata=self.weigh_metadata)
            self.sigModel.emit(sorter)
            batches = [self.paths[i:i + self.batch_size] for i in range(0, len(self.paths), self.batch_size)]
            done = 0
            with closing(self._predicted(sorter, batches)) as predicted:
                for batch, rows in zip(batches, predicted):
                    if self.cancelled:
                        return
                    done += len(batch)
                    self.sigResults.emit(rows)
                    self.sigProgress.emit(done, len(self.paths))
        except Exception as exc:  # e.g. a model folder that is not a camsort model
            self.error = str(exc)

    def _predicted(self, sorter, batches: list[list[str]]) -> Iterator[list[FrameResult]]:
        """Rows of each batch in order: computed here, or by the executor's dask workers."""
        client = self.executor.client if self.executor is not None else None
        futures = client.map(predict_batch, [self.model_dir] * len(batches), batches,
                             [self.all_detectors] * len(batches), [self.weigh_metadata] * len(batches),
                             [self.shape] * len(batches), pure=False) if client else None
        model = None if client else cam_model(sorter)
        try:
            for i, batch in enumerate(batches):
                if self.cancelled:
                    return
                try:
                    yield futures[i].result() if client else predict_files(sorter, batch, model, self.all_detectors,
                                                                           self.shape)
                except Exception as exc:  # a model that fails on some input: those rows are errors, go on
                    yield [FrameResult(path, error=f"prediction failed ({type(exc).__name__}: {exc})")
                           for path in batch]
        finally:
            if client:
                client.cancel(futures)


class ExportWorker(QThread):
    """Run ``camsort sort``'s job (:func:`~xicam.camsort.sortjob.sort_frames`) on the loaded files.

    When ``finished``, ``summary`` holds the :class:`~xicam.camsort.sortjob.SortSummary`, or ``error`` why not.
    """

    def __init__(self, paths: Iterable[str | os.PathLike], out: str | os.PathLike, model_dir: str | None,
                 mode: str = "copy", all_detectors: bool = False, weigh_metadata: bool = True, raw_shape: str = ""):
        super().__init__()
        self.paths, self.out, self.model_dir, self.mode = [str(p) for p in paths], Path(out), model_dir, mode
        self.all_detectors, self.weigh_metadata, self.raw_shape = all_detectors, weigh_metadata, raw_shape
        self.summary: SortSummary | None = None
        self.error: str | None = None

    def run(self) -> None:
        try:
            shape = shape_of(self.raw_shape)
            sorter = for_run(load_cached(self.model_dir), weigh_metadata=self.weigh_metadata)
            self.summary = sort_frames(self.paths, self.out, sorter, mode=self.mode, progress=False,
                                       all_detectors=self.all_detectors, shape=shape)
        except Exception as exc:  # an unwritable folder or a broken model must not take the GUI down
            self.error = str(exc)


class AdaptWorker(QThread):
    """Adapt the model to the frames the user labelled (:func:`~xicam.camsort.adapt.adapt`, as
    ``camsort adapt`` does) and write it to ``out``; ``error`` says why not when ``finished``.

    The adapted model records which frames it learnt from, and with which labels.
    """

    def __init__(self, labels: dict[tuple, str], model_dir: str | None, out: str | os.PathLike,
                 simulated_per_class: int):
        super().__init__()
        self.labelled = as_labelled(labels)
        """(file, dataset, frame, label) of each labelled frame (keys as :attr:`FrameResult.key`)."""
        self.model_dir, self.out, self.simulated_per_class = model_dir, Path(out), simulated_per_class
        self.error: str | None = None

    def run(self) -> None:
        try:
            base = load_cached(self.model_dir)
            X = preprocess_batch((read_pattern(source, frame=frame, dataset=dataset).data
                                  for source, dataset, frame, _ in self.labelled), base.size)
            record = {"base": base_name(self.model_dir),
                      "labelled_in_gui": [{"file": source, "dataset": dataset, "frame": frame, "label": label}
                                          for source, dataset, frame, label in self.labelled]}
            adapted = adapt(base, X, [label for *_, label in self.labelled],
                            simulated_per_class=self.simulated_per_class, info=record)
            adapted.save(self.out)
        except Exception as exc:  # a frame removed since it was labelled, an unwritable folder, ...
            self.error = str(exc)


class SaveLabelsWorker(QThread):
    """Save the frames the user labelled into a labelled folder
    (:func:`~xicam.camsort.labelled_folder.save_labelled_frames`); when ``finished``, ``summary`` says what
    was saved, or ``error`` why nothing was."""

    def __init__(self, labels: dict[tuple, str], out: str | os.PathLike):
        super().__init__()
        self.labelled = as_labelled(labels)
        self.out = Path(out)
        self.summary: SaveSummary | None = None
        self.error: str | None = None

    def run(self) -> None:
        try:
            self.summary = save_labelled_frames(self.labelled, self.out)
        except Exception as exc:  # an unwritable folder must not take the GUI down
            self.error = str(exc)
