"""The ``camsort`` command line: one subcommand per job, each a thin layer over the core.

Every subcommand is registered by an ``_add_<name>(subparsers)`` function that sets its handler
``_cmd_<name>(args) -> int``; errors camsort raises on purpose become one line on stderr.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import CamsortError, PatternReadError

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 3
"""Exit codes: success; a camsort error; some inputs failed while the rest were processed."""


def _shape(text: str) -> tuple[int, int]:
    from .io import parse_shape

    try:
        return parse_shape(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _model_option(p: argparse.ArgumentParser, threshold: bool = False) -> None:
    p.add_argument("--model", help="model directory (default: the model shipped with camsort)")
    if threshold:
        p.add_argument("--threshold", type=_probability, metavar="P",
                       help="calibrated probability below which a frame is UNSURE (default: the model's own, "
                            "0.6 for the shipped one; higher keeps fewer frames, more of them right)")
        _ignore_metadata_option(p)


def _ignore_metadata_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ignore-metadata", action="store_true",
                   help="decide by the image alone: a grazing incidence angle in the header or the file name "
                        "(th0.12, ai0.2), a technique in the file name (_SAXS, _WAXS1, GISAXS_) and the q "
                        "range of the header's geometry are then only reported, not weighed (docs/results.md)")


def _probability(text: str, low_inclusive: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 <= value <= 1 if low_inclusive else 0 < value <= 1):
        raise argparse.ArgumentTypeError(f"a probability in {'[' if low_inclusive else '('}0, 1] is needed, "
                                         f"not {text!r}")
    return value


def _whole(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum`` (frames, workers, components, epochs ...)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"a whole number of at least {minimum} is needed, not {text!r}")
        return value

    return parse


def _seconds(minimum: float, above: bool = False) -> Callable[[str], float]:
    """An argparse type: a time in seconds of at least ``minimum`` (``above``: more than it)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (value > minimum if above else value >= minimum) or value == float("inf"):
            raise argparse.ArgumentTypeError(f"seconds {'above' if above else 'of at least'} {minimum:g} are needed, "
                                             f"not {text!r}")
        return value

    return parse


def _share(text: str) -> float:
    """A share of training examples, 0 (none) to 1 (all)."""
    return _probability(text, low_inclusive=True)


def _load_model(args: argparse.Namespace) -> Any:
    """The model of ``--model`` (loaded once per process), on a copy with ``--threshold`` and
    ``--ignore-metadata`` when given."""
    from .sorter import for_run, load_cached

    return for_run(load_cached(args.model), getattr(args, "threshold", None),
                   not getattr(args, "ignore_metadata", False))


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print shape, dtype, value range and metadata keys of frames")
    p.add_argument("files", nargs="+", help="detector frames (TIFF, EDF, CBF, HDF5, npy, raw, ...)")
    _frame_options(p)
    p.add_argument("--frames", type=_whole(0), default=3, metavar="N",
                   help="describe the first N frames of a multi-frame file (default 3; 0: every frame)")
    p.add_argument("--json", action="store_true", help="one JSON object per frame")
    p.set_defaults(func=_cmd_info)


def _frame_options(p: argparse.ArgumentParser) -> None:
    """Options saying how to read a file: which HDF5/.npz dataset, which shape for a headerless .raw."""
    p.add_argument("--dataset", help="HDF5 dataset path or .npz array name (default: NeXus signal or largest image)")
    _shape_option(p)


def _shape_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shape", type=_shape, help="ROWSxCOLS of headerless .raw files whose size does not tell it")


def _cmd_info(args: argparse.Namespace) -> int:
    from .io import describe, open_frames

    failed = 0
    for path in args.files:
        try:
            with open_frames(path, dataset=args.dataset, shape=args.shape) as frames:
                shown = frames.nframes if args.frames <= 0 else min(args.frames, frames.nframes)
                for i in range(shown):
                    info = dict(describe(frames.get(i)), frames_in_file=frames.nframes)
                    if args.json:
                        print(json.dumps(info))
                    else:
                        _print_info(info)
                if shown < frames.nframes and not args.json:
                    print(f"... and {frames.nframes - shown} more frame(s) of {path} (--frames 0 describes every one)")
        except CamsortError as exc:
            _error(exc)
            failed += 1
    if failed == 0:
        return EXIT_OK
    return EXIT_ERROR if failed == len(args.files) else EXIT_PARTIAL


def _print_info(info: dict) -> None:
    from .metadata_check import said

    name = info["path"] + ("" if info["frame"] is None else f" [frame {info['frame']}]")
    rng = "no valid pixel" if info["min"] is None else f"{info['min']:g} .. {info['max']:g} (mean {info['mean']:.4g})"
    keys = info["metadata_keys"]
    shown = ", ".join(keys[:12]) + (f", ... ({len(keys)} keys)" if len(keys) > 12 else "")
    units = "" if info["count_scale"] == 1 else ("\n  not photon counts: one photon reads about "
                                                 f"{info['count_scale']:.3g} (camsort divides by it before the log)")
    hints = info["geometry_hints"]
    geometry = "\n  header geometry: " + said(hints) if hints else ""
    if info["weighed"]:
        geometry += f"\n  weighed in decisions: {'; '.join(info['weighed'])}"
    if info["sidecar"]:
        geometry += f"\n  header continued in {info['sidecar']} (its keys are among the metadata)"
    others = info["other_images"]
    if others:
        more = f", ... ({len(others)} datasets)" if len(others) > 6 else ""
        geometry += f"\n  other image datasets in the file (--dataset NAME): {', '.join(others[:6])}{more}"
    print(f"{name}\n  format {info['format']}, shape {info['shape'][0]}x{info['shape'][1]}, dtype {info['dtype']}"
          f"\n  values {rng}, invalid pixels {info['invalid_pixels']}{units}{geometry}"
          f"\n  metadata: {shown or '(none)'}")


def _add_train(sub: argparse._SubParsersAction) -> None:
    from .training import DEFAULT_RECIPE

    p = sub.add_parser("train", help="fit a sorter (featurizer -> PCA -> classifier) and save it as a model directory")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="labelled folder DIR/<TECHNIQUE>/* (e.g. written by `camsort simulate`)")
    src.add_argument("--simulate", type=_whole(1), metavar="N", help="train on N simulated frames per technique")
    src.add_argument("--default", action="store_true", help="rebuild the shipped default model by its recipe")
    p.add_argument("--out", help="model directory to write (default with --default: the package's default_model)")
    p.add_argument("--member", type=_whole(1), metavar="K",
                   help="with --default: train only member K (1, 2, ...), e.g. one per cluster job; a later "
                        "`camsort train --default` assembles the model from the members already trained")
    p.add_argument("--featurizer", default=DEFAULT_RECIPE["featurizer"])
    p.add_argument("--classifier", default=DEFAULT_RECIPE["classifier"])
    p.add_argument("--components", type=_whole(1), default=DEFAULT_RECIPE["n_components"], help="PCA components")
    p.add_argument("--size", type=_whole(1), default=DEFAULT_RECIPE["size"], help="preprocessed image side")
    p.add_argument("--negatives", type=_whole(0), default=DEFAULT_RECIPE["negatives"],
                   help="NOT_SCATTERING examples (blank, noise, photos, micrographs) added to training")
    p.add_argument("--roi-share", type=_share, default=DEFAULT_RECIPE["roi_share"], metavar="P",
                   help="share of simulated frames cut to a region of interest (with --simulate), for users whose "
                        "frames are crops")
    p.add_argument("--negatives-on-detectors", type=_share, default=DEFAULT_RECIPE["negatives_on_detectors"],
                   metavar="P",
                   help="share of the NOT_SCATTERING examples laid out on detector layouts with module gaps")
    p.add_argument("--threshold", type=_probability, default=DEFAULT_RECIPE["threshold"],
                   help="calibrated probability below which a frame is UNSURE")
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=DEFAULT_RECIPE["mirror"],
                   help="predict by the mean over each frame and its left-right mirror image (twice the network time)")
    p.add_argument("--seed", type=int, default=DEFAULT_RECIPE["seed"])
    p.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from .sorter import DEFAULT_MODEL_DIR, Sorter
    from .training import folder_set, simulated_set, train_default, train_default_member

    if args.member is not None and not args.default:
        raise CamsortError("--member K needs --default")
    if args.default:
        target = args.out or DEFAULT_MODEL_DIR
        if args.member is None:
            report, out = train_default(target)[1], target
        else:
            report = train_default_member(args.member, target).info["held_out"]
            out = f"member {args.member} of {target}"
    else:
        if not args.out:
            raise CamsortError("--out MODEL_DIR is required")
        if args.data:
            X, y = folder_set(args.data, args.size, args.negatives, args.seed,
                              negatives_on_detectors=args.negatives_on_detectors)
        else:
            X, y = simulated_set(args.simulate, args.seed, args.size, args.negatives, roi_share=args.roi_share,
                                 negatives_on_detectors=args.negatives_on_detectors)
        sorter = Sorter.train(X, y, featurizer=args.featurizer, classifier=args.classifier,
                              n_components=args.components, size=args.size, threshold=args.threshold,
                              seed=args.seed, mirror=args.mirror,
                              info={"data": args.data or f"simulated {args.simulate}/class",
                                    "roi_share": 0.0 if args.data else args.roi_share,
                                    "negatives_on_detectors": args.negatives_on_detectors})
        report = sorter.info["calibration"]
        sorter.save(args.out)
        out = args.out
    print(json.dumps({"model": str(out), **{k: v for k, v in report.items() if k != "confusion"}}, indent=1))
    return EXIT_OK


def _add_adapt(sub: argparse._SubParsersAction) -> None:
    from .adapt import USER_SHARE

    p = sub.add_parser("adapt", help="refit a model's heads on a few labelled frames of your own instrument "
                                     "(the networks stay as trained)")
    p.add_argument("--data", required=True, help="labelled folder DIR/<TECHNIQUE or NOT_SCATTERING>/* of your frames")
    p.add_argument("--out", required=True, help="model directory to write")
    _model_option(p)
    p.add_argument("--simulated", type=_whole(0), default=500, metavar="N",
                   help="simulated frames per technique mixed in, so that the other instruments and classes stay known")
    p.add_argument("--user-share", type=_probability, default=USER_SHARE, metavar="P",
                   help="share of the heads' fitting rows that are your frames (they are repeated as needed)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_adapt)


def _cmd_adapt(args: argparse.Namespace) -> int:
    from collections import Counter

    from .adapt import adapt, base_name, labelled_frames
    from .sorter import Sorter

    base = Sorter.load(args.model)
    X, y, skipped = labelled_frames(args.data, base.size)
    for line in skipped:
        print(f"camsort: skipped: {line}", file=sys.stderr)
    adapted = adapt(base, X, y, simulated_per_class=args.simulated, user_share=args.user_share, seed=args.seed,
                    info={"base": base_name(args.model), "data": str(args.data)})
    adapted.save(args.out)
    members = getattr(adapted, "members", [adapted])
    print(json.dumps({"model": str(args.out), "frames": dict(Counter(y)), "skipped_files": len(skipped),
                      "calibration_accuracy": [round(m.info["calibration"]["calibration_accuracy"], 4)
                                               for m in members]},
                     indent=1))
    return EXIT_PARTIAL if skipped else EXIT_OK


def _add_sort(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sort", help="sort frames into OUT/<TECHNIQUE>/ with a manifest (originals untouched)")
    p.add_argument("inputs", nargs="+", help="files and/or folders of detector frames")
    p.add_argument("--out", required=True, help="output folder (created; existing files are never overwritten)")
    _model_option(p, threshold=True)
    _mode_option(p)
    p.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    _all_detectors_option(p)
    _shape_option(p)
    p.add_argument("--workers", type=_whole(1), default=min(4, os.cpu_count() or 1), help="reader threads")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_sort)


def _mode_option(p: argparse.ArgumentParser) -> None:
    from .sortjob import MODES

    p.add_argument("--mode", choices=MODES, default="copy",
                   help="how a frame reaches OUT/<TECHNIQUE>/: a byte-identical copy (default), a hard link (same "
                        "file system), a symbolic link, or only its manifest row")


def _all_detectors_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--all-detectors", action="store_true",
                   help="also sort the frames of the other detectors' image datasets of an HDF5 file (SAXS and "
                        "WAXS detectors in one file), each frame written as a TIFF into its technique's folder")


def _cmd_sort(args: argparse.Namespace) -> int:
    from .sortjob import sort_frames

    summary = sort_frames(args.inputs, args.out, _load_model(args), mode=args.mode,
                          recursive=args.recursive, workers=args.workers, progress=not args.quiet,
                          all_detectors=args.all_detectors, shape=args.shape)
    return _summarised(summary)


def _summarised(summary: Any) -> int:
    """Print a sort run's summary, and its errors on stderr; the exit code (3 when some files failed)."""
    for line in summary.lines():
        print(line)
    for error in summary.errors:
        _error(error)
    return EXIT_PARTIAL if summary.errors else EXIT_OK


def _error(message: object) -> None:
    """One error on stderr, on one line, as every command prints it (a file's error names the file)."""
    print(f"camsort: error: {message}", file=sys.stderr)


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="print the technique and class probabilities of frames")
    p.add_argument("files", nargs="+", help="frame files, or folders of them")
    p.add_argument("--recursive", "-r", action="store_true", help="also the frames in sub-folders of a folder")
    _model_option(p, threshold=True)
    _frame_options(p)
    p.add_argument("--json", action="store_true", help="one JSON object per frame")
    p.add_argument("--gradcam", metavar="DIR", help="also write a Grad-CAM overlay PNG per frame into DIR")
    p.set_defaults(func=_cmd_predict)


def _cmd_predict(args: argparse.Namespace) -> int:
    from itertools import islice

    from . import CLASSES
    from .io import NoFrameFiles, frame_paths, iter_patterns
    from .sortjob import STACK_PART

    sorter = _load_model(args)
    unlisted: list[str] = []
    paths = frame_paths(args.files, args.recursive, unlisted)
    if not paths:
        raise NoFrameFiles(args.files, args.recursive, unlisted)
    for reason in unlisted:
        _error(reason)
    failed = 0
    if not args.json:
        print(f"{'file':<40} {'technique':<15}" + "".join(f"{c[:8]:>9}" for c in CLASSES))
    for path in paths:
        try:  # a long stack a few dozen frames at a time, never whole
            frames = iter_patterns(path, dataset=args.dataset, shape=args.shape)
            while patterns := list(islice(frames, STACK_PART)):
                _predict_frames(sorter, patterns, args)
        except CamsortError as exc:
            _error(exc)
            failed += 1
    if failed == 0 and not unlisted:
        return EXIT_OK
    return EXIT_ERROR if failed == len(paths) else EXIT_PARTIAL


def _predict_frames(sorter: Any, patterns: list, args: argparse.Namespace) -> None:
    """Decide ``patterns`` together and print a row (or JSON line) each; ``--gradcam`` writes their overlays."""
    import numpy as np

    from . import CLASSES
    from .calibration import shown
    from .ensemble import describe_members
    from .metadata_check import metadata_note, patterns_odds
    from .preprocess import preprocess

    images = np.stack([preprocess(p.data, sorter.size) for p in patterns])
    results = sorter.reconsider(sorter.decide(images), patterns_odds(patterns))
    for pattern, result in zip(patterns, results):
        check = metadata_note(result, pattern.claims)
        members = result.get("members", [])
        if args.json:
            print(json.dumps({"path": pattern.source, "frame": pattern.frame, "technique": result["label"],
                              "probabilities": dict(zip(CLASSES, result["probabilities"])),
                              "confidence": result["confidence"], "metadata_check": check,
                              **({"members": [{"technique": t, "probability": p} for t, p in members]}
                                 if members else {})}))
        else:
            split = len({t for t, _ in members}) > 1
            print(f"{pattern.name[-40:]:<40} {result['label']:<15}"
                  + "".join(f"{shown(p, 3):9.3f}" for p in result["probabilities"]) + (f"  ! {check}" if check else "")
                  + (f"  ! members disagree: {describe_members(members)}" if split else ""))
    if args.gradcam:
        from .gradcam import explain_images

        for png in explain_images(sorter, [p.name for p in patterns], images, args.gradcam):
            print(f"  Grad-CAM: {png}", file=sys.stderr)


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a model on a labelled folder: accuracy, UNSURE rate, confusion matrix")
    p.add_argument("data", help="labelled folder DIR/<TECHNIQUE>/* or with labels.csv (e.g. from `camsort simulate`)")
    _model_option(p, threshold=True)
    p.add_argument("--errors", metavar="PNG", help="also render the frames whose top class is wrong")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from . import CLASSES
    from .training import evaluate_folder

    report, wrong = evaluate_folder(args.data, _load_model(args))
    for error in report["errors"]:
        _error(error)
    if args.errors and wrong:
        from .contact_sheet import error_sheet

        report["errors_png"] = str(error_sheet(wrong, args.errors))
    if args.json:
        print(json.dumps({"model": str(args.model or "default"), **report}, indent=1))
    else:
        print(f"{report['n']} frames: top-1 accuracy {report['top1_accuracy']:.4f}, accuracy with UNSURE counted "
              f"wrong {report['accuracy']:.4f}, UNSURE {report['abstained']:.4f}, unreadable {report['unreadable']}")
        print(f"sorted into a folder (not UNSURE): {1 - report['abstained']:.1%} of frames, "
              f"{_percent(report['sorted_accuracy'])} of them right")
        print("confidence at least " + ", ".join(f"{t}: {v['coverage']:.0%} of frames, {_percent(v['accuracy'])} right"
                                                 for t, v in report["coverage_at"].items()))
        print("truth/predicted ".ljust(16) + "".join(f"{c[:8]:>9}" for c in CLASSES))
        for name, row in zip(CLASSES, report["confusion"]):
            if any(row):
                print(f"{name:<16}" + "".join(f"{v:9d}" for v in row))
        if len(report["by_detector"]) > 1:
            print("by detector (frame shape)".ljust(34) + "frames   top-1  UNSURE  sorted right")
            for shape, v in report["by_detector"].items():
                print(f"{shape:<34}{v['n']:6d}{v['top1_accuracy']:8.1%}{v['abstained']:8.1%}"
                      f"{_percent(v['sorted_accuracy']):>14}")
        if "errors_png" in report:
            print(f"misclassified frames: {report['errors_png']}")
    return EXIT_OK if not report["errors"] else EXIT_PARTIAL


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="simulate a mixed folder, sort it with the default model, report")
    p.add_argument("--out", default="demo-output", help="folder for the demo's inputs and results")
    p.add_argument("--per-class", type=_whole(1), default=25, help="simulated frames per technique")
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.out, per_class=args.per_class, seed=args.seed)


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    from .simulate.beamlines import BEAMLINES
    from .simulate.detector import KNOWN_DETECTORS, UNSEEN_DETECTORS

    p = sub.add_parser("simulate",
                       help="write a labelled dataset of simulated frames (OUT/<TECHNIQUE>/*.tif + labels.csv)")
    p.add_argument("--out", required=True)
    p.add_argument("--per-class", type=_whole(1), default=100, help="frames per technique (BL); total for UB")
    p.add_argument("--dataset", choices=("BL", "UB"), default="BL",
                   help="BL: equal counts; UB: --per-class x 4 frames in the paper's Table I proportions")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", default="native", help="'native' or a long-side size to sum-bin frames to, e.g. 256")
    p.add_argument("--beamline", choices=sorted(BEAMLINES),
                   help="one fixed set-up per technique, as in the paper's data (default: randomised instruments)")
    p.add_argument("--detector", choices=sorted(KNOWN_DETECTORS),
                   help=f"every frame on this detector; {', '.join(UNSEEN_DETECTORS)} are in no training set")
    p.set_defaults(func=_cmd_simulate)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from .datasets import ub_counts, write_dataset

    size = None if args.size == "native" else int(args.size)
    counts = ub_counts(4 * args.per_class) if args.dataset == "UB" else args.per_class
    labels = write_dataset(args.out, counts, seed=args.seed, size=size, progress=True, beamline=args.beamline,
                           detector=args.detector)
    print(f"labels: {labels}\ncatalog: {labels.with_name('catalog.yml')}")
    return EXIT_OK


def _add_contact_sheet(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("contact-sheet", help="render a labelled folder as a PNG grid, a row per technique")
    p.add_argument("data", help="labelled folder")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--per-class", type=_whole(1), default=8)
    p.add_argument("--real", help="folder of real frames REAL/<TECHNIQUE>/* shown beside each row")
    p.set_defaults(func=_cmd_contact_sheet)


def _cmd_contact_sheet(args: argparse.Namespace) -> int:
    from .contact_sheet import contact_sheet

    print(contact_sheet(args.data, args.out, args.per_class, args.real))
    return EXIT_OK


def _add_index(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="build a similarity index (sorter features) over frames")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--out", required=True, help="index file to write (.npz)")
    p.add_argument("--model", help="model directory (default: the shipped model)")
    p.add_argument("--recursive", "-r", action="store_true")
    p.set_defaults(func=_cmd_index)


def _cmd_index(args: argparse.Namespace) -> int:
    from .similar import build_index

    out, errors = build_index(_load_model(args), args.inputs, args.out, recursive=args.recursive)
    for error in errors:
        _error(error)
    print(out)
    return EXIT_PARTIAL if errors else EXIT_OK


def _add_similar(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("similar", help="the indexed frames most similar to a query frame (Fig. 2 retrieval)")
    p.add_argument("query")
    p.add_argument("--index", required=True, help="index written by `camsort index`")
    p.add_argument("--top", type=_whole(1), default=10)
    p.add_argument("--model", help="the model the index was built with (default: the shipped model)")
    p.add_argument("--png", help="write a strip of the query and its matches")
    p.set_defaults(func=_cmd_similar)


def _cmd_similar(args: argparse.Namespace) -> int:
    from .io import read_pattern
    from .preprocess import preprocess
    from .similar import query, save_strip

    sorter = _load_model(args)
    image = preprocess(read_pattern(args.query).data, sorter.size)
    matches = query(sorter, args.index, image, args.top)
    for rank, (name, distance) in enumerate(matches, 1):
        print(f"{rank:3d}  {distance:8.3f}  {name}")
    if args.png:
        print(save_strip(image, matches, args.png, sorter.size), file=sys.stderr)
    return EXIT_OK


def _add_watch(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("watch", help="sort new frames in a folder as they land (Ctrl-C to stop)")
    p.add_argument("inputs", nargs="+", help="folders (or files) the detector writes into; a folder not made yet "
                                             "is waited for")
    p.add_argument("--out", required=True, help="output folder (created; existing files are never overwritten)")
    _model_option(p, threshold=True)
    _mode_option(p)
    p.add_argument("--settle", type=_seconds(0), default=2.0,
                   help="seconds a file must stop changing before it is read")
    p.add_argument("--interval", type=_seconds(0, above=True), default=1.0, help="seconds between polls")
    p.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    _all_detectors_option(p)
    _shape_option(p)
    p.set_defaults(func=_cmd_watch)


def _cmd_watch(args: argparse.Namespace) -> int:
    from .sortjob import refuse_inputs_inside
    from .watch import watch

    def report(summary) -> None:
        rewritten = [f"{summary.changed} rewritten since sorted, sorted again"] if summary.changed else []
        print("; ".join(summary.lines()[:1] + [f"{k} {v}" for k, v in sorted(summary.counts.items())] + rewritten),
              flush=True)
        for error in summary.errors:
            _error(error)

    def waiting(reason: str) -> None:
        print(f"camsort: waiting: {reason}", file=sys.stderr, flush=True)

    refuse_inputs_inside(args.inputs, Path(args.out).resolve())  # before the model loads and the watch is told
    print(f"watching {', '.join(args.inputs)} -> {args.out} (Ctrl-C to stop)", flush=True)
    watch(args.inputs, args.out, _load_model(args), settle=args.settle, interval=args.interval,
          recursive=args.recursive, mode=args.mode, all_detectors=args.all_detectors, shape=args.shape,
          on_pass=report, on_busy=waiting)
    return EXIT_OK


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure throughput and latency against references from the same run")
    p.add_argument("--quick", action="store_true", help="100 frames instead of 1000")
    p.add_argument("--json", dest="json_out", help="write the figures as JSON")
    p.add_argument("--model", help="model directory (default: the shipped model)")
    p.set_defaults(func=_cmd_bench)


def _cmd_bench(args: argparse.Namespace) -> int:
    from .bench import main as bench_main

    bench_main(args.quick, args.json_out, args.model)
    return EXIT_OK


def _add_executor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", default="process",
                   help="process (this process), local (dask LocalCluster), slurm (dask-jobqueue; needs --config) "
                        "or a running scheduler: its address tcp://HOST:PORT or its scheduler file (.json)")
    p.add_argument("--workers", type=_whole(1), default=2, help="dask workers (local) or worker jobs (slurm)")
    p.add_argument("--threads", type=_whole(1), default=1, help="threads per local worker")
    p.add_argument("--config", help="executor profile for slurm, e.g. hpc/perlmutter.yaml or hpc/local.yaml")
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan (and, for slurm, the generated batch script) without running")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def _dry_run(args: argparse.Namespace, plan: list[str]) -> int:
    for line in plan:
        print(line)
    if args.executor == "slurm":
        from .executors import slurm_cluster

        if not args.config:
            raise CamsortError("the slurm executor needs --config PROFILE.yaml (see hpc/)")
        cluster = slurm_cluster(args.config, args.threads)
        try:
            print(cluster.job_script())
        finally:
            cluster.close()
    return EXIT_OK


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="execute a workflow file (workflows/*.yml) headless through an executor")
    p.add_argument("workflow", help="a workflow YAML file, or a shipped one: sort, gradcam, lenet_pca_rf, sweep")
    p.add_argument("--input", "-i", nargs="+", required=True, help="input files/folders (or the one input)")
    p.add_argument("--out", "-o", required=True, help="output folder (re-running resumes)")
    p.add_argument("--model", help="model directory (default: the shipped model)")
    _mode_option(p)
    p.add_argument("--recursive", "-r", action="store_true", help="descend into sub-folders")
    p.add_argument("--batch-size", type=_whole(1), default=32, help="files per task")
    _all_detectors_option(p)
    _shape_option(p)
    _ignore_metadata_option(p)
    p.add_argument("--set", dest="assignments", action="append", default=[], metavar="NODE.PARAM=VALUE",
                   help="override an operation parameter (repeatable)")
    _add_executor_args(p)
    p.set_defaults(func=_cmd_run)


def _cmd_run(args: argparse.Namespace) -> int:
    from . import workflows
    from .executors import DaskExecutor
    from .runner import run_mapped, run_single

    spec = workflows.with_params(workflows.load(args.workflow), args.assignments)
    if args.dry_run:
        nodes = ", ".join(f"{n} ({e['op']})" for n, e in spec["operations"].items())
        return _dry_run(args, [
            f"workflow {spec['name']}: {nodes}", *(f"  {link}" for link in spec["links"]),
            f"inputs: {' '.join(args.input)} -> {spec['input']} "
            f"({'batches of ' + str(args.batch_size) + ' files' if spec['map'] else 'one execution'})",
            f"executor: {args.executor} with {args.workers} worker(s)"])
    with DaskExecutor.start(args.executor, args.workers, args.threads, args.config) as executor:
        if not spec["map"]:
            print(run_single(spec, args.input, args.out, executor, model=args.model, progress=not args.quiet))
            return EXIT_OK
        summary = run_mapped(spec, args.input, args.out, executor, model=args.model, mode=args.mode,
                             recursive=args.recursive, batch_size=args.batch_size, progress=not args.quiet,
                             all_detectors=args.all_detectors, weigh_metadata=not args.ignore_metadata,
                             shape=args.shape)
    return _summarised(summary)


def _add_study_args(p: argparse.ArgumentParser) -> None:
    from .classify import CLASSIFIERS

    p.add_argument("--data", required=True, help="labelled folder (e.g. `camsort simulate --dataset UB`)")
    p.add_argument("--out", required=True, help="results folder (re-running resumes)")
    p.add_argument("--featurizers", nargs="+", default=["hist", "glcm", "lenet-fast"],
                   help="featurize methods, trained on the other half of the frames; lenet-pretrained is the "
                        "shipped model's network, frozen, lenet-finetuned the same network fine-tuned there (on the "
                        "frames as recorded; BLA's with flips and turns), and lenet-ensemble-finetuned each of the "
                        "shipped ensemble's networks fine-tuned there, side by side")
    p.add_argument("--classifiers", nargs="+", default=list(CLASSIFIERS), choices=CLASSIFIERS)
    p.add_argument("--variants", nargs="+", default=["UB", "BL", "BLA"], choices=["UB", "BL", "BLA"])
    p.add_argument("--folds", type=_whole(2), default=5)
    p.add_argument("--tune-iter", type=_whole(0), default=0,
                   help="randomized-search candidates per training fold (0: library defaults)")
    p.add_argument("--components", type=_whole(1), default=5,
                   help="PCA components before each classifier (the paper's 5)")
    p.add_argument("--size", type=_whole(1), default=128)
    p.add_argument("--seed", type=int, default=0)


def _add_study(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="the paper's Algorithm 1: featurizations x datasets x classifiers, k-fold CV")
    _add_study_args(p)
    p.set_defaults(func=_cmd_study)


def _cmd_study(args: argparse.Namespace, mapper=None) -> int:
    from .study import run_in_process, run_study

    print(run_study(args.data, args.out, args.featurizers, args.classifiers, args.variants, folds=args.folds,
                    size=args.size, seed=args.seed, tune_iter=args.tune_iter, n_components=args.components,
                    mapper=mapper or run_in_process))
    return EXIT_OK


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="Algorithm 1 with every combination mapped to dask workers (workflows/sweep.yml)")
    _add_study_args(p)
    p.add_argument("--workflow", default="sweep", help="the per-combination workflow (default: shipped sweep.yml)")
    _add_executor_args(p)
    p.set_defaults(func=_cmd_sweep)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from . import workflows
    from .executors import DaskExecutor
    from .runner import sweep_mapper

    spec = workflows.load(args.workflow)
    if args.dry_run:
        return _dry_run(args, [f"sweep: {len(args.featurizers)} featurizer(s) x {len(args.variants)} variant(s) x "
                               f"{len(args.classifiers)} classifier(s) through workflow {spec['name']}",
                               f"executor: {args.executor} with {args.workers} worker(s)"])
    with DaskExecutor.start(args.executor, args.workers, args.threads, args.config) as executor:
        return _cmd_study(args, mapper=sweep_mapper(executor, spec, progress=not args.quiet))


def _add_train_cnn(sub: argparse._SubParsersAction) -> None:
    from .features.cnn import APPS, MODES
    from .features.lenet import ARCHS

    p = sub.add_parser("train-cnn",
                       help="train a LeNet or a keras.applications CNN on a labelled folder, save as .keras")
    p.add_argument("--arch", choices=ARCHS + tuple(APPS), default="lenet-fast")
    p.add_argument("--mode", choices=MODES, default="finetune",
                   help="keras.applications networks: from ImageNet weights (finetune), frozen ImageNet features "
                        "with a fitted softmax head (pretrained) or from random weights (scratch)")
    p.add_argument("--weights", help="ImageNet weights .h5 for the keras.applications networks "
                                     "(default: Keras' cache, ~/.keras/models)")
    p.add_argument("--data", required=True, help="labelled folder DIR/<TECHNIQUE>/*")
    p.add_argument("--out", required=True, help="MODEL.keras to write")
    p.add_argument("--epochs", type=_whole(1), default=30)
    p.add_argument("--size", type=_whole(1), default=128,
                   help="image side read from the folder (the paper's LeNet used 256; the keras.applications "
                        "networks resize it to their 224/299 inside the model)")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_train_cnn)


def _featurizer(arch: str, mode: str, weights: str | None, **params: Any):
    """The featurizer ``arch`` by name; a keras.applications network also gets ``mode`` and ``weights``."""
    from .features import make_featurizer
    from .features.cnn import APPS

    if arch in APPS:
        params.update(mode=mode, weights_path=weights)
    return make_featurizer(arch, **params)


def _cmd_train_cnn(args: argparse.Namespace) -> int:
    from .datasets import labelled_images

    X, y, _ = labelled_images(args.data, args.size)
    net = _featurizer(args.arch, args.mode, args.weights, epochs=args.epochs, optimizer=args.optimizer,
                   seed=args.seed).fit(X, y)
    net.save(args.out)
    history = net.history_
    accuracy = history.get("val_accuracy") or history["accuracy"]
    print(json.dumps({"model": args.out, "arch": args.arch, "epochs_run": len(history["loss"]),
                      "initial_weights": getattr(net, "initial_weights_", "random"),
                      "best_val_accuracy" if "val_accuracy" in history else "train_accuracy": max(accuracy)}))
    return EXIT_OK


def _add_featurize(sub: argparse._SubParsersAction) -> None:
    from .features import FEATURIZERS

    p = sub.add_parser("featurize", help="feature matrix of a labelled folder as .npz (features, labels, paths)")
    p.add_argument("--method", choices=sorted(FEATURIZERS), required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True, help="features.npz to write")
    p.add_argument("--model", help="a .keras file from `camsort train-cnn` (needed for the LeNets; without it a "
                                   "keras.applications network gives its frozen ImageNet features)")
    p.add_argument("--weights", help="ImageNet weights .h5 for a keras.applications network without --model")
    p.add_argument("--size", type=_whole(1), default=128)
    p.set_defaults(func=_cmd_featurize)


def _cmd_featurize(args: argparse.Namespace) -> int:
    import numpy as np

    from . import TECHNIQUES
    from .datasets import labelled_images
    from .features.cnn import KerasAppFeatures
    from .features.lenet import LeNetFeatures

    X, y, table = labelled_images(args.data, args.size)
    featurizer = _featurizer(args.method, "pretrained", args.weights)  # used without --model
    if args.model:
        if not isinstance(featurizer, LeNetFeatures):
            raise CamsortError(f"--method {args.method} takes no --model (it is not a network)")
        featurizer.load_weights_from(args.model)
    elif isinstance(featurizer, KerasAppFeatures):
        featurizer.fit(X, y)
    elif isinstance(featurizer, LeNetFeatures):
        raise CamsortError(f"--method {args.method} needs --model MODEL.keras (train one with `camsort train-cnn`)")
    else:
        featurizer.fit(X)
    F = featurizer.transform(X)
    np.savez(args.out, features=F, labels=np.array([TECHNIQUES[i] for i in y]), paths=np.array(table["path"]),
             names=np.array(featurizer.get_feature_names_out(), dtype=str))
    print(f"{args.out}: {F.shape[0]} patterns x {F.shape[1]} features")
    return EXIT_OK


def _add_gradcam(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gradcam", help="write Grad-CAM overlay PNGs (where the CNN looked) for frames")
    p.add_argument("files", nargs="+")
    p.add_argument("--out", required=True, help="folder for the overlays")
    p.add_argument("--model", help="model directory with a CNN featurizer (default: the shipped model)")
    p.set_defaults(func=_cmd_gradcam)


def _cmd_gradcam(args: argparse.Namespace) -> int:
    from .gradcam import explain_files

    sorter = _load_model(args)
    failed = 0
    for path in args.files:
        try:
            for png in explain_files(sorter, [path], args.out):
                print(png)
        except PatternReadError as exc:
            _error(exc)
            failed += 1
    if failed == 0:
        return EXIT_OK
    return EXIT_ERROR if failed == len(args.files) else EXIT_PARTIAL


def _add_gui(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open Xi-cam with the CamSort plugin (or save a screenshot of it and exit)")
    p.add_argument("files", nargs="*", help="frames and/or folders to load at start")
    _model_option(p)
    p.add_argument("--screenshot", metavar="PNG", help="render offscreen, wait for the predictions, save PNG, exit")
    p.add_argument("--select", type=_whole(0), default=0, metavar="N",
                   help="table row shown in the screenshot (default 0)")
    p.add_argument("--executor", default="process",
                   help="where predictions run: process (a thread), local (dask LocalCluster) or a scheduler address")
    p.add_argument("--workers", type=_whole(1), default=2, help="dask workers for --executor local")
    p.set_defaults(func=_cmd_gui)


def _cmd_gui(args: argparse.Namespace) -> int:
    from . import compat  # noqa: F401  (before Xi-cam: Python 3.11 / numpy 2 aliases)
    from .gui.app import run

    return run(args.files, model_dir=args.model, screenshot=args.screenshot, select=args.select,
               executor=args.executor, workers=args.workers)


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_info,
    _add_simulate,
    _add_contact_sheet,
    _add_train,
    _add_adapt,
    _add_train_cnn,
    _add_featurize,
    _add_sort,
    _add_predict,
    _add_gradcam,
    _add_index,
    _add_similar,
    _add_watch,
    _add_study,
    _add_run,
    _add_sweep,
    _add_bench,
    _add_evaluate,
    _add_demo,
    _add_gui,
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
    # TensorFlow's Python logger warns of tracing and of its own deprecations, tifffile logs each damaged tag of
    # a file as an error without naming the file: noise in a user's terminal (a file that cannot be read gets
    # camsort's own one-line error)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 is printed escaped, never a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CamsortError as exc:
        _error(exc)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("camsort: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
