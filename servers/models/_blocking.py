"""The blocking pump and the blocking accept loop, written once (socketserver's lesson).

``BlockingPump.serve()`` loops ``recv -> connection.receive_data -> perform``;
the models differ only in how they hand a connection to it (a child process,
a thread, a greenlet, a pool) and in which ``sleep``, socket and deadline
timer they pass in. :class:`Acceptor` is the accept loop of the models whose
main thread blocks (fork, thread, prefork, threadpool): it wakes on a
connection, a signal or a closed connection.
"""

from __future__ import annotations

import logging
import socket
import struct
import time
from collections.abc import Callable, Iterator
from typing import Protocol

from servers.lifecycle import Lifecycle, WakeupPipe
from servers.models._closing import SEND_TIMEOUT, Refusals, linger, poll_readable
from servers.models._crash import crash_now
from servers.models._fds import SCARCE, Backoff
from servers.protocol.connection import Connection
from servers.protocol.effects import CLOSE, CRASH, Action, Compute, Query, Wait
from servers.upstream.blocking import PerThread

log = logging.getLogger(__name__)

RECV_SIZE = 65536
#: ``GET /db`` in the blocking models: a connection to the upstream per thread of control.
PER_THREAD = PerThread()
#: How much later than the deadline a kernel receive timeout may end (it is set again
#: only when it is later than that, or much earlier, so a trickle costs few system calls).
KERNEL_LATE_S = 0.05
KERNEL_EARLY_S = 0.25


class DeadlinePassed(Exception):
    """Thrown into a pump's ``recv`` by its :class:`DeadlineTimer`: the deadline has passed."""


class DeadlineTimer(Protocol):
    """A timer that throws :class:`DeadlinePassed` into the pump's ``recv`` at the deadline.

    It throws only while ``watching`` (the pump is in ``recv``); a timer that fires
    while the pump sleeps or sends does nothing, and the next :meth:`arm` sets it again.
    """

    watching: bool

    def arm(self, deadline: float) -> None:
        """Make sure the timer fires at or before ``deadline`` (on ``time.monotonic``)."""

    def cancel(self) -> None:
        """The connection is done: the timer never fires."""


class BlockingPump:
    """Moves bytes between one blocking socket and one protocol connection.

    How deadlines are enforced, by ``timeouts``:

    * ``"kernel"`` (fork, thread, prefork, threadpool): the socket stays in
      plain blocking mode and ``SO_RCVTIMEO``/``SO_SNDTIMEO`` bound each
      call, so a ``recv`` is one system call, as in the simplest blocking server;
    * ``"timer"`` (gevent): no timeout on the socket while it receives;
      ``timer`` (a :class:`DeadlineTimer`, one per connection) interrupts a
      ``recv`` that outlives the connection's deadline, and each send gets
      :data:`~servers.models._closing.SEND_TIMEOUT` as a socket timeout.

    A close the server starts (after a response that closes, an error answer,
    a timeout) is a lingering close (see :mod:`servers.models._closing`); a
    close after the client's own is immediate.
    """

    __slots__ = ("sock", "conn", "sleep", "upstream", "_timeout", "timer", "send")

    def __init__(
        self,
        sock: socket.socket,
        conn: Connection,
        sleep: Callable[[float], object] = time.sleep,
        *,
        timeouts: str,
        upstream: Callable[[Query], bytes] = PER_THREAD.perform,
        timer: DeadlineTimer | None = None,
    ) -> None:
        if timeouts not in ("kernel", "timer") or (timeouts == "timer") != (timer is not None):
            raise ValueError(f"timeouts {timeouts!r}: choose kernel, or timer with a timer")
        self.sock = sock
        self.conn = conn
        self.sleep = sleep
        self.upstream = upstream  # performs a Query, returns the response
        self._timeout = -1.0
        self.timer = timer
        self.send = sock.sendall if timer is None else self._send_in_time

    def serve(self) -> None:
        """Serve the connection until it closes; always closes the socket."""
        sock, conn = self.sock, self.conn
        peer_closed = True
        try:
            if self.timer is None:
                sock.settimeout(None)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(SEND_TIMEOUT))
            while True:
                data = self._receive()
                if data is None:
                    actions = conn.timed_out()
                else:
                    actions = conn.receive_data(data)
                if self.perform(actions):
                    # the client closed, or sent nothing since the last response: no lingering
                    peer_closed = data == b"" or (data is None and conn.idle)
                    return
                if conn.draining and conn.idle:
                    peer_closed = False
                    return
        except OSError as exc:  # reset by peer, broken pipe: the client is gone
            log.debug("connection ended: %s", exc)
        finally:
            if self.timer is not None:
                self.timer.cancel()
            if peer_closed:
                sock.close()
            else:
                linger(sock)

    def _receive(self) -> bytes | None:
        """The next bytes from the client (``b""`` at EOF), or None once its deadline passed."""
        timer = self.timer
        if timer is not None:
            deadline = self.conn.deadline()
            if deadline is not None:
                timer.arm(deadline)
            timer.watching = True
            try:
                return self.sock.recv(RECV_SIZE)
            except DeadlinePassed:
                return None
            finally:
                timer.watching = False
        while self._arm_timeout():
            try:
                return self.sock.recv(RECV_SIZE)
            except (TimeoutError, BlockingIOError):
                if self.conn.idle:
                    return None  # idle for the whole keep-alive timeout
                # within a request: the loop checks the request's deadline again
        return None

    def perform(self, actions: list[Action]) -> bool:
        """Perform actions in order; return True once the connection is to be closed."""
        send = self.send
        for action in actions:
            if type(action) is bytes:
                send(action)
            elif action is CLOSE:
                return True
            elif type(action) is Wait:
                self.sleep(action.seconds)
                self.conn.touch()
            elif type(action) is Compute:
                send(action.run())
            elif type(action) is Query:
                response = self.upstream(action)
                self.conn.touch()
                send(response)
            elif action is CRASH:
                crash_now()
        return False

    def _send_in_time(self, data: bytes) -> None:
        """``sendall`` within :data:`SEND_TIMEOUT`, on a socket with no kernel send timeout."""
        sock = self.sock
        sock.settimeout(SEND_TIMEOUT)  # gevent: an attribute, no system call
        try:
            sock.sendall(data)
        finally:
            sock.settimeout(None)

    def _arm_timeout(self) -> bool:
        """Set the socket timeout to the connection's deadline (only when it moved much).

        Between requests the timeout is simply the keep-alive timeout (every
        ``recv`` restarts it), which costs nothing per message. Within a request
        the deadline is checked before every ``recv``, so a client trickling
        bytes cannot outlive it: the timeout ends at most :data:`KERNEL_LATE_S`
        after the deadline. Returns False once the deadline has passed.
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
        if not remaining - KERNEL_EARLY_S <= self._timeout <= remaining + KERNEL_LATE_S:
            self._set_timeout(remaining)
        return True

    def _set_timeout(self, seconds: float) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(seconds))
        self._timeout = seconds

    def stop(self) -> None:
        """Ask the connection to close once idle; wakes a ``recv`` that waits between requests.

        Safe to call from another thread, another greenlet or a signal handler.
        """
        self.conn.draining = True
        if self.conn.idle:
            _shut_reading(self.sock)


class Acceptor:
    """The accept loop of a blocking main thread, woken by signals, never held up by a refusal.

    Iterating yields accepted sockets until the lifecycle is stopping. Between
    accepts it polls the listener, the wake-up pipe (a signal, a connection
    that closed) and the sockets refused at the cap while they linger;
    ``on_wake()`` runs after each wake-up (the fork model reaps children
    there). Out of descriptors, it stops watching the listener for a while
    (:class:`Backoff`), so the server neither dies nor spins; a client that
    gave up before being accepted (ECONNABORTED) is skipped.
    """

    BATCH = 32

    def __init__(
        self,
        listener: socket.socket,
        wakeup: WakeupPipe,
        lifecycle: Lifecycle,
        protocol: str,
        on_wake: Callable[[], object] = lambda: None,
    ) -> None:
        listener.setblocking(False)
        self.listener = listener
        self.wakeup = wakeup
        self.lifecycle = lifecycle
        self.protocol = protocol
        self.on_wake = on_wake
        self.refusals = Refusals()
        self.backoff = Backoff()
        self._resume_at = 0.0

    def __iter__(self) -> Iterator[socket.socket]:
        listener_fd, wake_fd = self.listener.fileno(), self.wakeup.fileno()
        refusals = self.refusals
        while not self.lifecycle.stopping:
            timeout = refusals.timeout()
            fds = [wake_fd, *refusals.fds()]
            paused = self._resume_at - time.monotonic()
            if paused > 0:
                timeout = paused if timeout is None else min(timeout, paused)
            else:
                fds.append(listener_fd)
            readable = poll_readable(fds, timeout)
            if wake_fd in readable:
                self.wakeup.clear()
                self.on_wake()
            refusals.service(readable)
            if listener_fd in readable and not self.lifecycle.stopping:
                yield from self._accept_batch()

    def _accept_batch(self) -> Iterator[socket.socket]:
        for _ in range(self.BATCH):
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in SCARCE:
                    raise
                self.pause(exc)
                return
            self.backoff.succeeded()
            yield sock

    def pause(self, exc: OSError) -> None:
        """Out of resources (descriptors, processes, threads): stop accepting for a while."""
        self._resume_at = time.monotonic() + self.backoff.failed(exc)

    def refuse(self, sock: socket.socket) -> None:
        """Over the cap: 503 (HTTP) and a lingering close that the loop finishes."""
        self.refusals.refuse(sock, self.protocol)

    def close(self) -> None:
        """Stop accepting: close the listener (and any refusal still lingering)."""
        self.listener.close()
        self.refusals.close_all()


def _shut_reading(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass


def _timeval(seconds: float) -> bytes:
    """A ``struct timeval`` for SO_RCVTIMEO / SO_SNDTIMEO."""
    whole = int(seconds)
    return struct.pack("ll", whole, max(int((seconds - whole) * 1e6), 1 if not whole else 0))
