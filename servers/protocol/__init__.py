"""The sans-IO protocol core shared by every IO model.

Nothing in this package touches a socket, a selector, an event loop or a
greenlet: it turns received bytes into *actions* (bytes to send, or effects
such as "wait 50 ms") and each model's driver performs them its own way.

Public entry points:

* :class:`~servers.protocol.http11.RequestParser`: bytes in, events out
  (``Request``, ``CONTINUE``, ``NEED_DATA``, ``CLOSED``) or a raised
  :class:`~servers.protocol.errors.ProtocolError` carrying an HTTP status.
* :class:`~servers.protocol.connection.HttpConnection` and
  :class:`~servers.protocol.connection.EchoConnection`: what a driver talks to;
  ``receive_data(data) -> list[action]``.
* :class:`~servers.protocol.app.App`: the routes.
"""

from servers.protocol.config import Limits, ServerConfig
from servers.protocol.connection import EchoConnection, HttpConnection, make_connection_factory
from servers.protocol.effects import CLOSE, CRASH, Compute, Wait
from servers.protocol.errors import ProtocolError

__all__ = [
    "CLOSE",
    "CRASH",
    "Compute",
    "EchoConnection",
    "HttpConnection",
    "Limits",
    "ProtocolError",
    "ServerConfig",
    "Wait",
    "make_connection_factory",
]
