"""Round trips on the loop's own transports: a bounded pool per asyncio (or uvloop) loop.

:class:`TransportPool.perform` is a coroutine: take a connection from the
:class:`~.slots.Slots` (waiting at most ``pool_wait``, else 503), open one if
the pool is not full, then write each round trip's command and await the
reply that :class:`UpstreamProtocol.data_received` feeds to the exchange. A
failure closes that connection; the pool opens another for the next query.
"""

from __future__ import annotations

import asyncio
import socket
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


class UpstreamProtocol(asyncio.Protocol):
    """One upstream connection: a reply's bytes go to the exchange in progress."""

    def __init__(self, pool: TransportPool) -> None:
        self.pool = pool
        self.transport: Any = None
        self.exchange: Exchange | None = None
        self.reply: asyncio.Future[None] | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    async def run(self, exchange: Exchange) -> bytes:
        """Every round trip of ``exchange``; its response."""
        loop = asyncio.get_running_loop()
        self.exchange = exchange
        while not exchange.done:
            self.reply = loop.create_future()
            self.transport.write(exchange.request())
            await self.reply
        self.exchange = self.reply = None
        return exchange.response()

    def data_received(self, data: bytes) -> None:
        reply = self.reply
        if reply is None or reply.done() or self.exchange is None:
            self.transport.close()  # bytes nobody asked for: out of step
            return
        try:
            if self.exchange.receive_data(data):
                reply.set_result(None)
        except UpstreamError as error:
            reply.set_exception(error)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.reply is not None and not self.reply.done():
            self.reply.set_exception(unavailable(exc or ConnectionError("closed by the upstream")))
        elif self.exchange is None:
            self.pool.lost(self)

    def close(self) -> None:
        self.exchange = self.reply = None
        self.transport.close()


class TransportPool:
    """At most ``--upstream-pool`` connections for this loop, opened when first needed."""

    def __init__(self, counters: UpstreamCounters) -> None:
        self.counters = counters
        self.slots: Slots[UpstreamProtocol] | None = None

    async def perform(self, query: Query) -> bytes:
        """The response to ``query`` (its failure's if the upstream failed)."""
        config = query.upstream
        if self.slots is None:
            self.slots = Slots(config.pool)
        try:
            conn = await self._take(config.pool_wait)
        except UpstreamError as error:  # none free: no slot held
            return query.fail(error)
        try:
            async with asyncio.timeout(config.timeout):
                if conn is None:
                    conn = await self._open(query)
                response = await conn.run(Exchange(query))
        except TimeoutError:
            return self._failed(conn, query, too_slow(config.timeout))
        except UpstreamError as error:
            return self._failed(conn, query, error)
        except OSError as exc:
            return self._failed(conn, query, unavailable(exc))
        except BaseException:  # cancelled (the client went away): the connection is out of step
            self._failed(conn, query, None)
            raise
        self.slots.put(conn)
        return response

    async def _take(self, wait: float) -> UpstreamProtocol | None:
        """An idle connection, or None to open one; waits at most ``wait``, then 503."""
        slots = self.slots
        assert slots is not None
        given: asyncio.Future[UpstreamProtocol | None] = asyncio.get_running_loop().create_future()

        def give(conn: UpstreamProtocol | None) -> None:
            if given.done():  # the wait ended meanwhile: pass it on
                slots.put(conn) if conn is not None else slots.drop()
            else:
                given.set_result(conn)

        if slots.take(give):
            return given.result()
        try:
            async with asyncio.timeout(wait):
                return await given
        except BaseException as exc:
            slots.cancel(give)
            if given.done() and not given.cancelled():  # handed over as the wait ended
                give(given.result())
            if isinstance(exc, TimeoutError):
                raise pool_exhausted(wait) from None
            raise

    async def _open(self, query: Query) -> UpstreamProtocol:
        loop = asyncio.get_running_loop()
        config = query.upstream
        family = socket.AF_UNIX if config.is_unix else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, config.address)
            if not config.is_unix:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _, conn = await loop.create_connection(lambda: UpstreamProtocol(self), sock=sock)
        except BaseException:
            sock.close()
            raise
        self.counters.upstream_opened()
        return conn

    def _failed(
        self, conn: UpstreamProtocol | None, query: Query, error: UpstreamError | None
    ) -> bytes:
        """Drop the connection, free its slot; the failure's response (none if cancelled)."""
        assert self.slots is not None
        if conn is not None:
            conn.close()
            self.counters.upstream_closed()
        self.slots.drop()
        return b"" if error is None else query.fail(error)

    def lost(self, conn: UpstreamProtocol) -> None:
        """An idle connection closed by the upstream (a restart): forget it."""
        if self.slots is not None and conn in self.slots.idle:
            self.slots.lost(conn)
            self.counters.upstream_closed()
