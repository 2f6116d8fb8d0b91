"""A new connection per request (``Connection: close``): connect, ask, read the answer, close."""

from __future__ import annotations

import asyncio
from time import perf_counter_ns
from typing import Any

from clients.loadgen.http_client import content_length
from clients.loadgen.state import DONE, MEASURE, RunState


class OneShotConnection(asyncio.Protocol):
    """Sends one request and completes ``done`` when the whole answer is in (or the connection ends)."""

    def __init__(self, state: RunState, request: bytes, started_ns: int) -> None:
        self.state = state
        self.request = request
        self.started_ns = started_ns
        self.buf = b""
        self.transport: Any = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)
        if self.state.phase == MEASURE:
            self.state.bytes_out += len(self.request)

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return
        if self.state.phase == MEASURE:
            self.state.bytes_in += len(data)
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        length = content_length(self.buf, 0, end)
        if length < 0 or len(self.buf) >= end + 4 + length:
            ok = length >= 0 and self.buf[9:10] == b"2"
            self.state.completed(self.started_ns, perf_counter_ns(), ok)
            self.done.set_result(None)
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.state.error("closed")
            self.done.set_result(None)


async def churn_worker(
    state: RunState, host: str, port: int, request: bytes, limit_s: float
) -> None:
    """Open, ask, close, again, until the run is over."""
    loop = asyncio.get_running_loop()
    while state.phase != DONE:
        started = perf_counter_ns()
        try:
            async with asyncio.timeout(limit_s):
                proto = OneShotConnection(state, request, started)
                await loop.create_connection(lambda proto=proto: proto, host, port)  # type: ignore[misc]
                await proto.done
        except (OSError, TimeoutError) as exc:
            state.error("timeout" if isinstance(exc, TimeoutError) else "connect")
            await asyncio.sleep(0.01)
