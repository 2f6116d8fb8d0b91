"""What the pooled models should measure, said before the run, and the verdicts that check it.

A server that serves at most N connections at once (prefork's workers,
threadpool's threads, gunicorn's sync workers or gthread's threads) answers at
most N / W requests a second when every request waits W seconds: Little's law,
whatever the number of clients waiting. :func:`predicted_rps` gives that figure
for each run it applies to, :func:`add_predictions` puts it beside the measured
one, and :func:`verdicts` checks it together with the other claims about the
pools: a process costly to *create* (fork) against one created once (prefork),
and each model against the server people deploy for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clients.bench.analysis import Verdict, best_rps, cpu_us, index
from clients.bench.workloads import IO_WAIT_MS
from servers.models.threadpool import DEFAULT_THREADS

#: Each model and the production server of the same architecture (the ``references`` extra).
COUNTERPARTS = {
    "prefork": "ref-gunicorn-sync",
    "threadpool": "ref-gunicorn-gthread",
    "gevent": "ref-gunicorn-gevent",
    "uvloop": "ref-uvicorn",
}
#: The most CPU per request each model may spend, as a share of its counterpart's.
CPU_TARGETS = {"prefork": 0.5, "threadpool": 0.5, "uvloop": 0.6}
#: How close a pooled model's io-wait throughput must come to its prediction.
PREDICTION_TOLERANCE = 0.10
#: A connection to prefork (a process created once) against one to fork (a process each).
CHURN_TARGET = 0.2


def concurrency(name: str, workers: int) -> int | None:
    """Connections target ``name`` serves at once with ``workers`` processes (None: unbounded)."""
    if name in ("prefork", "ref-gunicorn-sync"):
        return workers
    if name in ("threadpool", "ref-gunicorn-gthread"):  # one process of DEFAULT_THREADS
        return DEFAULT_THREADS
    return None


def predicted_rps(run: dict[str, Any]) -> float | None:
    """N / W for a pooled target under io-wait (each request waits W), else None.

    The worker count is the one the bench gave it: one per server CPU.
    """
    if run.get("workload") != "io-wait":
        return None
    workers = len((run.get("placement") or {}).get("server_cpus") or ())
    pool = concurrency(run["model"], workers)
    if pool is None:
        return None
    return min(pool, run.get("connections") or pool) * 1000 / IO_WAIT_MS


def add_predictions(runs: Sequence[dict[str, Any]]) -> None:
    """Set ``predicted_rps`` on every run that has one, in place."""
    for run in runs:
        predicted = predicted_rps(run)
        if predicted is not None:
            run["predicted_rps"] = predicted


def verdicts(runs: Sequence[dict[str, Any]]) -> list[Verdict]:
    """The claims about pools that these runs can answer."""
    by = index(runs)
    out: list[Verdict] = []
    for model in ("prefork", "threadpool", "ref-gunicorn-sync", "ref-gunicorn-gthread"):
        run = by.get(("io-wait", model))
        predicted = None if run is None else predicted_rps(run)
        if run is None or predicted is None:
            continue
        measured = best_rps(run)
        must = not model.startswith("ref-")
        text, holds = "n/a", None
        if measured is not None:
            off = measured / predicted - 1
            text = f"{measured:,.0f} vs {predicted:,.0f} predicted ({off:+.1%})"
            holds = abs(off) <= PREDICTION_TOLERANCE if must else None
        out.append(
            Verdict(
                f"io-wait: {model} req/s vs N / {IO_WAIT_MS / 1000:g} s (Little's law)",
                f"within {PREDICTION_TOLERANCE:.0%}" if must else "report",
                text,
                holds,
            )
        )
    prefork, fork = cpu_us(by.get(("churn", "prefork"))), cpu_us(by.get(("churn", "fork")))
    if prefork is not None and fork:
        out.append(
            Verdict(
                "churn: CPU us per connection, prefork (processes made once) vs fork (one each)",
                f"<= {CHURN_TARGET:g}x",
                f"{prefork / fork:.2f}x ({prefork:,.0f} vs {fork:,.0f} us)",
                prefork / fork <= CHURN_TARGET,
            )
        )
    for model, ref in COUNTERPARTS.items():
        ours, theirs = by.get(("hello", model)), by.get(("hello", ref))
        a, b = cpu_us(ours), cpu_us(theirs)
        if a is None or not b:
            continue
        limit = CPU_TARGETS.get(model)
        wrk = _wrk_cpu(ours), _wrk_cpu(theirs)
        extra = f"; wrk {wrk[0]:,.1f} vs {wrk[1]:,.1f} us" if None not in wrk else ""
        out.append(
            Verdict(
                f"hello: {model} CPU us/req vs {ref}",
                "report" if limit is None else f"<= {limit:g}x",
                f"{a / b:.2f}x ({a:,.1f} vs {b:,.1f} us{extra})",
                None if limit is None else a / b <= limit,
            )
        )
    for model in ("prefork", "threadpool"):
        run = by.get(("idle", model))
        idle = (run or {}).get("idle") or {}
        if not idle:
            continue
        limit = idle.get("limit")
        out.append(
            Verdict(
                f"idle: where {model} stops taking new connections, and the excess",
                "report",
                "held every step"
                if not limit
                else f"{limit['held']:,} answered of {limit['target']:,}; the rest "
                f"{limit['refused']:,} refused, {limit['stalled']:,} unanswered (waiting)",
                None,
            )
        )
    return out


def _wrk_cpu(run: dict[str, Any] | None) -> float | None:
    return ((run or {}).get("wrk") or {}).get("server_cpu_us_per_req")
