"""The upstream (Redis) side of ``GET /db``, sans-IO: where it is, what is in it, one exchange.

* :class:`UpstreamConfig`: the address (``redis://host:port`` or
  ``unix:///path``), the timeout of one query, the pool size of the models
  that pool their connections.
* :func:`seed_commands`: the data the route reads (``item:K`` holds
  ``item:K=<digest>``), written into a fresh Redis by ``common.redis_server``.
* :class:`Exchange`: one :class:`~servers.protocol.effects.Query` over one
  upstream connection: ``request()`` is the next round trip's command,
  ``receive_data(data)`` feeds what the connection read and says when the last
  reply is in, ``response()`` is the HTTP response. A reply that is not what
  was asked raises :class:`UpstreamError` (502, the connection discarded).

Each driver performs the round trips its own way (see ``servers.upstream``);
the failures it meets map to statuses here: :func:`unavailable` (502),
:func:`too_slow` (504), :func:`pool_exhausted` (503).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from servers.protocol import resp

if TYPE_CHECKING:
    from servers.protocol.effects import Query

#: Keys seeded in the upstream: ``item:0`` to ``item:<KEYS - 1>``.
KEYS = 1000
#: Most round trips one ``GET /db`` may ask for.
DB_N_MAX = 100
DEFAULT_POOL = 10
DEFAULT_TIMEOUT = 2.0


class UpstreamCounters(Protocol):
    """What an exchange and a driver's connections report (``servers.stats`` implements it)."""

    def upstream_opened(self) -> None: ...

    def upstream_closed(self) -> None: ...

    def round_trip_done(self) -> None: ...


class UpstreamError(Exception):
    """A query that cannot be answered: the HTTP status, why, whether to drop the connection."""

    def __init__(self, status: int, reason: str, discard: bool = True) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.discard = discard


def unavailable(exc: BaseException) -> UpstreamError:
    """The upstream is down or dropped us (502)."""
    return UpstreamError(502, f"upstream unavailable: {exc or type(exc).__name__}")


def too_slow(timeout: float) -> UpstreamError:
    """No reply within the timeout (504): the connection is dropped, a late reply would be out of step."""
    return UpstreamError(504, f"upstream did not answer within {timeout:g} s")


def pool_exhausted(timeout: float) -> UpstreamError:
    """Every pooled connection stayed busy for the whole wait (503)."""
    return UpstreamError(503, f"no upstream connection free within {timeout:g} s", discard=False)


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """Where the upstream is and how long a query may take."""

    url: str
    timeout: float = DEFAULT_TIMEOUT
    pool: int = DEFAULT_POOL

    @property
    def pool_wait(self) -> float:
        """How long a query waits for a pooled connection before 503: half its timeout."""
        return self.timeout / 2

    @property
    def is_unix(self) -> bool:
        """A Unix socket (else TCP)."""
        return self.url.startswith("unix://")

    @property
    def address(self) -> Any:
        """What ``socket.connect`` takes: a path, or ``(host, port)``."""
        return parse_url(self.url)


def parse_url(url: str) -> str | tuple[str, int]:
    """``redis://host:port`` -> ``(host, port)``; ``unix:///path`` -> ``"/path"``.

    Raises:
        ValueError: anything else (the message names the value).
    """
    if url.startswith("unix://") and len(url) > len("unix://"):
        return url[len("unix://") :]
    if url.startswith("redis://"):
        host, sep, port = url[len("redis://") :].rstrip("/").rpartition(":")
        if sep and host and port.isdigit() and 0 < int(port) < 65536:
            return host, int(port)
    raise ValueError(f"{url!r} is not redis://host:port or unix:///path")


def key(index: int) -> bytes:
    return b"item:%d" % index


def value(index: int) -> bytes:
    """What ``item:<index>`` holds: its own name first, so a reply names what it answers."""
    return key(index) + b"=" + hashlib.sha256(key(index)).hexdigest()[:16].encode()


def seed_commands() -> Iterator[bytes]:
    """The RESP commands writing the data ``GET /db`` reads."""
    for index in range(KEYS):
        yield resp.command(b"SET", key(index), value(index))


def keys_for(start: int, n: int) -> tuple[bytes, ...]:
    """The keys of ``n`` round trips from ``item:<start>`` (wrapping around)."""
    return tuple(key((start + i) % KEYS) for i in range(n))


class Exchange:
    """One query over one connection: a ``GET`` per round trip, each reply checked."""

    __slots__ = ("query", "_reader", "values")

    def __init__(self, query: Query) -> None:
        self.query = query
        self._reader = resp.make_reader()
        self.values: list[bytes] = []

    @property
    def done(self) -> bool:
        return len(self.values) == len(self.query.keys)

    def request(self) -> bytes:
        """The command of the next round trip."""
        return resp.command(b"GET", self.query.keys[len(self.values)])

    def receive_data(self, data: bytes) -> bool:
        """Feed bytes read from the upstream; True once the current round trip's reply is in.

        Raises:
            UpstreamError: EOF, bytes that are not RESP, or a reply that is not
                the value asked for (502; the connection must be dropped).
        """
        if not data:
            raise UpstreamError(502, "upstream closed the connection")
        reader = self._reader
        try:
            reader.feed(data)
            reply = reader.gets()
            if reply is False:
                return False
            extra = reader.gets()
        except resp.ProtocolError as exc:
            raise UpstreamError(502, f"upstream sent bytes that are not RESP: {exc}") from None
        asked = self.query.keys[len(self.values)]
        if extra is not False or not (isinstance(reply, bytes) and reply.startswith(asked + b"=")):
            raise UpstreamError(502, f"upstream reply is not the value of {asked.decode()}")
        self.values.append(reply)
        self.query.counters.round_trip_done()
        return True

    def response(self) -> bytes:
        """The HTTP response once every round trip is done."""
        return self.query.respond(self.values)

    def failed(self, error: UpstreamError) -> bytes:
        """The HTTP response for a failed query."""
        return self.query.fail(error)
