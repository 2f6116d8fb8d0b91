"""The blocking pump, written once for fork, thread and gevent (socketserver's lesson).

``BlockingPump.serve()`` loops ``recv -> connection.receive_data -> perform``;
the models differ only in how they hand a connection to it (a child process,
a thread, a greenlet) and in which ``sleep`` and socket they pass in.
"""

from __future__ import annotations

import logging
import signal
import socket
import time
from collections.abc import Callable

from servers.models._effects import crash_now
from servers.protocol.connection import Connection
from servers.protocol.effects import CLOSE, CRASH, Action, Compute, Wait

log = logging.getLogger(__name__)

RECV_SIZE = 65536


class BlockingPump:
    """Moves bytes between one blocking socket and one protocol connection."""

    __slots__ = ("sock", "conn", "sleep", "_timeout")

    def __init__(
        self, sock: socket.socket, conn: Connection, sleep: Callable[[float], object] = time.sleep
    ) -> None:
        self.sock = sock
        self.conn = conn
        self.sleep = sleep
        self._timeout = -1.0

    def serve(self) -> None:
        """Serve the connection until it closes; always closes the socket."""
        sock, conn = self.sock, self.conn
        try:
            while True:
                self._arm_timeout()
                try:
                    data = sock.recv(RECV_SIZE)
                except TimeoutError:
                    deadline = conn.deadline()
                    if deadline is None or deadline > time.monotonic():
                        continue
                    actions = conn.timed_out()
                else:
                    actions = conn.receive_data(data)
                if self.perform(actions):
                    return
                if conn.draining and conn.idle:
                    return
        except OSError as exc:  # reset by peer, broken pipe: the client is gone
            log.debug("connection ended: %s", exc)
        finally:
            sock.close()

    def perform(self, actions: list[Action]) -> bool:
        """Perform actions in order; return True once the connection is to be closed."""
        sock = self.sock
        for action in actions:
            if type(action) is bytes:
                sock.sendall(action)
            elif action is CLOSE:
                return True
            elif type(action) is Wait:
                self.sleep(action.seconds)
                self.conn.touch()
            elif type(action) is Compute:
                sock.sendall(action.run())
            elif action is CRASH:
                crash_now()
        return False

    def _arm_timeout(self) -> None:
        """Set the socket timeout to the connection's deadline (only when it moved much)."""
        deadline = self.conn.deadline()
        remaining = 3600.0 if deadline is None else max(deadline - time.monotonic(), 0.01)
        if abs(remaining - self._timeout) > 0.25:
            self.sock.settimeout(remaining)
            self._timeout = remaining

    def stop(self) -> None:
        """Ask the connection to close once idle; wakes a ``recv`` that waits between requests.

        Safe to call from another thread, another greenlet or a signal handler.
        """
        self.conn.draining = True
        if self.conn.idle:
            try:
                self.sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass


class Stop(Exception):
    """Raised in the main thread by the first SIGINT/SIGTERM: stop accepting."""


class StopSignals:
    """SIGINT/SIGTERM handling for the blocking models' main thread.

    The first signal raises :class:`Stop` (breaking out of ``accept()``); a second
    one sets ``forced``, which ends the grace period at once.
    """

    def __init__(self) -> None:
        self.count = 0
        self.raise_on_first = True

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.count += 1
        if self.count == 1 and self.raise_on_first:
            raise Stop(signal.Signals(signum).name)

    @property
    def forced(self) -> bool:
        return self.count >= 2
