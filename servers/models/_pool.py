"""The pools' keep-alive policy (prefork, threadpool): an idle connection makes room for a waiting one.

A pool of N members, each serving one connection until it closes, starves
the N+1st client while the N hold keep-alive connections: it waits for a
keep-alive timeout at least. gunicorn's sync worker never keeps a connection
alive; these pools keep it alive while nobody waits, and once a connection has
waited :data:`RELEASE_AFTER` for a member, they *release* keep-alive
connections (:meth:`PoolPump.release`):

* one quiet for :data:`RELEASE_AFTER` already (the client has not spoken
  since its last response, and no request waits unread) is closed at once; a
  request sent just as it closes crosses the close, and the client sends it
  again on a new connection (RFC 9112 section 9.3.1; our loader does);
* any other gets ``Connection: close`` on its next response, then closes.
  The flag is applied by the connection itself just before it reads the next
  request (:class:`ReleasableConnection`), never while a response is being
  built, so no response announces keep-alive and is then cut off.

A client told ``Connection: close`` connects again (and queues behind those
already waiting): the members take turns instead of serving whoever came first.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from servers.models._blocking import BlockingPump
from servers.protocol.app import App, StatsSink
from servers.protocol.config import Limits, ServerConfig
from servers.protocol.connection import Connection, HttpConnection, make_connection_factory
from servers.protocol.effects import Action

#: How long a connection waits for a pool member before keep-alive connections are released.
RELEASE_AFTER = 0.1


class ReleasableConnection(HttpConnection):
    """An HTTP connection that can be asked, from another thread, to close after its next response."""

    __slots__ = ("release_wanted",)

    def __init__(self, app: App, limits: Limits) -> None:
        super().__init__(app, limits)
        self.release_wanted = False

    def receive_data(self, data: bytes) -> list[Action]:
        if self.release_wanted:
            self.draining = True  # before the request is read: its response says close
        return super().receive_data(data)


def releasable_factory(config: ServerConfig, stats: StatsSink) -> Callable[[], Connection]:
    """Like :func:`~servers.protocol.connection.make_connection_factory`; HTTP connections can be released."""
    if config.protocol != "http":
        return make_connection_factory(config, stats)  # an echo stream has no response to end
    app = App(config, stats)
    return lambda: ReleasableConnection(app, config.limits)


class PoolPump(BlockingPump):
    """The blocking pump of a pool member: it can be released, and beats before each step.

    Args:
        sock: the connection's socket.
        conn: its protocol connection.
        sleep: how a ``Wait`` is performed.
        beat: called before every step (a worker's heartbeat); nothing by default.
    """

    __slots__ = ("beat", "quiet_since")

    def __init__(
        self,
        sock: socket.socket,
        conn: Connection,
        sleep: Callable[[float], object] = time.sleep,
        beat: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(sock, conn, sleep, timeouts="kernel")
        self.beat = beat
        #: When it last answered and went quiet (None while working, or before its first answer).
        self.quiet_since: float | None = None

    def perform(self, actions: list[Action]) -> bool:
        self.beat()
        self.quiet_since = None
        done = super().perform(actions)
        if actions and self.conn.idle:
            self.quiet_since = time.monotonic()
        return done

    def release(self) -> None:
        """Let the connection go (from another thread): now if quiet, else after its next response."""
        conn = self.conn
        if not isinstance(conn, ReleasableConnection):
            return
        quiet = self.quiet_since
        if quiet is not None and time.monotonic() - quiet >= RELEASE_AFTER and not self._waiting():
            try:
                self.sock.shutdown(socket.SHUT_RD)  # its recv sees EOF: closed without lingering
            except OSError:
                pass
        else:
            conn.release_wanted = True

    def _waiting(self) -> bool:
        """A request has arrived that the member has not read yet (it is told to close instead)."""
        try:
            return bool(self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except OSError:  # nothing waiting (BlockingIOError), or the socket is gone
            return False

    def quiet_for(self) -> float:
        """Seconds since it last answered (0 while working)."""
        quiet = self.quiet_since
        return 0.0 if quiet is None else time.monotonic() - quiet
