"""Raw echo connections: send a message, time it until every byte has come back."""

from __future__ import annotations

import asyncio
from collections import deque
from time import perf_counter_ns
from typing import Any

from clients.loadgen.state import DONE, MEASURE, RunState


class EchoConnection(asyncio.Protocol):
    """Keeps ``depth`` messages of ``len(message)`` bytes in flight on one connection."""

    def __init__(self, state: RunState, message: bytes, depth: int = 1) -> None:
        self.state = state
        self.message = message
        self.size = len(message)
        self.depth = depth
        self.sent: deque[int] = deque()
        self.pending = 0  # bytes of the oldest message still to come back
        self.transport: Any = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.pending = self.size
        self._send(self.depth)

    def _send(self, count: int) -> None:
        now = perf_counter_ns()
        self.sent.extend([now] * count)
        payload = self.message * count if count > 1 else self.message
        self.transport.write(payload)
        if self.state.phase == MEASURE:
            self.state.bytes_out += len(payload)

    def data_received(self, data: bytes) -> None:
        state = self.state
        got = len(data)
        if state.phase == MEASURE:
            state.bytes_in += got
        answered = 0
        now = perf_counter_ns()
        while got >= self.pending and self.sent:
            got -= self.pending
            self.pending = self.size
            state.completed(self.sent.popleft(), now)
            answered += 1
        self.pending -= got
        if answered and state.phase != DONE:
            self._send(answered)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state.phase != DONE:
            self.state.error("closed")
        if not self.lost.done():
            self.lost.set_result(None)
