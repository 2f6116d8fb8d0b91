"""The blocking pump, written once for fork, thread and gevent (socketserver's lesson).

``BlockingPump.serve()`` loops ``recv -> connection.receive_data -> perform``;
the models differ only in how they hand a connection to it (a child process,
a thread, a greenlet) and in which ``sleep`` and socket they pass in.
"""

from __future__ import annotations

import errno
import logging
import signal
import socket
import struct
import time
from collections.abc import Callable

from servers.models._effects import crash_now
from servers.protocol.connection import Connection
from servers.protocol.effects import CLOSE, CRASH, Action, Compute, Wait

log = logging.getLogger(__name__)

RECV_SIZE = 65536
#: A peer that reads nothing of a response for this long is dropped (kernel timeouts only).
SEND_TIMEOUT = 10.0


class BlockingPump:
    """Moves bytes between one blocking socket and one protocol connection.

    How deadlines are enforced, by ``timeouts``:

    * ``"kernel"`` (fork, thread): the socket stays in plain blocking mode and
      ``SO_RCVTIMEO``/``SO_SNDTIMEO`` bound each call, so a ``recv`` is one
      system call, as in the simplest blocking server;
    * ``"sweep"`` (gevent): no timeout on the socket at all; a sweeper calls
      :meth:`expire` once a second, as the asyncio driver's sweeper does;
    * ``"socket"``: ``settimeout`` before each ``recv`` (simple, but with a
      ``poll`` per call on a blocking socket).
    """

    __slots__ = ("sock", "conn", "sleep", "_timeout", "_mode", "busy", "expired")

    def __init__(
        self,
        sock: socket.socket,
        conn: Connection,
        sleep: Callable[[float], object] = time.sleep,
        *,
        timeouts: str = "socket",
    ) -> None:
        if timeouts not in ("kernel", "sweep", "socket"):
            raise ValueError(f"unknown timeouts mode {timeouts!r}")
        self.sock = sock
        self.conn = conn
        self.sleep = sleep
        self._timeout = -1.0
        self._mode = timeouts
        self.busy = False  # performing a Wait: deadlines do not apply
        self.expired = False  # set by the sweeper when the deadline passed

    def serve(self) -> None:
        """Serve the connection until it closes; always closes the socket."""
        sock, conn = self.sock, self.conn
        try:
            if self._mode == "kernel":
                sock.settimeout(None)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(SEND_TIMEOUT))
            sweep = self._mode == "sweep"
            while True:
                if sweep:
                    try:
                        data = sock.recv(RECV_SIZE)
                    except OSError:  # gevent cancels a waiting recv on shutdown(SHUT_RD)
                        if not self.expired:
                            raise
                    actions = conn.timed_out() if self.expired else conn.receive_data(data)
                elif self._arm_timeout():
                    try:
                        data = sock.recv(RECV_SIZE)
                    except (TimeoutError, BlockingIOError):
                        if not conn.idle:
                            continue  # the loop checks the deadline again
                        actions = conn.timed_out()  # idle for the whole keep-alive timeout
                    else:
                        actions = conn.receive_data(data)
                else:  # checked before every recv, so a trickle cannot outlive it
                    actions = conn.timed_out()
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
                self.busy = True
                self.sleep(action.seconds)
                self.busy = False
                self.conn.touch()
            elif type(action) is Compute:
                sock.sendall(action.run())
            elif action is CRASH:
                crash_now()
        return False

    def _arm_timeout(self) -> bool:
        """Set the socket timeout to the connection's deadline (only when it moved much).

        Between requests the timeout is simply the keep-alive timeout (every
        ``recv`` restarts it), which costs nothing per message. Within a request
        the deadline is checked before every ``recv``, so a client trickling
        bytes cannot outlive it. Returns False once the deadline has passed.
        """
        conn = self.conn
        if conn.idle:
            if self._timeout != conn.idle_timeout:
                self._set_timeout(conn.idle_timeout)
            return True
        deadline = conn.deadline()
        remaining = 3600.0 if deadline is None else deadline - time.monotonic()
        if remaining <= 0:
            return False
        if abs(remaining - self._timeout) > 0.25:
            self._set_timeout(remaining)
        return True

    def expire(self, now: float) -> None:
        """The sweeper's check: past its deadline, wake the ``recv`` so the pump times out."""
        if self.busy or self.expired:
            return
        deadline = self.conn.deadline()
        if deadline is not None and deadline <= now:
            self.expired = True
            try:
                self.sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass

    def _set_timeout(self, seconds: float) -> None:
        if self._mode == "kernel":
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(seconds))
        else:
            self.sock.settimeout(seconds)
        self._timeout = seconds

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


#: accept() errors that mean "out of resources for now": wait, never spin or die.
_SCARCE = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


class Acceptor:
    """``accept()`` that backs off when the process runs out of file descriptors.

    On EMFILE (and its cousins) it logs once, sleeps 10 ms doubling to at most
    0.5 s, and tries again, so the server neither dies nor spins and accepts
    again within half a second of descriptors being freed. A client that gave
    up before being accepted (ECONNABORTED) is skipped.
    """

    MIN_DELAY = 0.01
    MAX_DELAY = 0.5

    def __init__(
        self, listener: socket.socket, sleep: Callable[[float], object] = time.sleep
    ) -> None:
        self.listener = listener
        self.sleep = sleep
        self.delay = 0.0

    def accept(self) -> socket.socket:
        while True:
            try:
                sock, _ = self.listener.accept()
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno not in _SCARCE:
                    raise
                self.back_off(exc)
                continue
            if self.delay:
                log.warning("accepting again")
                self.delay = 0.0
            return sock

    def back_off(self, exc: OSError) -> None:
        """Wait before the next try (a longer wait each time in a row)."""
        if not self.delay:
            log.warning("cannot accept (%s): backing off", exc.strerror or exc)
        self.delay = min(max(self.delay * 2, self.MIN_DELAY), self.MAX_DELAY)
        self.sleep(self.delay)


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


def _timeval(seconds: float) -> bytes:
    """A ``struct timeval`` for SO_RCVTIMEO / SO_SNDTIMEO."""
    whole = int(seconds)
    return struct.pack("ll", whole, max(int((seconds - whole) * 1e6), 1 if not whole else 0))
