"""Closing a connection without destroying the last response (RFC 9112 section 9.6).

Closing a socket whose receive buffer still holds unread bytes makes the kernel
send a reset instead of a FIN, and a reset destroys whatever the client has
not read yet: the response that announced the close (``Connection: close``,
HTTP/1.0, an error answer, the 503 at the cap). So every close the server
starts after sending something is a *lingering close*, as nginx and Apache do:
half-close (``shutdown(SHUT_WR)``: the client reads the response, then EOF),
read and discard until the client closes too, then close. Bounded so that a
client cannot hold a connection open by it: at most :data:`LINGER_S` seconds
and :data:`LINGER_BYTES` bytes, and the connection counts against the model's
cap until it is closed.

Every driver lingers its own way (a blocking ``recv`` with a timeout here; a
timer and ``data_received`` in the event loops); these are the shared parts.
"""

from __future__ import annotations

import heapq
import logging
import select
import socket
import time

from servers.protocol.responses import overload_response

log = logging.getLogger(__name__)

#: The longest a lingering close waits for the client to close its side.
LINGER_S = 2.0
#: The most a lingering close reads and discards before giving up (and resetting).
LINGER_BYTES = 256 * 1024
#: A peer that reads nothing of a response for this long is dropped.
SEND_TIMEOUT = 10.0
_READ = 65536


def linger(sock: socket.socket) -> None:
    """Half-close a blocking socket, drain it until EOF (bounded), close it.

    Works for any socket whose ``recv`` blocks the current thread, greenlet or
    child process (fork, thread, gevent, prefork, threadpool).
    """
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + LINGER_S
        left = LINGER_BYTES
        while left > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            sock.settimeout(remaining)
            data = sock.recv(min(_READ, left))
            if not data:
                break
            left -= len(data)
    except OSError:  # reset, timed out, or already gone: nothing more to save
        pass
    finally:
        sock.close()


class Refusals:
    """Connections refused at the cap: answered, then closed by lingering, off the accept path.

    A blocking accept loop must never wait on a refused client, so a refused
    socket is made non-blocking, its request read (what has arrived), the 503
    sent and the write side shut; it then stays here until the client closes,
    :data:`LINGER_S` passes or :data:`LINGER_BYTES` are read. The accept loop
    polls these sockets along with the listener (:meth:`fds`, :meth:`timeout`,
    :meth:`service`). Beyond :attr:`MAX` lingering refusals the oldest is
    closed at once.
    """

    MAX = 128

    def __init__(self) -> None:
        self._socks: dict[
            int, tuple[socket.socket, int, float]
        ] = {}  # fd -> (socket, bytes left, deadline)
        self._deadlines: list[
            tuple[float, int]
        ] = []  # a heap of (deadline, fd), stale entries skipped

    def refuse(self, sock: socket.socket, protocol: str) -> None:
        """Answer ``sock`` with 503 (HTTP) or nothing (echo) and start its lingering close."""
        try:
            sock.setblocking(False)
            if protocol == "http":
                try:
                    sock.recv(_READ)  # the request, if it has come: not a reason to reset
                except OSError:
                    pass
                sock.send(overload_response())
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            sock.close()
            return
        if len(self._socks) >= self.MAX:
            self._close(next(iter(self._socks)))  # the oldest
        deadline = time.monotonic() + LINGER_S
        self._socks[sock.fileno()] = (sock, LINGER_BYTES, deadline)
        heapq.heappush(self._deadlines, (deadline, sock.fileno()))

    def fds(self) -> list[int]:
        return list(self._socks)

    def timeout(self) -> float | None:
        """Seconds until the next lingering close expires (None: nothing lingers)."""
        self._expire()
        if not self._deadlines:
            return None
        return max(0.0, self._deadlines[0][0] - time.monotonic())

    def service(self, readable: set[int]) -> None:
        """Read and discard from the readable refused sockets; close those that are done."""
        for fd in readable & self._socks.keys():
            sock, left, deadline = self._socks[fd]
            try:
                data = sock.recv(min(_READ, left))
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data or len(data) >= left:
                self._close(fd)
            else:
                self._socks[fd] = (sock, left - len(data), deadline)
        self._expire()

    def close_all(self) -> None:
        for fd in list(self._socks):
            self._close(fd)

    def _expire(self) -> None:
        now = time.monotonic()
        heap = self._deadlines
        while heap:
            deadline, fd = heap[0]
            entry = self._socks.get(fd)
            if entry is not None and entry[2] == deadline and deadline > now:
                return
            heapq.heappop(heap)
            if entry is not None and entry[2] == deadline:
                self._close(fd)

    def _close(self, fd: int) -> None:
        entry = self._socks.pop(fd, None)
        if entry is not None:
            entry[0].close()


def poll_readable(fds: list[int], timeout: float | None) -> set[int]:
    """The readable (or hung-up) descriptors among ``fds``: ``poll``, so no FD_SETSIZE limit."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    ms = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
    return {fd for fd, _ in poller.poll(ms)}


def refuse(sock: socket.socket, protocol: str) -> None:
    """Over the cap, where waiting costs nothing (a greenlet): 503 for HTTP, then a lingering close."""
    try:
        if protocol == "http":
            sock.sendall(overload_response())
    except OSError:
        sock.close()
        return
    linger(sock)
