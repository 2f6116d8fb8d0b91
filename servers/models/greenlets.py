"""``gevent``: one greenlet per connection, on gevent's libev/libuv hub.

Listen; accept with gevent's ``StreamServer`` (a greenlet per connection);
serve each with the same blocking pump as ``fork`` and ``thread``, over
gevent's cooperative sockets (a ``recv`` that would block switches to another
greenlet instead); drain. ``GET /db`` shares a bounded pool of gevent sockets
to the upstream (``--upstream-pool``). A greenlet costs a few KB, so thousands of
connections are cheap; they all share one thread (and one core), and a crash
ends them all. Nothing is monkey-patched: this module is imported only in a
gevent server.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import gevent
import gevent.event
import gevent.lock
import gevent.server
import gevent.socket

from servers.lifecycle import Lifecycle, PumpSet
from servers.models._blocking import BlockingPump
from servers.models._closing import refuse
from servers.models._fds import fd_cap
from servers.protocol.config import ServerConfig
from servers.protocol.connection import make_connection_factory
from servers.stats import LocalStats
from servers.upstream.blocking import PooledSockets

DEFAULT_MAX_CONNECTIONS = 20_000
SWEEP_INTERVAL = 1.0


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
    """The greenlets of a greenlet-per-connection server, their deadlines, and how they stop."""

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
        self.sweeper: gevent.Greenlet | None = None

    def start(self) -> None:
        self.server.start()
        self.sweeper = gevent.spawn(self.sweep)

    def handle(self, sock: gevent.socket.socket, address: object) -> None:
        """Serve one connection (in its own greenlet), or refuse it at the cap."""
        if self.stats.open >= self.cap:
            refuse(sock, self.config.protocol)
            return
        self.stats.opened()
        pump = BlockingPump(
            sock,
            self.factory(),
            sleep=gevent.sleep,
            timeouts="sweep",
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

    def sweep(self) -> None:
        """Once a second, time out every connection past its deadline."""
        while True:
            gevent.sleep(SWEEP_INTERVAL)
            now = time.monotonic()
            for pump in list(self.pumps):
                pump.expire(now)

    # -- what the drain needs --------------------------------------------------------
    def stop_accepting(self) -> None:
        self.server.close()

    def abort_connections(self) -> None:
        if self.sweeper is not None:
            self.sweeper.kill()
        self.server.stop(timeout=0)  # kills the greenlets still serving
