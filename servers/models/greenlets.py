"""``gevent``: one greenlet per connection, on gevent's libev/libuv hub.

Listen; accept with gevent's ``StreamServer`` (a greenlet per connection);
serve each with the same blocking pump as ``fork`` and ``thread``, over
gevent's cooperative sockets (a ``recv`` that would block switches to another
greenlet instead), each with one hub timer that throws into its greenlet when
a ``recv`` outlives the connection's deadline; drain. ``GET /db`` shares a
bounded pool of gevent sockets to the upstream (``--upstream-pool``). A
greenlet costs a few KB, so thousands of connections are cheap; they all
share one thread (and one core), and a crash ends them all. Nothing is monkey-patched: this module is imported only in a
gevent server.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import gevent.lock
import gevent.server
import gevent.socket

from servers.lifecycle import Lifecycle, PumpSet
from servers.models._blocking import BlockingPump, DeadlinePassed
from servers.models._closing import refuse
from servers.models._fds import fd_cap
from servers.protocol.config import ServerConfig
from servers.protocol.connection import Connection, make_connection_factory
from servers.stats import LocalStats
from servers.upstream.blocking import PooledSockets

DEFAULT_MAX_CONNECTIONS = 20_000


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    lifecycle = Lifecycle(config.graceful_timeout)
    wakeup = gevent.event.Event()
    lifecycle.handle_signals(wakeup.set, install=gevent.signal_handler)
    server = GreenletServer(listener, config, lifecycle, wakeup)
    server.start()
    on_ready()
    while not lifecycle.stopping:
        wakeup.wait()
        wakeup.clear()
    for timeout in lifecycle.drain(server):
        wakeup.wait(timeout)
        wakeup.clear()


class GreenletServer(PumpSet):
    """The greenlets of a greenlet-per-connection server, and how they stop."""

    def __init__(
        self,
        listener: socket.socket,
        config: ServerConfig,
        lifecycle: Lifecycle,
        wakeup: gevent.event.Event,
    ) -> None:
        self.config = config
        self.lifecycle = lifecycle
        self.wakeup = wakeup
        self.cap = fd_cap(config.max_connections or DEFAULT_MAX_CONNECTIONS)
        self.stats = LocalStats("gevent")
        self.factory = make_connection_factory(config, self.stats)
        self.pumps: set[BlockingPump] = set()
        self.upstream = PooledSockets(gevent.socket, gevent.lock.BoundedSemaphore)
        gsock = gevent.socket.socket(listener.family, listener.type, fileno=listener.detach())
        self.server = gevent.server.StreamServer(gsock, self.handle)

    def start(self) -> None:
        self.server.start()

    def handle(self, sock: gevent.socket.socket, address: object) -> None:
        """Serve one connection (in its own greenlet), or refuse it at the cap."""
        if self.stats.open >= self.cap:
            refuse(sock, self.config.protocol)
            return
        self.stats.opened()
        conn = self.factory()
        pump = BlockingPump(
            sock,
            conn,
            sleep=gevent.sleep,
            timeouts="timer",
            timer=HubTimer(conn),
            upstream=self.upstream.perform,
        )
        self.pumps.add(pump)
        try:
            pump.serve()
        finally:
            self.pumps.discard(pump)
            self.stats.closed()
            if self.lifecycle.stopping:
                self.wakeup.set()  # the drain may be waiting for the last one

    # -- what the drain needs --------------------------------------------------------
    def stop_accepting(self) -> None:
        self.server.close()

    def abort_connections(self) -> None:
        self.server.stop(timeout=0)  # kills the greenlets still serving


class HubTimer:
    """A connection's deadline as one timer on gevent's hub, thrown into its greenlet.

    The timer is moved only when the deadline comes sooner (a ``gevent.Timeout``
    per ``recv`` was most of an echo's cost); when it fires early because the
    deadline moved later, it is set again. It throws
    :class:`~servers.models._blocking.DeadlinePassed` only while the pump is
    ``watching`` (waiting in ``recv``), never into a ``sleep`` or a send.
    """

    __slots__ = ("conn", "greenlet", "loop", "timer", "at", "watching")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.greenlet = gevent.getcurrent()  # the connection's own: made in its handler
        self.loop = gevent.get_hub().loop
        self.timer: Any = None  # a libev/libuv timer watcher while armed
        self.at = 0.0
        self.watching = False

    def arm(self, deadline: float) -> None:
        if self.timer is not None and self.at <= deadline:
            return
        self.cancel()
        self.at = deadline
        timer = self.loop.timer(max(0.0, deadline - time.monotonic()))
        timer.start(self._fired)
        self.timer = timer

    def _fired(self) -> None:
        self.cancel()
        deadline = self.conn.deadline()
        if deadline is None or not self.watching:
            return  # the next recv arms it again
        if deadline <= time.monotonic():
            self.greenlet.throw(DeadlinePassed)
        else:
            self.arm(deadline)  # the deadline moved since the timer was set

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.close()
            self.timer = None
