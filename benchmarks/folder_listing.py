"""How long listing a folder of frames takes, against the bare directory read, in one run.

``camsort sort``, ``run`` and the GUI list their input folders once; ``camsort watch`` lists them at every
poll, so on a folder that a beamtime fills with tens of thousands of frames the listing is what a poll
costs. This makes N empty ``.tif`` files in a folder under ROOT (a network file system is where it
matters) and times ``io.frame_paths`` on it against ``os.listdir`` of the same folder (the least any
listing can cost), best of three each::

    python benchmarks/folder_listing.py [ROOT] [--files 20000]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from xicam.camsort.io import frame_paths


def best_of(runs: int, work) -> float:
    """The shortest of ``runs`` timings of ``work()``, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(root: str, files: int) -> dict[str, float]:
    """Seconds to list ``files`` frame files with ``os.listdir`` and with ``frame_paths``, and their ratio."""
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        for i in range(files):
            Path(tmp, f"frame_{i:06d}.tif").touch()
        listed = len(frame_paths([tmp]))
        if listed != files:
            raise RuntimeError(f"frame_paths listed {listed} of {files} files")
        bare = best_of(3, lambda: os.listdir(tmp))
        camsort = best_of(3, lambda: frame_paths([tmp]))
    return {"files": files, "os_listdir_s": bare, "frame_paths_s": camsort, "ratio": camsort / bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=tempfile.gettempdir(), help="where to make the folder")
    parser.add_argument("--files", type=int, default=20000)
    args = parser.parse_args()
    m = measure(args.root, args.files)
    print(f"{m['files']} files under {args.root}: os.listdir {m['os_listdir_s']:.3f} s, "
          f"frame_paths {m['frame_paths_s']:.3f} s ({m['ratio']:.0f}x the bare read)")


if __name__ == "__main__":
    main()
