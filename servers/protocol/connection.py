"""What a driver talks to: one object per connection, bytes in, actions out.

``receive_data(data)`` returns the list of actions to perform in order (see
:mod:`servers.protocol.effects`); ``b""`` means the peer closed. Drivers also
use ``deadline()`` / ``timed_out()`` to enforce the limits' timeouts, ``touch()``
after performing a :class:`~servers.protocol.effects.Wait`, and ``draining`` on
shutdown.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from servers.protocol.app import App, StatsSink
from servers.protocol.config import Limits, ServerConfig
from servers.protocol.effects import CLOSE, Action
from servers.protocol.errors import ProtocolError
from servers.protocol.http11 import CONTINUE, NEED_DATA, Request, RequestParser
from servers.protocol.responses import CONTINUE_RESPONSE, error_response

Clock = Callable[[], float]


class HttpConnection:
    """One HTTP/1.1 connection: the parser plus the routes."""

    __slots__ = (
        "_parser",
        "_app",
        "_limits",
        "_clock",
        "_t_head",
        "_t_last",
        "closed",
        "draining",
        "idle_timeout",
    )

    def __init__(self, app: App, limits: Limits, clock: Clock = time.monotonic) -> None:
        self._parser = RequestParser(limits)
        self._app = app
        self._limits = limits
        #: How long the connection may stay idle between requests.
        self.idle_timeout = limits.keepalive_timeout
        self._clock = clock
        self._t_head = self._t_last = clock()
        self.closed = False
        #: Set by the driver on shutdown: the next response closes the connection.
        self.draining = False

    @property
    def idle(self) -> bool:
        """No request in progress: closing now loses nothing."""
        return self._parser.idle

    def receive_data(self, data: bytes) -> list[Action]:
        """Feed received bytes (``b""`` for EOF); return the actions to perform."""
        if self.closed:
            return []
        parser = self._parser
        now = self._clock()
        if parser.idle:
            self._t_head = now
        self._t_last = now
        parser.receive_data(data)
        next_event = parser.next_event
        handle = self._app.handle
        out: list[Action] = []
        try:
            while True:
                event = next_event()
                if type(event) is Request:
                    if handle(event, event.keep_alive and not self.draining, out):
                        continue
                elif event is NEED_DATA:
                    return out
                elif event is CONTINUE:
                    out.append(CONTINUE_RESPONSE)
                    continue
                break  # a response that closes, or CLOSED: the peer is gone
        except ProtocolError as exc:
            out.append(error_response(exc, head=parser.method == b"HEAD"))
        out.append(CLOSE)
        self.closed = True
        return out

    def touch(self) -> None:
        """Restart the idle clock (after a Wait, the response has just gone out)."""
        self._t_last = self._clock()

    def deadline(self) -> float | None:
        """When this connection times out (on the core's clock), or None once closed."""
        if self.closed:
            return None
        parser = self._parser
        if parser.idle:
            return self._t_last + self._limits.keepalive_timeout
        if parser.reading_body:
            return self._t_last + self._limits.body_timeout
        return self._t_head + self._limits.header_timeout

    def timed_out(self) -> list[Action]:
        """The actions for an expired deadline: a silent close when idle, else 408."""
        self.closed = True
        if self._parser.idle:
            return [CLOSE]
        timeout = ProtocolError(408, "request not received in time")
        return [error_response(timeout, head=self._parser.method == b"HEAD"), CLOSE]


class EchoConnection:
    """Raw echo: every byte received is sent back unchanged, in order."""

    __slots__ = ("_limits", "_clock", "_t_last", "closed", "draining", "idle_timeout")

    idle = True

    def __init__(self, limits: Limits, clock: Clock = time.monotonic) -> None:
        self._limits = limits
        self.idle_timeout = limits.keepalive_timeout
        self._clock = clock
        self._t_last = clock()
        self.closed = False
        self.draining = False

    def receive_data(self, data: bytes) -> list[Action]:
        if data:
            self._t_last = self._clock()
            return [data]
        self.closed = True
        return [CLOSE]

    def touch(self) -> None:
        self._t_last = self._clock()

    def deadline(self) -> float | None:
        return None if self.closed else self._t_last + self._limits.keepalive_timeout

    def timed_out(self) -> list[Action]:
        self.closed = True
        return [CLOSE]


Connection = HttpConnection | EchoConnection


def make_connection_factory(config: ServerConfig, stats: StatsSink) -> Callable[[], Connection]:
    """Return a zero-argument callable making a new connection object for ``config.protocol``."""
    limits = config.limits
    if config.protocol == "echo":
        return lambda: EchoConnection(limits)
    if config.protocol != "http":
        raise ValueError(f"unknown protocol {config.protocol!r}: choose http or echo")
    app = App(config, stats)
    return lambda: HttpConnection(app, limits)
