"""Effects: what the core asks a driver to do that the core itself cannot.

A driver performs the actions returned by ``Connection.receive_data`` in order:

* ``bytes``: send them;
* :class:`Wait`: wait that long *the way this model waits on IO*
  (``time.sleep`` in a thread or a forked child, ``gevent.sleep``,
  ``loop.call_later``) without holding up other connections, then go on;
* :class:`Compute`: call ``run()`` and send what it returns (CPU work that
  holds the GIL: every model runs it inline, which is the point);
* :class:`Query`: make round trips to the upstream (Redis) *the way this model
  does IO*, through :class:`servers.protocol.upstream.Exchange`, then send its
  response (or its failure's) and go on; the connection's deadlines do not
  apply meanwhile (the query has its own timeout);
* ``CRASH``: kill the process serving the connection by a signal;
* ``CLOSE``: close the connection (everything before it has been sent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from servers.protocol.upstream import UpstreamConfig, UpstreamCounters, UpstreamError


@dataclass(frozen=True, slots=True)
class Wait:
    """Wait ``seconds`` without blocking other connections."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Compute:
    """Pure-Python CPU work; ``run()`` does it and returns the response bytes."""

    n: int
    work: Callable[[int], bytes]
    respond: Callable[[bytes], bytes]

    def run(self) -> bytes:
        return self.respond(self.work(self.n))


@dataclass(frozen=True, slots=True)
class Query:
    """Read ``keys`` from the upstream, one round trip each; ``respond``/``fail`` make the bytes."""

    keys: tuple[bytes, ...]
    upstream: UpstreamConfig
    counters: UpstreamCounters
    respond: Callable[[list[bytes]], bytes]
    fail: Callable[[UpstreamError], bytes]


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: Close the connection once everything before this action has been sent.
CLOSE = _Marker("CLOSE")
#: Kill the serving process by a signal, as a segfault in a C extension would.
CRASH = _Marker("CRASH")

Action = bytes | Wait | Compute | Query | _Marker
