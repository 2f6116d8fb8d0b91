"""CPU time, memory and tasks of a server's whole process tree, measured with psutil.

CPU includes children already reaped (``children_user``/``children_system`` of their
parent), so a fork-per-connection server's short-lived children are counted too.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import psutil

log = logging.getLogger(__name__)


class TreeSampler:
    """Samples the tree rooted at ``pid`` (without the root itself when ``wrapper``)."""

    def __init__(self, pid: int, wrapper: bool = False, interval: float = 0.2) -> None:
        self.root = psutil.Process(pid)
        self.wrapper = wrapper
        self.interval = interval
        self.peak_rss = 0
        self.peak_processes = 0
        self.peak_threads = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def processes(self) -> list[psutil.Process]:
        try:
            children = self.root.children(recursive=True)
        except psutil.Error:
            return []
        return children if self.wrapper else [self.root, *children]

    def cpu_seconds(self) -> float:
        """User + system seconds used so far by the tree (reaped children included)."""
        total = 0.0
        try:
            t = self.root.cpu_times()
            total += t.children_user + t.children_system
            if not self.wrapper:
                total += t.user + t.system
        except psutil.Error:
            pass
        for proc in self.processes():
            if proc.pid == self.root.pid:
                continue
            try:
                t = proc.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                continue
        return total

    def usage(self) -> dict[str, int]:
        """Summed RSS, processes and threads now."""
        rss = threads = count = 0
        for proc in self.processes():
            try:
                with proc.oneshot():
                    rss += proc.memory_info().rss
                    threads += proc.num_threads()
                count += 1
            except psutil.Error:
                continue
        return {"rss": rss, "processes": count, "threads": threads}

    def pss(self) -> int:
        """Summed proportional set size: shared pages split between the processes sharing them."""
        total = 0
        for proc in self.processes():
            try:
                info = proc.memory_full_info()
                total += getattr(info, "pss", info.rss)
            except psutil.Error:
                continue
        return total

    def affinity(self) -> dict[int, list[int]]:
        """pid -> CPUs, for every process of the tree."""
        out: dict[int, list[int]] = {}
        for proc in self.processes():
            try:
                out[proc.pid] = proc.cpu_affinity()
            except psutil.Error:
                continue
        return out

    def _sample(self) -> None:
        now = self.usage()
        self.peak_rss = max(self.peak_rss, now["rss"])
        self.peak_processes = max(self.peak_processes, now["processes"])
        self.peak_threads = max(self.peak_threads, now["threads"])

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> TreeSampler:
        """Sample peaks in a background thread until :meth:`stop`."""
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        return {
            "peak_rss": self.peak_rss,
            "processes": self.peak_processes,
            "threads": self.peak_threads,
        }
