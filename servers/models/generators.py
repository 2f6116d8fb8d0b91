"""``generators``: each connection is a coroutine made only of generators, on the hand-made loop.

The article's 协程 as Python first had them (通过生成器实现): a generator
that ``yield``s wherever blocking code would wait. :meth:`Client.serve` reads
like the loop of a blocking server (wait for bytes, hand them to the protocol
core, perform its actions, again), but each ``yield`` hands the loop a note of
what the coroutine waits for, and gives the thread to another coroutine:

* ``yield readable(sock, deadline)``: resumed with True once ``sock`` has
  bytes (or EOF), False if the deadline came first;
* ``yield writable(sock, deadline)``: the same, for room to send;
* ``yield sleep(seconds)``: resumed once the time is up;
* ``yield from future``: resumed with its result (a ``Query`` to the upstream:
  the reactor's callbacks make the round trips, :mod:`servers.upstream.handloop`,
  and resolve it).

A :class:`handloop.Task` does the resuming: it registers the socket with the
loop (the reactor's very loop) and calls ``generator.send(answer)`` when the
answer is there. ``yield from`` calls one coroutine from another (``perform``,
``send``, ``linger``). No threads, and no locks: between two ``yield`` s a
coroutine runs alone. Everything here is a coroutine: the accept loop
(:meth:`Server.accept`), each connection, its lingering close, and the
server's main (:meth:`Server.main`): wait on the wake-up pipe until a stop
signal, then drain.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from handloop import Coroutine, Future, Loop, Task, readable, run_until_complete, sleep, writable
from servers.lifecycle import Lifecycle, PumpSet, WakeupPipe
from servers.models._closing import LINGER_BYTES, LINGER_S, SEND_TIMEOUT
from servers.models._crash import crash_now
from servers.models._fds import SCARCE, Backoff, fd_cap
from servers.protocol.config import ServerConfig
from servers.protocol.connection import make_connection_factory
from servers.protocol.effects import CLOSE, CRASH, Action, Compute, Query, Wait
from servers.protocol.responses import overload_response
from servers.stats import LocalStats
from servers.upstream.handloop import CallbackPool

DEFAULT_MAX_CONNECTIONS = 20_000
READ_SIZE = 65536
ACCEPT_BATCH = 64
#: Actions queued behind a Wait (pipelined requests) beyond which reading pauses.
MAX_QUEUED = 64


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    loop = Loop()
    run_until_complete(loop, Server(loop, listener, config).main(on_ready))
    loop.close()


class Client:
    """One connection: its socket, its protocol state, and the coroutines that serve it."""

    __slots__ = ("server", "sock", "conn", "task", "peer_closed", "between_requests")

    def __init__(self, server: Server, sock: socket.socket) -> None:
        self.server, self.sock, self.conn = server, sock, server.factory()
        self.task: Task | None = None
        self.peer_closed = False
        self.between_requests = False  # waiting for the next request: a drain may end the wait

    def serve(self) -> Coroutine:
        """Wait for bytes, hand them to the core, perform its actions; until a close."""
        sock, conn = self.sock, self.conn
        try:
            while True:
                self.between_requests = True
                ready = yield readable(sock, conn.deadline())
                self.between_requests = False
                if ready:
                    data = sock.recv(READ_SIZE)
                    self.peer_closed = not data
                    actions = conn.receive_data(data)
                elif conn.draining and conn.idle:  # the drain ended the wait
                    break
                else:
                    actions = conn.timed_out()
                if (yield from self.perform(actions)) or (conn.draining and conn.idle):
                    break
            if not self.peer_closed:
                yield from self.linger()
        except OSError:  # reset, broken pipe, a client that reads nothing: it is gone
            pass
        finally:
            sock.close()
            self.server.closed(self)

    def perform(self, actions: list[Action]) -> Coroutine:
        """Perform actions in order; returns True once the connection is to be closed.

        A Wait is a sleep that keeps reading: what arrives meanwhile (pipelined
        requests) goes to the core and its actions are queued behind, so
        responses stay in order and a reset is noticed at once. Past
        :data:`MAX_QUEUED` queued actions, or after EOF, it just sleeps.
        """
        sock, conn = self.sock, self.conn
        index = 0
        while index < len(actions):
            action = actions[index]
            index += 1
            if type(action) is bytes:
                yield from self.send(action)
            elif action is CLOSE:
                return True
            elif type(action) is Wait:
                del actions[:index]
                index = 0
                until = time.monotonic() + action.seconds
                while True:
                    if self.peer_closed or len(actions) > MAX_QUEUED:
                        yield sleep(until - time.monotonic())
                        break
                    if not (yield readable(sock, until)):
                        break
                    data = sock.recv(READ_SIZE)
                    self.peer_closed = not data
                    actions.extend(conn.receive_data(data))
                conn.touch()
            elif type(action) is Query:
                answered = Future()
                self.server.upstream.perform(action, answered.set_result)
                response = yield from answered
                conn.touch()
                yield from self.send(response)
            elif type(action) is Compute:
                yield from self.send(action.run())
            elif action is CRASH:
                crash_now()
        return False

    def send(self, data: bytes) -> Coroutine:
        """Send all of ``data``; while the socket is full, wait (reading nothing: back-pressure)."""
        sock = self.sock
        while data:
            try:
                data = data[sock.send(data) :]
            except BlockingIOError:
                pass
            if data and not (yield writable(sock, time.monotonic() + SEND_TIMEOUT)):
                raise TimeoutError("the client reads nothing")

    def linger(self) -> Coroutine:
        """Half-close, then read and discard until EOF, :data:`LINGER_S` or :data:`LINGER_BYTES`."""
        sock = self.sock
        sock.shutdown(socket.SHUT_WR)
        until = time.monotonic() + LINGER_S
        left = LINGER_BYTES
        while left > 0 and (yield readable(sock, until)):
            data = sock.recv(READ_SIZE)
            if not data:
                return
            left -= len(data)

    def refuse(self) -> Coroutine:
        """Over the cap: 503 (HTTP) or nothing (echo), then a lingering close."""
        try:
            if self.server.config.protocol == "http":
                yield from self.send(overload_response())
            yield from self.linger()
        except OSError:
            pass
        finally:
            self.sock.close()

    def stop(self) -> None:
        """Shutdown: close now if idle, else after the response in flight."""
        self.conn.draining = True
        if self.between_requests and self.conn.idle and self.task is not None:
            self.task.expire()


class Server(PumpSet):
    """The server's coroutines (main, accept), the connection cap, and what the drain needs."""

    def __init__(self, loop: Loop, listener: socket.socket, config: ServerConfig) -> None:
        self.loop, self.listener, self.config = loop, listener, config
        self.lifecycle = Lifecycle(config.graceful_timeout)
        self.wakeup: WakeupPipe | None = None
        self.stats = LocalStats("generators")
        self.cap = fd_cap(config.max_connections or DEFAULT_MAX_CONNECTIONS)
        self.factory = make_connection_factory(config, self.stats)
        self.upstream = CallbackPool(loop, self.stats)
        self.pumps: set[Client] = set()
        self.acceptor: Task | None = None

    def main(self, on_ready: Callable[[], None]) -> Coroutine:
        """Accept until a stop signal, then drain: the server's own coroutine."""
        lifecycle = self.lifecycle
        wakeup = self.wakeup = lifecycle.wake_by_pipe()
        self.acceptor = Task(self.loop, self.accept())
        on_ready()
        while not lifecycle.stopping:
            yield readable(wakeup)
            wakeup.clear()
        for timeout in lifecycle.drain(self):
            yield readable(wakeup, time.monotonic() + timeout)  # or a connection closed
            wakeup.clear()
        yield sleep(0)  # the aborted connections' coroutines close their sockets

    def accept(self) -> Coroutine:
        """Accept connections, a coroutine each; out of descriptors, back off (never spin)."""
        listener, backoff = self.listener, Backoff()
        listener.setblocking(False)
        while True:
            yield readable(listener)
            for _ in range(ACCEPT_BATCH):
                try:
                    sock, _ = listener.accept()
                    sock.setblocking(False)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except (BlockingIOError, ConnectionAbortedError):
                    break
                except OSError as exc:
                    if exc.errno not in SCARCE:
                        raise
                    yield sleep(backoff.failed(exc))
                    break
                backoff.succeeded()
                client = Client(self, sock)
                if self.stats.open >= self.cap:
                    Task(self.loop, client.refuse())
                    continue
                self.stats.opened()
                self.pumps.add(client)
                client.task = Task(self.loop, client.serve())

    def closed(self, client: Client) -> None:
        self.pumps.discard(client)
        self.stats.closed()
        if self.lifecycle.stopping and self.wakeup is not None:
            self.wakeup.wake()  # the drain may be waiting for the last one

    # -- what the drain needs --------------------------------------------------------
    def stop_accepting(self) -> None:
        if self.acceptor is not None:
            self.acceptor.cancel()  # stops watching the listener now
        self.listener.close()

    def abort_connections(self) -> None:
        for client in list(self.pumps):
            if client.task is not None:
                client.task.cancel()
