"""The Xi-cam workflow behind the Sort stage: camsort's shipped ``sort`` workflow, and its parameters.

That graph (read_frames → preprocess_frames → classify_frames → place_frames) is what ``camsort run
sort`` executes. The stage computes its first three steps batch by batch through the same core
functions (:mod:`.predict`) and its last one on "Export sorted"; it reads ``model_dir``, ``out``
and ``mode`` from the graph, so what the workflow editor shows is what produced the predictions.
"""
from __future__ import annotations

from typing import Any

from xicam.core.execution import Workflow

from ..workflows import load, to_workflow

SHIPPED = "sort"


def sort_workflow() -> Workflow:
    """A fresh copy of the shipped ``sort`` workflow as an Xi-cam Workflow."""
    return to_workflow(load(SHIPPED))


def parameter(workflow: Workflow, name: str, default: Any = None) -> Any:
    """The value of the first operation input called ``name`` (``default`` when unset or empty; a False is kept)."""
    for operation in workflow.operations:
        if name in operation.input_names:
            value = operation.filled_values.get(name)
            return default if value is None or value == "" else value
    return default
