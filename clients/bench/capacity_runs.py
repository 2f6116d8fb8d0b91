"""The ``rate-sweep`` and ``slow-clients`` runs: several loads in turn on one server.

A rate sweep measures the model's closed-loop capacity on the workload, then offers
fixed rates (open loop, :data:`~clients.bench.capacity.RATE_SHARES` of that capacity,
lowest first) on the same connections, and reads the knee and the SLO rate off the
curve (:mod:`clients.bench.capacity`). The slow-clients sweep runs the same fast
clients with 0, 10, 100, ... slow clients beside them (:mod:`clients.loadgen.slow_clients`).
Each load is a :class:`~clients.bench.loader.LoaderProcess` on the loader CPUs; the
server's CPU is sampled over each measured window.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from clients.bench.capacity import (
    RATE_SHARES,
    RATE_SHARES_QUICK,
    RatePoint,
    knee,
    offered_rates,
    slo_rate,
)
from clients.bench.loader import LoaderProcess
from clients.bench.records import (
    Latency,
    RateCurve,
    RateStep,
    Run,
    SlowStep,
    SlowSweep,
    from_dict,
)
from clients.bench.sampler import TreeSampler

#: seconds measured (and warmed up) per step at most: a sweep is many runs
STEP_DURATION_S, STEP_WARMUP_S = 3.0, 0.5
#: slow clients at each step of ``slow-clients`` (the quick form too: the verdict reads the last)
SLOW_STEPS = (0, 10, 100, 1000)
#: seconds between two steps (the previous loader's connections close)
PAUSE_S = 0.3


def sweep_seconds(mode: str, duration: float, warmup: float, quick: bool) -> float:
    """Roughly how long one model's sweep takes (for the ETA)."""
    if mode == "rate-sweep":
        steps = 1 + len(RATE_SHARES_QUICK if quick else RATE_SHARES)
    else:
        steps = len(SLOW_STEPS)
    return steps * (min(duration, STEP_DURATION_S) + min(warmup, STEP_WARMUP_S) + 1.0)


def _measured(
    args: list[str], cpus: Sequence[int], sampler: TreeSampler, timeout: float
) -> tuple[dict[str, Any], float | None]:
    """One load: its result event and the server's CPU use over the window (% of one core)."""
    loader = LoaderProcess(args, cpus, timeout=timeout)
    cpu0 = cpu1 = t0 = t1 = 0.0
    result: dict[str, Any] = {}
    try:
        for event in loader.events():
            kind = event["event"]
            if kind == "measure":
                cpu0, t0 = sampler.tree.cpu_seconds() or 0.0, time.perf_counter()
            elif kind == "done":
                cpu1, t1 = sampler.tree.cpu_seconds() or 0.0, time.perf_counter()
            elif kind == "result":
                result = event
    finally:
        loader.close()
    return result, (100 * (cpu1 - cpu0) / (t1 - t0) if t1 > t0 else None)


def _answered_rps(result: dict[str, Any]) -> float:
    """req/s of 2xx answers (an error status is an answer, not service)."""
    duration = result.get("duration_s") or 0.0
    good = result["requests"] - result["error_kinds"].get("status", 0)
    return max(0, good) / duration if duration else 0.0


def rate_sweep(
    run: Run,
    url: str,
    connections: int,
    cpus: Sequence[int],
    sampler: TreeSampler,
    duration: float,
    warmup: float,
    quick: bool,
) -> None:
    """Fill ``run`` (the closed-loop figures) and ``run.rate_curve`` (the open-loop steps)."""
    duration, warmup = min(duration, STEP_DURATION_S), min(warmup, STEP_WARMUP_S)
    base = [url, "-c", str(connections), "-d", str(duration), "-w", str(warmup)]
    timeout = warmup + duration + 60
    closed, cores = _measured(base, cpus, sampler, timeout)
    run.rps = closed["rps"]
    run.requests = closed["requests"]
    run.duration_s = closed["duration_s"]
    run.latency_ms = from_dict(Latency, closed["latency_ms"])
    run.errors = closed["errors"]
    run.error_kinds = closed["error_kinds"]
    run.refused = closed["error_kinds"].get("status", 0)
    run.server_cpu_pct = cores
    run.loader_cpu_pct = closed["loader_cpu_pct"]
    run.loader_bound = closed["loader_bound"]
    run.connected = closed["connected"]
    capacity = _answered_rps(closed)
    curve = RateCurve(capacity_rps=capacity)
    run.rate_curve = curve
    if capacity <= 0:
        run.failed = "no capacity: the closed-loop run got no 2xx answer"
        return
    for offered in offered_rates(capacity, RATE_SHARES_QUICK if quick else RATE_SHARES):
        time.sleep(PAUSE_S)
        result, cores = _measured([*base, "-R", f"{offered:g}"], cpus, sampler, timeout)
        curve.steps.append(
            RateStep(
                offered=offered,
                achieved=_answered_rps(result),
                requests=result["requests"],
                latency_ms=from_dict(Latency, result["latency_ms"]),
                errors=result["errors"],
                error_kinds=result["error_kinds"],
                server_cpu_pct=cores,
                loader_cpu_pct=result["loader_cpu_pct"],
            )
        )
    points = [RatePoint(s.offered, s.achieved, s.latency_ms.p99) for s in curve.steps]
    found_knee, found_slo = knee(points), slo_rate(points)
    curve.knee_rps = found_knee.offered if found_knee else None
    curve.slo_rps = found_slo.offered if found_slo else None


def slow_sweep(
    run: Run,
    url: str,
    connections: int,
    cpus: Sequence[int],
    sampler: TreeSampler,
    duration: float,
    warmup: float,
    quick: bool,
) -> None:
    """Fill ``run.slow_sweep``: the fast clients beside each number of slow clients."""
    duration, warmup = min(duration, STEP_DURATION_S), min(warmup, STEP_WARMUP_S)
    sweep = SlowSweep()
    run.slow_sweep = sweep
    for count in SLOW_STEPS:
        time.sleep(PAUSE_S)
        args = [url, "-c", str(connections), "-d", str(duration), "-w", str(warmup)]
        args += ["--slow-clients", str(count)]
        timeout = warmup + duration + 60 + count / 10  # opening them: 100 at a time, 3 s at most
        result, cores = _measured(args, cpus, sampler, timeout)
        slow = result.get("slow") or {}
        sweep.steps.append(
            SlowStep(
                slow=count,
                fast_rps=_answered_rps(result),
                fast_latency_ms=from_dict(Latency, result["latency_ms"]),
                fast_errors=result["errors"],
                fast_error_kinds=result["error_kinds"],
                slow_connected=slow.get("connected", 0),
                slow_held=slow.get("held", 0),
                slow_rps=slow.get("rps", 0.0),
                slow_latency_ms=from_dict(Latency, slow.get("latency_ms") or {}),
                slow_closed=slow.get("closed", 0),
                slow_refused=slow.get("refused", 0),
                server_cpu_pct=cores,
                loader_cpu_pct=result["loader_cpu_pct"],
            )
        )
    first = sweep.steps[0]
    run.rps, run.latency_ms = first.fast_rps, first.fast_latency_ms
    run.errors = sum(s.fast_errors for s in sweep.steps)


#: each sweep workload's mode and the function that runs it
SWEEPS = {"rate-sweep": rate_sweep, "slow-clients": slow_sweep}
