"""Copy mode against manifest-only on the filesystems a facility sorts on, in one run.

Copy mode copies with ``copy_file_range``: a reflink clone on XFS or Btrfs, a server-side copy on
NFS 4.2, an ordinary kernel copy elsewhere. For each ROOT this writes N distinct Pilatus-1M TIFFs
there, then times a plain ``shutil.copy2`` of them (the filesystem's reference), ``camsort sort
--mode manifest-only`` and ``camsort sort`` (copy) into ROOT, and prints the rates and the ratio of
copy to manifest-only (1.0: the copy costs nothing)::

    python benchmarks/copy_modes.py /tmp /mnt/xfs [--frames 1000] [--model DIR]
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from xicam.camsort.bench import _write_frames, copy_rate, sort_rate
from xicam.camsort.sorter import load_cached


def measure(root: str, frames: int, sorter) -> dict[str, float]:
    """Rates on one filesystem: plain copy (files/s), manifest-only and copy-mode sort (frames/s)."""
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        paths = _write_frames(folder, frames)
        for i, path in enumerate(paths[4:], start=4):  # distinct files, as a beamline writes them
            path.unlink()
            shutil.copyfile(paths[i % 4], path)
        os.sync()
        rates = {"plain_copy2": copy_rate(paths, Path(tmp) / "copied"),
                 "manifest_only": sort_rate(folder, Path(tmp) / "out-m", sorter, "manifest-only"),
                 "copy": sort_rate(folder, Path(tmp) / "out-c", sorter, "copy")}
    rates["copy_vs_manifest_only"] = rates["copy"] / rates["manifest_only"]
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", help="folders on the filesystems to compare")
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    args = parser.parse_args()
    sorter = load_cached(args.model)
    print(f"{'root':24s} {'plain copy2':>14s} {'manifest-only':>15s} {'copy':>13s} {'copy/manifest-only':>19s}")
    for root in args.roots:
        r = measure(root, args.frames, sorter)
        print(f"{root:24s} {r['plain_copy2']:8.1f} files/s {r['manifest_only']:8.1f} fr/s {r['copy']:8.1f} fr/s "
              f"{r['copy_vs_manifest_only']:19.2f}", flush=True)


if __name__ == "__main__":
    main()
