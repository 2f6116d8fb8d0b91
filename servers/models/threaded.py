"""``thread``: one thread per connection.

Listen; accept in the main thread (:class:`~servers.models._blocking.Acceptor`,
woken by signals through a self-pipe); serve each connection in a thread of
its own with the blocking pump; drain. Threads share every variable, so the
counters behind ``/stats`` sit behind a ``threading.Lock``
(``servers.stats.LockedStats``). Cheap to start compared with a process, but
the GIL lets only one run Python at a time, and a crash in any thread takes
the whole process down. Capped by ``--max-connections`` (default 2000); at the
cap a new connection gets 503.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from servers.lifecycle import Lifecycle, PumpSet, WakeupPipe
from servers.models._blocking import Acceptor, BlockingPump
from servers.models._fds import fd_cap
from servers.protocol.config import ServerConfig
from servers.protocol.connection import make_connection_factory
from servers.stats import LockedStats

DEFAULT_MAX_THREADS = 2000


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    lifecycle = Lifecycle(config.graceful_timeout)
    wakeup = lifecycle.wake_by_pipe()
    server = ThreadServer(listener, config, lifecycle, wakeup)
    on_ready()
    for sock in server.acceptor:
        server.start_thread(sock)
    for timeout in lifecycle.drain(server):
        wakeup.wait(timeout)
    # daemon threads still running past the grace period end with the process


class ThreadServer(PumpSet):
    """The connections of a thread-per-connection server, and how they stop."""

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
        self.cap = fd_cap(config.max_connections or DEFAULT_MAX_THREADS)
        self.stats = LockedStats("thread")
        self.factory = make_connection_factory(config, self.stats)
        self.pumps: set[BlockingPump] = set()
        self.lock = threading.Lock()

    def start_thread(self, sock: socket.socket) -> None:
        """Serve ``sock`` in a new thread, or refuse it at the cap."""
        if self.stats.open >= self.cap:
            self.acceptor.refuse(sock)
            return
        self.stats.opened()
        try:
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()
        except RuntimeError as exc:  # "can't start new thread": out of memory or tasks
            self.stats.closed()
            self.acceptor.refuse(sock)
            self.acceptor.pause(OSError(str(exc)))

    def _serve(self, sock: socket.socket) -> None:
        pump = BlockingPump(sock, self.factory(), timeouts="kernel")
        with self.lock:
            self.pumps.add(pump)
        if self.lifecycle.stopping:  # the drain may have looked before this thread started
            pump.stop()
        try:
            pump.serve()
        finally:
            with self.lock:
                self.pumps.discard(pump)
            self.stats.closed()
            if self.lifecycle.stopping:
                self.wakeup.wake()  # the drain may be waiting for the last one

    # -- what the drain needs --------------------------------------------------------
    def stop_accepting(self) -> None:
        self.acceptor.close()

    def open_connections(self) -> int:
        return self.stats.open  # counted before the thread starts, unlike self.pumps

    def abort_connections(self) -> None:
        """Nothing to do: the threads are daemons and end with the process."""
