"""From runs to verdicts: ratios to the references, and one verdict per claim of issue 3.

A throughput is taken from ``wrk`` when it cross-checked the run (it is the faster
client), else from our load client; a loader-bound throughput is a floor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from clients.bench.workloads import KIND_REFERENCE, WORKLOADS


@dataclass
class Verdict:
    """One claim checked in numbers: ``holds`` is None when the figures are missing."""

    claim: str
    target: str
    measured: str
    holds: bool | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def index(runs: Sequence[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(workload, model) -> run."""
    return {(r["workload"], r["model"]): r for r in runs}


def best_rps(run: dict[str, Any] | None) -> float | None:
    """The run's throughput: wrk's when it ran and is higher (our client may be the limit), else ours."""
    if not run or run.get("failed"):
        return None
    ours = run.get("rps")
    theirs = (run.get("wrk") or {}).get("rps")
    if theirs and (not ours or theirs > ours):
        return float(theirs)
    return ours


def cpu_us(run: dict[str, Any] | None) -> float | None:
    return None if not run or run.get("failed") else run.get("server_cpu_us_per_req")


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def add_ratios(runs: Sequence[dict[str, Any]]) -> None:
    """Set ``of_bare`` (fraction of ref-bare's throughput) and ``vs_aiohttp`` on every run, in place."""
    by = index(runs)
    for run in runs:
        bare = by.get((run["workload"], "ref-bare"))
        aio = by.get((run["workload"], "ref-aiohttp"))
        run["of_bare"] = _ratio(best_rps(run), best_rps(bare))
        run["vs_aiohttp"] = _ratio(best_rps(run), best_rps(aio))


def _fmt(value: float | None, spec: str = ".2f", suffix: str = "x") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def _check(value: float | None, low: float | None = None, high: float | None = None) -> bool | None:
    if value is None:
        return None
    return (low is None or value >= low) and (high is None or value <= high)


def verdicts(runs: Sequence[dict[str, Any]], cpu_ms: float | None = None) -> list[Verdict]:
    """Every issue-3 target that the runs can answer."""
    by = index(runs)
    out: list[Verdict] = []

    def run(w: str, m: str) -> dict[str, Any] | None:
        return by.get((w, m))

    # hello
    uv, aio = run("hello", "uvloop"), run("hello", "ref-aiohttp")
    if uv and aio:
        r = _ratio(best_rps(uv), best_rps(aio))
        out.append(
            Verdict("hello: uvloop req/s vs ref-aiohttp", ">= 1.6x", _fmt(r), _check(r, 1.6))
        )
        c = _ratio(cpu_us(uv), cpu_us(aio))
        out.append(
            Verdict(
                "hello: uvloop CPU us/req vs ref-aiohttp", "<= 0.6x", _fmt(c), _check(c, None, 0.6)
            )
        )
    asy, aio_std = run("hello", "asyncio"), run("hello", "ref-aiohttp-stdlib")
    if asy and aio_std:
        r = _ratio(best_rps(asy), best_rps(aio_std))
        out.append(
            Verdict(
                "hello: asyncio req/s vs aiohttp.web on the stdlib loop",
                ">= 1.4x",
                _fmt(r),
                _check(r, 1.4),
            )
        )
    bare = run("hello", "ref-bare")
    if uv and bare:
        r = _ratio(best_rps(uv), best_rps(bare))
        out.append(Verdict("hello: uvloop req/s vs ref-bare", ">= 0.5x", _fmt(r), _check(r, 0.5)))
    # echo-1k: each model's CPU per message against the minimal server of its kind
    for model, ref in KIND_REFERENCE.items():
        m, k = run("echo-1k", model), run("echo-1k", ref)
        if m and k:
            r = _ratio(cpu_us(m), cpu_us(k))
            measured = (
                f"{_fmt(r)} ({_fmt(cpu_us(m), '.1f', ' us')} vs {_fmt(cpu_us(k), '.1f', ' us')})"
            )
            out.append(
                Verdict(
                    f"echo-1k: {model} CPU us/msg vs {ref}",
                    "<= 1.3x",
                    measured,
                    _check(r, None, 1.3),
                )
            )
    # cpu: the GIL
    mp, th = run("cpu", "multiprocess"), run("cpu", "thread")
    if mp and th:
        r = _ratio(best_rps(mp), best_rps(th))
        out.append(Verdict("cpu: multiprocess req/s vs thread", ">= 1.7x", _fmt(r), _check(r, 1.7)))
    if th and th.get("server_cpu_pct") is not None:
        cores = th["server_cpu_pct"] / 100
        th_rps = best_rps(th)
        via_rps = (
            f", {th_rps * cpu_ms / 1000:.2f} cores by req/s x {cpu_ms:.2f} ms"
            if cpu_ms and th_rps
            else ""
        )
        out.append(
            Verdict(
                "cpu: thread uses one core (the GIL)",
                "0.9-1.1 cores",
                f"{cores:.2f} cores of CPU{via_rps}",
                _check(cores, 0.9, 1.1),
            )
        )
    # io-wait
    ideal = WORKLOADS["io-wait"].ideal_rps or 1
    for model in ("gevent", "asyncio", "uvloop", "multiprocess", "thread", "fork"):
        m = run("io-wait", model)
        if m:
            eff = _ratio(best_rps(m), ideal)
            must = model not in ("thread", "fork")
            out.append(
                Verdict(
                    f"io-wait: {model} efficiency",
                    ">= 90%" if must else "report",
                    _fmt(None if eff is None else 100 * eff, ".1f", "%"),
                    _check(eff, 0.9) if must else None,
                )
            )
    # idle
    for model, limit in (("asyncio", 6.0), ("uvloop", 6.0), ("gevent", 16.0)):
        m = run("idle", model)
        if m and m.get("idle"):
            idle = m["idle"]
            kib = idle.get("per_conn_kib")
            out.append(
                Verdict(
                    f"idle: {model} KiB per idle connection (at {idle.get('max_held')})",
                    f"< {limit:g} KiB",
                    _fmt(kib, ".1f", " KiB"),
                    _check(kib, None, limit)
                    if idle.get("max_held", 0) >= 10_000
                    else (None if kib is None else False if kib >= limit else None),
                )
            )
            ratio = idle.get("p99_ratio")
            out.append(
                Verdict(
                    f"idle: {model} hello p99 with {idle.get('max_held')} idle vs none",
                    "<= 3x",
                    _fmt(ratio),
                    _check(ratio, None, 3.0),
                )
            )
    # churn: the cost of a process, thread or greenlet per connection, over the event loop's
    costs = {m: cpu_us(run("churn", m)) for m in ("fork", "thread", "gevent", "uvloop")}
    if all(costs.values()):
        base = costs.pop("uvloop") or 0.0
        extra = " vs ".join(f"{m} {c - base:,.0f}" for m, c in costs.items() if c is not None)
        total = " vs ".join(f"{m} {c:,.0f}" for m, c in costs.items() if c is not None)
        out.append(
            Verdict(
                "churn: server CPU us per connection beyond uvloop's, fork vs thread vs greenlet",
                "about 750 vs 42 vs 14 us",
                f"{extra} us (totals {total} us; uvloop {base:,.0f} us)",
                None,
            )
        )
    return out


def shared_state_verdict(doc: dict[str, Any] | None) -> Verdict | None:
    """Threads share variables: lost updates without ``threading.Lock`` (see ``shared_state``)."""
    if not doc:
        return None
    free, locked = doc["unlocked"], doc["locked"]
    per_update_us = locked["seconds"] / locked["expected"] * 1e6
    measured = (
        f"{free['threads']} threads x {free['updates']:,} read-modify-writes: without a lock "
        f"{free['lost']:,} of {free['expected']:,} updates lost ({free['lost'] / free['expected']:.0%}); "
        f"with threading.Lock {locked['lost']:,} lost, at {per_update_us:.2f} us per update"
    )
    return Verdict(
        "threads share variables: a shared counter needs threading.Lock",
        "updates lost without the lock, none with it",
        measured,
        free["lost"] > 0 and locked["lost"] == 0,
    )
