"""Run one load: connect, warm up, measure, report."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from clients.loadgen.churn_client import churn_worker
from clients.loadgen.config import LoadConfig
from clients.loadgen.echo_client import EchoConnection
from clients.loadgen.http_client import HttpConnection
from clients.loadgen.state import DONE, MEASURE, RunState
from common.fd_limit import raise_fd_limit

log = logging.getLogger(__name__)

MIB = 1024 * 1024
#: The loader counts as the bottleneck from this share of one core.
LOADER_BOUND_CPU = 0.90
CONNECT_PARALLEL = 100


@dataclass
class LoadResult:
    """The figures of one run (latencies in ms, ``loader_cpu_pct`` of one core)."""

    requests: int
    duration_s: float
    rps: float
    mib_s: float
    bytes_in: int
    bytes_out: int
    errors: int
    error_kinds: dict[str, int]
    latency_ms: dict[str, float | None]
    loader_cpu_pct: float
    loader_bound: bool
    connections: int
    connected: int
    connect_error: str = ""  # why the first connection that failed did (e.g. nothing listens there)
    histogram: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    slow: dict[str, Any] | None = None
    retried: int = 0  # requests an idle keep-alive close crossed, sent again (not errors)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop when uvloop is installed, else the stdlib one."""
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return asyncio.new_event_loop()


async def open_connections(
    count: int,
    factory: Callable[[int], asyncio.Protocol],
    host: str,
    port: int,
    limit_s: float,
    reasons: Counter[str] | None = None,
) -> tuple[list[Any], int]:
    """Open ``count`` connections (``CONNECT_PARALLEL`` at a time); returns (protocols, failures).

    Each failure's cause is counted in ``reasons`` (``ConnectionRefusedError: [Errno 111] ...``).
    """
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(CONNECT_PARALLEL)
    failures = 0

    async def one(index: int) -> Any:
        nonlocal failures
        async with gate:
            try:
                async with asyncio.timeout(limit_s):
                    _, proto = await loop.create_connection(lambda: factory(index), host, port)
                return proto
            except (OSError, TimeoutError) as exc:
                log.debug("connect failed: %s", exc)
                failures += 1
                if reasons is not None:
                    reasons[f"{type(exc).__name__}: {exc}".rstrip(": ")] += 1
                return None

    protos = await asyncio.gather(*(one(i) for i in range(count)))
    return [p for p in protos if p is not None], failures


async def measure(
    config: LoadConfig, on_event: Callable[[str], None] | None = None, keep_histogram: bool = False
) -> LoadResult:
    """Run ``config`` on the running loop; ``on_event("measure"|"done")`` marks the window."""
    state = RunState()
    request = config.request()
    tasks: list[asyncio.Task[None]] = []
    protos: list[Any] = []
    connect_failures = 0
    reasons: Counter[str] = Counter()
    if config.mode == "churn":
        tasks = [
            asyncio.create_task(
                churn_worker(state, config.host, config.port, request, config.connect_timeout)
            )
            for _ in range(config.connections)
        ]
    else:
        start = time.perf_counter_ns() + 50_000_000
        interval = int(config.connections * 1e9 / config.rate) if config.rate else 0

        loop = asyncio.get_running_loop()

        async def reconnect() -> None:
            await asyncio.sleep(0.001)
            more, failed = await open_connections(
                1, factory, config.host, config.port, config.connect_timeout
            )
            protos.extend(more)
            if failed:
                state.error("connect", failed)
                loop.call_later(0.01, lambda: tasks.append(asyncio.ensure_future(reconnect())))

        def factory(index: int) -> asyncio.Protocol:
            if config.mode == "echo":
                return EchoConnection(state, request, config.pipeline)
            first = max(start + index * interval // config.connections, time.perf_counter_ns())
            conn = HttpConnection(state, request, config.pipeline, interval, first)
            if state.phase != DONE:
                conn.on_lost = lambda: tasks.append(asyncio.ensure_future(reconnect()))
            return conn

        protos, connect_failures = await open_connections(
            config.connections, factory, config.host, config.port, config.connect_timeout, reasons
        )
        if connect_failures:
            log.warning("%d of %d connections failed", connect_failures, config.connections)
    await asyncio.sleep(config.warmup)
    gc.collect()
    gc.freeze()  # no collector pauses in the loader while measuring (they would show as latency)
    gc.disable()
    state.phase = MEASURE
    if on_event:
        on_event("measure")
    wall0, cpu0 = time.perf_counter(), time.process_time()
    window_ns = time.perf_counter_ns()
    await asyncio.sleep(config.duration)
    state.phase = DONE
    starved = _starved(protos, window_ns)
    wall1, cpu1 = time.perf_counter(), time.process_time()
    gc.enable()
    gc.unfreeze()
    if on_event:
        on_event("done")
    for proto in protos:
        if proto.transport is not None:
            proto.transport.abort()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = wall1 - wall0
    cpu = (cpu1 - cpu0) / elapsed
    if connect_failures:
        state.errors["connect"] += connect_failures
    if starved:
        state.errors["starved"] += starved
        log.warning("%d of %d connections got no answer while measuring", starved, len(protos))
    errors = sum(state.errors.values())
    return LoadResult(
        requests=state.requests,
        duration_s=elapsed,
        rps=state.requests / elapsed,
        mib_s=state.bytes_in / elapsed / MIB,
        bytes_in=state.bytes_in,
        bytes_out=state.bytes_out,
        errors=errors,
        error_kinds=dict(state.errors),
        latency_ms=state.recorder.summary(),
        loader_cpu_pct=100 * cpu,
        loader_bound=cpu >= LOADER_BOUND_CPU and not config.rate,
        connections=config.connections,
        connected=len(protos) if config.mode != "churn" else config.connections,
        connect_error=next(iter(reasons), ""),
        histogram=state.recorder.encoded() if keep_histogram else "",
        config=asdict(config),
        retried=state.retried,
    )


def run_load(
    config: LoadConfig, on_event: Callable[[str], None] | None = None, keep_histogram: bool = False
) -> LoadResult:
    """Run one load (beside its slow clients, if any) on a fresh (uvloop) event loop in this thread."""
    raise_fd_limit()
    with asyncio.Runner(loop_factory=new_loop) as runner:
        if config.slow_clients:
            from clients.loadgen.slow_clients import measure_beside_slow

            return runner.run(measure_beside_slow(config, on_event, keep_histogram))
        return runner.run(measure(config, on_event, keep_histogram))


def _starved(protos: list[Any], window_ns: int) -> int:
    """Open connections whose oldest request went out before the window and is still unanswered.

    The server never served them while measuring: a pool serving fewer connections than
    the load opens leaves the others in its backlog or queue. Only what completes is
    counted and timed, so without this their wait would show nowhere.
    """
    return sum(
        1
        for proto in protos
        if proto.transport is not None
        and not proto.transport.is_closing()
        and proto.sent
        and proto.sent[0] < window_ns
    )
