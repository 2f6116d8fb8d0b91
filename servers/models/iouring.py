"""``iouring``: one thread, one ring, driven by completions (Linux io_uring).

Asynchronous IO as the article defines it: issue the IO, do not wait, be told
when it *has completed*. The event loops (asyncio, uvloop, gevent) are told
that a socket *may now be read*, and then read it themselves, one system call
per read and per write. Here the server queues its accepts, receives and sends
in a ring shared with the kernel, then collects their results; one
``io_uring_enter`` per turn of the loop submits everything queued and waits.

Listen: one multishot accept, a completion per new connection (out of
descriptors, it stops and is re-armed after a backoff, as a ring timeout).
Serve: each connection has one multishot receive that takes its buffer from a
provided-buffer ring only when data arrives (without one, a single-shot
receive into a buffer of its own: the log says which); the bytes go to the
protocol core, and its responses go out as sends, one in flight per
connection, the rest queued behind it (a partial send continues from where it
stopped; a client that does not read is not read either). Timeouts are ring
timeouts: a ``Wait``, each connection's deadline (one timeout at or before it,
replaced only when the deadline comes sooner), the lingering close's bound.
Signals: the lifecycle's wake-up pipe is read through the ring, so a signal
completes that read and ends the wait. Drain as every model does.

Every request carries a tag: the connection's id above four bits of
:class:`Op`; each completion goes to the handler its operation names in
``_ON_CONNECTION`` or ``_ON_SERVER``. A connection moves through
:class:`State` one way only.

liburing's wait keeps the GIL while it waits in the kernel: nothing else in
this process could run meanwhile, and nothing needs to (one thread).
"""

from __future__ import annotations

import enum
import errno
import logging
import os
import socket
import time
from collections.abc import Callable

from servers.lifecycle import Lifecycle, PumpSet
from servers.models._closing import LINGER_BYTES, LINGER_S, SEND_TIMEOUT
from servers.models._crash import crash_now
from servers.models._fds import SCARCE, Backoff, fd_cap
from servers.models._ring import BUFFER_SHIFT, F_MORE, BufferRing, Ring
from servers.protocol.config import ServerConfig
from servers.protocol.connection import Connection, make_connection_factory
from servers.protocol.effects import CLOSE, CRASH, Action, Compute, Query, Wait
from servers.protocol.responses import overload_response
from servers.stats import LocalStats
from servers.upstream.ring import RingPool

log = logging.getLogger(__name__)

DEFAULT_MAX_CONNECTIONS = 20_000
RING_ENTRIES = 4096
BUFFER_COUNT, BUFFER_SIZE = 256, 32 * 1024
#: Per-connection receive buffer when there is no provided-buffer ring.
OWN_BUFFER_SIZE = 16 * 1024
#: Actions queued behind a Wait (pipelined requests) beyond which reading pauses.
MAX_QUEUED = 64
#: Bytes waiting to be sent beyond which reading pauses, and below which it resumes.
HIGH_WATER, LOW_WATER = 64 * 1024, 16 * 1024
_PAUSED_FOR_WRITES, _PAUSED_FOR_QUEUE = 1, 2


class Op(enum.IntEnum):
    """What a request was for: the low four bits of its tag (the rest: a connection's id)."""

    RECV = 1  #: bytes from the client (multishot: many completions)
    SEND = 2  #: bytes to the client (perhaps only part of them)
    CLOSED = 3  #: the descriptor is closed: the connection is forgotten
    WAITED = 4  #: a Wait's timeout
    LINGERED = 5  #: the bound on the whole close (LINGER_S, more if a send is in flight)
    SHUT = 6  #: the half-close (shutdown SHUT_WR) has run
    DEADLINE = 7  #: the connection's deadline timeout (header, body, keep-alive)
    ACCEPT = 8  #: the server's: a new connection (multishot)
    WOKEN = 9  #: the server's: the wake-up pipe was read (a signal)
    RETRY = 10  #: the server's: accept again after backing off
    TICK = 11  #: the server's: a bounded wait ended (its id: which wait)
    UPSTREAM = 12  #: the server's: a step of GET /db's round trips (servers.upstream.ring)


class State(enum.IntEnum):
    """A connection's way to its close, one way only::

        OPEN -- close(): a CLOSE action --> FLUSHING -- the last send done --> LINGERING
        LINGERING -- EOF, LINGER_S, or LINGER_BYTES read --> FINAL
        FLUSHING -- the client had closed already ---------> FINAL
        any -- reset, broken pipe (abort) -----------------> FINAL

    In FINAL every request in flight is cancelled, and the descriptor is closed
    once none is (a CLOSED completion then forgets the connection).
    """

    OPEN = 0  #: serving: receives feed the core, its actions go out
    FLUSHING = 1  #: closing: the sends already queued still go out, nothing more is read
    LINGERING = 2  #: half-closed: reading and discarding until the client closes
    FINAL = 3  #: closing the descriptor


# Globals for the hot paths: looking a member up on an Enum class costs several times more.
_OPEN, _FLUSHING, _LINGERING, _FINAL = State
_RECV, _SEND, _FIRST_SERVER_OP = Op.RECV, Op.SEND, Op.ACCEPT


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    server = RingServer(listener, config)
    try:
        on_ready()
        while not server.lifecycle.stopping:
            server.turn()
        for timeout in server.lifecycle.drain(server):
            server.wait(timeout)
    finally:
        server.ring.close_ring()


class RingPump:
    """One connection: completions in, the protocol core's actions out as ring requests."""

    __slots__ = (
        "server",
        "ring",
        "fd",
        "tag",
        "conn",
        "buffer",
        "out",
        "sending",
        "queued",
        "reading",
        "shutting",
        "paused",
        "pending",
        "deadline_at",
        "state",
        "peer_closed",
        "linger_left",
    )

    def __init__(self, server: RingServer, fd: int, ident: int) -> None:
        self.server = server
        self.ring = server.ring
        self.fd = fd
        self.tag = ident << 4
        self.conn: Connection | None = None  # None: refused at the cap
        self.buffer = None if server.buffers else bytearray(OWN_BUFFER_SIZE)
        self.out: list[bytes] = []  # queued behind the send in flight
        self.sending: bytes | None = None  # the send in flight (the kernel reads it)
        self.queued = 0  # bytes not yet sent
        self.reading = False  # a receive is armed
        self.shutting = False  # a shutdown is in flight (it names the descriptor by number)
        self.paused = 0  # why reading is paused: a bitmask of _PAUSED_FOR_*
        self.pending: list[Action] | None = None  # actions held back by a Wait
        self.deadline_at = 0.0  # when the deadline timeout in flight ends (0: none is)
        self.state = _OPEN
        self.peer_closed = False
        self.linger_left = LINGER_BYTES

    # -- receiving -------------------------------------------------------------------
    def read(self) -> None:
        """Arm a receive (multishot, or a single one into this connection's buffer) unless one is."""
        if self.reading:
            return
        self.reading = True
        ring = self.ring
        if self.buffer is None:
            ring.recv_multishot(self.fd, self.server.buffers.group, self.tag | _RECV)  # type: ignore[union-attr]
        else:
            ring.recv(self.fd, self.buffer, self.tag | _RECV)

    def on_recv(self, result: int, flags: int) -> None:
        """A receive completed: ``result`` bytes, 0 at EOF, or ``-errno``; then read on unless paused."""
        if not flags & F_MORE:
            self.reading = False
        if result > 0:
            if self.buffer is None:
                data = self.server.take(flags >> BUFFER_SHIFT, result)
            else:
                data = bytes(memoryview(self.buffer)[:result])
            conn = self.conn
            if self.pending is None and self.state == _OPEN and conn is not None:
                actions = conn.receive_data(data)  # the common case, in short:
                if len(actions) == 1 and type(actions[0]) is bytes and not conn.draining:
                    self.write(actions[0])  # one response
                    self.arm_deadline()
                else:
                    self.perform(actions)
            else:
                self.data_received(data)
        elif result == 0:
            self.peer_closed = True
            if self.state == _LINGERING:
                self.finish()
            else:
                self.data_received(b"")
        elif result not in (-errno.ENOBUFS, -errno.ECANCELED):
            self.abort()  # reset by the peer
        if not self.reading:
            if self.state == _FINAL:
                self._close_when_idle()
            elif not self.paused and not self.peer_closed:
                self.read()

    def data_received(self, data: bytes) -> None:
        """Bytes for the core (held behind a Wait, or discarded while lingering)."""
        if self.state == _LINGERING:
            self.linger_left -= len(data)
            if self.linger_left < 0:
                self.finish()
            return
        conn = self.conn
        if conn is None or self.state != _OPEN:
            return
        if self.pending is not None:
            self.pending.extend(conn.receive_data(data))
            if len(self.pending) > MAX_QUEUED:
                self._pause(_PAUSED_FOR_QUEUE)
            return
        self.perform(conn.receive_data(data))

    # -- performing ------------------------------------------------------------------
    def perform(self, actions: list[Action]) -> None:
        """Perform actions in order until a Wait (a ring timeout resumes the rest) or CLOSE."""
        for index, action in enumerate(actions):
            if type(action) is bytes:
                self.write(action)
            elif action is CLOSE:
                self.close()
                return
            elif type(action) is Wait:
                self.pending = actions[index + 1 :]
                if len(self.pending) > MAX_QUEUED:
                    self._pause(_PAUSED_FOR_QUEUE)
                self.ring.timeout(action.seconds, self.tag | Op.WAITED)
                return
            elif type(action) is Query:
                self.pending = actions[index + 1 :]
                if len(self.pending) > MAX_QUEUED:
                    self._pause(_PAUSED_FOR_QUEUE)
                self.server.upstream.perform(action, self.on_queried)
                return
            elif type(action) is Compute:
                self.write(action.run())
            elif action is CRASH:
                crash_now()
        conn = self.conn
        if conn is not None:
            if conn.draining and conn.idle:
                self.close()
            else:
                self.arm_deadline()

    def on_waited(self, result: int, flags: int) -> None:
        """A Wait's ring timeout completed: perform the actions it held back."""
        if self.state != _OPEN or self.pending is None:
            return
        actions, self.pending = self.pending, None
        if self.conn is not None:
            self.conn.touch()
        self._unpause(_PAUSED_FOR_QUEUE)
        self.perform(actions)

    def on_queried(self, response: bytes) -> None:
        """A Query's round trips are done: its response, then the actions it held back."""
        if self.state != _OPEN or self.pending is None:
            return
        self.write(response)
        self.on_waited(0, 0)

    # -- deadlines -------------------------------------------------------------------
    def arm_deadline(self) -> None:
        """Keep a timeout at or before the core's deadline (a later one would not be seen in time).

        A deadline that comes sooner than the timeout in flight replaces it.
        """
        deadline = None if self.conn is None else self.conn.deadline()
        at = self.deadline_at
        if deadline is None or (at and at <= deadline):
            return
        if at:
            self.ring.remove_timeout(self.tag | Op.DEADLINE)
        self.deadline_at = deadline
        self.ring.timeout(max(0.0, deadline - time.monotonic()), self.tag | Op.DEADLINE)

    def on_deadline(self, result: int, flags: int) -> None:
        """The deadline timeout ended: time the connection out, or follow a deadline that moved."""
        if result != -errno.ETIME:
            return  # removed: replaced by a sooner one, or the connection is closing
        self.deadline_at = 0.0
        conn = self.conn
        if conn is None or self.state != _OPEN or self.pending is not None:
            return  # closing has its own bound; after a Wait, perform() arms it again
        deadline = conn.deadline()
        if deadline is not None and deadline <= time.monotonic():
            self.perform(conn.timed_out())
        else:
            self.arm_deadline()

    def _drop_deadline(self) -> None:
        if self.deadline_at:
            self.ring.remove_timeout(self.tag | Op.DEADLINE)
            self.deadline_at = 0.0

    # -- sending ---------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Send ``data`` now, or after the send in flight; past :data:`HIGH_WATER`, stop reading."""
        if self.sending is None:
            self.sending = data
            self.ring.send(self.fd, data, self.tag | _SEND)
        else:
            self.out.append(data)
        self.queued += len(data)
        if self.queued > HIGH_WATER:
            self._pause(_PAUSED_FOR_WRITES)  # the peer is not reading: stop reading it too

    def on_send(self, result: int, flags: int) -> None:
        """A send completed (perhaps part of it): send the rest, or what queued up behind it."""
        data = self.sending
        if result < 0 or data is None or self.state == _FINAL:
            self.sending = None
            self.out.clear()
            if self.state == _FINAL:
                self._close_when_idle()
            else:
                self.abort()  # broken pipe, reset
            return
        self.queued -= result
        if result < len(data):
            data = data[result:]  # a partial send: the rest, from where it stopped
        elif self.out:
            data = b"".join(self.out) if len(self.out) > 1 else self.out[0]
            self.out.clear()
        else:
            self.sending = None
            if self.state == _FLUSHING:
                self._flushed()
            elif self.paused & _PAUSED_FOR_WRITES:
                self._unpause(_PAUSED_FOR_WRITES)
            return
        self.sending = data
        self.ring.send(self.fd, data, self.tag | _SEND)
        if self.paused & _PAUSED_FOR_WRITES and self.queued <= LOW_WATER:
            self._unpause(_PAUSED_FOR_WRITES)

    # -- pausing ---------------------------------------------------------------------
    def _pause(self, reason: int) -> None:
        if not self.paused and self.reading and self.buffer is None:
            self.ring.cancel(self.tag | Op.RECV)  # a multishot receive goes on until cancelled
        self.paused |= reason

    def _unpause(self, reason: int) -> None:
        if self.paused & reason:
            self.paused &= ~reason
            if not self.paused and self.state < _FINAL and not self.peer_closed:
                self.read()

    # -- closing ---------------------------------------------------------------------
    def close(self) -> None:
        """Close after what was written: at once if the client has closed, else by lingering.

        Lingering (with ring requests): once the last send has completed,
        ``shutdown(SHUT_WR)`` (the client reads the response, then EOF), then
        receive and discard until the client closes or :data:`LINGER_BYTES`
        are read; then close. One ring timeout bounds the whole close:
        :data:`LINGER_S`, plus :data:`SEND_TIMEOUT` if a send is still in
        flight (a client that reads nothing more is not waited for forever).
        """
        if self.state != _OPEN:
            if self.state == _LINGERING:
                self.finish()
            return
        self.state = _FLUSHING
        self.pending = None
        self._drop_deadline()
        unsent = self.sending is not None
        self.ring.timeout(LINGER_S + (SEND_TIMEOUT if unsent else 0.0), self.tag | Op.LINGERED)
        if not unsent:
            self._flushed()

    def _flushed(self) -> None:
        if self.peer_closed:
            self.finish()
            return
        self.state = _LINGERING
        ring = self.ring
        self.shutting = True
        ring.shutdown(self.fd, socket.SHUT_WR, self.tag | Op.SHUT)
        self.paused = 0
        self.read()

    def finish(self) -> None:
        """Close now: cancel what is in flight, then close the descriptor once nothing is."""
        if self.state == _FINAL:
            return
        ring = self.ring
        if self.state in (_FLUSHING, _LINGERING):
            ring.remove_timeout(self.tag | Op.LINGERED)
        self._drop_deadline()
        self.state = _FINAL
        self.pending = None
        if self.reading or self.sending is not None:
            ring.cancel_fd(self.fd)
        self._close_when_idle()

    def abort(self) -> None:
        """The connection broke (reset, broken pipe): nothing more can be sent or saved."""
        self.peer_closed = True
        self.out.clear()
        self.finish()

    def on_lingered(self, result: int, flags: int) -> None:
        """The lingering close's bound: close now (unless the timeout was removed)."""
        if result == -errno.ETIME:
            self.finish()

    def on_shut(self, result: int, flags: int) -> None:
        """The shutdown has run: the descriptor may be closed (its number reused) from now on."""
        self.shutting = False
        if self.state == _FINAL:
            self._close_when_idle()

    def _close_when_idle(self) -> None:
        # Not while a request may still look the descriptor up by its number: a shutdown
        # runs later, in one of the kernel's io-wq threads, and would hit whichever
        # connection has the number by then.
        if not self.reading and self.sending is None and not self.shutting and self.fd >= 0:
            self.ring.close(self.fd, self.tag | Op.CLOSED)
            self.fd = -1  # closing: the number may soon be another connection's

    def on_closed(self, result: int, flags: int) -> None:
        self.server.closed(self)

    def stop(self) -> None:
        """Shutdown: close now if idle, else after the response in flight."""
        conn = self.conn
        if conn is None or self.state != _OPEN:
            return
        conn.draining = True
        if self.pending is None and conn.idle:
            self.close()


class RingServer(PumpSet):
    """The ring, the listener, the connections: one loop turn at a time."""

    def __init__(self, listener: socket.socket, config: ServerConfig) -> None:
        self.config = config
        self.lifecycle = Lifecycle(config.graceful_timeout)
        self.stats = LocalStats("iouring")
        self.cap = fd_cap(config.max_connections or DEFAULT_MAX_CONNECTIONS)
        self.factory = make_connection_factory(config, self.stats)
        self.ring = Ring(RING_ENTRIES)
        self.buffers = self._provided_buffers()
        self.take = self.buffers.take if self.buffers else _no_buffers
        self.listener = listener
        listener.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )  # accepted sockets inherit it
        self.accepting = True
        self.backoff = Backoff()
        self.pumps: set[RingPump] = set()  # the served connections (not the refused ones)
        self.by_id: dict[int, RingPump] = {}  # every connection with requests in the ring
        self.next_id = 1
        self.woken = False
        self.ticks = 0
        self.wakeup = self.lifecycle.wake_by_pipe()
        os.set_blocking(self.wakeup.fileno(), True)  # only the ring reads it: a read waits there
        self.wake_buffer = bytearray(64)
        self.ring.read(self.wakeup.fileno(), self.wake_buffer, Op.WOKEN)
        self.ring.accept_multishot(listener.fileno(), Op.ACCEPT)
        self.upstream = RingPool(self.ring, Op.UPSTREAM, self.stats)

    def _provided_buffers(self) -> BufferRing | None:
        if os.environ.get("IOMODELS_IOURING_PROVIDED_BUFFERS", "1") == "0":
            log.warning("receives: single-shot into per-connection buffers (provided buffers off)")
            return None
        try:
            buffers = BufferRing(self.ring, 0, BUFFER_COUNT, BUFFER_SIZE)
        except OSError as exc:
            log.warning("receives: single-shot into per-connection buffers (%s)", exc.strerror)
            return None
        log.info(
            "receives: multishot into a provided-buffer ring (%d x %d KiB)",
            BUFFER_COUNT,
            BUFFER_SIZE // 1024,
        )
        return buffers

    def turn(self) -> None:
        """Submit what is queued, wait for completions, handle them: one turn of the loop."""
        by_id = self.by_id
        for tag, result, flags in self.ring.submit_and_wait():
            op = tag & 15
            if op >= _FIRST_SERVER_OP:
                _ON_SERVER[op](self, tag >> 4, result, flags)
            elif (pump := by_id.get(tag >> 4)) is not None:  # else: it outlived its connection
                _ON_CONNECTION[op](pump, result, flags)

    def wait(self, seconds: float) -> None:
        """Turn the loop until woken (a signal, a connection closed) or ``seconds`` pass."""
        self.ticks += 1
        self.ring.timeout(seconds, self.ticks << 4 | Op.TICK)
        self.woken = False
        while not self.woken:
            self.turn()

    # -- completions of the server's own requests ----------------------------------------
    def on_upstream(self, ident: int, result: int, flags: int) -> None:
        self.upstream.complete(ident, result, flags)

    def on_accept(self, _: int, result: int, flags: int) -> None:
        if result >= 0:
            self.backoff.succeeded()
            self.serve(result)
        if flags & F_MORE or not self.accepting:
            return
        # The multishot accept has ended: out of descriptors (or another failure).
        failure = OSError(-result, os.strerror(-result)) if result < 0 else OSError("ended")
        if failure.errno not in SCARCE:
            log.warning("accept failed: %s", failure)
        self.ring.timeout(self.backoff.failed(failure), Op.RETRY)

    def on_woken(self, _: int, result: int, flags: int) -> None:
        self.woken = True
        if result > 0:
            self.ring.read(self.wakeup.fileno(), self.wake_buffer, Op.WOKEN)

    def on_retry(self, _: int, result: int, flags: int) -> None:
        if self.accepting:
            self.ring.accept_multishot(self.listener.fileno(), Op.ACCEPT)

    def on_tick(self, tick: int, result: int, flags: int) -> None:
        if tick == self.ticks:  # not an earlier wait's
            self.woken = True

    def serve(self, fd: int) -> None:
        """Serve a new connection, or refuse it at the cap (503 for HTTP, then a lingering close)."""
        pump = RingPump(self, fd, self.next_id)
        self.by_id[self.next_id] = pump
        self.next_id += 1
        if self.stats.open >= self.cap or self.lifecycle.stopping:
            if self.config.protocol == "http":
                pump.write(overload_response())
            pump.close()
            return
        pump.conn = self.factory()
        self.stats.opened()
        self.pumps.add(pump)
        pump.read()
        pump.arm_deadline()

    def closed(self, pump: RingPump) -> None:
        del self.by_id[pump.tag >> 4]
        if pump in self.pumps:
            self.pumps.discard(pump)
            self.stats.closed()
            if self.lifecycle.stopping:
                self.woken = True

    # -- what the drain needs --------------------------------------------------------
    def stop_accepting(self) -> None:
        self.accepting = False
        self.ring.cancel(Op.ACCEPT)
        self.listener.close()  # the socket itself closes once the accept is cancelled

    def abort_connections(self) -> None:
        for pump in self.by_id.values():
            if pump.fd >= 0:
                os.close(pump.fd)
                pump.fd = -1


_ON_CONNECTION: dict[int, Callable[[RingPump, int, int], None]] = {
    Op.RECV: RingPump.on_recv,
    Op.SEND: RingPump.on_send,
    Op.CLOSED: RingPump.on_closed,
    Op.WAITED: RingPump.on_waited,
    Op.LINGERED: RingPump.on_lingered,
    Op.SHUT: RingPump.on_shut,
    Op.DEADLINE: RingPump.on_deadline,
}
_ON_SERVER: dict[int, Callable[[RingServer, int, int, int], None]] = {
    Op.ACCEPT: RingServer.on_accept,
    Op.WOKEN: RingServer.on_woken,
    Op.RETRY: RingServer.on_retry,
    Op.TICK: RingServer.on_tick,
    Op.UPSTREAM: RingServer.on_upstream,
}


def _no_buffers(bid: int, length: int) -> bytes:
    raise AssertionError("a provided buffer without a provided-buffer ring")
