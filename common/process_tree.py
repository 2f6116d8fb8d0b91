"""A process and all its descendants, read and stopped as one thing.

A server of the fork or multiprocess model is a tree of processes, and so is
Locust with ``--processes``: what it costs is the sum over the tree, and
stopping it means stopping every process in it. This module is the one place
that does both (psutil reads ``/proc``):

* :class:`ProcessTree` lists the tree and sums its CPU time, memory, threads,
  descriptors and connections (the server's own ``/stats``, the bench's sampler,
  the Locust plugin and the tests all read a tree through it);
* :func:`stop_tree` signals a child process, gives it a grace period, then kills
  whatever of its tree is left and reaps it (the launchers and Locust runs).

CPU time includes the children a process has already reaped (``children_user``
and ``children_system``), so a fork-per-connection server's short-lived children
count too.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TreeUsage:
    """Memory and tasks of a tree at one moment, summed over its processes.

    Attributes:
        rss_bytes: resident set sizes added up: pages that forked children share
            with their parent count once per process, so this overstates the tree.
        pss_bytes: proportional set sizes added up (shared pages split between the
            processes sharing them): the tree's real footprint. ``None`` unless asked
            for, since reading it walks every mapping of every process.
        processes: processes alive in the tree.
        threads: their threads.
        fds: their open file descriptors (``None`` unless asked for).
    """

    rss_bytes: int
    pss_bytes: int | None
    processes: int
    threads: int
    fds: int | None = None


class ProcessTree:
    """The process ``root_pid`` and its descendants, as they are when asked.

    Args:
        root_pid: the root of the tree.
        include_root: count the root itself; ``False`` for a root that only
            supervises (nginx's master), whose own work is not the server's.
            Children the root has reaped count either way.
    """

    def __init__(self, root_pid: int, *, include_root: bool = True) -> None:
        self.root_pid = root_pid
        self.include_root = include_root

    def _root(self) -> psutil.Process | None:
        try:
            return psutil.Process(self.root_pid)
        except psutil.Error:
            return None

    def processes(self) -> list[psutil.Process]:
        """The processes of the tree alive now (root first when included); empty once the root is gone."""
        root = self._root()
        if root is None:
            return []
        try:
            children = root.children(recursive=True)
        except psutil.Error:
            return []
        return [root, *children] if self.include_root else children

    def cpu_seconds(self) -> float | None:
        """User + system seconds used so far by the tree, reaped children included; None if the root is gone."""
        root = self._root()
        if root is None:
            return None
        total = 0.0
        try:
            times = root.cpu_times()
        except psutil.Error:
            return None
        total += times.children_user + times.children_system
        if self.include_root:
            total += times.user + times.system
        try:
            children = root.children(recursive=True)
        except psutil.Error:
            children = []
        for proc in children:
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system + times.children_user + times.children_system
        return total

    def usage(self, *, pss: bool = False, fds: bool = False) -> TreeUsage:
        """Memory, processes and threads summed now; ``pss`` and ``fds`` cost more and are optional."""
        rss = pss_total = threads = count = open_fds = 0
        for proc in self.processes():
            try:
                with proc.oneshot():
                    if pss:
                        mem = proc.memory_full_info()
                        pss_total += getattr(mem, "pss", mem.rss)
                    else:
                        mem = proc.memory_info()
                    threads += proc.num_threads()
                    if fds:
                        open_fds += proc.num_fds()
            except psutil.Error:
                continue
            rss += mem.rss
            count += 1
        return TreeUsage(
            rss_bytes=rss,
            pss_bytes=pss_total if pss else None,
            processes=count,
            threads=threads,
            fds=open_fds if fds else None,
        )

    def connections(self) -> int:
        """Established TCP connections held by the tree (each counted once)."""
        seen = set()
        for proc in self.processes():
            try:
                for conn in proc.net_connections(kind="tcp"):
                    if conn.status == psutil.CONN_ESTABLISHED and conn.raddr:
                        seen.add((conn.laddr, conn.raddr))
            except psutil.Error:
                continue
        return len(seen)

    def affinity(self) -> dict[int, list[int]]:
        """pid -> the CPUs it may run on, for every process of the tree."""
        out: dict[int, list[int]] = {}
        for proc in self.processes():
            try:
                out[proc.pid] = proc.cpu_affinity()
            except psutil.Error:
                continue
        return out


def kill_all(procs: Iterable[psutil.Process], timeout: float = 5.0) -> None:
    """SIGKILL every process of ``procs`` still running and wait up to ``timeout`` for them to go."""
    procs = list(procs)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(procs, timeout=timeout)


def _wait(proc: subprocess.Popen[bytes] | subprocess.Popen[str], seconds: float) -> bool:
    """Wait up to ``seconds`` for ``proc`` to exit (a second Ctrl-C ends the wait); True if it did."""
    deadline = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            proc.wait(min(0.2, max(deadline - time.monotonic(), 0.0)))
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt:
            break
    return proc.poll() is not None


def _live_tree(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> list[psutil.Process]:
    """The tree of ``proc`` while it is not reaped yet (a reaped pid may already be another process's)."""
    return ProcessTree(proc.pid).processes() if proc.poll() is None else []


def stop_tree(
    proc: subprocess.Popen[bytes] | subprocess.Popen[str],
    sig: int = signal.SIGTERM,
    grace: float = 20.0,
    *,
    patience: float = 0.0,
) -> int | None:
    """Stop ``proc`` and every process it started; returns its exit code.

    Waits ``patience`` seconds for ``proc`` to exit on its own (it may have had
    the terminal's Ctrl-C already), then sends ``sig`` and waits up to ``grace``.
    Whatever of the tree is still alive then (the processes listed at the start,
    and any that appeared since) is killed, and ``proc`` is reaped.
    """
    before = _live_tree(proc)
    if not _wait(proc, patience):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        if not _wait(proc, grace):
            log.warning("pid %d did not exit %.0f s after signal %d: killing", proc.pid, grace, sig)
    after = _live_tree(proc)
    kill_all({p.pid: p for p in [*before, *after]}.values())
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)
    return proc.returncode
