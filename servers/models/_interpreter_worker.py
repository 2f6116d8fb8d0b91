"""One worker of the ``interpreters`` model: the reactor, run inside an isolated subinterpreter.

:func:`run` is what each worker interpreter executes, on a thread the main
interpreter started for it. It must load where only pure Python and
multi-phase-init extensions can: handloop, the protocol core and the standard
library do; psutil does not, so the process figures of ``/stats`` are read
from ``/proc`` here (:func:`process_usage`), and the counters live in a
``memfd`` that every interpreter maps (:class:`InterpreterStats`).

Only the main interpreter's main thread receives signals. The main
interpreter forwards each stop signal as one byte (the signal's number) on the
worker's inbox pipe; the worker records it in its own
:class:`~servers.lifecycle.Lifecycle` and drains as the reactor does.
"""

from __future__ import annotations

import logging
import mmap
import os
import pickle
import signal
import socket
from pathlib import Path

from handloop import Loop
from servers.lifecycle import Lifecycle
from servers.models._fds import fd_cap
from servers.models.reactor import DEFAULT_MAX_CONNECTIONS, Reactor
from servers.stats import SharedStats
from servers.workers import READY, Heartbeats

#: The counters' place in shared memory: one slot of int64 fields per worker.
SLOT_BYTES = SharedStats.slots_needed(1) * 8

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def shared_bytes(workers: int) -> int:
    """The size of the shared memfd: every worker's counters, then every worker's heartbeat."""
    return SLOT_BYTES * workers + Heartbeats.bytes_needed(workers)


def run(
    inbox_fd: int,
    ready_fd: int,
    index: int,
    listener_fd: int,
    shared_fd: int,
    workers: int,
    config_pickle: bytes,
    log_level: int,
) -> None:
    """Serve on the listener until told to stop on ``inbox_fd``; then drain and return.

    Args:
        inbox_fd: stop signals from the main interpreter, one byte each.
        ready_fd: one byte is written here once this worker accepts.
        index: this worker's slot.
        listener_fd: the main interpreter's listening socket (this worker uses a copy).
        shared_fd: the memfd holding every worker's counters and heartbeats (:func:`shared_bytes`).
        workers: how many workers share the listener (and the cap).
        config_pickle: the pickled :class:`~servers.protocol.config.ServerConfig`.
        log_level: the main interpreter's log level.
    """
    logging.basicConfig(
        level=log_level,
        format=f"%(asctime)s %(levelname)s [%(process)d interpreter {index}] %(name)s: %(message)s",
    )
    config = pickle.loads(config_pickle)
    listener = socket.socket(fileno=os.dup(listener_fd))  # closing it leaves the others' open
    Lifecycle.reports = False  # the main interpreter says when the server stopped
    shared = mmap.mmap(shared_fd, shared_bytes(workers))
    stats = InterpreterStats(
        memoryview(shared)[: SLOT_BYTES * workers].cast("q"), index, workers=workers
    )
    beats = Heartbeats(memoryview(shared)[SLOT_BYTES * workers :])
    per_worker = -(-config.max_connections // workers) if config.max_connections else 0
    # the workers share one process, so one table of descriptors: each gets its share
    cap = max(1, fd_cap((per_worker or DEFAULT_MAX_CONNECTIONS) * workers) // workers)

    loop = Loop()
    lifecycle = Lifecycle(config.graceful_timeout)
    server = Reactor(
        loop, listener, config, lifecycle, stats=stats, cap=cap, may_accept=stats.least_loaded
    )

    def on_inbox() -> None:
        received = os.read(inbox_fd, 64)
        if not received:  # the main interpreter closed the pipe: it is gone, stop too
            loop.remove_reader(inbox_fd)
            received = bytes([signal.SIGTERM])
        for signum in received:
            lifecycle.record(signum)
        if lifecycle.stopping:
            loop.stop()

    def beat() -> None:
        beats.beat(index)
        loop.call_later(config.worker_timeout / 4, beat)

    loop.add_reader(inbox_fd, on_inbox)
    beat()
    os.write(ready_fd, READY)
    loop.run()  # until the first stop signal
    for timeout in lifecycle.drain(server):
        loop.run_for(timeout)
    loop.close()


class InterpreterStats(SharedStats):
    """:class:`SharedStats` over a memoryview of shared memory, with the figures from ``/proc``."""

    def __init__(self, array: memoryview, slot: int, *, workers: int) -> None:
        super().__init__("interpreters", array, slot, workers=workers)

    def usage(self) -> dict[str, float]:
        return process_usage()


def process_usage() -> dict[str, float]:
    """This process's memory, CPU time and threads from ``/proc`` (psutil's sources, without psutil).

    The keys of :func:`servers.stats.process_tree_usage`; one process, no children.
    """
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    rollup = Path("/proc/self/smaps_rollup").read_text().splitlines()
    pss_kib = sum(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
    # /proc/self/stat: the fields after the command's closing parenthesis, from field 3 on
    fields = Path("/proc/self/stat").read_text().rpartition(")")[2].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    rss_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return {
        "rss_bytes": rss_pages * _PAGE,
        "pss_bytes": pss_kib * 1024,
        "cpu_s": round((utime + stime + cutime + cstime) / _CLOCK_TICKS, 3),
        "processes": 1,
        "threads": int(status["Threads"]),
    }
