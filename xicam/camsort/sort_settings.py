"""What a sorted folder was sorted with: the model (by the digest of its checksum manifest), the
threshold, the mode and whether headers and file names were weighed, kept beside the manifest as
``sort_settings.json``.

A re-run skips the frames its manifest already holds, so going on in the same folder with another
model, threshold or mode would leave the folder holding two runs' outcomes side by side (or, after a
``manifest-only`` run, no copies at all). Such a run is refused before it touches the folder.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import CamsortError
from .study import write_json_atomic

SETTINGS = "sort_settings.json"
"""The file in a sorted folder that records its settings."""

HELD = ("model_sha256", "threshold", "mode", "weigh_metadata")
"""The settings a later run into the same folder must share (the model's path may differ: an install
elsewhere, the same files)."""

BEFORE_RECORDED = {"weigh_metadata": False}
"""What a setting was in runs made before camsort recorded it: headers were only reported then."""


def run_settings(sorter: Any, mode: str) -> dict[str, Any]:
    """The settings of a sort with ``sorter`` in ``mode``: model path and digest (None for a model that
    was never saved), threshold, whether headers and file names are weighed."""
    origin = getattr(sorter, "origin", None) or {}
    return {"model": origin.get("path"), "model_sha256": origin.get("sha256"),
            "threshold": getattr(sorter, "threshold", None), "mode": mode,
            "weigh_metadata": getattr(sorter, "weigh_metadata", True)}


def hold_to(out: Path, settings: dict[str, Any], sorted_before: bool) -> None:
    """Record ``settings`` in ``out`` until a run has sorted a frame there (``sorted_before``: its manifest
    holds one); after that, raise a :class:`CamsortError` naming what differs from the settings recorded."""
    path = out / SETTINGS
    if not path.is_file() or not sorted_before:
        write_json_atomic(path, settings, indent=1)
        return
    try:
        before = json.loads(path.read_text())
        differ = [k for k in HELD if before.get(k, BEFORE_RECORDED.get(k)) != settings[k]]
    except (ValueError, AttributeError):
        raise CamsortError(f"{path}: unreadable; it records what {out} was sorted with") from None
    if differ:
        said = "; ".join(f"{_name(k)} {_shown(k, before)} then, {_shown(k, settings)} now" for k in differ)
        raise CamsortError(f"{out} was sorted with other settings ({said}): its finished frames would be "
                           "skipped and keep their outcomes beside this run's; sort into a new folder")


def _name(key: str) -> str:
    return {"model_sha256": "model", "weigh_metadata": "headers and file names weighed"}.get(key, key)


def _shown(key: str, settings: dict[str, Any]) -> str:
    if key == "weigh_metadata":
        return "yes" if settings.get(key, BEFORE_RECORDED[key]) else "no"
    if key != "model_sha256":
        return str(settings.get(key))
    digest = settings.get("model_sha256")
    return f"{settings.get('model')} ({digest[:12]})" if digest else "a model never saved"
