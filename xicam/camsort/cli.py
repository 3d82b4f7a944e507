"""The ``camsort`` command line: one subcommand per job, each a thin layer over the core.

Every subcommand is registered by an ``_add_<name>(subparsers)`` function that sets its handler
``_cmd_<name>(args) -> int``; errors camsort raises on purpose become one line on stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .errors import CamsortError

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 3
"""Exit codes: success; a camsort error; some inputs failed while the rest were processed."""


def _shape(text: str) -> tuple[int, int]:
    rows, _, cols = text.lower().partition("x")
    try:
        return int(rows), int(cols)
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape must look like ROWSxCOLS, e.g. 1043x981, not {text!r}")


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print shape, dtype, value range and metadata keys of frames")
    p.add_argument("files", nargs="+", help="detector frames (TIFF, EDF, CBF, HDF5, npy, raw, ...)")
    p.add_argument("--dataset", help="HDF5 dataset path (default: NeXus signal or largest image)")
    p.add_argument("--shape", type=_shape, help="ROWSxCOLS for headerless .raw files")
    p.add_argument("--json", action="store_true", help="one JSON object per frame")
    p.set_defaults(func=_cmd_info)


def _cmd_info(args: argparse.Namespace) -> int:
    from .io import describe, iter_patterns

    failed = 0
    for path in args.files:
        try:
            for pattern in iter_patterns(path, dataset=args.dataset, shape=args.shape):
                info = describe(pattern)
                if args.json:
                    print(json.dumps(info))
                else:
                    _print_info(info)
        except CamsortError as exc:
            print(f"camsort: error: {exc}", file=sys.stderr)
            failed += 1
    if failed == 0:
        return EXIT_OK
    return EXIT_ERROR if failed == len(args.files) else EXIT_PARTIAL


def _print_info(info: dict) -> None:
    name = info["path"] + ("" if info["frame"] is None else f" [frame {info['frame']}]")
    rng = "no valid pixel" if info["min"] is None else f"{info['min']:g} .. {info['max']:g} (mean {info['mean']:.4g})"
    keys = info["metadata_keys"]
    shown = ", ".join(keys[:12]) + (f", ... ({len(keys)} keys)" if len(keys) > 12 else "")
    print(f"{name}\n  format {info['format']}, shape {info['shape'][0]}x{info['shape'][1]}, dtype {info['dtype']}"
          f"\n  values {rng}, invalid pixels {info['invalid_pixels']}\n  metadata: {shown or '(none)'}")


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the main job on the embedded default and say where results are")
    p.add_argument("--examples", default=os.environ.get("CAMSORT_REAL_DIR", "../shared/examples/real"),
                   help="folder of example frames to describe")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .io import frame_paths

    paths = [str(p) for p in frame_paths([args.examples], recursive=True)] if os.path.isdir(args.examples) else []
    if not paths:
        raise CamsortError(f"{args.examples}: no example frames found")
    return _cmd_info(argparse.Namespace(files=paths, dataset=None, shape=None, json=False))


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_info,
    _add_demo,
]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used by the docs to list subcommands)."""
    parser = argparse.ArgumentParser(
        prog="camsort",
        description="Tell which X-ray scattering technique (SAXS, WAXS, GISAXS, GIWAXS) made each "
                    "detector frame, and sort frames by it.")
    parser.add_argument("--version", action="version", version=f"camsort {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``camsort`` script; returns the process exit code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CamsortError as exc:
        print(f"camsort: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("camsort: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
