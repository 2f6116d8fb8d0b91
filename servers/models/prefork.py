"""``prefork``: N worker processes forked once, each serving one connection at a time.

The design of gunicorn's sync workers and Apache's prefork MPM. The cost of a
process is paid once, at start, rather than once per connection (the ``fork``
model); concurrency is bounded by N (``--workers``, default one per CPU). Each
worker blocks in its own accept loop on the shared listening socket
(:class:`~servers.models._blocking.Acceptor`, woken by its own signals) and
serves the connection it took with the blocking pump until that connection
closes. A connection that finds every worker busy waits in the kernel's listen
backlog (``--backlog``) until one is free: nothing answers it with 503, so there
is no ``--max-connections``. A keep-alive connection holds its worker while
nobody waits; once a connection has waited 0.1 s in the backlog, it is
released (closed if quiet, else after a response saying ``Connection: close``:
the pools' policy, :mod:`servers.models._pool`).

The master only supervises (:class:`~servers.supervisor.Supervisor`, shared
with multiprocess and interpreters): it forks the workers and waits until each
says it is ready (one that dies first stops the server with an error and exit
1: no respawn loop); it reaps and respawns a worker that dies (a crash takes
only that worker's one connection) and kills and replaces one whose heartbeat
stops (``--worker-timeout``); and it drains: SIGTERM to every worker, which
finishes the connection in hand and exits, then SIGKILL for any still running
when the grace period ends. ``/stats`` adds up one shared-memory slot per worker.

A worker beats while its loop comes round: on every wake-up of its accept
loop (a second thread wakes it every quarter of the timeout), before every
step of its connection, between slices of a long ``Wait``, and while it waits
for its client's next request. Within a request a ``recv`` lasts at most the
header or body timeout, so ``--worker-timeout`` must stay above them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import NoReturn

from servers.lifecycle import Lifecycle, WakeupPipe
from servers.models._blocking import Acceptor
from servers.models._closing import poll_readable
from servers.models._pool import RELEASE_AFTER, PoolPump, releasable_factory
from servers.protocol.config import ServerConfig
from servers.stats import SharedStats
from servers.supervisor import Supervisor
from servers.workers import READY, ForkedWorker, Heartbeats

log = logging.getLogger(__name__)


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    count = config.workers or len(os.sched_getaffinity(0))
    array = multiprocessing.RawArray("q", SharedStats.slots_needed(count))
    beats = Heartbeats(multiprocessing.RawArray("q", count))
    supervisor = Supervisor(
        listener,
        config,
        model="prefork",
        stats=array,
        heartbeats=beats,
        count=count,
        grace_margin=0.0,
    )
    root_pid = os.getpid()

    def body(index: int, ready_fd: int) -> NoReturn:
        """The child's side of ``fork()``: become worker ``index``; never returns."""
        code = 0
        try:
            supervisor.wakeup.close()  # the master's
            stats = SharedStats("prefork", array, index, workers=count, root_pid=root_pid)
            WorkerProcess(listener, config, stats, lambda: beats.beat(index)).run(ready_fd)
        except BaseException:
            log.exception("worker %d (pid %d) failed", index, os.getpid())
            code = 1
        finally:
            os._exit(code)

    supervisor.serve(lambda index: ForkedWorker(index, body), on_ready)


class WorkerProcess:
    """One worker process: an accept loop that serves one connection at a time.

    SIGTERM (or SIGINT) means: finish the connection in hand, then exit. The
    handler stops the pump (an idle keep-alive connection closes at once) and
    closes this worker's copy of the listener, so that once every process has
    closed its copy the kernel refuses new connections, however long the
    response in flight still takes.

    A second thread (:meth:`_watch`) wakes the accept loop now and then, so
    that an idle worker beats too, beats while the worker waits for its
    client's next request (a wait the timeouts bound), and it watches
    the listener: once a connection has waited there :data:`RELEASE_AFTER`,
    it releases the one in hand (see :mod:`servers.models._pool`).
    """

    def __init__(
        self,
        listener: socket.socket,
        config: ServerConfig,
        stats: SharedStats,
        beat: Callable[[], None],
    ) -> None:
        self.listener = listener
        self.stats = stats
        self.beat = beat
        self.interval = config.worker_timeout / 4
        self.factory = releasable_factory(config, stats)
        self.pump: PoolPump | None = None
        self.serving = threading.Event()
        self.lifecycle = Lifecycle(config.graceful_timeout)
        self.wakeup = WakeupPipe()
        self.wakeup.watch_signals()
        self.lifecycle.handle_signals(self._on_signal)
        self.acceptor = Acceptor(listener, self.wakeup, self.lifecycle, config.protocol, beat)

    def run(self, ready_fd: int) -> None:
        watcher = threading.Thread(
            target=self._watch, args=(self.listener.fileno(),), name="watcher", daemon=True
        )
        watcher.start()
        os.write(ready_fd, READY)
        os.close(ready_fd)
        for sock in self.acceptor:
            self.serve(sock)
            if self.lifecycle.stopping:
                break  # the listener may be closed already: accept nothing more
        self.acceptor.close()

    def serve(self, sock: socket.socket) -> None:
        self.stats.opened()
        self.pump = PoolPump(sock, self.factory(), self._sleep, self.beat)
        self.serving.set()
        if self.lifecycle.stopping:  # the signal came between accept() and now
            self._on_signal()
        try:
            self.pump.serve()
        finally:
            self.serving.clear()
            self.pump = None
            self.stats.closed()

    def _watch(self, listener_fd: int) -> None:
        """The second thread: beats for an idle worker; releases a connection others wait for."""
        while not self.lifecycle.stopping:
            if not self.serving.wait(self.interval):
                self.wakeup.wake()  # the accept loop comes round and beats
                continue
            pump = self.pump
            if pump is not None and pump.quiet_since is not None:
                self.beat()  # the worker waits in recv for its client, bounded by the timeouts
            if pump is None or listener_fd not in poll_readable([listener_fd], self.interval):
                continue
            time.sleep(RELEASE_AFTER)  # nobody took it meanwhile: every worker is busy
            if pump is self.pump and listener_fd in poll_readable([listener_fd], 0):
                pump.release()

    def _sleep(self, seconds: float) -> None:
        """A ``Wait`` in slices, beating between them."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.beat()
            time.sleep(min(left, self.interval))

    def _on_signal(self) -> None:
        """Run by the signal handler: wake the accept loop; when stopping, let go of what we hold."""
        self.wakeup.wake()
        if self.lifecycle.stopping and self.pump is not None:
            self.pump.stop()
            self.listener.close()  # not polled while serving: safe to close here
