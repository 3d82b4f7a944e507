"""The Sort stage: its widgets, the loaded files, and the threads that predict and export them."""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QApplication
from xicam.gui.widgets.linearworkfloweditor import WorkflowEditor
from xicam.plugins.guiplugin import GUILayout, PanelState

from ..errors import CamsortError
from ..executors import DaskExecutor
from ..io import read_pattern, resolved_frame_paths
from ..labelled_folder import recorded_labels
from ..model_files import check_model_dir
from ..sorter import DEFAULT_MODEL_DIR
from .loader import LoaderPanel
from .prediction_panel import PredictionPanel
from .records import FrameResult
from .table import BatchTable, ResultsModel
from .view import PatternView
from .worker import AdaptWorker, ExportWorker, PredictionWorker, SaveLabelsWorker
from .workflow import parameter, sort_workflow


class SortStage(QObject):
    """Centre: the frame and its Grad-CAM; right: the prediction; bottom: the batch; left: loader and workflow.

    Files are predicted by one :class:`PredictionWorker` at a time; files added meanwhile wait for
    the next. The classes the user gives frames (``labels``) outlive predictions by other models and
    can adapt the model (:class:`AdaptWorker`). ``layout`` is the stage's :class:`GUILayout` for
    Xi-cam's main window.
    """

    sigExported = Signal(object)
    """An export finished: the :class:`~xicam.camsort.sortjob.SortSummary`."""

    def __init__(self):
        super().__init__()
        self.results = ResultsModel()
        self.table = BatchTable(self.results)
        self.view = PatternView()
        self.panel = PredictionPanel()
        self.workflow = sort_workflow()
        self.editor = WorkflowEditor(self.workflow)
        self.loader = LoaderPanel(self.editor)
        self.layout = GUILayout(self.view, left=self.loader, right=self.panel, bottom=self.table,
                                lefttop=PanelState.Disabled)
        self.files: list[str] = []
        self._queue: list[str] = []
        self._worker: PredictionWorker | None = None
        self._exporter: ExportWorker | None = None
        self._adapter: AdaptWorker | None = None
        self._label_saver: SaveLabelsWorker | None = None
        self.labels: dict[tuple, str] = {}
        """The class the user gave each frame (by :attr:`FrameResult.key`)."""
        self.adapt_simulated = 500
        """Simulated frames per technique an adaptation mixes in (``camsort adapt --simulated``)."""
        self._predicted = 0
        self.executor: DaskExecutor | None = None
        """Where predictions run: None for a thread of this process, else the executor's dask workers."""

        self.loader.sigAddPaths.connect(self.add_paths)
        self.loader.sigClear.connect(self.clear)
        self.loader.sigModel.connect(self.set_model)
        self.loader.sigCancel.connect(self.cancel)
        self.loader.sigExport.connect(self.export_to)
        self.loader.sigAdapt.connect(self.adapt_to)
        self.loader.sigSaveLabels.connect(self.save_labels_to)
        self.panel.sigLabelled.connect(self.label_row)
        self.table.sigSelected.connect(self.show_row)
        run = self.editor.workflow_widget  # Xi-cam's "Run Workflow" button: this workflow over the whole batch
        run.sigRunWorkflow.disconnect(self.editor.run_workflow)
        run.sigRunWorkflow.connect(self._run_clicked)
        run.autorun_checkbox.hide()
        classify = next(i for i, op in enumerate(self.workflow.operations) if "model_dir" in op.input_names)
        self.editor.workflowview.setCurrentIndex(self.editor.workflowview.model().index(classify, 0))
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # -- loading and predicting -----------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while files are being (or waiting to be) predicted."""
        return self._worker is not None or bool(self._queue)

    def add_paths(self, paths: Iterable[str | os.PathLike]) -> None:
        """Load files and folders (a folder adds its frame files); new files are predicted in the background.
        A folder written by **Save labelled frames…** adds the frames in its label folders, labelled so."""
        paths, recorded = list(paths), {}
        for folder in paths:
            recorded.update(recorded_labels(folder))
        self.labels.update({(path, None, None): label for path, label in recorded.items()})
        self._update_label_buttons()
        try:
            listed = [*map(str, resolved_frame_paths(paths).values()), *recorded]
        except CamsortError as exc:  # a folder that cannot be listed
            self.loader.status.setText(f"Not loaded: {exc}")
            return
        if not listed:
            self.loader.status.setText(f"No frame files in {', '.join(map(str, paths))} (a folder's sub-folders "
                                       "are not read: add them one by one)")
        new = [p for p in dict.fromkeys(listed) if p not in self.files]
        self.files += new
        self._queue += new
        self.loader.export.setEnabled(bool(self.files))
        self._start_next()

    def set_model(self, model_dir: str | None) -> None:
        """Predict with another model (None: the shipped one): every loaded file is predicted again."""
        self.loader.show_model(model_dir)
        if model_dir != parameter(self.workflow, "model_dir"):
            self.workflow.fill_kwargs(model_dir=model_dir or "")
            self.rerun()

    def rerun(self) -> None:
        """Predict every loaded file again with the workflow's current model."""
        self._stop()
        self.results.clear()
        self._queue = list(self.files)
        self._start_next()

    def cancel(self) -> None:
        """Stop predicting: files not yet done stay loaded, without a row (Run Workflow predicts them)."""
        if self._worker is not None:
            self.loader.status.setText(f"Cancelled: {self._predicted} of {len(self.files)} file(s) predicted.")
        self._stop()

    def clear(self) -> None:
        """Unload everything."""
        self._stop()
        self.files = []
        self.labels = {}
        self._update_label_buttons()
        self.results.clear()
        self.view.clear()
        self.panel.show_result(None)
        self.loader.export.setEnabled(False)
        self.loader.set_running(0, 0)
        self.loader.status.setText("No frames loaded.")

    def shutdown(self) -> None:
        """Stop the threads before the application quits (a running QThread must not be destroyed)."""
        if self._worker is not None:
            self._worker.cancel()
            self._worker.wait()
        for thread in (self._exporter, self._adapter, self._label_saver):
            if thread is not None:
                thread.wait()

    def _run_clicked(self, checked: bool) -> None:
        if checked:
            self.rerun()
        else:
            self.cancel()

    def _stop(self) -> None:
        self._queue = []
        if self._worker is not None:
            self._worker.cancel()
            self._set_run_button(False)

    def _start_next(self) -> None:
        if self._worker is not None or not self._queue:
            return
        self._predicted = len({row.source for row in self.results.rows})
        worker = PredictionWorker(self._queue, parameter(self.workflow, "model_dir"), executor=self.executor,
                                  all_detectors=self.all_detectors, weigh_metadata=self.weigh_metadata,
                                  raw_shape=self.raw_shape)
        self._queue = []
        worker.sigModel.connect(self._on_model)  # bound slots of this GUI-thread object: queued, run here
        worker.sigResults.connect(self._on_results)
        worker.sigProgress.connect(self._on_progress)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self.loader.set_running(self._predicted, len(self.files))
        self.loader.status.setText(f"Predicting {len(worker.paths)} file(s)…")
        self._set_run_button(True)
        worker.start()

    def _on_model(self, sorter: Any) -> None:
        self.workflow.fill_kwargs(size=sorter.size)
        self.panel.threshold = sorter.threshold
        networks = getattr(sorter, "members", [sorter])
        info = networks[0].info
        members = f", averaged over {len(networks)} members" if len(networks) > 1 else ""
        members += " and each frame's mirror image" if networks[0].mirror else ""
        adapted = info.get("adapted")
        members += f"; adapted to {adapted['user_frames']} labelled frame(s)" if adapted else ""
        self.loader.model_info.setText(
            f"<small>{info.get('featurizer', type(sorter.featurizer).__name__)} → PCA({info.get('n_components', '?')})"
            f" → {sorter.classifier_name}{members}; {sorter.size}² px input; abstains (UNSURE) below "
            f"p = {sorter.threshold:.2f}</small>")

    def _on_results(self, rows: list[FrameResult]) -> None:
        if self.sender().cancelled:
            return
        first = not self.results.rows
        for row in rows:
            row.truth = self.labels.get(row.key)
        self.results.append(rows)
        if first and self.table.visible_rows():
            self.table.select(0)

    def _on_progress(self, done: int, _total: int) -> None:
        if not self.sender().cancelled:
            self.loader.set_running(self._predicted + done, len(self.files))

    def _on_finished(self) -> None:
        worker = self.sender()
        if worker is not self._worker:
            return
        self._worker = None
        if worker.error:
            self.loader.status.setText(f"Prediction stopped: {worker.error}")
        elif not worker.cancelled:
            rows = self.results.rows
            self.loader.status.setText(f"{len(rows)} frame(s) from {len(self.files)} file(s); "
                                       f"{sum(1 for r in rows if r.error)} error(s).{self._other_detectors_hint()}")
        self.loader.cancel.setEnabled(False)
        self._start_next()
        if self._worker is None:
            self._set_run_button(False)

    @property
    def all_detectors(self) -> bool:
        """Whether the workflow's Read frames also reads an HDF5 file's other detectors' image datasets."""
        return parameter(self.workflow, "all_detectors", False)

    @property
    def raw_shape(self) -> str:
        """Read frames' ``raw_shape`` (ROWSxCOLS of headerless .raw files; empty: by their size)."""
        return str(parameter(self.workflow, "raw_shape", ""))

    @property
    def weigh_metadata(self) -> bool:
        """Whether the workflow's Classify frames weighs what headers and file names say (off: the images alone)."""
        return parameter(self.workflow, "weigh_metadata", True)

    def _other_detectors_hint(self) -> str:
        """What the status line says about HDF5 files whose other detectors' frames are not shown."""
        if self.all_detectors:
            return ""
        files = {r.source for r in self.results.rows if r.metadata.get("hdf5_other_images")}
        return (f" {len(files)} HDF5 file(s) hold other detectors' images: tick all_detectors in Read frames "
                "and Run Workflow to predict them too." if files else "")

    def _set_run_button(self, running: bool) -> None:
        self.editor.workflow_widget.run_button.setChecked(running)

    # -- showing a row --------------------------------------------------------------------
    def select(self, n: int) -> None:
        """Select (and show) the n-th row of the table as filtered."""
        self.table.select(n)

    def show_row(self, row: FrameResult) -> None:
        """Show one row: its frame and CAM in the centre, its prediction on the right."""
        self.panel.show_result(row)
        if row.error:
            self.view.clear(f"{row.name}: {row.error}")
            return
        try:
            data = read_pattern(row.source, frame=row.frame, dataset=row.dataset).data
        except CamsortError as exc:  # changed or removed since it was predicted
            self.view.clear(str(exc))
            return
        cam = f" · Grad-CAM of {row.top}" if row.cam is not None else ""
        self.view.show_frame(data, row.cam, f"{row.label}{cam}  —  {row.name}")

    # -- export ---------------------------------------------------------------------------
    def export_to(self, folder: str | os.PathLike) -> None:
        """Sort the loaded files into ``folder/<TECHNIQUE>/`` with a manifest, in a thread (``camsort sort``'s job).

        Files are copied unless the workflow's Place frames ``mode`` says otherwise; Read frames'
        ``all_detectors`` also sorts an HDF5 file's other detectors' frames, as ``--all-detectors`` does, and
        Classify frames' ``weigh_metadata`` off decides by the images alone, as ``--ignore-metadata`` does.
        """
        if self._exporter is not None or not self.files:
            return
        self.workflow.fill_kwargs(out=str(folder))
        exporter = ExportWorker(self.files, folder, parameter(self.workflow, "model_dir"),
                                parameter(self.workflow, "mode", "copy"), self.all_detectors, self.weigh_metadata,
                                self.raw_shape)
        exporter.finished.connect(self._on_exported)
        self._exporter = exporter
        self.loader.export.setEnabled(False)
        self.loader.status.setText(f"Exporting {len(self.files)} file(s) to {folder}…")
        exporter.start()

    def _on_exported(self) -> None:
        exporter, self._exporter = self._exporter, None
        self.loader.export.setEnabled(bool(self.files))
        if exporter.error:
            self.loader.status.setText(f"Export failed: {exporter.error}")
            return
        summary = exporter.summary
        self.loader.status.setText(f"Exported: {summary.lines()[0]}. Manifest: {summary.manifest}")
        self.sigExported.emit(summary)

    # -- labels and adapting the model ----------------------------------------------------
    def label_row(self, row: FrameResult, label: str | None) -> None:
        """Record the class the user says a frame is (None: forget it); it is kept across predictions."""
        if label is None:
            self.labels.pop(row.key, None)
        else:
            self.labels[row.key] = label
        row.truth = label  # the panel's row, which may be one a newer prediction has replaced
        self.results.relabel(row.key, label)
        self._update_label_buttons()

    def adapt_to(self, folder: str | os.PathLike) -> None:
        """Adapt the model in use to the labelled frames, in a thread, write it to ``folder`` and predict
        every loaded file again with it (``camsort adapt`` on the frames labelled here)."""
        if self._adapter is not None or not self.labels:
            return
        model_dir = parameter(self.workflow, "model_dir")
        if Path(folder).resolve() in (Path(model_dir or DEFAULT_MODEL_DIR).resolve(), DEFAULT_MODEL_DIR.resolve()):
            self.loader.status.setText(f"Not adapted: {folder} holds the model in use or the shipped model; "
                                       "choose a new folder.")
            return
        try:
            check_model_dir(folder)  # before minutes of work, not after
        except CamsortError as exc:
            self.loader.status.setText(f"Not adapted: {exc}")
            return
        adapter = AdaptWorker(self.labels, model_dir, folder, self.adapt_simulated)
        adapter.finished.connect(self._on_adapted)
        self._adapter = adapter
        self._update_label_buttons()
        counts = ", ".join(f"{label} {n}" for label, n in sorted(Counter(self.labels.values()).items()))
        self.loader.status.setText(f"Adapting the model to {len(self.labels)} labelled frame(s) ({counts})…")
        adapter.start()

    def _on_adapted(self) -> None:
        adapter, self._adapter = self._adapter, None
        self._update_label_buttons()
        if adapter.error:
            self.loader.status.setText(f"Adapt failed: {adapter.error}")
            return
        self.set_model(str(adapter.out))
        self.loader.status.setText(f"Adapted to {len(adapter.labelled)} labelled frame(s), written to "
                                   f"{adapter.out}; predicting again with it…")

    def save_labels_to(self, folder: str | os.PathLike) -> None:
        """Copy the labelled frames into ``folder/<LABEL>/``, in a thread: a labelled folder for
        ``camsort adapt --data``, ``evaluate`` and ``train --data``."""
        if self._label_saver is not None or not self.labels:
            return
        saver = SaveLabelsWorker(self.labels, folder)
        saver.finished.connect(self._on_labels_saved)
        self._label_saver = saver
        self._update_label_buttons()
        self.loader.status.setText(f"Saving {len(self.labels)} labelled frame(s) to {folder}…")
        saver.start()

    def _on_labels_saved(self) -> None:
        saver, self._label_saver = self._label_saver, None
        self._update_label_buttons()
        if saver.error:
            self.loader.status.setText(f"Labelled frames not saved: {saver.error}")
            return
        errors = "".join(f"\n{e}" for e in saver.summary.errors)
        self.loader.status.setText(f"Labelled frames saved to {saver.out}: {saver.summary.line()}{errors}")

    def _update_label_buttons(self) -> None:
        self.loader.adapt.setEnabled(bool(self.labels) and self._adapter is None)
        self.loader.save_labels.setEnabled(bool(self.labels) and self._label_saver is None)
