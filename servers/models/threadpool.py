"""``threadpool``: a fixed pool of N threads; the connections beyond it wait in a bounded queue.

The thread server people run (an accept loop feeding a ``ThreadPoolExecutor``,
the classic Java servlet connector). The main thread accepts
(:class:`~servers.models._blocking.Acceptor`) and puts each connection in a
queue; N threads (``--threads``, default 32), started once, each take one
connection at a time and serve it with the blocking pump until it closes.

Memory is bounded: N threads and at most ``--max-connections`` sockets (default
1024: the N in service plus up to 1024 - N waiting in the queue). A connection
that finds the pool busy and the queue full gets 503. The price is Little's
law: when each request waits W seconds, the pool answers at most N / W requests
a second however many clients wait. A keep-alive connection holds its thread
while nobody waits; once a connection has waited 0.1 s in the queue, as many
keep-alive connections as are queued are released, the quietest first (closed
if quiet, else after a response saying ``Connection: close``: the pools'
policy, :mod:`servers.models._pool`).

Draining: the listener is closed, every connection in service is asked to stop
(an idle one closes at once, a busy one after its response), and the
connections still in the queue are served in turn like requests in flight: a
request they already sent is answered (with ``Connection: close``), one that
sent nothing is closed at once. Whatever still waits when the grace period
ends is closed with the process. ``/stats`` counts queued connections as open
and reports the pool's size as ``workers``.
"""

from __future__ import annotations

import queue
import socket
import sys
import threading
import time
from collections.abc import Callable

from servers.lifecycle import Lifecycle, PumpSet, WakeupPipe
from servers.models._blocking import Acceptor
from servers.models._fds import fd_cap
from servers.models._pool import RELEASE_AFTER, PoolPump, releasable_factory
from servers.protocol.config import ServerConfig
from servers.stats import LockedStats

DEFAULT_THREADS = 32
DEFAULT_MAX_CONNECTIONS = 1024


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    lifecycle = Lifecycle(config.graceful_timeout)
    wakeup = lifecycle.wake_by_pipe()
    server = PoolServer(listener, config, lifecycle, wakeup)
    on_ready()
    for sock in server.acceptor:
        server.hand_over(sock)
    for timeout in lifecycle.drain(server):
        wakeup.wait(timeout)
    # the pool's threads are daemons: any still serving past the grace period ends with the process


class PoolServer(PumpSet):
    """The pool, its queue, and how they stop."""

    def __init__(
        self,
        listener: socket.socket,
        config: ServerConfig,
        lifecycle: Lifecycle,
        wakeup: WakeupPipe,
    ) -> None:
        self.acceptor = Acceptor(listener, wakeup, lifecycle, config.protocol)
        self.lifecycle = lifecycle
        self.wakeup = wakeup
        self.cap = fd_cap(config.max_connections or DEFAULT_MAX_CONNECTIONS)
        size = min(config.threads or DEFAULT_THREADS, self.cap)  # more could never be busy
        self.stats = LockedStats("threadpool", workers=size)
        self.factory = releasable_factory(config, self.stats)
        self.waiting: queue.SimpleQueue[socket.socket] = queue.SimpleQueue()  # bounded by the cap
        self.pumps: set[PoolPump] = set()
        self.lock = threading.Lock()
        self.queued = threading.Event()  # set when a connection is put in the queue
        threading.Thread(target=self._release_for_waiting, name="releaser", daemon=True).start()
        for index in range(size):
            try:
                threading.Thread(target=self._work, name=f"pool-{index}", daemon=True).start()
            except RuntimeError as exc:  # "can't start new thread"
                print(
                    f"iomodels: error: cannot start thread {index + 1} of {size} ({exc}); "
                    "use fewer --threads",
                    file=sys.stderr,
                )
                raise SystemExit(1) from None

    def hand_over(self, sock: socket.socket) -> None:
        """Queue ``sock`` for the pool, or refuse it when the pool and the queue are full."""
        if self.stats.open >= self.cap:
            self.acceptor.refuse(sock)
            return
        self.stats.opened()
        self.waiting.put(sock)
        self.queued.set()

    def _work(self) -> None:
        """One thread of the pool: serve queued connections, one at a time, for good."""
        while True:
            pump = PoolPump(self.waiting.get(), self.factory())
            with self.lock:
                self.pumps.add(pump)
            if self.lifecycle.stopping:  # taken from the queue during the drain
                pump.stop()
            try:
                pump.serve()
            finally:
                with self.lock:
                    self.pumps.discard(pump)
                self.stats.closed()
                if self.lifecycle.stopping:
                    self.wakeup.wake()  # the drain may be waiting for the last one

    def _release_for_waiting(self) -> None:
        """The releaser thread: once connections wait RELEASE_AFTER, release as many, quietest first."""
        while True:
            self.queued.wait()
            time.sleep(RELEASE_AFTER)
            waiting = self.waiting.qsize()
            if not waiting:
                self.queued.clear()
                if self.waiting.empty():  # nothing was put between qsize() and clear()
                    continue
            if self.lifecycle.stopping:
                return
            with self.lock:
                pumps = sorted(self.pumps, key=PoolPump.quiet_for, reverse=True)
            for pump in pumps[: waiting or 1]:
                pump.release()

    # -- what the drain needs --------------------------------------------------------
    def stop_accepting(self) -> None:
        self.acceptor.close()

    def open_connections(self) -> int:
        return self.stats.open  # in service and queued

    def abort_connections(self) -> None:
        """Nothing to do: the threads are daemons, and the queued sockets close with the process."""
