"""Round trips on the hand-made loop (``handloop.Loop``), by callbacks: reactor, generators.

:meth:`CallbackPool.perform` starts a query and returns at once; ``done(response)``
is called later, from the loop, with the response (or the failure's). The
steps are the loop's own: a non-blocking ``connect`` finished when the socket
turns writable, a command sent, ``recv`` whenever the socket turns readable
until the exchange has its reply, the next command; one timer bounds the
whole query (504) and another the wait for a pooled connection (503). An idle
pooled connection stays watched, so one the upstream closes is forgotten at
once. The generators model waits on a :class:`handloop.Future` that ``done``
resolves.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable

from handloop import Loop, Timer
from servers.protocol.effects import Query
from servers.protocol.upstream import (
    Exchange,
    UpstreamCounters,
    UpstreamError,
    pool_exhausted,
    too_slow,
    unavailable,
)
from servers.upstream.slots import Slots

RECV_SIZE = 65536
Done = Callable[[bytes], object]


class Upstream:
    """One non-blocking upstream socket, watched while idle for a close."""

    __slots__ = ("pool", "sock", "fd")

    def __init__(self, pool: CallbackPool, sock: socket.socket) -> None:
        self.pool, self.sock, self.fd = pool, sock, sock.fileno()

    def on_idle_readable(self) -> None:
        """Bytes or EOF while nobody asked: the upstream closed it, or is out of step."""
        self.pool.loop.remove_reader(self.fd)
        self.sock.close()
        self.pool.forget(self)


class Flight:
    """One query in progress: its exchange, its connection, its timers."""

    __slots__ = ("pool", "query", "done", "exchange", "conn", "timer", "waiting")

    def __init__(self, pool: CallbackPool, query: Query, done: Done) -> None:
        self.pool, self.query, self.done = pool, query, done
        self.exchange = Exchange(query)
        self.conn: Upstream | None = None
        self.timer: Timer | None = None
        self.waiting = False

    # -- a connection ----------------------------------------------------------------
    def given(self, conn: Upstream | None) -> None:
        """The pool's answer: an idle connection, or None to open one."""
        if self.timer is not None:
            self.timer.cancel()
        self.waiting = False
        loop = self.pool.loop
        self.timer = loop.call_later(self.query.upstream.timeout, self.on_timeout)
        if conn is not None:
            loop.remove_reader(conn.fd)  # no longer idle
            self.conn = conn
            self.send()
            return
        config = self.query.upstream
        sock = socket.socket(socket.AF_UNIX if config.is_unix else socket.AF_INET)
        sock.setblocking(False)
        self.conn = Upstream(self.pool, sock)
        self.pool.counters.upstream_opened()
        code = sock.connect_ex(config.address)
        if code not in (0, errno.EINPROGRESS, errno.EAGAIN):
            self.fail(unavailable(OSError(code, errno.errorcode.get(code, str(code)))))
            return
        loop.add_writer(self.conn.fd, self.on_connected)

    def on_connected(self) -> None:
        assert self.conn is not None
        self.pool.loop.remove_writer(self.conn.fd)
        code = self.conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.fail(unavailable(OSError(code, errno.errorcode.get(code, str(code)))))
            return
        if not self.query.upstream.is_unix:
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send()

    # -- round trips ------------------------------------------------------------------
    def send(self) -> None:
        """Send the next command (a few dozen bytes: an empty socket buffer takes them whole)."""
        conn = self.conn
        assert conn is not None
        request = self.exchange.request()
        try:
            if conn.sock.send(request) != len(request):
                raise BlockingIOError("the upstream socket took part of a command")
        except OSError as exc:
            self.fail(unavailable(exc))
            return
        self.pool.loop.add_reader(conn.fd, self.on_readable)

    def on_readable(self) -> None:
        conn = self.conn
        assert conn is not None
        try:
            data = conn.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            self.fail(unavailable(exc))
            return
        try:
            if not self.exchange.receive_data(data):
                return
        except UpstreamError as error:
            self.fail(error)
            return
        if not self.exchange.done:
            self.send()
            return
        if self.timer is not None:
            self.timer.cancel()
        self.pool.loop.add_reader(conn.fd, conn.on_idle_readable)
        self.pool.slots.put(conn)
        self.done(self.exchange.response())

    # -- the end of a failed query -----------------------------------------------------
    def on_timeout(self) -> None:
        self.timer = None
        if self.waiting:
            self.pool.slots.cancel(self.given)
            self.done(self.query.fail(pool_exhausted(self.query.upstream.pool_wait)))
        else:
            self.fail(too_slow(self.query.upstream.timeout))

    def fail(self, error: UpstreamError) -> None:
        """Drop the connection, free its slot, answer the failure."""
        if self.timer is not None:
            self.timer.cancel()
        conn = self.conn
        if conn is not None:
            self.pool.loop.remove_reader(conn.fd)
            self.pool.loop.remove_writer(conn.fd)
            conn.sock.close()
            self.pool.counters.upstream_closed()
        self.pool.slots.drop()
        self.done(self.query.fail(error))


class CallbackPool:
    """At most ``--upstream-pool`` connections for this loop, opened when first needed."""

    def __init__(self, loop: Loop, counters: UpstreamCounters) -> None:
        self.loop = loop
        self.counters = counters
        self._slots: Slots[Upstream] | None = None

    @property
    def slots(self) -> Slots[Upstream]:
        assert self._slots is not None
        return self._slots

    def perform(self, query: Query, done: Done) -> None:
        """Start ``query``; ``done(response)`` is called when it is answered (never before this returns)."""
        if self._slots is None:
            self._slots = Slots(query.upstream.pool)
        flight = Flight(self, query, lambda response: self.loop.call_soon(done, response))
        if not self._slots.take(flight.given):
            flight.waiting = True
            flight.timer = self.loop.call_later(query.upstream.pool_wait, flight.on_timeout)

    def forget(self, conn: Upstream) -> None:
        """An idle connection that closed."""
        self.slots.lost(conn)
        self.counters.upstream_closed()
