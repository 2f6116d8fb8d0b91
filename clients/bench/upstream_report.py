"""The ``upstream`` experiment in the report: its table and the two claims it answers.

The rows are :class:`clients.bench.upstream.UpstreamResult` as the experiment
wrote them (``upstream.json``). Which model is which comes from the registry:
``ModelInfo.upstream`` says whether a model holds an upstream connection per
thread of control (``"thread"``) or a bounded pool per loop (``"pool"``), and
``ModelInfo.pool`` whether its threads are a fixed pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from clients.bench.records import Verdict
from reporting.formats import fmt_ms, fmt_num
from servers.registry import MODELS

if TYPE_CHECKING:
    from clients.bench.claims import Claim
    from clients.bench.measures import Results

NOTE = (
    "Each model serves `GET /db?n=1` (one Redis round trip) to keep-alive clients of our load "
    "client; `Redis conns` is the most connections Redis saw from the server while the load ran "
    "(`INFO clients`), `Redis us/req` Redis's own CPU per request in the same run. "
    "`holds` says how the model keeps its Redis connections (the registry's `upstream`): one per "
    "thread of control, or a pool shared by a loop (`--upstream-pool`, 10 by default)."
)

HEADERS = [
    "model",
    "clients",
    "req/s",
    "CPU us/req",
    "p99 ms",
    "Redis conns",
    "Redis us/req",
    "errors",
    "holds",
]


def table(rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The experiment's rows, by clients then model, as the report shows them."""
    cells = [
        [
            row["model"],
            fmt_num(row["connections"]),
            fmt_num(row["rps"]),
            fmt_num(row["server_cpu_us"], 1),
            fmt_ms(row["p99_ms"]),
            fmt_num(row["redis_connections"]),
            fmt_num(row["redis_cpu_us"], 1),
            fmt_num(row["errors"]),
            "per thread" if row["pool"] == "thread" else "pool",
        ]
        for row in sorted(rows, key=lambda r: r["connections"])
    ]
    return HEADERS, cells


def _per_connection(model: str) -> bool:
    """A thread or process per client, each with its own upstream connection (thread, fork)."""
    info = MODELS.get(model)
    return info is not None and info.upstream == "thread" and info.pool is None


def _pooled(model: str) -> bool:
    info = MODELS.get(model)
    return info is not None and info.upstream == "pool"


def _at(rows: Sequence[dict[str, Any]], clients: int) -> list[dict[str, Any]]:
    return [r for r in rows if r["connections"] == clients]


def _unserved(rows: Sequence[dict[str, Any]]) -> str:
    """The rows that left requests unanswered: their figures cover only the clients served
    (a claim on them is not judged, as a curve's point with refusals is not)."""
    failed = [r for r in rows if r["errors"]]
    return ", ".join(
        f"{r['model']} failed {fmt_num(r['errors'])} requests at {fmt_num(r['connections'])} clients"
        for r in failed
    )


def connections(claim: Claim, results: Results) -> Verdict | None:
    """At the most clients run: the fewest upstream connections of a thread-per-client model
    over the most of a model sharing a pool."""
    rows = results.experiments.upstream
    if not rows:
        return None
    most = max(r["connections"] for r in rows)
    at = _at(rows, most)
    each = [r for r in at if _per_connection(r["model"])]
    pooled = [r for r in at if _pooled(r["model"])]
    if not each or not pooled:
        return None
    served = [r for r in each if not r["errors"]]  # the others' counts cover only some clients
    fewest = min(r["redis_connections"] for r in served) if served else 0
    widest = max(r["redis_connections"] for r in pooled)
    result = fewest / widest if served and widest else None

    def show(group: list[dict[str, Any]]) -> str:
        return ", ".join(f"{r['model']} {fmt_num(r['redis_connections'])}" for r in group)

    holds = None if result is None or claim.low is None else result >= claim.low
    measured = (
        f"{'n/a' if result is None else f'{result:.0f}x'} at {fmt_num(most)} clients: "
        f"a thread or process per client: {show(served) or 'none served every client'}; "
        f"a pool per loop: {show(pooled)}"
    )
    if unserved := _unserved(each):
        measured += f"; left out: {unserved}"
    return Verdict(
        claim.text,
        f">= {claim.low:g}x" if claim.low is not None else "report",
        measured,
        holds,
        "the most Redis connections seen from the server while the load ran (INFO clients)",
        id=claim.id,
        value=fewest,
        theirs=widest,
        result=result,
        numbers={"clients": most, "per_client": max(r["redis_connections"] for r in each)},
    )


def cpu_growth(claim: Claim, results: Results) -> Verdict | None:
    """CPU per request at the most clients over at the fewest: thread's growth over the
    largest growth of an event loop."""
    rows = results.experiments.upstream
    if not rows:
        return None
    counts = sorted({r["connections"] for r in rows})
    if len(counts) < 2:
        return None
    few, most = counts[0], counts[-1]

    def growth(model: str) -> float | None:
        low = [r for r in _at(rows, few) if r["model"] == model]
        high = [r for r in _at(rows, most) if r["model"] == model]
        if not low or not high or not low[0]["server_cpu_us"]:
            return None
        return float(high[0]["server_cpu_us"] / low[0]["server_cpu_us"])

    mine = growth(claim.model)
    loops = {
        m: g
        for m in dict.fromkeys(r["model"] for r in rows)
        if (info := MODELS.get(m)) is not None and info.event_loop and (g := growth(m)) is not None
    }
    if mine is None or not loops:
        return None
    steepest = max(loops, key=lambda m: loops[m])
    result = mine / loops[steepest]
    shown = ", ".join(f"{m} {g:.2f}x" for m, g in loops.items())
    holds = None if claim.low is None else result >= claim.low
    measured = (
        f"{result:.2f}x: {claim.model} {mine:.2f}x from {fmt_num(few)} to {fmt_num(most)} "
        f"clients; the loops {shown}"
    )
    if unserved := _unserved([r for r in rows if r["model"] == claim.model]):
        holds, measured = None, measured + f"; not judged: {unserved}"
    return Verdict(
        claim.text,
        f">= {claim.low:g}x" if claim.low is not None else "report",
        measured,
        holds,
        f"server CPU per GET /db at {fmt_num(most)} clients over at {fmt_num(few)}; "
        f"{claim.model}'s growth / the steepest loop's ({steepest})",
        id=claim.id,
        value=mine,
        theirs=loops[steepest],
        result=result,
    )
