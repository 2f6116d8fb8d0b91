"""Round trips on a blocking socket: a connection per thread, or a bounded pool of them for gevent.

:func:`query_on` is the whole IO of a query: send a command, ``recv`` until
the reply is in, again for each round trip, within the upstream timeout.
:class:`PerThread` keeps one connection per thread (so per connection in the
thread and fork models, per worker in prefork, per pool thread in
threadpool): as many upstream connections as the model has threads of
control. :class:`PooledSockets` shares a bounded pool among greenlets, which
all run in one thread (``gevent.socket`` makes the same calls cooperative).
"""

from __future__ import annotations

import socket
import threading
import time
from types import ModuleType
from typing import Any

from servers.protocol.effects import Query
from servers.protocol.upstream import (
    Exchange,
    UpstreamConfig,
    UpstreamError,
    pool_exhausted,
    too_slow,
    unavailable,
)

RECV_SIZE = 65536


def connect(config: UpstreamConfig, sockets: ModuleType = socket) -> Any:
    """A connected socket (from ``sockets``: the stdlib's or gevent's) with the upstream timeout."""
    family = socket.AF_UNIX if config.is_unix else socket.AF_INET
    sock = sockets.socket(family, socket.SOCK_STREAM)
    sock.settimeout(config.timeout)
    try:
        sock.connect(config.address)
        if not config.is_unix:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    return sock


def query_on(sock: Any, query: Query) -> bytes:
    """Make the query's round trips on ``sock``; the HTTP response.

    Raises:
        UpstreamError: the upstream failed (the socket must then be dropped).
    """
    exchange = Exchange(query)
    timeout = query.upstream.timeout
    deadline = time.monotonic() + timeout
    try:
        while not exchange.done:
            sock.sendall(exchange.request())
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise too_slow(timeout)
                sock.settimeout(remaining)
                if exchange.receive_data(sock.recv(RECV_SIZE)):
                    break
    except TimeoutError:
        raise too_slow(timeout) from None
    except OSError as exc:
        raise unavailable(exc) from None
    return exchange.response()


class _Held:
    """One thread's upstream connection; closed (and counted) when the thread's locals go."""

    __slots__ = ("sock", "counters", "__weakref__")

    def __init__(self) -> None:
        self.sock: Any = None
        self.counters: Any = None

    def drop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            self.counters.upstream_closed()

    def __del__(self) -> None:
        self.drop()


class PerThread:
    """A connection per thread, opened on the thread's first query and kept while it lives."""

    def __init__(self) -> None:
        self._local = threading.local()

    def perform(self, query: Query) -> bytes:
        """The response to ``query`` (its failure's response if the upstream failed)."""
        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = _Held()
        try:
            if held.sock is None:
                held.sock = _open(query)
                held.counters = query.counters
            return query_on(held.sock, query)
        except UpstreamError as error:
            held.drop()
            return query.fail(error)


class PooledSockets:
    """At most ``--upstream-pool`` connections shared by greenlets; a query waits for one, bounded."""

    def __init__(self, sockets: ModuleType, semaphore: type) -> None:
        self._sockets = sockets
        self._semaphore = semaphore
        self._free: Any = None
        self._idle: list[Any] = []

    def perform(self, query: Query) -> bytes:
        config = query.upstream
        if self._free is None:
            self._free = self._semaphore(config.pool)
        if not self._free.acquire(timeout=config.pool_wait):
            return query.fail(pool_exhausted(config.pool_wait))
        sock = self._idle.pop() if self._idle else None
        try:
            if sock is None:
                sock = _open(query, self._sockets)
            response = query_on(sock, query)
            self._idle.append(sock)
            return response
        except UpstreamError as error:
            if sock is not None:
                sock.close()
                query.counters.upstream_closed()
            return query.fail(error)
        finally:
            self._free.release()


def _open(query: Query, sockets: ModuleType = socket) -> Any:
    try:
        sock = connect(query.upstream, sockets)
    except TimeoutError:
        raise too_slow(query.upstream.timeout) from None
    except OSError as exc:
        raise unavailable(exc) from None
    query.counters.upstream_opened()
    return sock
