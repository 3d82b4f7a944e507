"""Workflow files: YAML graphs of registered operations, to and from Xi-cam ``Workflow`` objects.

A file names operations from :data:`operations.OPERATIONS` only, is read with ``yaml.safe_load``
and is checked before anything runs, so no file can import or evaluate code. Format::

    name: sort
    description: what it does
    input: paths        # the operation input that receives `camsort run --input ...`
    map: true           # true: batches of input files, one task each; false: one execution
    operations:
      read: {op: read_frames}
      preprocess: {op: preprocess_frames, params: {size: 128}}
    links:
      - read.items -> preprocess.items
"""
from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import yaml

from . import compat  # noqa: F401  (before any xicam import)
from .errors import CamsortError

BUILTIN_DIR = Path(__file__).with_name("builtin_workflows")
"""The workflow files shipped with camsort (``workflows/`` in the repository links here)."""
KEYS = ("name", "description", "input", "map", "operations", "links")
KINDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text", list: "a list"}
"""What a value of each editable input type must be, in the words of the error message."""


def builtin_names() -> list[str]:
    """Names of the shipped workflows (``sort``, ``gradcam``, ...)."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yml"))


def resolve(workflow: str | os.PathLike) -> Path:
    """The file of a workflow given as a path or as the name of a shipped workflow."""
    path = Path(workflow)
    if path.is_file():
        return path
    if (BUILTIN_DIR / f"{workflow}.yml").is_file():
        return BUILTIN_DIR / f"{workflow}.yml"
    raise CamsortError(f"{workflow}: no such workflow file (shipped workflows: {', '.join(builtin_names())})")


def load(workflow: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a workflow file (or shipped workflow name) into its canonical spec."""
    path = resolve(workflow)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CamsortError(f"{path}: not a valid YAML workflow: {str(exc).splitlines()[0]}") from None
    return validate(data, str(path))


def dump(spec: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write a spec as a workflow file (validated first)."""
    spec = validate(spec, str(path))
    Path(path).write_text(yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=110), encoding="utf-8")
    return Path(path)


def _registry() -> dict[str, type]:
    from .operations import OPERATIONS

    return OPERATIONS


def validate(data: Any, where: str = "workflow") -> dict[str, Any]:
    """Check a parsed workflow against the registered operations; returns the canonical spec."""
    def fail(reason: str):
        raise CamsortError(f"{where}: {reason}")

    registry = _registry()
    if not isinstance(data, dict):
        fail("a workflow file is a mapping with 'operations' and 'links'")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        fail(f"unknown keys {unknown}; allowed: {', '.join(KEYS)}")
    nodes = data.get("operations")
    if not isinstance(nodes, dict) or not nodes:
        fail("'operations' must map node names to {op: NAME, params: {...}}")
    spec: dict[str, Any] = {"name": str(data.get("name", Path(where).stem)),
                            "description": str(data.get("description", "")),
                            "input": data.get("input"), "map": bool(data.get("map", False)),
                            "operations": {}, "links": []}
    for node, entry in nodes.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("op"), str):
            fail(f"operation {node!r} must be a mapping with 'op: NAME'")
        extra = sorted(set(entry) - {"op", "params"})
        if extra:
            fail(f"operation {node!r}: unknown keys {extra} (only op and params)")
        name = entry["op"]
        if name not in registry:
            fail(f"operation {node!r} names {name!r}, which is not a registered camsort operation "
                 f"(workflow files cannot import code; registered: {', '.join(registry)})")
        params = entry.get("params") or {}
        if not isinstance(params, dict):
            fail(f"operation {node!r}: params must be a mapping")
        bad = sorted(set(params) - set(registry[name].input_names))
        if bad:
            fail(f"operation {node!r} ({name}) has no inputs {bad}; inputs: {', '.join(registry[name].input_names)}")
        for param, value in params.items():
            reason = value_error(registry[name], param, value)
            if reason:
                fail(f"operation {node!r} ({name}): {param} {reason}")
        spec["operations"][str(node)] = {"op": name, "params": dict(params)} if params else {"op": name}
    for link in data.get("links") or []:
        spec["links"].append(_parse_link(link, spec["operations"], registry, fail))
    order = list(spec["operations"])
    spec["links"].sort(key=lambda s: tuple(order.index(p.split(".")[0]) for p in s.split(" -> ")))
    if spec["input"] is not None and not any(spec["input"] in registry[e["op"]].input_names
                                             for e in spec["operations"].values()):
        fail(f"input {spec['input']!r} is not an input of any operation")
    return spec


def value_error(operation: type, name: str, value: Any) -> str | None:
    """Why ``value`` does not fit input ``name`` of ``operation`` by its type, drop-down or limits (None when it
    does): a ``"no"`` given to a yes/no input must stop the run, not count as yes."""
    parameter = inspect.signature(operation._func).parameters[name]
    kind = parameter.annotation
    if kind not in KINDS or (value is None and parameter.default is None):
        return None
    if kind in (int, float):
        fits = isinstance(value, int if kind is int else (int, float)) and not isinstance(value, bool)
    else:
        fits = isinstance(value, (list, tuple) if kind is list else kind)
    if not fits:
        return f"must be {KINDS[kind]}, not {value!r}"
    choices = operation.opts.get(name, {}).get("limits")
    if choices and value not in choices:
        return f"must be one of {', '.join(map(str, choices))}, not {value!r}"
    bounds = operation.limits.get(name)
    if bounds and kind in (int, float) and not bounds[0] <= value <= bounds[1]:
        return f"must be from {bounds[0]} to {bounds[1]}, not {value!r}"
    return None


def _parse_link(link: Any, nodes: dict[str, dict], registry: dict[str, type], fail) -> str:
    """Canonical 'src.output -> dst.input' after checking both ends exist."""
    parts = str(link).split("->") if isinstance(link, str) else []
    ends = [p.strip().split(".") for p in parts]
    if len(ends) != 2 or any(len(e) != 2 for e in ends):
        fail(f"link {link!r} must read 'node.output -> node.input'")
    (src, out), (dst, inp) = ends
    for node in (src, dst):
        if node not in nodes:
            fail(f"link {link!r} names undefined operation {node!r}")
    if out not in registry[nodes[src]["op"]].output_names:
        fail(f"link {link!r}: {nodes[src]['op']} has no output {out!r}")
    if inp not in registry[nodes[dst]["op"]].input_names:
        fail(f"link {link!r}: {nodes[dst]['op']} has no input {inp!r}")
    return f"{src}.{out} -> {dst}.{inp}"


def to_workflow(spec: dict[str, Any]):
    """An ``xicam.core.execution.Workflow`` with one operation per node, its params filled and links made."""
    from xicam.core.execution import Workflow

    registry = _registry()
    workflow = Workflow(spec["name"])
    ops = {}
    for node, entry in spec["operations"].items():
        ops[node] = registry[entry["op"]](**entry.get("params", {}))
        ops[node].camsort_node = node
        workflow.add_operation(ops[node])
    for link in spec["links"]:
        (src, out), (dst, inp) = (p.split(".") for p in link.split(" -> "))
        workflow.add_link(ops[src], ops[dst], out, inp)
    workflow.camsort_spec = {k: spec[k] for k in ("description", "input", "map")}
    return workflow


def from_workflow(workflow) -> dict[str, Any]:
    """The spec of a Workflow (e.g. one edited in Xi-cam's workflow editor), ready for :func:`dump`."""
    by_func = {op._func: name for name, op in _registry().items()}
    nodes, names = {}, {}
    for op in workflow.operations:
        name = by_func.get(type(op)._func)
        if name is None:
            raise CamsortError(f"operation {op.name!r} is not a registered camsort operation; cannot save it")
        node = getattr(op, "camsort_node", None) or name
        base, n = node, 1
        while node in nodes:
            n += 1
            node = f"{base}{n}"
        names[op] = node
        params = {k: v for k, v in op.filled_values.items()}
        nodes[node] = {"op": name, "params": params} if params else {"op": name}
    links = [f"{names[s]}.{so} -> {names[d]}.{di}" for s, d, so, di in workflow.links()]
    meta = getattr(workflow, "camsort_spec", {})
    return validate({"name": workflow.name, "description": meta.get("description", ""), "input": meta.get("input"),
                     "map": meta.get("map", False), "operations": nodes, "links": links}, workflow.name or "workflow")


def with_params(spec: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """A copy of ``spec`` with ``node.param=value`` assignments applied (values parsed as YAML scalars)."""
    spec = {**spec, "operations": {k: {**v, "params": dict(v.get("params", {}))}
                                   for k, v in spec["operations"].items()}}
    for assignment in assignments:
        target, sep, value = assignment.partition("=")
        node, dot, param = target.partition(".")
        if not sep or not dot or node not in spec["operations"]:
            raise CamsortError(f"--set {assignment!r}: expected NODE.PARAM=VALUE with NODE one of "
                               f"{', '.join(spec['operations'])}")
        spec["operations"][node]["params"][param] = yaml.safe_load(value)
    return validate(spec, spec["name"])
