"""Idle keep-alive connections, opened in steps, with a hello latency probe at each step.

Each idle connection asks ``GET /`` once and then stays open, silent. A step
reports how many are held, how many the server refused (an error status, a
reset, a close) and how many stalled (no answer within the timeout). Between
the hold and the probe, ``pause()`` lets the caller measure the server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from clients.loadgen.config import LoadConfig
from clients.loadgen.http_client import content_length
from clients.loadgen.runner import CONNECT_PARALLEL, measure

log = logging.getLogger(__name__)


class IdleConnection(asyncio.Protocol):
    """Asks once, then idles; ``answered`` resolves to ``"ok"``, ``"refused"`` or ``"closed"``."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.buf = b""
        self.transport: Any = None
        self.answered: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.alive = True

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if self.answered.done():
            return
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end >= 0 and len(self.buf) >= end + 4 + max(0, content_length(self.buf, 0, end)):
            self.answered.set_result("ok" if self.buf[9:10] == b"2" else "refused")

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        if not self.answered.done():
            self.answered.set_result("closed")


async def _open_idle(
    host: str, port: int, request: bytes, count: int, limit_s: float
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(CONNECT_PARALLEL)
    held: list[IdleConnection] = []
    outcome = {"ok": 0, "refused": 0, "closed": 0, "stalled": 0, "connect": 0}

    async def one() -> None:
        async with gate:
            try:
                async with asyncio.timeout(limit_s):
                    _, proto = await loop.create_connection(
                        lambda: IdleConnection(request), host, port
                    )
            except (OSError, TimeoutError):
                outcome["connect"] += 1
                return
            try:
                async with asyncio.timeout(limit_s):
                    result = await proto.answered
            except TimeoutError:
                result = "stalled"
            outcome[result] += 1
            if result == "ok" and proto.alive:
                held.append(proto)
            else:
                proto.transport.abort()

    await asyncio.gather(*(one() for _ in range(count)))
    return {"held": held, **outcome}


async def idle_steps(
    probe: LoadConfig,
    steps: Sequence[int],
    pause: Callable[[dict[str, Any]], Awaitable[None]],
    report: Callable[[dict[str, Any]], None],
    limit_s: float = 5.0,
) -> list[dict[str, Any]]:
    """Step up to each count of idle connections; stop after the first step with failures.

    At each step: open the missing connections, ``await pause(step)`` (measure the server
    now), run ``probe`` (a short closed-loop hello run), ``report(step)``.
    """
    request = b"GET / HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (probe.host.encode(), probe.port)
    held: list[IdleConnection] = []
    rows: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    for target in steps:
        held = [p for p in held if p.alive]
        dropped_before = 0
        started = loop.time()
        opened = await _open_idle(
            probe.host, probe.port, request, max(0, target - len(held)), limit_s
        )
        held += opened.pop("held")
        await asyncio.sleep(0.2)
        alive = [p for p in held if p.alive]
        dropped_before = len(held) - len(alive)
        held = alive
        failures = (
            opened["refused"]
            + opened["closed"]
            + opened["stalled"]
            + opened["connect"]
            + dropped_before
        )
        step: dict[str, Any] = {
            "target": target,
            "held": len(held),
            "open_s": loop.time() - started,
            "dropped": dropped_before,
            **{k: v for k, v in opened.items() if k != "ok"},
        }
        await pause(step)
        result = await measure(replace(probe, connections=probe.connections))
        step["probe"] = {
            "rps": result.rps,
            "latency_ms": result.latency_ms,
            "errors": result.errors,
            "error_kinds": result.error_kinds,
        }
        step["held_after_probe"] = sum(1 for p in held if p.alive)
        report(step)
        rows.append(step)
        if failures:
            log.info("stopping at %d: %d failures", target, failures)
            break
    for proto in held:
        proto.transport.abort()
    return rows
