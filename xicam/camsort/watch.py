"""Watch a folder and sort frames as they land, once each file has stopped growing.

Polling (not inotify) so that it works on the network file systems beamlines write to. A file is
taken when its size and modification time (and those of the data files an Eiger master links) are unchanged
over ``settle`` seconds, and taken again only if they change later (a failed read is retried, a rewritten frame
sorted again, a series' frames sorted as its data files land); the sort job's
manifest makes every pass skip what is already done, so the guarantees of ``camsort sort`` hold. While
another run holds the output folder, an input folder (or, with ``recursive``, a sub-folder) cannot be listed
or is not there yet, or the disk has no room for the manifest, the files wait; a file whose frames' outputs
found no room waits, one of them tried every ``retry`` seconds, until there is room.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from .folder_lock import FolderBusy
from .io import HDF5_EXTENSIONS, FolderUnlisted, linked_files, resolved_frame_paths
from .manifest import ManifestUnwritable
from .sortjob import SortSummary, refuse_inputs_inside, sort_frames


def settled_files(inputs: list[str | os.PathLike], seen: dict[Path, tuple[tuple, float]], settle: float,
                  recursive: bool, now: float, out: Path, unlisted: list[str] | None = None) -> list[Path]:
    """Files whose :func:`file_state` has not changed for ``settle`` seconds; updates ``seen`` (path -> state and
    when it was first seen); a file no longer listed (moved away, or in a sub-folder that cannot be listed now) is
    forgotten, so that a watch of days over a folder files pass through keeps no record of them. Files inside the
    output folder ``out`` (resolved), which may lie in a watched folder, are left out by the listing's own
    resolved paths, before they are stat'ed. Sub-folders that cannot be listed are named in ``unlisted``."""
    ready, listed = [], set()
    for path, resolved in resolved_frame_paths(list(inputs), recursive, unlisted).items():
        if out in resolved.parents:
            continue
        try:
            state = file_state(path)
        except OSError:
            continue
        listed.add(path)
        prev = seen.get(path)
        if prev is None or prev[0] != state:
            seen[path] = (state, now)
        elif now - prev[1] >= settle and state[0] > 0:
            ready.append(path)
    for gone in seen.keys() - listed:
        del seen[gone]
    return ready


def file_state(path: Path) -> tuple:
    """What a file looks like to the watch: its size and mtime and, for an HDF5 file that links others (an Eiger
    master file), theirs too (None for one not there yet), as a series' data files land after its master."""
    st = path.stat()
    state: tuple = (st.st_size, st.st_mtime_ns)
    if path.suffix.lower() in HDF5_EXTENSIONS:
        for linked in sorted(linked_files(path, state)):
            try:
                part = linked.stat()
            except OSError:
                state += (None,)
            else:
                state += (part.st_size, part.st_mtime_ns)
    return state


def watch(inputs: list[str | os.PathLike], out: str | os.PathLike, sorter, *, settle: float = 2.0,
          interval: float = 1.0, recursive: bool = False, mode: str = "copy", all_detectors: bool = False,
          shape: tuple[int, int] | None = None, retry: float = 60.0,
          stop: Callable[[], bool] = lambda: False, on_pass: Callable[[SortSummary], None] | None = None,
          on_busy: Callable[[str], None] | None = None) -> int:
    """Poll ``inputs`` until ``stop()`` is true, sorting settled new files; returns frames sorted. While another
    run holds ``out``, an input folder (or a sub-folder) cannot be listed (a file server away) or is not there yet
    (a watch started before the run's folder is made), or the disk has no room for the manifest, the files wait
    for the next poll (``on_busy`` is told why, once each time). Files with a frame whose output the disk had no
    room for wait too: one of them is sorted again every ``retry`` seconds, and once it finds room the others
    follow at the next poll (reading and classifying them all again at each poll would not make room)."""
    seen: dict[Path, tuple[tuple, float]] = {}
    processed: dict[Path, tuple] = {}  # what each file looked like when it was sorted
    no_room: set[Path] = set()  # files whose outputs found no room
    tried = 0.0  # when the last of them found no room
    out_resolved = Path(out).resolve()
    refuse_inputs_inside(inputs, out_resolved)
    total = 0
    told = ""  # why the last poll waited, told once
    while not stop():
        waiting = [f"{i}: does not exist (yet)" for i in inputs if not os.path.exists(i)]
        now = time.monotonic()
        try:
            ready = [p for p in settled_files(inputs, seen, settle, recursive, now, out_resolved, waiting)
                     if processed.get(p) != seen[p][0]]
            for gone in processed.keys() - seen.keys():  # forgotten with the listing (and sorted again if back)
                del processed[gone]
            no_room &= seen.keys()
            held = [p for p in ready if p in no_room]
            if held:
                ready = [p for p in ready if p not in no_room] + (held[:1] if now - tried >= retry else [])
            summary = sort_frames(ready, out, sorter, mode=mode, progress=False, all_detectors=all_detectors,
                                  shape=shape) if ready else None
        except (FolderBusy, FolderUnlisted, ManifestUnwritable) as exc:  # the folder's run ends, the file server
            # comes back, the disk has room again: the files not recorded are taken at the next poll
            waiting.append(str(exc))
        else:
            if summary is not None:
                for p in ready:
                    if summary.no_room and str(p.resolve()) in summary.no_room:
                        no_room.add(p)
                        tried = now
                    else:
                        processed[p] = seen[p][0]
                        if p in no_room:  # the one tried found room: the others at the next poll
                            no_room.clear()
                total += summary.sorted
                if on_pass:
                    on_pass(summary)
        if no_room:
            waiting.append(f"{out}: no room on the disk for the outputs of {len(no_room)} file(s); they are sorted "
                           f"once there is (tried every {retry:g} s)")
        reason = "; ".join(waiting)
        if on_busy and reason and reason != told:
            on_busy(reason)
        told = reason
        time.sleep(interval)
    return total
