"""Slow clients beside the measured ones: a realistic mobile client, not an attack.

Each slow client keeps one keep-alive connection and, over and over: sends its request
a few bytes at a time (:attr:`SlowProfile.chunk` bytes every :attr:`SlowProfile.gap_s`),
reads the answer through a small receive window (``SO_RCVBUF`` of :attr:`SlowProfile.window`
bytes, one window every :attr:`SlowProfile.read_gap_s`), then thinks for
:attr:`SlowProfile.think_s` before its next request. Every pause is far inside the
servers' header deadline and keep-alive timeout. A server may still close the connection
(a pool releasing keep-alive connections for clients that wait): the client then
connects again after its think time, as a browser does (:class:`SlowClients`).

:func:`measure_beside_slow` opens the slow clients first, lets them settle, then runs the
ordinary (fast) load of :func:`clients.loadgen.runner.measure` and reports the slow clients'
own figures separately in :attr:`LoadResult.slow <clients.loadgen.runner.LoadResult.slow>`.
Loopback only, bounded: at most :data:`MAX_SLOW_CLIENTS`, each connect within a timeout.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass
from time import perf_counter_ns
from typing import Any

from clients.loadgen.config import MAX_SLOW_CLIENTS, LoadConfig
from clients.loadgen.histogram import LatencyRecorder
from clients.loadgen.http_client import content_length
from clients.loadgen.runner import CONNECT_PARALLEL, LoadResult, measure

log = logging.getLogger(__name__)

#: Seconds the slow clients run before the fast load starts (their first requests in flight).
SETTLE_S = 0.5


@dataclass(frozen=True, slots=True)
class SlowProfile:
    """How a slow client sends, reads and waits (defaults: a phone on a poor link)."""

    chunk: int = 8
    gap_s: float = 0.05
    window: int = 4096
    read_gap_s: float = 0.05
    think_s: float = 1.0
    connect_timeout_s: float = 3.0


class SlowFigures:
    """What the slow clients did while the fast load was measured."""

    __slots__ = (
        "measuring",
        "requests",
        "recorder",
        "closed",
        "reconnects",
        "refused",
        "connect_failures",
    )

    def __init__(self) -> None:
        self.measuring = False
        self.requests = 0
        self.recorder = LatencyRecorder()
        self.closed = 0
        self.reconnects = 0
        self.refused = 0
        self.connect_failures = 0

    def answered(self, started_ns: int, ok: bool) -> None:
        if self.measuring:
            self.requests += 1
            self.recorder.record(perf_counter_ns() - started_ns)
            if not ok:
                self.refused += 1


class SlowConnection(asyncio.Protocol):
    """One slow client on its keep-alive connection (see the module docstring)."""

    def __init__(self, figures: SlowFigures, request: bytes, profile: SlowProfile) -> None:
        self.figures = figures
        self.request = request
        self.profile = profile
        self.loop = asyncio.get_running_loop()
        self.transport: Any = None
        self.buf = b""
        self.offset = 0
        self.started_ns = 0
        self.timer: asyncio.TimerHandle | None = None
        self.stopped = False
        self.on_lost: Callable[[SlowConnection], None] | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self._next_request()

    def _next_request(self) -> None:
        self.offset = 0
        self.started_ns = perf_counter_ns()
        self._send_chunk()

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        if not self.stopped:
            self.timer = self.loop.call_later(delay, callback)

    def _send_chunk(self) -> None:
        if self.stopped or self.transport.is_closing():
            return
        end = self.offset + self.profile.chunk
        self.transport.write(self.request[self.offset : end])
        self.offset = end
        if end < len(self.request):
            self._later(self.profile.gap_s, self._send_chunk)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self.transport.pause_reading()  # one window now, the next one later
        self._later(self.profile.read_gap_s, self._resume)
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        total = end + 4 + max(0, content_length(self.buf, 0, end))
        if len(self.buf) < total:
            return
        self.figures.answered(self.started_ns, self.buf[9:10] == b"2")
        self.buf = self.buf[total:]
        self._later(self.profile.think_s, self._next_request)

    def _resume(self) -> None:
        if not self.stopped and not self.transport.is_closing():
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.stopped:
            return
        self.figures.closed += 1
        self.stop()
        if self.on_lost is not None:
            self.on_lost(self)

    def stop(self) -> None:
        self.stopped = True
        if self.timer is not None:
            self.timer.cancel()


class SlowClients:
    """Slow clients kept up in number: one the server closes connects again after its think time
    (as a browser does when told ``Connection: close``)."""

    def __init__(self, config: LoadConfig, profile: SlowProfile, figures: SlowFigures) -> None:
        self.config = config
        self.profile = profile
        self.figures = figures
        self.request = config.request()
        self.open: set[SlowConnection] = set()
        self.again: set[asyncio.Task[None]] = set()
        self.stopping = False
        self.gate = asyncio.Semaphore(CONNECT_PARALLEL)

    async def start(self, count: int) -> None:
        """Open ``count`` slow clients, each with a small receive buffer."""
        if not 0 <= count <= MAX_SLOW_CLIENTS:
            raise ValueError(f"slow clients must be 0 to {MAX_SLOW_CLIENTS}, not {count}")
        await asyncio.gather(*(self.connect() for _ in range(count)))

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        async with self.gate:
            if self.stopping:
                return
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.profile.window)
            sock.setblocking(False)  # the buffer is set before connecting: it sizes the window
            try:
                async with asyncio.timeout(self.profile.connect_timeout_s):
                    await loop.sock_connect(sock, (self.config.host, self.config.port))
                    _, proto = await loop.create_connection(
                        lambda: SlowConnection(self.figures, self.request, self.profile), sock=sock
                    )
            except (OSError, TimeoutError) as exc:
                log.debug("slow client connect failed: %s", exc)
                sock.close()
                self.figures.connect_failures += 1
                return
        if self.stopping:
            proto.stop()
            proto.transport.abort()
            return
        proto.on_lost = self._lost
        self.open.add(proto)

    def _lost(self, proto: SlowConnection) -> None:
        self.open.discard(proto)
        if not self.stopping:
            task = asyncio.ensure_future(self._connect_later())
            self.again.add(task)
            task.add_done_callback(self.again.discard)

    async def _connect_later(self) -> None:
        await asyncio.sleep(self.profile.think_s)
        self.figures.reconnects += 1
        await self.connect()

    async def stop(self) -> int:
        """Close every slow client; returns how many were open."""
        self.stopping = True
        held = len(self.open)
        for task in list(self.again):
            task.cancel()
        await asyncio.gather(*self.again, return_exceptions=True)
        for proto in self.open:
            proto.stop()
            proto.transport.abort()
        self.open.clear()
        return held


async def measure_beside_slow(
    config: LoadConfig,
    on_event: Callable[[str], None] | None = None,
    keep_histogram: bool = False,
    profile: SlowProfile | None = None,
) -> LoadResult:
    """The fast load of ``config`` with ``config.slow_clients`` slow clients running throughout.

    The result is the fast clients' (as :func:`~clients.loadgen.runner.measure` reports
    them); ``result.slow`` holds the slow clients' own: how many were open at the end,
    how often the server closed one (it then connects again), the requests they
    completed in the window and their latencies.
    """
    profile = profile or SlowProfile()
    figures = SlowFigures()
    slow = SlowClients(config, profile, figures)
    await slow.start(config.slow_clients)
    connected = len(slow.open)
    await asyncio.sleep(SETTLE_S if connected else 0)

    def mark(name: str) -> None:
        figures.measuring = name == "measure"
        if on_event:
            on_event(name)

    try:
        result = await measure(config, mark, keep_histogram)
    finally:
        held = await slow.stop()
    result.slow = {
        "clients": config.slow_clients,
        "connected": connected,
        "held": held,
        "requests": figures.requests,
        "rps": figures.requests / result.duration_s if result.duration_s else 0.0,
        "closed": figures.closed,
        "reconnects": figures.reconnects,
        "refused": figures.refused,
        "connect": figures.connect_failures,
        "latency_ms": figures.recorder.summary(),
        "profile": asdict(profile),
    }
    return result
