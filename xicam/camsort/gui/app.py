"""``camsort gui``: Xi-cam's main window with the CamSort plugin selected, or a screenshot of it."""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from qtpy.QtCore import QCoreApplication
from qtpy.QtWidgets import QApplication

from ..errors import CamsortError
from .plugin import CamSortPlugin

PLUGIN = "camsort"
"""The plugin's entry-point name in ``xicam.plugins.GUIPlugin`` (for messages)."""
SCREENSHOT_SIZE = (1680, 1050)


def main_window() -> tuple[Any, CamSortPlugin]:
    """Xi-cam's main window (which collects every installed plugin) with CamSort selected; and the plugin."""
    from xicam.gui.windows.mainwindow import XicamMainWindow
    from xicam.plugins import Filters, manager

    QCoreApplication.setOrganizationName("Camera")  # as Xi-cam's launcher: where QSettings go
    QCoreApplication.setApplicationName("Xi-cam")
    complete: list[bool] = []

    def on_complete() -> None:
        complete.append(True)

    def instantiated() -> CamSortPlugin | None:
        return next((p for p in manager.get_plugins_of_type("GUIPlugin") if isinstance(p, CamSortPlugin)), None)

    manager.attach(on_complete, Filters.COMPLETE)
    window = XicamMainWindow()  # collects the plugins: loads them in a thread, instantiates them as events
    # Xi-cam's COMPLETE notice can come while a last plugin is still loading: wait for CamSort itself too
    wait_until(lambda: bool(complete) and instantiated() is not None, timeout=120,
               what=f"Xi-cam to collect the {PLUGIN!r} GUIPlugin")
    manager.detach(on_complete, Filters.COMPLETE)
    plugin = instantiated()
    node = next(n for n in window.pluginmodewidget._nodes if n.object is plugin)
    window.pluginmodewidget.showNode(node)  # what clicking "CamSort" in the toolbar does
    return window, plugin


def run(files: Sequence[str], model_dir: str | None = None, screenshot: str | None = None, select: int = 0,
        executor: str = "process", workers: int = 2) -> int:
    """Launch Xi-cam on ``files``; with ``screenshot``, render offscreen, save the PNG and return 0.

    ``executor`` other than ``process`` (``local`` or a scheduler address) predicts on dask workers.
    """
    from ..executors import DaskExecutor

    if screenshot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = QApplication.instance() or QApplication([])
    window, plugin = main_window()
    stage = plugin.sort_stage
    if executor != "process":
        stage.executor = DaskExecutor.start(executor, workers)
        app.aboutToQuit.connect(stage.executor.close)
    if model_dir:
        stage.set_model(model_dir)
    stage.add_paths(files)
    if not screenshot:
        window.show()
        return app.exec_()
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    try:
        save_screenshot(window, stage, screenshot, select)
    finally:  # also on a timeout or a bad --select: no thread may outlive the window
        stage.shutdown()
        window.close()
    return 0


def save_screenshot(window: Any, stage: Any, png: str, select: int = 0, timeout: float = 900) -> None:
    """Wait for the predictions, show row ``select`` with its Grad-CAM, and save ``window`` as ``png``."""
    wait_until(lambda: not stage.busy, timeout, "the predictions")
    rows = stage.table.visible_rows()
    if not 0 <= select < len(rows):
        raise CamsortError(f"--select {select}: the table has {len(rows)} row(s)")
    stage.select(select)
    stage.view.set_overlay(True)
    settle(0.5)
    if not window.grab().save(png):
        raise CamsortError(f"{png}: could not write the screenshot")


def wait_until(done: Callable[[], bool], timeout: float, what: str) -> None:
    """Process Qt events until ``done()`` (a CamsortError naming ``what`` after ``timeout`` seconds)."""
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            raise CamsortError(f"timed out after {timeout:g} s waiting for {what}")
        QApplication.processEvents()
        time.sleep(0.01)


def settle(seconds: float) -> None:
    """Process events for a while (animations, deferred layouts) before a screenshot."""
    end = time.monotonic() + seconds
    wait_until(lambda: time.monotonic() > end, seconds + 1, "the window to settle")
