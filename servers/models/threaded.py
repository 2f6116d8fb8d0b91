"""``thread``: one thread per connection.

Threads share every variable, so the counters behind ``/stats`` sit behind a
``threading.Lock`` (``servers.stats.LockedStats``). Cheap to start (about
40 us) but the GIL lets only one run Python at a time, and a crash in any
thread takes the whole process down. Capped by ``--max-connections``
(default 2000); at the cap a new connection gets 503.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from servers.models._blocking import Acceptor, BlockingPump, Stop, StopSignals
from servers.models._effects import reject
from servers.models._fds import fd_cap
from servers.protocol.config import ServerConfig
from servers.protocol.connection import make_connection_factory
from servers.stats import LockedStats

DEFAULT_MAX_THREADS = 2000


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    cap = fd_cap(config.max_connections or DEFAULT_MAX_THREADS)
    stats = LockedStats("thread")
    factory = make_connection_factory(config, stats)
    pumps: set[BlockingPump] = set()
    pumps_lock = threading.Lock()

    def handle(sock: socket.socket) -> None:
        pump = BlockingPump(sock, factory(), timeouts="kernel")
        with pumps_lock:
            pumps.add(pump)
        try:
            pump.serve()
        finally:
            with pumps_lock:
                pumps.discard(pump)
            stats.closed()

    signals = StopSignals()
    signals.install()
    acceptor = Acceptor(listener)
    on_ready()
    try:
        while True:
            sock = acceptor.accept()
            if stats.open >= cap:
                reject(sock, config.protocol)
                continue
            stats.opened()
            try:
                threading.Thread(target=handle, args=(sock,), daemon=True).start()
            except RuntimeError as exc:  # "can't start new thread": out of memory or tasks
                stats.closed()
                reject(sock, config.protocol)
                acceptor.back_off(OSError(str(exc)))
    except Stop:
        pass
    finally:
        signals.raise_on_first = False
        listener.close()
        with pumps_lock:
            for pump in pumps:
                pump.stop()
        deadline = time.monotonic() + config.graceful_timeout
        while pumps and time.monotonic() < deadline and not signals.forced:
            time.sleep(0.02)
        # daemon threads still running past the grace period end with the process
