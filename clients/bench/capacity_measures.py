"""The verdicts of ``rate-sweep-io-wait`` and ``slow-clients``: the loops against the bounded pools.

Two measures of :data:`clients.bench.measures.MEASURES`. Which model is which comes
from the registry: an event loop (``ModelInfo.event_loop``) against a bounded pool
whose members serve one connection at a time (``ModelInfo.pool``: prefork, threadpool).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from clients.bench.capacity import relative_to_none
from clients.bench.records import Run, Verdict
from reporting.formats import fmt_num, fmt_pct
from servers.registry import MODELS

if TYPE_CHECKING:
    from clients.bench.claims import Claim
    from clients.bench.measures import Results

#: with the most slow clients run, a pool keeps at most this share of its fast req/s, a loop at least
POOL_AT_MOST, LOOP_AT_LEAST = 0.1, 0.5


def _split(runs: Sequence[Run], workload: str) -> tuple[list[Run], list[Run]]:
    """The event loops' runs and the bounded pools' runs of ``workload`` (models only)."""
    mine = [r for r in runs if r.workload == workload and r.ok and r.model in MODELS]
    loops = [r for r in mine if MODELS[r.model].event_loop]
    pools = [r for r in mine if MODELS[r.model].pool is not None]
    return loops, pools


def _each(runs: Sequence[Run], show: Callable[[Run], str]) -> str:
    return ", ".join(f"{r.model} {show(r)}" for r in runs)


def knee_order(claim: Claim, results: Results) -> Verdict | None:
    """Every event loop's knee beyond every bounded pool's (no knee counts as 0 req/s)."""
    loops, pools = _split(results.runs, claim.workload)
    if not loops or not pools:
        return None

    def knee(run: Run) -> float:
        return (run.rate_curve.knee_rps if run.rate_curve else None) or 0.0

    def show(run: Run) -> str:
        return fmt_num(knee(run)) if knee(run) else "none"

    lowest_loop, highest_pool = min(map(knee, loops)), max(map(knee, pools))
    return Verdict(
        claim.text,
        "the lowest loop knee above the highest pool knee",
        f"knee req/s offered: {_each(loops, show)}; pools: {_each(pools, show)}",
        lowest_loop > highest_pool,
        "open-loop p99 within 10x its p99 at 10% of the closed-loop capacity, same connections",
        id=claim.id,
        value=lowest_loop,
        theirs=highest_pool,
    )


def _most(run: Run) -> int:
    return max((s.slow for s in run.slow_sweep.steps), default=0) if run.slow_sweep else 0


def _share(run: Run) -> float | None:
    """The fast clients' req/s with the most slow clients beside them, as a share of with none."""
    steps = run.slow_sweep.steps if run.slow_sweep else []
    return relative_to_none({s.slow: s.fast_rps for s in steps}).get(_most(run))


def slow_hurt(claim: Claim, results: Results) -> Verdict | None:
    """With the most slow clients run (the same for every model), every pool keeps at most
    :data:`POOL_AT_MOST` of its fast clients' req/s, every loop at least :data:`LOOP_AT_LEAST`.

    A pool member is held while a slow request trickles in: once the slow clients' demand
    for members (their request rate x the time each takes to arrive) passes the pool's
    size, the fast clients queue behind them. A loop pays a few events per slow request.
    """
    loops, pools = _split(results.runs, claim.workload)
    runs = (*loops, *pools)
    if not loops or not pools or any(_share(r) is None for r in runs):
        return None
    most = {_most(r) for r in runs}
    if len(most) != 1 or 0 in most:
        return None
    (slow_at,) = most

    def show(run: Run) -> str:
        return fmt_pct(_share(run))

    holds = all(_share(r) <= POOL_AT_MOST for r in pools) and all(  # type: ignore[operator]
        _share(r) >= LOOP_AT_LEAST  # type: ignore[operator]
        for r in loops
    )
    return Verdict(
        claim.text,
        f"with {slow_at:,} slow clients: every pool <= {fmt_pct(POOL_AT_MOST)} of its fast req/s "
        f"with none, every loop >= {fmt_pct(LOOP_AT_LEAST)}",
        f"pools: {_each(pools, show)}; loops: {_each(loops, show)}",
        holds,
        "fast clients' 2xx req/s with the slow clients beside them / with none",
        id=claim.id,
        value=min(_share(r) or 0.0 for r in loops),
        theirs=max(_share(r) or 0.0 for r in pools),
        numbers={"slow": slow_at},
    )
