"""The ``upstream`` experiment: ``GET /db`` against a real redis-server, per model.

:func:`run_upstream` starts one model reading a redis-server of ours, puts
``connections`` keep-alive clients on ``GET /db?n=1`` (our own load client),
and reports what the article's "IO-bound web application" costs in each model:
requests a second, the server's CPU per request (its whole process tree, from
``/stats``), p99, how many connections it opened to Redis (``INFO clients``,
sampled while the load runs: the peak), and Redis's own CPU per request in
the same run, so a bound set by Redis shows. Placement: the server on the
first CPU, the loader and Redis on the others.

    python -m clients.bench.upstream --models reactor,thread --connections 100,1000

Run by hand it holds the machine's bench lock. ``iomodels bench`` runs it as
the experiment ``upstream`` under its own lock (``--out DIR`` writes
``DIR/upstream.json``; ``--quick``: 100 clients, 1 s each).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from clients.bench.placement import plan
from clients.loadgen.config import LoadConfig
from clients.loadgen.runner import run_load
from common.bench_lock import bench_lock
from common.redis_server import RedisMissing, RedisServer
from servers.launcher import ServerProcess
from servers.registry import MODELS, runnable_model_names

#: ``--max-connections`` for the models that take it: every client gets served.
CAP = 5000
SAMPLE_S = 0.25


@dataclass(frozen=True)
class UpstreamResult:
    """One model at one number of clients (CPU in microseconds per request)."""

    model: str
    connections: int
    rps: float
    server_cpu_us: float
    p99_ms: float | None
    redis_connections: int
    redis_cpu_us: float
    errors: int
    pool: str


def stats(server: ServerProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.url}/stats", timeout=10) as answer:
        return dict(json.load(answer))


class PeakClients:
    """Samples Redis's connected clients in a thread while the load runs; keeps the peak."""

    def __init__(self, redis: RedisServer) -> None:
        self.redis, self.peak = redis, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.peak = max(self.peak, self.redis.clients())

    def __enter__(self) -> PeakClients:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_upstream(
    model: str,
    connections: int,
    redis: RedisServer,
    *,
    duration: float = 5.0,
    warmup: float = 1.0,
    round_trips: int = 1,
    server_cpus: tuple[int, ...] | None = None,
) -> UpstreamResult:
    """Measure ``model`` serving ``GET /db?n=round_trips`` to ``connections`` clients.

    The load runs in this process (pin it, and Redis, apart from ``server_cpus``).
    """
    info = MODELS[model]
    args = ["--upstream", redis.url, "--upstream-timeout", "10"]
    if "--max-connections" in info.flags:
        args += ["--max-connections", str(CAP)]
    with ServerProcess(model, args=args, cpus=server_cpus) as server:
        config = LoadConfig(
            port=server.port,
            path=f"/db?n={round_trips}&key=7",
            connections=connections,
            duration=duration,
            warmup=warmup,
        )
        before, redis_before = stats(server), redis.cpu_seconds()
        with PeakClients(redis) as peak:
            result = run_load(config)
        after, redis_after = stats(server), redis.cpu_seconds()
    requests = max(after["requests_total"] - before["requests_total"] - 1, 1)  # less our /stats
    return UpstreamResult(
        model=model,
        connections=connections,
        rps=round(result.rps, 1),
        server_cpu_us=round((after["cpu_s"] - before["cpu_s"]) / requests * 1e6, 1),
        p99_ms=result.latency_ms.get("p99"),
        redis_connections=peak.peak,
        redis_cpu_us=round((redis_after - redis_before) / requests * 1e6, 1),
        errors=result.errors,
        pool=info.upstream,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clients.bench.upstream", description=__doc__)
    parser.add_argument("--models", default=",".join(runnable_model_names()))
    parser.add_argument("--connections", default="100,1000")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="100 clients, 1 s a model")
    parser.add_argument("--out", default=None, help="write DIR/upstream.json instead of CSV")
    args = parser.parse_args(argv)
    if args.quick:
        args.connections, args.duration = "100", 1.0
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}; choose from: {', '.join(MODELS)}")
    counts = [int(c) for c in args.connections.split(",") if c]
    try:
        redis = RedisServer()
    except RedisMissing as exc:
        print(f"upstream: error: {exc}", file=sys.stderr)
        return 2
    placement = plan()
    rows: list[dict[str, Any]] = []
    # with --out the bench runs it, holding the lock already (a second flock would wait forever)
    lock = bench_lock("clients.bench.upstream") if args.out is None else contextlib.nullcontext()
    with lock, redis:
        os.sched_setaffinity(0, placement.loader_cpus)
        os.sched_setaffinity(redis.pid, placement.loader_cpus)
        if args.out is None:
            print(
                "model,connections,rps,server_cpu_us,p99_ms,redis_connections,redis_cpu_us,errors"
            )
        for connections in counts:
            for model in models:
                measured = run_upstream(
                    model,
                    connections,
                    redis,
                    duration=args.duration,
                    server_cpus=placement.server_cpus,
                )
                row = asdict(measured)
                rows.append(row)
                if args.out is None:
                    print(",".join(str(row[k]) for k in list(row)[:-1]), flush=True)
                time.sleep(0.5)
    if args.out is not None:
        from clients.bench.experiments import write

        write(args.out, "clients.bench.upstream", {"rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
