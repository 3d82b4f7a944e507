"""Damaged frame files of every format camsort writes a sample of: each must read as frames or fail with a named
error, never hang the reader or escape it as a crash.

Files are cut short (a full disk, an interrupted copy) or have a few bytes changed, mostly in their headers
(a bad sector, a bit flip). Each intact file is written by the field's own writer (tifffile, fabio, h5py,
numpy), then damaged copies are read one by one with ``io.iter_patterns``, each in a thread given ``--timeout``
seconds, and the folder is listed with ``io.frame_paths`` (which opens HDF5 files to follow their links)::

    python benchmarks/damaged_files.py [FOLDER] [--per-format 150] [--seed 7] [--timeout 20]

The exit code is 1 when a read hung or crashed, or the listing crashed.
"""
from __future__ import annotations

import argparse
import gzip
import io
import logging
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

import numpy as np

from xicam.camsort.errors import PatternReadError
from xicam.camsort.io import frame_paths, iter_patterns

OUTCOMES = ("frames", "error", "hang", "crash")
"""What reading a damaged file may end in: frames (damaged pixels are still a frame), a named error (the
``PatternReadError`` every reader raises), or what must never happen: no end within the time given, or another
exception escaping the reader."""


def intact_files(folder: Path, seed: int) -> list[Path]:
    """One intact frame file per format, each written as its format's own library writes it."""
    import fabio
    import h5py
    import tifffile
    from fabio.adscimage import AdscImage
    from fabio.bruker100image import Bruker100Image
    from fabio.esperantoimage import EsperantoImage
    from fabio.marccdimage import MarccdImage

    frame = np.random.default_rng(seed).poisson(30, (64, 64)).astype(np.int32)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, frame)
    (folder / "frame.tif").write_bytes(buffer.getvalue())
    np.save(folder / "frame.npy", frame)
    with h5py.File(folder / "frame.h5", "w") as fh:
        fh["entry/data/data"] = frame[None]
    fabio.edfimage.EdfImage(data=frame).write(str(folder / "frame.edf"))
    fabio.cbfimage.CbfImage(data=frame).write(str(folder / "frame.cbf"))
    Bruker100Image(data=frame).write(str(folder / "frame.gfrm"))
    MarccdImage(data=frame.astype(np.uint16)).write(str(folder / "frame.mccd"))
    AdscImage(data=frame).write(str(folder / "frame.img"))
    EsperantoImage(data=frame).write(str(folder / "frame.esperanto"))
    for name in ("frame.cbf", "frame.edf"):
        (folder / f"{name}.gz").write_bytes(gzip.compress((folder / name).read_bytes()))
    return sorted(folder.iterdir())


def damaged_copies(intact: list[Path], folder: Path, per_format: int, seed: int) -> list[Path]:
    """``per_format`` damaged copies of each intact file in ``folder``: three in ten cut short at a random
    length, the rest with one to five bytes changed, four in five of those within the first 1,500 bytes."""
    rng = np.random.default_rng(seed)
    made = []
    for source in intact:
        data = source.read_bytes()
        ending = source.name[len("frame"):]
        for k in range(per_format):
            damaged = bytearray(data)
            if rng.random() < 0.3:
                damaged = damaged[: int(rng.integers(1, len(damaged)))]
            else:
                for _ in range(int(rng.integers(1, 6))):
                    at = int(rng.integers(0, min(len(damaged), 1500)) if rng.random() < 0.8
                             else rng.integers(0, len(damaged)))
                    damaged[at] = int(rng.integers(0, 256))
            made.append(folder / f"damaged_{k:04d}{ending}")
            made[-1].write_bytes(bytes(damaged))
    return made


def outcome(path: Path, timeout: float) -> str:
    """How reading ``path`` ends (one of :data:`OUTCOMES`)."""
    ended: list[str] = []

    def read() -> None:
        try:
            list(iter_patterns(path))
            ended.append("frames")
        except PatternReadError:
            ended.append("error")
        except Exception as exc:  # what a reader must never let out
            print(f"crash: {path.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            ended.append("crash")

    thread = threading.Thread(target=read, daemon=True)  # a hung read cannot be stopped: it is left behind
    thread.start()
    thread.join(timeout)
    if not ended:
        print(f"hang: {path.name}: no end after {timeout:g} s", file=sys.stderr)
    return ended[0] if ended else "hang"


def run(folder: Path, per_format: int, seed: int, timeout: float) -> tuple[dict[str, Counter], str]:
    """Outcomes per format ending of the damaged copies made in ``folder``, and what listing the folder gave."""
    for part in ("intact", "damaged"):
        (folder / part).mkdir()
    copies = damaged_copies(intact_files(folder / "intact", seed), folder / "damaged", per_format, seed)
    table: dict[str, Counter] = {}
    for path in copies:
        table.setdefault(path.name.split(".", 1)[1], Counter())[outcome(path, timeout)] += 1
    try:
        listing = f"{len(frame_paths([folder / 'damaged']))} of {len(copies)} files listed as frame files"
    except Exception as exc:  # the listing opens HDF5 files to follow their links
        listing = f"crash: {type(exc).__name__}: {exc}"
    return table, listing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?",
                        help="a new or empty folder to write the files to and keep them in, to look at after "
                             "(default: a temporary folder, removed at the end)")
    parser.add_argument("--per-format", type=int, default=150, help="damaged copies of each intact file")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds a read may take before it hangs")
    args = parser.parse_args(argv)
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)  # it logs each damaged tag; the table counts files
    if args.folder:
        folder = Path(args.folder)
        folder.mkdir(parents=True, exist_ok=True)
        if any(folder.iterdir()):
            parser.error(f"{folder}: the folder is not empty; give a new or empty one")
        table, listing = run(folder, args.per_format, args.seed, args.timeout)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            table, listing = run(Path(tmp), args.per_format, args.seed, args.timeout)
    total = sum(table.values(), Counter())
    print(f"{'format':<14}{'files':>7}" + "".join(f"{o:>8}" for o in OUTCOMES))
    for name, counts in [*sorted(table.items()), ("all", total)]:
        print(f"{'.' + name if name != 'all' else name:<14}{sum(counts.values()):>7}"
              + "".join(f"{counts[o]:>8}" for o in OUTCOMES))
    print(f"listing the folder: {listing}")
    return 1 if total["hang"] or total["crash"] or listing.startswith("crash") else 0


if __name__ == "__main__":
    sys.exit(main())
