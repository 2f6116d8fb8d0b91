"""``reactor``: every connection in one thread, on a message loop written by hand (the nginx model).

The article's 消息循环 with nothing hidden. :class:`handloop.Loop` turns and
turns: it asks ``epoll`` which sockets are ready (sleeping until the next
timer at most) and calls the one callback registered for each:

* the listener is readable: :meth:`Reactor.on_acceptable` accepts a batch,
  makes each socket non-blocking and gives it a :class:`Pump` (at the cap: a
  503, then a lingering close);
* a client is readable: :meth:`Pump.on_readable` does one ``recv``, feeds the
  bytes to the protocol core and performs the actions it returns;
* a client is writable (watched only while a response did not fit in the
  socket's buffer): :meth:`Pump.on_writable` sends the rest;
* the wake-up pipe is readable: a signal came; the loop stops, the drain begins.

Then the timers that are due: a ``Wait`` that ended (the actions held back
behind it go out, in order; a ``Query`` to the upstream holds them back the same
way until its callbacks answer it, :mod:`servers.upstream.handloop`), a deadline that passed (408, or a silent close
when idle), a lingering close that took too long. Every callback returns
quickly; nothing blocks but ``epoll_wait``. asyncio adds transports,
protocols, futures and tasks on top of these same four steps; uvloop does them
in C. This is one process on one core: nginx runs one such loop per worker.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from handloop import Loop, Timer
from servers.lifecycle import Lifecycle, PumpSet
from servers.models._closing import LINGER_BYTES, LINGER_S, SEND_TIMEOUT
from servers.models._crash import crash_now
from servers.models._fds import SCARCE, Backoff, fd_cap
from servers.protocol.config import ServerConfig
from servers.protocol.connection import Connection, make_connection_factory
from servers.protocol.effects import CLOSE, CRASH, Action, Compute, Query, Wait
from servers.protocol.responses import overload_response
from servers.stats import LocalStats, SharedStats
from servers.upstream.handloop import CallbackPool

DEFAULT_MAX_CONNECTIONS = 20_000
READ_SIZE = 65536
ACCEPT_BATCH = 64
#: Actions queued behind a Wait (pipelined requests) beyond which reading pauses.
MAX_QUEUED = 64
#: Unsent bytes beyond which a client that does not read its responses is not read either.
HIGH_WATER = 64 * 1024


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    loop = Loop()
    lifecycle = Lifecycle(config.graceful_timeout)
    wakeup = lifecycle.wake_by_pipe()
    server = Reactor(loop, listener, config, lifecycle)

    def on_wake() -> None:
        wakeup.clear()
        if lifecycle.stopping:
            loop.stop()

    loop.add_reader(wakeup.fileno(), on_wake)
    on_ready()
    loop.run()  # until a stop signal
    for timeout in lifecycle.drain(server):
        loop.run_for(timeout)  # or until a connection closes (Reactor.closed stops the loop)


class Pump:
    """One connection: bytes from the socket into the core, actions back out, by callbacks."""

    __slots__ = (
        *("server", "loop", "sock", "fd", "conn", "out", "pending", "timer", "deadline"),
        *("peer_closed", "closing", "linger_left"),
    )

    def __init__(self, server: Reactor, sock: socket.socket, conn: Connection) -> None:
        self.server, self.loop, self.sock, self.conn = server, server.loop, sock, conn
        self.fd = sock.fileno()
        self.out = bytearray()  # what the socket has not taken yet
        self.pending: list[Action] | None = None  # actions held back by a Wait or a Query
        self.timer: Timer | None = None  # the end of the Wait, or of the close
        self.deadline: Timer | None = None  # at or before the core's deadline
        self.peer_closed = self.closing = False
        self.linger_left = LINGER_BYTES
        self.loop.add_reader(self.fd, self.on_readable)

    # -- the loop calls these ------------------------------------------------------------
    def on_readable(self) -> None:
        try:
            data = self.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:  # reset: the client is gone
            self.destroy()
            return
        if not data:
            self.peer_closed = True
            self.loop.remove_reader(self.fd)  # EOF stays readable: stop watching
        if self.closing:  # lingering: discard until EOF
            self.linger_left -= len(data)
            if self.linger_left < 0 or (self.peer_closed and not self.out):
                self.destroy()
        elif self.pending is not None:  # in a Wait: keep reading, so a reset is noticed at once
            self.pending.extend(self.conn.receive_data(data))
            self.watch_reading()
        else:
            self.perform(self.conn.receive_data(data))

    def on_writable(self) -> None:
        try:
            del self.out[: self.sock.send(self.out)]
        except BlockingIOError:
            return
        except OSError:
            self.destroy()
            return
        if not self.out:
            self.loop.remove_writer(self.fd)
            if self.closing:
                self.half_close()
            else:
                self.watch_reading()

    def on_waited(self) -> None:
        actions, self.pending, self.timer = self.pending or [], None, None
        self.conn.touch()
        self.watch_reading()
        self.perform(actions)

    def on_queried(self, response: bytes) -> None:
        if self.fd < 0 or self.closing:
            return
        try:
            self.send(response)
        except OSError:
            self.destroy()
            return
        self.on_waited()

    def on_deadline(self) -> None:
        self.deadline = None
        if self.closing or self.pending is not None:
            return  # the close has its own timer; after the Wait, perform() re-arms this one
        deadline = self.conn.deadline()
        if deadline is not None and deadline <= time.monotonic():
            self.perform(self.conn.timed_out())
        else:
            self.arm_deadline()  # the deadline moved since this timer was set

    # -- what they do ------------------------------------------------------------------
    def perform(self, actions: list[Action]) -> None:
        """Perform actions in order until a Wait (its timer performs the rest) or CLOSE."""
        try:
            for index, action in enumerate(actions):
                if type(action) is bytes:
                    self.send(action)
                elif action is CLOSE:
                    self.close()
                    return
                elif type(action) is Wait:
                    self.pending = actions[index + 1 :]
                    self.timer = self.loop.call_later(action.seconds, self.on_waited)
                    self.watch_reading()
                    return
                elif type(action) is Query:
                    self.pending = actions[index + 1 :]
                    self.server.upstream.perform(action, self.on_queried)
                    self.watch_reading()
                    return
                elif type(action) is Compute:
                    self.send(action.run())
                elif action is CRASH:
                    crash_now()
        except OSError:  # reset, broken pipe
            self.destroy()
            return
        if self.conn.draining and self.conn.idle:
            self.close()
        else:
            self.arm_deadline()

    def arm_deadline(self) -> None:
        """Keep a timer at or before the core's deadline (a later one would not be seen in time)."""
        deadline, timer = self.conn.deadline(), self.deadline
        if deadline is not None and (timer is None or timer.when > deadline):
            if timer is not None:
                timer.cancel()
            self.deadline = self.loop.call_at(deadline, self.on_deadline)

    def send(self, data: bytes) -> None:
        """Send now what the socket takes; keep the rest for :meth:`on_writable`."""
        if not self.out:
            try:
                sent = self.sock.send(data)
            except BlockingIOError:
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
            self.loop.add_writer(self.fd, self.on_writable)
        self.out += data
        if len(self.out) > HIGH_WATER:
            self.watch_reading()

    def watch_reading(self) -> None:
        """Read, unless the client does not read its responses or too much waits behind a Wait."""
        if self.peer_closed or self.fd < 0:
            return
        pending = self.pending
        if not self.closing and (
            len(self.out) > HIGH_WATER or (pending is not None and len(pending) > MAX_QUEUED)
        ):
            self.loop.remove_reader(self.fd)
        else:
            self.loop.add_reader(self.fd, self.on_readable)

    def close(self) -> None:
        """Close after what was sent: at once if the client has closed, else by lingering.

        Lingering: flush (within SEND_TIMEOUT), half-close (the client reads the
        response, then EOF), read and discard until the client closes too,
        :data:`LINGER_S` passes or :data:`LINGER_BYTES` are read; then close.
        """
        if self.closing:
            return
        self.closing, self.pending = True, None
        if self.timer is not None:
            self.timer.cancel()
        self.watch_reading()
        if self.out:
            self.timer = self.loop.call_later(SEND_TIMEOUT, self.destroy)
        else:
            self.half_close()

    def half_close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if not self.peer_closed:
            try:
                self.sock.shutdown(socket.SHUT_WR)
                self.timer = self.loop.call_later(LINGER_S, self.destroy)
                return
            except OSError:
                pass
        self.destroy()

    def destroy(self) -> None:
        """Close the socket now."""
        if self.fd < 0:
            return
        self.loop.remove_reader(self.fd)
        self.loop.remove_writer(self.fd)
        for timer in (self.timer, self.deadline):
            if timer is not None:
                timer.cancel()
        self.sock.close()
        self.fd = -1
        self.server.closed(self)

    def stop(self) -> None:
        """Shutdown: close now if idle, else after the response in flight."""
        if not self.closing:
            self.conn.draining = True
            if self.pending is None and self.conn.idle:
                self.close()


class Reactor(PumpSet):
    """The listener's callback, the connection cap, and what the drain needs.

    ``stats`` and ``cap`` default to this model's own (one loop in one process);
    the ``interpreters`` model runs one Reactor per subinterpreter with shared
    counters and its share of the cap, and a ``may_accept`` saying whether this
    worker is among the least loaded: if not, it leaves the listener to the
    others for a millisecond (as the multiprocess workers do), or else the one
    that wakes first takes every connection of a burst.
    """

    #: How long a worker that is not among the least loaded leaves the listener alone.
    BALANCE_RETRY_S = 0.001

    def __init__(
        self,
        loop: Loop,
        listener: socket.socket,
        config: ServerConfig,
        lifecycle: Lifecycle,
        *,
        stats: LocalStats | SharedStats | None = None,
        cap: int | None = None,
        may_accept: Callable[[], bool] | None = None,
    ) -> None:
        self.loop, self.listener, self.config, self.lifecycle = loop, listener, config, lifecycle
        self.stats = stats if stats is not None else LocalStats("reactor")
        self.cap = (
            cap if cap is not None else fd_cap(config.max_connections or DEFAULT_MAX_CONNECTIONS)
        )
        self.may_accept = may_accept
        self.factory = make_connection_factory(config, self.stats)
        self.upstream = CallbackPool(loop, self.stats)
        self.pumps: set[Pump] = set()
        self.backoff = Backoff()
        self.accepting = True
        listener.setblocking(False)
        self.listener_fd = listener.fileno()
        loop.add_reader(self.listener_fd, self.on_acceptable)

    def on_acceptable(self) -> None:
        for _ in range(ACCEPT_BATCH):
            if self.may_accept is not None and not self.may_accept():
                self.pause_accepting(self.BALANCE_RETRY_S)
                return
            try:
                sock, _ = self.listener.accept()
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except (BlockingIOError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in SCARCE:
                    raise
                # out of descriptors: stop watching the listener for a while, never spin
                self.pause_accepting(self.backoff.failed(exc))
                return
            self.backoff.succeeded()
            pump = Pump(self, sock, self.factory())
            if self.stats.open >= self.cap:  # 503 (HTTP) or nothing (echo), a lingering close
                http = self.config.protocol == "http"
                pump.perform([overload_response(), CLOSE] if http else [CLOSE])
            else:
                self.stats.opened()
                self.pumps.add(pump)
                pump.perform([])  # arms the keep-alive deadline

    def pause_accepting(self, seconds: float) -> None:
        self.loop.remove_reader(self.listener_fd)
        self.loop.call_later(seconds, self._accept_again)

    def _accept_again(self) -> None:
        if self.accepting:
            self.loop.add_reader(self.listener_fd, self.on_acceptable)

    def closed(self, pump: Pump) -> None:
        if pump not in self.pumps:
            return  # a refusal: never counted
        self.pumps.remove(pump)
        self.stats.closed()
        if self.lifecycle.stopping:
            self.loop.stop()  # the drain may be waiting for the last one

    # -- what the drain needs --------------------------------------------------------
    def stop_accepting(self) -> None:
        self.accepting = False
        self.loop.remove_reader(self.listener_fd)
        self.listener.close()

    def abort_connections(self) -> None:
        for pump in list(self.pumps):
            pump.destroy()
