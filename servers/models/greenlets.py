"""``gevent``: one greenlet per connection, on gevent's libev/libuv hub.

The same blocking pump as ``fork`` and ``thread``, over gevent's cooperative
sockets: a ``recv`` that would block switches to another greenlet instead. A
greenlet costs about 14 us and a few KB, so thousands of connections are
cheap; they all share one thread (and one core), and a crash ends them all.
Nothing is monkey-patched: this module is imported only in a gevent server.
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable

import gevent
import gevent.event
import gevent.server
import gevent.socket

from servers.models._blocking import BlockingPump
from servers.models._effects import reject
from servers.models._fds import fd_cap
from servers.protocol.config import ServerConfig
from servers.protocol.connection import make_connection_factory
from servers.stats import LocalStats

DEFAULT_MAX_CONNECTIONS = 20_000
SWEEP_INTERVAL = 1.0


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    cap = fd_cap(config.max_connections or DEFAULT_MAX_CONNECTIONS)
    stats = LocalStats("gevent")
    factory = make_connection_factory(config, stats)
    pumps: set[BlockingPump] = set()

    def handle(sock: gevent.socket.socket, address: object) -> None:
        if stats.open >= cap:
            reject(sock, config.protocol)
            return
        stats.opened()
        pump = BlockingPump(sock, factory(), sleep=gevent.sleep, timeouts="sweep")
        pumps.add(pump)
        try:
            pump.serve()
        finally:
            pumps.discard(pump)
            stats.closed()

    gsock = gevent.socket.socket(listener.family, listener.type, fileno=listener.detach())
    server = gevent.server.StreamServer(gsock, handle)
    stop_requested = gevent.event.Event()
    signals = {"count": 0}

    def on_signal() -> None:
        signals["count"] += 1
        stop_requested.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, on_signal)

    def sweep() -> None:
        """Once a second, time out every connection past its deadline."""
        while True:
            gevent.sleep(SWEEP_INTERVAL)
            now = time.monotonic()
            for pump in list(pumps):
                pump.expire(now)

    server.start()
    sweeper = gevent.spawn(sweep)
    on_ready()
    stop_requested.wait()
    server.close()  # stop accepting at once
    for pump in list(pumps):
        pump.stop()
    deadline = time.monotonic() + config.graceful_timeout
    while pumps and time.monotonic() < deadline and signals["count"] < 2:
        gevent.sleep(0.02)
    sweeper.kill()
    server.stop(timeout=0)  # kills whatever is left
