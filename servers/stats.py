"""Server-wide counters behind ``GET /stats``, one flavour per way of sharing memory.

* :class:`LocalStats`: one thread touches it (asyncio, uvloop, gevent, reactor,
  generators, iouring).
* :class:`LockedStats`: threads share it, so every update takes a ``threading.Lock``
  (thread, threadpool).
* :class:`SharedStats`: processes share it through shared memory (fork, multiprocess,
  prefork, interpreters): each writer owns a slot and only it writes there, so there is
  no lock; a fork child borrows a free slot, which the parent folds in when it reaps it.

The process figures come from psutil, imported only when ``/stats`` is asked
for: a flavour whose code cannot load psutil (a subinterpreter) overrides
:meth:`_Snapshot.usage`.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from servers.gil import gil_enabled

OPEN, TOTAL, REQUESTS, PEAK, UPSTREAM_OPEN, ROUND_TRIPS = range(6)
_FIELDS = 6


def process_tree_usage(root_pid: int) -> dict[str, float]:
    """Memory, CPU time and tasks of ``root_pid`` and all its descendants (this process if it is gone).

    ``rss_bytes`` overstates what forked children add (shared pages count once
    per process); ``pss_bytes`` splits shared pages, so it is the tree's real
    footprint. ``cpu_s`` includes children already reaped.
    """
    # psutil loads with the first /stats, not at start: a lean server forks cheaper children
    from common.process_tree import ProcessTree

    tree = ProcessTree(root_pid)
    cpu = tree.cpu_seconds()
    if cpu is None:
        tree = ProcessTree(os.getpid())
        cpu = tree.cpu_seconds() or 0.0
    usage = tree.usage(pss=True)
    return {
        "rss_bytes": usage.rss_bytes,
        "pss_bytes": usage.pss_bytes or 0,
        "cpu_s": round(cpu, 3),
        "processes": usage.processes,
        "threads": usage.threads,
    }


class _Snapshot:
    """The common part of every flavour: identity and the JSON snapshot."""

    model: str
    workers: int
    root_pid: int
    started: float

    def _init_identity(self, model: str, workers: int, root_pid: int | None) -> None:
        self.model = model
        self.workers = workers
        self.root_pid = root_pid or os.getpid()
        self.started = time.time()

    def counts(self) -> tuple[int, int, int, int]:
        raise NotImplementedError

    def upstream_counts(self) -> tuple[int, int]:
        """Upstream connections open, and round trips made (``GET /db``)."""
        raise NotImplementedError

    def usage(self) -> dict[str, float]:
        """Memory, CPU time and tasks of the server (the keys of :func:`process_tree_usage`)."""
        return process_tree_usage(self.root_pid)

    def snapshot(self) -> dict[str, Any]:
        """The ``/stats`` document."""
        open_, total, requests, peak = self.counts()
        upstream_open, round_trips = self.upstream_counts()
        return {
            "model": self.model,
            "pid": os.getpid(),
            "root_pid": self.root_pid,
            "workers": self.workers,
            "uptime_s": round(time.time() - self.started, 3),
            "connections_open": open_,
            "connections_total": total,
            "connections_peak": peak,
            "requests_total": requests,
            "upstream_connections_open": upstream_open,
            "upstream_round_trips": round_trips,
            "gil_enabled": gil_enabled(),
            **self.usage(),
        }


class LocalStats(_Snapshot):
    """Plain integers: only ever touched by one thread."""

    def __init__(self, model: str, workers: int = 1, root_pid: int | None = None) -> None:
        self._init_identity(model, workers, root_pid)
        self.open = self.total = self.requests = self.peak = 0
        self.upstream_open = self.round_trips = 0

    def opened(self) -> None:
        self.open += 1
        self.total += 1
        if self.open > self.peak:
            self.peak = self.open

    def closed(self) -> None:
        self.open -= 1

    def request_done(self) -> None:
        self.requests += 1

    def upstream_opened(self) -> None:
        self.upstream_open += 1

    def upstream_closed(self) -> None:
        self.upstream_open -= 1

    def round_trip_done(self) -> None:
        self.round_trips += 1

    def counts(self) -> tuple[int, int, int, int]:
        return self.open, self.total, self.requests, self.peak

    def upstream_counts(self) -> tuple[int, int]:
        return self.upstream_open, self.round_trips


class LockedStats(LocalStats):
    """Shared by threads: ``+=`` is not atomic, so every update holds the lock."""

    def __init__(self, model: str, workers: int = 1, root_pid: int | None = None) -> None:
        super().__init__(model, workers, root_pid)
        self._lock = threading.Lock()

    def opened(self) -> None:
        with self._lock:
            super().opened()

    def closed(self) -> None:
        with self._lock:
            super().closed()

    def request_done(self) -> None:
        with self._lock:
            self.requests += 1

    def upstream_opened(self) -> None:
        with self._lock:
            self.upstream_open += 1

    def upstream_closed(self) -> None:
        with self._lock:
            self.upstream_open -= 1

    def round_trip_done(self) -> None:
        with self._lock:
            self.round_trips += 1

    def counts(self) -> tuple[int, int, int, int]:
        with self._lock:
            return self.open, self.total, self.requests, self.peak

    def upstream_counts(self) -> tuple[int, int]:
        with self._lock:
            return self.upstream_open, self.round_trips


class SharedStats(_Snapshot):
    """Counters in shared memory, one slot of six int64 per writer.

    ``array`` is a sequence of int64 in shared memory: a ``multiprocessing``
    ``RawArray('q', SharedStats.slots_needed(slots))`` (picklable to spawned
    workers), or an anonymous shared mapping for forked children. Every writer
    only touches its own slot, so no lock is needed (a lock held by a process
    that gets killed would freeze the rest):
    multiprocess workers own one slot each; in the fork model the parent owns
    slot 0 (connections) and each live child borrows a free slot for its
    requests, which the parent folds into slot 0 when it reaps the child.
    """

    def __init__(
        self,
        model: str,
        array: Any,
        slot: int = 0,
        *,
        workers: int = 1,
        root_pid: int | None = None,
    ) -> None:
        self._init_identity(model, workers, root_pid)
        self._array = array
        self._base = slot * _FIELDS

    @staticmethod
    def slots_needed(slots: int) -> int:
        return slots * _FIELDS

    @property
    def open(self) -> int:
        """Connections open in this writer's slot (what a per-process cap compares)."""
        return int(self._array[self._base + OPEN])

    def opened(self) -> None:
        a, b = self._array, self._base
        a[b + OPEN] += 1
        a[b + TOTAL] += 1
        if a[b + OPEN] > a[b + PEAK]:
            a[b + PEAK] = a[b + OPEN]

    def closed(self) -> None:
        self._array[self._base + OPEN] -= 1

    def least_loaded(self) -> bool:
        """True when no other slot has fewer open connections than this one."""
        a = self._array
        mine = a[self._base + OPEN]
        return all(a[s + OPEN] >= mine for s in range(0, len(a), _FIELDS))

    def reset_open(self) -> None:
        """A worker died: its connections (and its upstream ones) died with it."""
        self._array[self._base + OPEN] = self._array[self._base + UPSTREAM_OPEN] = 0

    def request_done(self) -> None:
        self._array[self._base + REQUESTS] += 1

    def upstream_opened(self) -> None:
        self._array[self._base + UPSTREAM_OPEN] += 1

    def upstream_closed(self) -> None:
        self._array[self._base + UPSTREAM_OPEN] -= 1

    def round_trip_done(self) -> None:
        self._array[self._base + ROUND_TRIPS] += 1

    def move_to_slot(self, slot: int) -> None:
        """Write to ``slot`` from now on (a forked child, in its own copy of this object)."""
        self._base = slot * _FIELDS

    def absorb(self, slot: int) -> None:
        """Move the counts of ``slot`` (a reaped fork child's) into this one; its upstream closed."""
        a, b = self._array, slot * _FIELDS
        a[self._base + REQUESTS] += a[b + REQUESTS]
        a[self._base + ROUND_TRIPS] += a[b + ROUND_TRIPS]
        a[b + REQUESTS] = a[b + ROUND_TRIPS] = a[b + UPSTREAM_OPEN] = 0

    def counts(self) -> tuple[int, int, int, int]:
        a = self._array
        slots = len(a) // _FIELDS
        open_ = sum(a[s * _FIELDS + OPEN] for s in range(slots))
        total = sum(a[s * _FIELDS + TOTAL] for s in range(slots))
        requests = sum(a[s * _FIELDS + REQUESTS] for s in range(slots))
        # peaks of different workers may not coincide: their sum is an upper bound
        peak = sum(a[s * _FIELDS + PEAK] for s in range(slots))
        return open_, total, requests, peak

    def upstream_counts(self) -> tuple[int, int]:
        a = self._array
        slots = range(0, len(a), _FIELDS)
        return sum(a[s + UPSTREAM_OPEN] for s in slots), sum(a[s + ROUND_TRIPS] for s in slots)
