"""HTTP/1.1 keep-alive connections: closed loop with pipelining, or open loop at a fixed rate.

Responses are framed by ``Content-Length`` only (every server in the bench sends it);
a response without one ends the connection as an error. A response saying
``Connection: close`` is the server letting the connection go (a pool making
room for a waiting client): the loader closes it and connects again, counting
no error, and the requests it had pipelined behind that response go out again
on the new connection.

A keep-alive connection can also be closed while idle just as the next request
goes out (a pool letting a quiet connection go, a keep-alive timeout): the
request crosses the close. When a connection that has answered before closes
with no byte of the next answer received, its requests are *retried* on a new
connection, as RFC 9112 section 9.3.1 lets a client do with an idempotent
request; they are counted apart (``RunState.retried``), never as errors. A new
connection that closes before its first answer retries nothing: its requests
are ``unanswered``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from time import perf_counter_ns
from typing import Any

from clients.loadgen.state import DONE, MEASURE, RunState

_CL = b"\r\nContent-Length:"
_CL_LOWER = b"\r\ncontent-length:"
_CLOSE = b"onnection: close\r\n"  # Connection or connection


def content_length(buf: bytes, start: int, end: int) -> int:
    """The Content-Length of the header block ``buf[start:end]``, -1 when absent."""
    i = buf.find(_CL, start, end)
    if i < 0:
        i = buf[start:end].lower().find(_CL_LOWER)
        if i < 0:
            return -1
        i += start
    j = buf.find(b"\r\n", i + 17, end + 2)
    return int(buf[i + 17 : j])


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection.

    Closed loop (``interval_ns == 0``): keeps ``depth`` requests in flight.
    Open loop: sends the k-th request at ``first_ns + k * interval_ns`` (or as soon as
    the previous answer arrives, when late) and times it from that intended moment.
    """

    def __init__(
        self,
        state: RunState,
        request: bytes,
        depth: int = 1,
        interval_ns: int = 0,
        first_ns: int = 0,
    ) -> None:
        self.state = state
        self.request = request
        self.depth = depth
        self.interval_ns = interval_ns
        self.next_ns = first_ns
        self.sent: deque[int] = deque()
        self.buf = b""
        self.transport: Any = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.timer: asyncio.TimerHandle | None = None
        self.on_lost: Any = None  # called when the server closes mid-run (the runner reconnects)
        self.released = False  # the server answered Connection: close
        self.answered = 0  # answers on this connection (one or more: a reused connection)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        if self.interval_ns:
            self._schedule()
        else:
            self._send(self.depth)

    def _send(self, count: int) -> None:
        now = perf_counter_ns()
        self.sent.extend([now] * count)
        payload = self.request * count if count > 1 else self.request
        self.transport.write(payload)
        if self.state.phase == MEASURE:
            self.state.bytes_out += len(payload)

    def _schedule(self) -> None:
        """Open loop: send the next request at its intended time (now, if already late)."""
        self.timer = None
        if self.state.phase == DONE or self.transport.is_closing():
            return
        delay = self.next_ns - perf_counter_ns()
        if delay > 0:
            self.timer = asyncio.get_running_loop().call_later(delay / 1e9, self._schedule)
            return
        self.sent.append(self.next_ns)  # timed from when it should have gone out
        self.next_ns += self.interval_ns
        self.transport.write(self.request)
        if self.state.phase == MEASURE:
            self.state.bytes_out += len(self.request)

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        state = self.state
        if state.phase == MEASURE:
            state.bytes_in += len(data)
        size = len(buf)
        pos = 0
        answered = 0
        now = perf_counter_ns()
        sent = self.sent
        while True:
            end = buf.find(b"\r\n\r\n", pos)
            if end < 0:
                break
            length = content_length(buf, pos, end)
            if length < 0:
                state.error("framing")
                self.transport.abort()
                return
            total = end + 4 + length
            if total > size:
                break
            status = buf[pos + 9 : pos + 12]
            if sent:
                state.completed(sent.popleft(), now, status[0] == 50)  # b"2"
            answered += 1
            self.answered += 1
            if buf.find(_CLOSE, pos, end + 2) >= 0:
                self.released = True
                sent.clear()  # pipelined behind it: never answered here, sent again on the next
                self.transport.close()
                return
            pos = total
        self.buf = buf[pos:] if pos < size else b""
        if answered and state.phase != DONE:
            if self.interval_ns:
                if self.timer is None and not sent:
                    self._schedule()
            else:
                self._send(answered)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.state.phase != DONE:
            # one event, one kind: requests lost with the connection, or an idle close
            if self.released:  # the server let it go: no error, the runner connects again
                pass
            elif self.sent and self.answered and not self.buf:
                self.state.retry(len(self.sent))  # an idle close crossed them: sent again
            elif self.sent:
                self.state.error("unanswered", len(self.sent))
            else:
                self.state.error("closed")
            if self.on_lost is not None:
                self.on_lost()
        if not self.lost.done():
            self.lost.set_result(None)
