"""Round trips through io_uring: connect, send and receive as ring requests (the iouring model).

Nothing is asked of the kernel's readiness: each step is a request whose
completion says it was done. :meth:`RingPool.perform` starts a query and
returns; the server hands every completion tagged with its upstream
operation to :meth:`RingPool.complete`, and ``done(response)`` is called once
the exchange has its last reply. Every live connection keeps one receive in
the ring, so one the upstream closes while idle is noticed and forgotten.
A ring timeout bounds the whole query (504) and another the wait for a
pooled connection (503).

The ring's tag for these is ``ident << 4 | op`` like every other; here
``ident`` is a connection's or a query's number above three bits of
:data:`CONNECT`, :data:`SENT`, :data:`RECEIVED` or :data:`TIMED`.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable
from typing import Any

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

CONNECT, SENT, RECEIVED, TIMED = range(4)
RECV_SIZE = 16 * 1024
Done = Callable[[bytes], object]


class RingUpstream:
    """One upstream socket: its number, its receive buffer, its requests in the ring."""

    __slots__ = ("number", "sock", "address", "buffer", "sending", "in_ring", "flight", "dead")

    def __init__(self, number: int, sock: socket.socket, address: Any) -> None:
        self.number, self.sock = number, sock
        self.address = address  # liburing's Sockaddr: kept while the connect is in the ring
        self.buffer = bytearray(RECV_SIZE)
        self.sending = b""
        self.in_ring = 0
        self.flight: Flight | None = None
        self.dead = False


class Flight:
    """One query: its exchange, its connection, whether it waits for one."""

    __slots__ = ("pool", "number", "query", "done", "exchange", "conn", "waiting", "timed")

    def __init__(self, pool: RingPool, number: int, query: Query, done: Done) -> None:
        self.pool, self.number, self.query, self.done = pool, number, query, done
        self.exchange = Exchange(query)
        self.conn: RingUpstream | None = None
        self.waiting = False
        self.timed = False  # a ring timeout of this flight is in the ring

    def given(self, conn: RingUpstream | None) -> None:
        self.pool.start(self, conn)


class RingPool:
    """At most ``--upstream-pool`` connections for the ring's thread, opened when first needed."""

    def __init__(self, ring: Any, op: int, counters: UpstreamCounters) -> None:
        import liburing

        self._sockaddr = liburing.Sockaddr
        self.ring, self.op, self.counters = ring, op, counters
        self.slots: Slots[RingUpstream] | None = None
        self.conns: dict[int, RingUpstream] = {}
        self.flights: dict[int, Flight] = {}
        self.numbers = 0

    def _tag(self, number: int, step: int) -> int:
        return (number << 2 | step) << 4 | self.op

    def _number(self) -> int:
        self.numbers += 1
        return self.numbers

    # -- a query ------------------------------------------------------------------------
    def perform(self, query: Query, done: Done) -> None:
        """Start ``query``; ``done(response)`` once it is answered (perhaps before this returns)."""
        if self.slots is None:
            self.slots = Slots(query.upstream.pool)
        flight = Flight(self, self._number(), query, done)
        self.flights[flight.number] = flight
        if not self.slots.take(flight.given):
            flight.waiting = True
            self._time(flight, query.upstream.pool_wait)

    def _time(self, flight: Flight, seconds: float) -> None:
        if flight.timed:
            self.ring.remove_timeout(self._tag(flight.number, TIMED))
        flight.timed = True
        self.ring.timeout(seconds, self._tag(flight.number, TIMED))

    def start(self, flight: Flight, conn: RingUpstream | None) -> None:
        """A connection for ``flight`` (None: open one), its whole-query timeout, the first send."""
        flight.waiting = False
        config = flight.query.upstream
        self._time(flight, config.timeout)
        if conn is None:
            try:
                conn = self._connect(flight)
            except OSError as exc:
                assert self.slots is not None
                self.slots.drop()
                self._finish(flight, flight.query.fail(unavailable(exc)))
                return
            flight.conn, conn.flight = conn, flight
            return
        flight.conn, conn.flight = conn, flight
        self._send(conn)

    def _connect(self, flight: Flight) -> RingUpstream:
        config = flight.query.upstream
        family = socket.AF_UNIX if config.is_unix else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        if config.is_unix:
            address = self._sockaddr(family, config.address)
        else:
            host, port = config.address
            address = self._sockaddr(family, host, port)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = RingUpstream(self._number(), sock, address)
        self.conns[conn.number] = conn
        self.counters.upstream_opened()
        self.ring.connect(sock.fileno(), address, self._tag(conn.number, CONNECT))
        conn.in_ring += 1
        return conn

    def _send(self, conn: RingUpstream) -> None:
        assert conn.flight is not None
        conn.sending = conn.flight.exchange.request()
        self.ring.send(conn.sock.fileno(), conn.sending, self._tag(conn.number, SENT))
        conn.in_ring += 1

    def _receive(self, conn: RingUpstream) -> None:
        self.ring.recv(conn.sock.fileno(), conn.buffer, self._tag(conn.number, RECEIVED))
        conn.in_ring += 1

    # -- completions --------------------------------------------------------------------
    def complete(self, ident: int, result: int, flags: int) -> None:
        """A completion of one of ours (the server's dispatch sends them here)."""
        number, step = ident >> 2, ident & 3
        if step == TIMED:
            self._timed(number, result)
            return
        conn = self.conns.get(number)
        if conn is None:
            return
        conn.in_ring -= 1
        if conn.dead:
            self._bury(conn)
            return
        if result < 0 or (step == RECEIVED and result == 0):
            why = "closed by the upstream" if result == 0 else os.strerror(-result)
            self._broken(conn, unavailable(ConnectionError(why)))
        elif step == CONNECT:
            self._receive(conn)  # one receive in the ring for as long as the connection lives
            self._send(conn)
        elif step == SENT:
            if result != len(conn.sending):
                self._broken(conn, unavailable(ConnectionError("a command sent in part")))
        else:
            self._received(conn, bytes(memoryview(conn.buffer)[:result]))

    def _received(self, conn: RingUpstream, data: bytes) -> None:
        flight = conn.flight
        if flight is None:  # bytes while idle: out of step
            self._broken(conn, None)
            return
        try:
            replied = flight.exchange.receive_data(data)
        except UpstreamError as error:
            self._broken(conn, error)
            return
        self._receive(conn)
        if not replied:
            return
        if not flight.exchange.done:
            self._send(conn)
            return
        conn.flight = None
        assert self.slots is not None
        self.slots.put(conn)
        self._finish(flight, flight.exchange.response())

    def _timed(self, number: int, result: int) -> None:
        flight = self.flights.get(number)
        if flight is None or result != -errno.ETIME:
            return  # removed: the query ended or moved on
        flight.timed = False
        if flight.waiting:
            assert self.slots is not None
            self.slots.cancel(flight.given)
            wait = flight.query.upstream.pool_wait
            self._finish(flight, flight.query.fail(pool_exhausted(wait)))
        elif flight.conn is not None:
            self._broken(flight.conn, too_slow(flight.query.upstream.timeout))

    # -- endings ------------------------------------------------------------------------
    def _finish(self, flight: Flight, response: bytes) -> None:
        if flight.timed:
            self.ring.remove_timeout(self._tag(flight.number, TIMED))
            flight.timed = False
        self.flights.pop(flight.number, None)
        flight.done(response)

    def _broken(self, conn: RingUpstream, error: UpstreamError | None) -> None:
        """Drop ``conn`` (its requests cancelled, its socket closed once none is left)."""
        conn.dead = True
        self.counters.upstream_closed()
        assert self.slots is not None
        flight, conn.flight = conn.flight, None
        if flight is None:
            self.slots.lost(conn)
        else:
            self.slots.drop()
            if error is None:
                error = unavailable(ConnectionError("upstream out of step"))
            self._finish(flight, flight.query.fail(error))
        if conn.in_ring:
            self.ring.cancel_fd(conn.sock.fileno())
        self._bury(conn)

    def _bury(self, conn: RingUpstream) -> None:
        if conn.in_ring == 0 and conn.number in self.conns:
            del self.conns[conn.number]
            conn.sock.close()
