"""``prefork``: N worker processes forked once, each serving one connection at a time.

The design of gunicorn's sync workers and Apache's prefork MPM. The cost of a
process is paid once, at start, rather than once per connection (the ``fork``
model); concurrency is bounded by N (``--workers``, default one per CPU). Each
worker blocks in its own accept loop on the shared listening socket
(:class:`~servers.models._blocking.Acceptor`, woken by its own signals) and
serves the connection it took with the blocking pump until that connection
closes. A connection that finds every worker busy waits in the kernel's listen
backlog (``--backlog``) until one is free: nothing answers it with 503, so there
is no ``--max-connections``. A keep-alive connection holds its worker until it
closes or idles past the keep-alive timeout.

The master (:class:`Master`) only supervises, woken by SIGCHLD and the stop
signals through its wake-up pipe. It forks the workers and waits until each says
it is ready (one that dies first stops the server with an error and exit 1: no
respawn loop); it reaps and respawns a worker that dies (a crash takes only that
worker's one connection); and it drains: SIGTERM to every worker, which finishes
the connection in hand and exits, then SIGKILL for any still running when the
grace period ends. ``/stats`` adds up one shared-memory slot per worker.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import NoReturn

from servers.lifecycle import Lifecycle, WakeupPipe, describe_exit, ended_children
from servers.models._blocking import Acceptor, BlockingPump
from servers.models._closing import poll_readable
from servers.protocol.config import ServerConfig
from servers.protocol.connection import make_connection_factory
from servers.stats import SharedStats

log = logging.getLogger(__name__)

#: The longest a new worker may take to say it is ready.
START_TIMEOUT = 30.0
_READY = b"r"


class WorkerStartError(RuntimeError):
    """A worker died (or hung) before it could accept: respawning it would only loop."""


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    lifecycle = Lifecycle(config.graceful_timeout)
    wakeup = lifecycle.wake_by_pipe(also=(signal.SIGCHLD,))
    master = Master(listener, config, lifecycle, wakeup)
    try:
        for index in range(master.count):
            master.start(index)
        on_ready()
        while not lifecycle.stopping:
            wakeup.wait(None)
            lifecycle.take()  # SIGCHLD only says "look": reap() asks the kernel what ended
            master.reap()
    except WorkerStartError as exc:
        print(f"iomodels: error: {exc}", file=sys.stderr)
        master.stop_accepting()
        master.abort_connections()  # nothing to drain: stop whatever did start, at once
        raise SystemExit(1) from None
    for timeout in lifecycle.drain(master):
        wakeup.wait(timeout)
        master.reap()


class Master:
    """The supervising process: starts, respawns and drains the workers."""

    def __init__(
        self,
        listener: socket.socket,
        config: ServerConfig,
        lifecycle: Lifecycle,
        wakeup: WakeupPipe,
    ) -> None:
        self.listener = listener
        self.config = config
        self.lifecycle = lifecycle
        self.wakeup = wakeup
        self.count = config.workers or len(os.sched_getaffinity(0))
        self.array = multiprocessing.RawArray("q", SharedStats.slots_needed(self.count))
        self.pid = os.getpid()
        self.workers: dict[int, int] = {}  # pid -> worker index (its stats slot)

    def start(self, index: int) -> int:
        """Fork worker ``index`` and wait until it accepts; raise :class:`WorkerStartError` if not."""
        ready_r, ready_w = os.pipe()
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(ready_r)
            os.close(ready_w)
            raise WorkerStartError(f"cannot fork worker {index}: {exc.strerror or exc}") from None
        if pid == 0:
            os.close(ready_r)
            self._worker(index, ready_w)
        os.close(ready_w)
        self.workers[pid] = index
        try:
            ready = _wait_ready(ready_r)
        finally:
            os.close(ready_r)
        if not ready:
            _kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            del self.workers[pid]
            raise WorkerStartError(
                f"worker {index} (pid {pid}) did not start ({describe_exit(os.waitstatus_to_exitcode(status))}); "
                "see its error above"
            )
        return pid

    def _worker(self, index: int, ready_fd: int) -> NoReturn:
        """The child's side of ``fork()``: become worker ``index``; never returns."""
        code = 0
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.wakeup.close()  # the master's
            stats = SharedStats("prefork", self.array, index, workers=self.count, root_pid=self.pid)
            Worker(self.listener, self.config, stats).run(ready_fd)
        except BaseException:
            log.exception("worker %d (pid %d) failed", index, os.getpid())
            code = 1
        finally:
            os._exit(code)

    def reap(self) -> None:
        """Collect every worker that ended; respawn each one unless the server is stopping."""
        for pid, status in ended_children():
            index = self.workers.pop(pid, None)
            if index is None:
                continue
            SharedStats("prefork", self.array, index).reset_open()  # its connection died with it
            if self.lifecycle.stopping:
                continue
            log.warning(
                "worker %d (pid %d) died (%s); respawning",
                index,
                pid,
                describe_exit(os.waitstatus_to_exitcode(status)),
            )
            started = time.monotonic()
            new = self.start(index)
            log.warning(
                "worker %d respawned as pid %d in %.3f s", index, new, time.monotonic() - started
            )

    # -- what the drain needs --------------------------------------------------------
    def stop_accepting(self) -> None:
        self.listener.close()  # each worker closes its own copy when it gets SIGTERM

    def stop_connections(self) -> None:
        for pid in self.workers:
            _kill(pid, signal.SIGTERM)

    def open_connections(self) -> int:
        return len(self.workers)

    def abort_connections(self) -> None:
        for pid in self.workers:
            _kill(pid, signal.SIGKILL)
        for pid in list(self.workers):
            os.waitpid(pid, 0)
            del self.workers[pid]


class Worker:
    """One worker process: an accept loop that serves one connection at a time.

    SIGTERM (or SIGINT) means: finish the connection in hand, then exit. The
    handler stops the pump (an idle keep-alive connection closes at once) and
    closes this worker's copy of the listener, so that once every process has
    closed its copy the kernel refuses new connections, however long the
    response in flight still takes.
    """

    def __init__(self, listener: socket.socket, config: ServerConfig, stats: SharedStats) -> None:
        self.listener = listener
        self.stats = stats
        self.factory = make_connection_factory(config, stats)
        self.pump: BlockingPump | None = None
        self.lifecycle = Lifecycle(config.graceful_timeout)
        self.wakeup = WakeupPipe()
        self.wakeup.watch_signals()
        self.lifecycle.handle_signals(self._on_signal)
        self.acceptor = Acceptor(listener, self.wakeup, self.lifecycle, config.protocol)

    def run(self, ready_fd: int) -> None:
        os.write(ready_fd, _READY)
        os.close(ready_fd)
        for sock in self.acceptor:
            self.serve(sock)
            if self.lifecycle.stopping:
                break  # the listener may be closed already: accept nothing more
        self.acceptor.close()

    def serve(self, sock: socket.socket) -> None:
        self.stats.opened()
        self.pump = BlockingPump(sock, self.factory(), timeouts="kernel")
        if self.lifecycle.stopping:  # the signal came between accept() and now
            self._on_signal()
        try:
            self.pump.serve()
        finally:
            self.pump = None
            self.stats.closed()

    def _on_signal(self) -> None:
        """Run by the signal handler: wake the accept loop; when stopping, let go of what we hold."""
        self.wakeup.wake()
        if self.lifecycle.stopping and self.pump is not None:
            self.pump.stop()
            self.listener.close()  # not polled while serving: safe to close here


def _wait_ready(fd: int) -> bool:
    """True once a new worker wrote its ready byte; False if it died or hung first."""
    if fd not in poll_readable([fd], START_TIMEOUT):
        return False
    return os.read(fd, 1) == _READY  # b"" (EOF): it died before saying so


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
