"""The asyncio driver, written once for asyncio, uvloop and each multiprocess worker.

Listen (``loop.create_server``, or :class:`BalancedAcceptor` for workers
sharing a socket); serve each connection with a lean ``asyncio.Protocol``
(callbacks, no streams): ``data_received`` feeds the connection and performs
its actions, and a :class:`~servers.protocol.effects.Wait` becomes
``loop.call_later`` (a :class:`~servers.protocol.effects.Query` a task on the
loop's pool of upstream connections, :mod:`servers.upstream.transports`) with
later actions held back, so responses stay in order; drain. Each connection
keeps one ``call_later`` timer at or before its deadline (header, body,
keep-alive): moved only when the deadline comes sooner, so most requests cost
no timer at all. A close the server starts is a lingering close
(``write_eof``, then read and discard until the client closes, bounded: see
:mod:`servers.models._closing`); a client that reads nothing of what is left
to send is dropped after :data:`~servers.models._closing.SEND_TIMEOUT`.
"""

from __future__ import annotations

import asyncio
import asyncio.selector_events
import socket
import time
from collections.abc import Callable
from typing import Any

from servers.lifecycle import Lifecycle, PumpSet
from servers.models._closing import LINGER_BYTES, LINGER_S, SEND_TIMEOUT
from servers.models._crash import crash_now
from servers.protocol.config import ServerConfig
from servers.protocol.connection import Connection, make_connection_factory
from servers.protocol.effects import CLOSE, CRASH, Action, Compute, Query, Wait
from servers.protocol.responses import overload_response
from servers.upstream.transports import TransportPool

#: Actions queued behind a Wait (pipelined requests) beyond which reading pauses.
MAX_QUEUED = 64
#: Bytes a stdlib transport asks for per read (see ``AsyncServer.small_reads``): just
#: under glibc's default mmap threshold (128 KiB) once the bytes object's header is added.
READ_SIZE = 128 * 1024 - 256
_PAUSED_FOR_WRITES, _PAUSED_FOR_QUEUE = 1, 2


class ProtocolPump(asyncio.Protocol):
    """One connection: bytes from the transport into the core, actions back out."""

    __slots__ = (
        "server",
        "conn",
        "transport",
        "pending",
        "timer",
        "deadline",
        "deadline_at",
        "paused",
        "peer_closed",
        "linger_left",
    )

    def __init__(self, server: AsyncServer) -> None:
        self.server = server
        self.conn: Connection | None = None
        self.transport: Any = None
        self.pending: list[Action] | None = None  # actions held back by a Wait or a Query
        # what ends that, or the lingering close:
        self.timer: asyncio.TimerHandle | asyncio.Task[None] | None = None
        self.deadline: asyncio.TimerHandle | None = None  # at or before the core's deadline
        self.deadline_at = 0.0  # when it fires (on the core's clock)
        self.paused = 0  # why reading is paused: a bitmask of _PAUSED_FOR_*
        self.peer_closed = False
        self.linger_left = -1  # bytes a lingering close may still discard (-1: not lingering)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        server = self.server
        if server.stats.open >= server.cap or server.lifecycle.stopping:
            if server.config.protocol == "http":
                transport.write(overload_response())
            self.close()
            return
        if server.small_reads:
            transport.max_size = READ_SIZE
        self.conn = server.factory()
        server.stats.opened()
        server.pumps.add(self)
        self.arm_deadline()

    def data_received(self, data: bytes) -> None:
        if self.linger_left >= 0:
            self._discard(len(data))
            return
        conn = self.conn
        if conn is None:
            return
        if self.pending is not None:
            # Still reading during a Wait, so a client that goes away is noticed at once.
            self.pending.extend(conn.receive_data(data))
            if len(self.pending) > MAX_QUEUED:
                self._pause(_PAUSED_FOR_QUEUE)
            return
        self.perform(conn.receive_data(data))

    def eof_received(self) -> bool:
        self.peer_closed = True
        if self.linger_left >= 0:
            self.transport.close()
        else:
            self.data_received(b"")
        return True  # keep the write side open: the CLOSE action closes it

    def perform(self, actions: list[Action]) -> None:
        """Perform actions in order until a Wait (which schedules the rest) or CLOSE."""
        transport = self.transport
        for index, action in enumerate(actions):
            if type(action) is bytes:
                transport.write(action)
            elif action is CLOSE:
                self.close()
                return
            elif type(action) is Wait:
                self.pending = actions[index + 1 :]
                if len(self.pending) > MAX_QUEUED:
                    self._pause(_PAUSED_FOR_QUEUE)
                self.timer = self.server.loop.call_later(action.seconds, self._resume)
                return
            elif type(action) is Query:
                self.pending = actions[index + 1 :]
                if len(self.pending) > MAX_QUEUED:
                    self._pause(_PAUSED_FOR_QUEUE)
                self.timer = self.server.loop.create_task(self._query(action))
                return
            elif type(action) is Compute:
                transport.write(action.run())
            elif action is CRASH:
                crash_now()
        conn = self.conn
        if conn is not None:
            if conn.draining and conn.idle:
                self.close()
            else:
                self.arm_deadline()

    def arm_deadline(self) -> None:
        """Keep a timer at or before the core's deadline (a later one would not be seen in time)."""
        deadline = None if self.conn is None else self.conn.deadline()
        if deadline is None or (self.deadline is not None and self.deadline_at <= deadline):
            return
        if self.deadline is not None:
            self.deadline.cancel()
        self.deadline_at = deadline
        delay = deadline - time.monotonic()
        self.deadline = self.server.loop.call_later(delay, self._on_deadline)

    def _on_deadline(self) -> None:
        self.deadline = None
        conn = self.conn
        if conn is None or self.pending is not None or self.linger_left >= 0:
            return  # closing has its own timer; after a Wait, perform() arms this one again
        deadline = conn.deadline()
        if deadline is not None and deadline <= time.monotonic():
            self.perform(conn.timed_out())
        else:
            self.arm_deadline()  # the deadline moved since this timer was set

    def close(self) -> None:
        """Close after what was written: at once if the client has closed, else by lingering.

        Lingering: half-close (the client reads the response, then EOF), then
        read and discard until the client closes, :data:`LINGER_S` passes or
        :data:`LINGER_BYTES` are read; then close. A response still unsent
        gets :data:`SEND_TIMEOUT` more, then the connection is aborted.
        """
        transport = self.transport
        if self.peer_closed or self.linger_left >= 0 or transport.is_closing():
            transport.close()
            return
        self.linger_left = LINGER_BYTES
        for timer in (self.timer, self.deadline):
            if timer is not None:
                timer.cancel()
        self.deadline = None
        unsent = transport.get_write_buffer_size()
        self.timer = self.server.loop.call_later(
            LINGER_S + (SEND_TIMEOUT if unsent else 0.0), transport.abort
        )
        self.pending = None
        transport.write_eof()
        self.paused = 0
        transport.resume_reading()

    async def _query(self, query: Query) -> None:
        response = await self.server.upstream.perform(query)
        if not self.transport.is_closing():
            self.transport.write(response)
        self._resume()

    def _discard(self, size: int) -> None:
        self.linger_left -= size
        if self.linger_left < 0:
            self.transport.close()

    def _resume(self) -> None:
        actions, self.pending, self.timer = self.pending or [], None, None
        if self.conn is not None:
            self.conn.touch()
        self._unpause(_PAUSED_FOR_QUEUE)
        self.perform(actions)

    def _pause(self, reason: int) -> None:
        if not self.paused:
            self.transport.pause_reading()
        self.paused |= reason

    def _unpause(self, reason: int) -> None:
        if self.paused & reason:
            self.paused &= ~reason
            if not self.paused and not self.transport.is_closing():
                self.transport.resume_reading()

    def pause_writing(self) -> None:
        self._pause(_PAUSED_FOR_WRITES)  # the peer is not reading: stop reading it too

    def resume_writing(self) -> None:
        self._unpause(_PAUSED_FOR_WRITES)

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self.timer, self.deadline):
            if timer is not None:
                timer.cancel()
        self.timer = self.deadline = None
        if self.conn is not None:
            self.conn = None
            self.server.closed(self)

    def stop(self) -> None:
        """Shutdown: close now if idle, else after the response in flight."""
        conn = self.conn
        if conn is None or self.linger_left >= 0:
            return
        conn.draining = True
        if self.pending is None and conn.idle:
            self.close()


class AsyncServer(PumpSet):
    """Serves one listening socket on the running loop: listen, serve, drain."""

    def __init__(
        self, config: ServerConfig, stats: Any, cap: int, balance: Callable[[], bool] | None = None
    ) -> None:
        self.config = config
        self.balance = balance
        # The stdlib transports recv(256 KiB) into a fresh bytes object per read; that size is
        # over glibc's mmap threshold, so unless the allocator happened to raise its threshold
        # every read costs an mmap, a page fault and a munmap (3x the CPU of a 1 KiB echo).
        # Reads just under 128 KiB come from the heap. uvloop reads into a buffer of its own.
        self.loop = asyncio.get_running_loop()
        self.small_reads = isinstance(self.loop, asyncio.selector_events.BaseSelectorEventLoop)
        self.stats = stats
        self.cap = cap
        self.factory = make_connection_factory(config, stats)
        self.upstream = TransportPool(stats)
        self.pumps: set[ProtocolPump] = set()
        self.lifecycle = Lifecycle(config.graceful_timeout)
        self.wakeup = asyncio.Event()
        self.server: Any = None

    async def run(self, listener: socket.socket, on_ready: Callable[[], None]) -> None:
        loop, lifecycle = self.loop, self.lifecycle
        self.handle_signals()
        if self.balance is None:
            self.server = await loop.create_server(
                lambda: ProtocolPump(self), sock=listener, backlog=self.config.backlog
            )
        else:
            self.server = BalancedAcceptor(self, listener, self.balance)
        on_ready()
        while not lifecycle.stopping:
            await self._wait(None)
        for timeout in lifecycle.drain(self):
            await self._wait(timeout)
        await asyncio.sleep(0)

    def handle_signals(self) -> None:
        """Record SIGINT and SIGTERM on this loop (a loop in another thread is told instead)."""
        self.lifecycle.handle_signals(self.wakeup.set, install=self.loop.add_signal_handler)

    async def _wait(self, seconds: float | None) -> None:
        """Until woken (a signal, a connection closed while draining) or ``seconds`` pass."""
        try:
            async with asyncio.timeout(seconds):
                await self.wakeup.wait()
        except TimeoutError:
            pass
        self.wakeup.clear()

    def closed(self, pump: ProtocolPump) -> None:
        self.pumps.discard(pump)
        self.stats.closed()
        if self.lifecycle.stopping:
            self.wakeup.set()

    # -- what the drain needs --------------------------------------------------------
    def stop_accepting(self) -> None:
        self.server.close()

    def abort_connections(self) -> None:
        for pump in list(self.pumps):
            pump.transport.abort()


class BalancedAcceptor:
    """Accepting on a listening socket shared by several worker processes, fairly.

    Left alone, whichever worker wakes first accepts everything (uvloop accepts
    in a loop), so four busy connections can all land on one core. Like nginx's
    ``accept_mutex``, but without a lock: a worker accepts only while
    ``may_accept()`` says it is among the least loaded; otherwise it stops
    watching the socket for a millisecond and lets another worker take it.
    """

    RETRY_S = 0.001
    EMFILE_BACKOFF_S = 0.1

    def __init__(
        self, server: AsyncServer, listener: socket.socket, may_accept: Callable[[], bool]
    ) -> None:
        self.server = server
        self.listener = listener
        self.may_accept = may_accept
        self.loop = server.loop
        self.closed = False
        listener.setblocking(False)
        self.loop.add_reader(listener.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        if not self.may_accept():
            self._pause(self.RETRY_S)
            return
        try:
            sock, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return  # another worker took it
        except OSError:  # out of descriptors or memory, or any other failure: back off, never spin
            self._pause(self.EMFILE_BACKOFF_S)
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.loop.create_task(
            self.loop.connect_accepted_socket(lambda: ProtocolPump(self.server), sock)
        )

    def _pause(self, seconds: float) -> None:
        self.loop.remove_reader(self.listener.fileno())
        self.loop.call_later(seconds, self._resume)

    def _resume(self) -> None:
        if not self.closed:
            self.loop.add_reader(self.listener.fileno(), self._on_readable)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.loop.remove_reader(self.listener.fileno())
            self.listener.close()  # this worker's copy: once all are closed, connect is refused


def run_server(
    listener: socket.socket,
    config: ServerConfig,
    on_ready: Callable[[], None],
    stats: Any,
    cap: int,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
    balance: Callable[[], bool] | None = None,
) -> None:
    """Run an :class:`AsyncServer` on a new loop (``loop_factory`` picks uvloop).

    ``balance``, for workers sharing one listening socket, says whether this
    worker may accept now (see :class:`BalancedAcceptor`).
    """

    async def main() -> None:
        await AsyncServer(config, stats, cap, balance).run(listener, on_ready)

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())
