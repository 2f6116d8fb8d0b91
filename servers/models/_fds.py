"""Running out of file descriptors: caps that fit the open-file limit, a calm accept, a backoff."""

from __future__ import annotations

import errno
import logging
import resource
import socket
import time
from typing import Any

log = logging.getLogger(__name__)

#: Descriptors kept free for the listener, the loop, logging and /stats (psutil reads /proc).
FD_RESERVE = 64
#: accept() errors that mean "out of resources for now".
SCARCE = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def fd_cap(cap: int, reserve: int = FD_RESERVE) -> int:
    """``cap`` lowered, if needed, so that every connection under it has a descriptor.

    A model whose connections each hold a descriptor in this process (thread,
    gevent, asyncio, uvloop, each multiprocess worker) then answers 503 at the
    cap rather than failing in ``accept()``.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or cap <= soft - reserve:
        return cap
    lowered = max(1, soft - reserve)
    log.info(
        "connection cap lowered from %d to %d by the open-file limit (ulimit -n %d)",
        cap,
        lowered,
        soft,
    )
    return lowered


class CalmListener(socket.socket):
    """A listening socket for the stdlib asyncio loop that stops an accept batch on EMFILE.

    CPython 3.11's ``_accept_connection`` logs an EMFILE, pauses the listener
    for a second, but then goes on trying ``accept()`` up to ``backlog`` times
    in the same batch, logging and scheduling a retry each time: a storm of
    errors that grows with every retry. Here, once ``accept()`` has failed for
    want of descriptors, further calls in the next half second say "nothing to
    accept" instead, so asyncio logs one error and retries once a second.
    """

    QUIET_S = 0.5

    def __init__(self, listener: socket.socket) -> None:
        family, type_, proto = listener.family, listener.type, listener.proto
        super().__init__(family, type_, proto, fileno=listener.detach())
        self._quiet_until = 0.0

    def accept(self) -> tuple[socket.socket, Any]:
        if self._quiet_until and time.monotonic() < self._quiet_until:
            raise BlockingIOError(errno.EAGAIN, "backing off after EMFILE")
        try:
            return super().accept()
        except OSError as exc:
            if exc.errno in SCARCE:
                self._quiet_until = time.monotonic() + self.QUIET_S
            raise


class Backoff:
    """How long to stop accepting after EMFILE and its cousins: 10 ms doubling to 0.5 s."""

    MIN_DELAY = 0.01
    MAX_DELAY = 0.5

    def __init__(self) -> None:
        self.delay = 0.0

    def failed(self, exc: OSError) -> float:
        """One more failure in a row: the (longer) delay before trying again."""
        if not self.delay:
            log.warning("cannot accept (%s): backing off", exc.strerror or exc)
        self.delay = min(max(self.delay * 2, self.MIN_DELAY), self.MAX_DELAY)
        return self.delay

    def succeeded(self) -> None:
        if self.delay:
            log.warning("accepting again")
            self.delay = 0.0
