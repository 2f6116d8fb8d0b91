"""Peaks of a server's process tree during a run, sampled in a background thread.

What a tree is and how its figures add up lives in :mod:`common.process_tree`;
this only samples it often enough to catch the peak (a fork server's children
come and go between two reads at the start and the end).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from common.process_tree import ProcessTree


@dataclass(frozen=True, slots=True)
class Peaks:
    """The largest figures seen while sampling."""

    rss_bytes: int = 0
    processes: int = 0
    threads: int = 0


class TreeSampler:
    """Samples the tree rooted at ``pid`` every ``interval`` seconds between :meth:`start` and :meth:`stop`.

    Args:
        pid: the server's root process.
        wrapper: the root only supervises (nginx): leave its own work out.
        interval: seconds between two samples.
    """

    def __init__(self, pid: int, wrapper: bool = False, interval: float = 0.2) -> None:
        self.tree = ProcessTree(pid, include_root=not wrapper)
        self.interval = interval
        self.peaks = Peaks()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        now = self.tree.usage()
        self.peaks = Peaks(
            max(self.peaks.rss_bytes, now.rss_bytes),
            max(self.peaks.processes, now.processes),
            max(self.peaks.threads, now.threads),
        )

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> TreeSampler:
        """Sample peaks in a background thread until :meth:`stop`."""
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Peaks:
        """Stop sampling; the peaks seen, the last sample included."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        return self.peaks


def minor_faults(tree: ProcessTree) -> int:
    """Minor page faults of the tree so far: every process's own, and those of children it reaped.

    A forked child's faults are the pages it was given, copies of its
    parent's among them (``minflt`` and ``cminflt`` of ``/proc/PID/stat``).
    """
    total = 0
    for proc in tree.processes():
        try:
            with open(f"/proc/{proc.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # ended since it was listed: its faults now count in its parent's
            continue
        total += int(fields[7]) + int(fields[8])  # minflt, cminflt (fields 10 and 11)
    return total
