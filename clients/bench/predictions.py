"""What the bounded servers should measure, said before the run: Little's law.

A server that serves at most N connections at once (prefork's workers,
threadpool's threads, gunicorn's sync workers or gthread's threads) answers at
most N / W requests a second when every request waits W seconds, whatever the
number of clients waiting. :func:`predicted_rps` gives that figure for each run
it applies to and :func:`add_predictions` puts it on the run, beside the
measured one; the claims that compare the two, and each pool against the
server people deploy for it, are in :mod:`clients.bench.claims`.
"""

from __future__ import annotations

from collections.abc import Sequence

from clients.bench.records import Run
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


def concurrency(name: str, workers: int) -> int | None:
    """Connections target ``name`` serves at once with ``workers`` processes (None: unbounded)."""
    if name in ("prefork", "ref-gunicorn-sync"):
        return workers
    if name in ("threadpool", "ref-gunicorn-gthread"):  # one process of DEFAULT_THREADS
        return DEFAULT_THREADS
    return None


def predicted_rps(run: Run) -> float | None:
    """N / W for a bounded target under io-wait (each request waits W), else None.

    The worker count is the one the bench gave it: one per server CPU.
    """
    if run.workload != "io-wait":
        return None
    workers = len(run.placement.server_cpus) if run.placement else 0
    pool = concurrency(run.model, workers)
    if not pool:
        return None
    return min(pool, run.connections or pool) * 1000 / IO_WAIT_MS


def add_predictions(runs: Sequence[Run]) -> None:
    """Set ``predicted_rps`` on every run that has one, in place."""
    for run in runs:
        run.predicted_rps = predicted_rps(run)
