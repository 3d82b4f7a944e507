"""The left of the Sort stage: load frames, choose the model, follow progress, export, see the workflow."""
from __future__ import annotations

from qtpy.QtCore import Signal
from qtpy.QtWidgets import (QComboBox, QFileDialog, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar,
                            QPushButton, QVBoxLayout, QWidget)
from xicam.gui.widgets.linearworkfloweditor import WorkflowEditor

DEFAULT_MODEL = "Model shipped with camsort"
OTHER_MODEL = "Other model folder…"


class LoaderPanel(QWidget):
    """Buttons and choosers only; the stage connects their signals to the work."""

    sigAddPaths = Signal(list)
    """Files and/or folders the user picked."""
    sigClear = Signal()
    sigModel = Signal(object)
    """A model directory, or None for the shipped model."""
    sigCancel = Signal()
    sigExport = Signal(str)
    """The output folder of "Export sorted"."""
    sigAdapt = Signal(str)
    """The new model folder of "Adapt model to your labels"."""
    sigSaveLabels = Signal(str)
    """The folder of "Save labelled frames"."""

    def __init__(self, editor: WorkflowEditor):
        super().__init__()
        self.setMinimumWidth(320)
        self.add_files = QPushButton("Add files…")
        self.add_folder = QPushButton("Add folder…")
        self.clear = QPushButton("Clear")
        self.model = QComboBox()
        self.model.addItems([DEFAULT_MODEL, OTHER_MODEL])
        self.model.setToolTip("The sorter that predicts: the shipped model or a folder written by `camsort train`")
        self._model_dir: str | None = None
        self.model_info = QLabel()
        self.model_info.setWordWrap(True)
        self.progress = QProgressBar()
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        self.status = QLabel("No frames loaded.")
        self.status.setWordWrap(True)
        self.export = QPushButton("Export sorted…")
        self.export.setToolTip("Copy every loaded file into FOLDER/<TECHNIQUE>/ with a manifest.csv, "
                               "exactly as `camsort sort --mode copy` does (originals untouched, resumable)")
        self.export.setEnabled(False)
        self.adapt = QPushButton("Adapt model to your labels…")
        self.adapt.setToolTip("Refit the model's heads on the frames you labelled (Your label, on the right) mixed "
                              "with simulated ones, as `camsort adapt` does; writes a new model folder and "
                              "predicts again with it")
        self.adapt.setEnabled(False)
        self.save_labels = QPushButton("Save labelled frames…")
        self.save_labels.setToolTip("Copy the frames you labelled into FOLDER/<LABEL>/ (originals untouched; saving "
                                    "again adds new labels and moves relabelled frames), a labelled folder for "
                                    "`camsort adapt --data`, `camsort evaluate` or `camsort train --data`")
        self.save_labels.setEnabled(False)

        self.add_files.clicked.connect(self._pick_files)
        self.add_folder.clicked.connect(self._pick_folder)
        self.clear.clicked.connect(self.sigClear.emit)
        self.cancel.clicked.connect(self.sigCancel.emit)
        self.export.clicked.connect(self._pick_export)
        self.adapt.clicked.connect(self._pick_adapted)
        self.save_labels.clicked.connect(self._pick_labels_folder)
        self.model.activated.connect(self._model_chosen)

        load = QGridLayout()
        load.addWidget(self.add_files, 0, 0)
        load.addWidget(self.add_folder, 0, 1)
        load.addWidget(self.clear, 0, 2)
        load.addWidget(QLabel("Model:"), 1, 0)
        load.addWidget(self.model, 1, 1, 1, 2)
        load.addWidget(self.model_info, 2, 0, 1, 3)
        run = QHBoxLayout()
        run.addWidget(self.progress, 1)
        run.addWidget(self.cancel)
        load.addLayout(run, 3, 0, 1, 3)
        load.addWidget(self.status, 4, 0, 1, 3)
        load.addWidget(self.export, 5, 0, 1, 3)
        load.addWidget(self.adapt, 6, 0, 1, 3)
        load.addWidget(self.save_labels, 7, 0, 1, 3)
        frames = QGroupBox("Frames")
        frames.setLayout(load)

        workflow = QGroupBox("Workflow (Xi-cam)")
        box = QVBoxLayout(workflow)
        box.setContentsMargins(2, 2, 2, 2)
        box.addWidget(editor)
        editor.setSizes([130, 260])  # parameters of the selected operation above, the operations below
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(frames)
        layout.addWidget(workflow, 1)
        self.set_running(0, 0)

    def set_running(self, done: int, total: int) -> None:
        """Show progress; Cancel is active while files remain."""
        self.progress.setFormat("%v / %m files" if total else "no files")
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.cancel.setEnabled(done < total)

    def show_model(self, model_dir: str | None) -> None:
        """Show ``model_dir`` as the chosen model (adding it to the chooser if new); emits nothing."""
        self._model_dir = model_dir
        if model_dir is None:
            self.model.setCurrentIndex(0)
            return
        if self.model.findText(model_dir) < 0:
            self.model.insertItem(self.model.count() - 1, model_dir)
        self.model.setCurrentText(model_dir)

    def _pick_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add detector frames")
        if files:
            self.sigAddPaths.emit(files)

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of detector frames")
        if folder:
            self.sigAddPaths.emit([folder])

    def _pick_export(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export sorted frames into (OUT/<TECHNIQUE>/)")
        if folder:
            self.sigExport.emit(folder)

    def _pick_adapted(self) -> None:
        folder, _ = QFileDialog.getSaveFileName(self, "Write the adapted model to a new folder")
        if folder:
            self.sigAdapt.emit(folder)

    def _pick_labels_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save the labelled frames into (FOLDER/<LABEL>/)")
        if folder:
            self.sigSaveLabels.emit(folder)

    def _model_chosen(self, index: int) -> None:
        text = self.model.itemText(index)
        if text == OTHER_MODEL:
            text = QFileDialog.getExistingDirectory(self, "Model folder (written by `camsort train`)")
        self.sigModel.emit(None if text == DEFAULT_MODEL else text or self._model_dir)
