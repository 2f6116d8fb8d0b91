"""From runs to verdicts: the figures a claim can name, ratios to the references, one verdict per claim.

A throughput is the higher of our load client's and wrk's (:meth:`Run.best_rps`):
our client may be the limit. Each figure of :data:`FIGURES` says how it is
measured and how it prints; :func:`verdict` reads any :class:`Claim` of
:data:`clients.bench.claims.CLAIMS` with them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clients.bench.claims import CLAIMS, CURVE_CLAIMS, Claim, CurveClaim
from clients.bench.curve_checks import CURVE_CHECKS
from clients.bench.records import Key, Run, Verdict, key
from reporting.formats import fmt_num, fmt_pct, fmt_ratio

__all__ = [
    "FIGURES",
    "Measure",
    "Verdict",
    "add_ratios",
    "index",
    "key",
    "measure",
    "verdict",
    "verdicts",
]

Runs = Mapping[Key, Run]


@dataclass(frozen=True)
class Figure:
    """A figure of one run: how it is read, how it prints, how it is measured."""

    read: Callable[[Run], float | None]
    show: Callable[[float | None], str]
    how: str


def _idle(run: Run, name: str) -> float | None:
    value = getattr(run.idle, name, None) if run.ok else None
    return None if value is None else float(value)


def _cores(run: Run) -> float | None:
    return None if not run.ok or run.server_cpu_pct is None else run.server_cpu_pct / 100


def _efficiency(run: Run) -> float | None:
    best = run.best_rps()
    return None if best is None or not run.ideal_rps else best / run.ideal_rps


def _syscalls(run: Run, workload: str) -> float | None:
    return run.syscalls.per_request.get(workload) if run.ok and run.syscalls else None


def _with(unit: str, digits: int = 1) -> Callable[[float | None], str]:
    return lambda v: "n/a" if v is None else f"{fmt_num(v, digits)}{unit}"


FIGURES: dict[str, Figure] = {
    "rps": Figure(Run.best_rps, _with(" req/s", 0), "req/s, the higher of our client's and wrk's"),
    "served_rps": Figure(Run.served_rps, _with(" req/s", 0), "req/s of 2xx answers (our client)"),
    "cpu_us": Figure(
        Run.cpu_us,
        _with(" us"),
        "server CPU time (process tree, reaped children included) / requests",
    ),
    "cores": Figure(
        _cores, _with(" cores", 2), "server CPU time / wall time over the measured window"
    ),
    "efficiency": Figure(
        _efficiency,
        lambda v: "n/a" if v is None else fmt_pct(v),
        "req/s / the ideal (connections x 1000 / wait ms)",
    ),
    "idle_kib": Figure(
        lambda r: _idle(r, "per_conn_kib"),
        _with(" KiB"),
        "growth of the tree's PSS from none to the largest step held completely, per connection",
    ),
    "idle_p99_ratio": Figure(
        lambda r: _idle(r, "p99_ratio"),
        lambda v: "n/a" if v is None else fmt_ratio(v),
        "hello p99 with the most idle connections held / with none",
    ),
    "syscalls_echo": Figure(
        lambda r: _syscalls(r, "echo-1k"),
        _with(" calls/msg", 2),
        "system calls per echoed 1 KiB message (strace -c -f over a fixed count; not timed)",
    ),
    "syscalls_hello": Figure(
        lambda r: _syscalls(r, "hello"),
        _with(" calls/req", 2),
        "system calls per GET / on keep-alive (strace -c -f over a fixed count; not timed)",
    ),
    "predicted_rps": Figure(
        lambda r: r.predicted_rps,
        _with(" req/s predicted", 0),
        "N / W: N requests served at once (workers or threads), each waiting W (Little's law)",
    ),
    "idle_held": Figure(
        lambda r: _idle(r, "max_held"), _with(" held", 0), "idle connections held completely"
    ),
}


def index(runs: Sequence[Run]) -> dict[Key, Run]:
    """(workload, model[, point]) -> run."""
    return {key(r.workload, r.model, r.point): r for r in runs}


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def add_ratios(runs: Sequence[Run]) -> None:
    """Set ``of_bare`` (fraction of ref-bare's throughput) and ``vs_aiohttp`` on every run, in place."""
    by = index(runs)
    for run in runs:
        bare = by.get(key(run.workload, "ref-bare", run.point))
        aio = by.get(key(run.workload, "ref-aiohttp", run.point))
        run.of_bare = _ratio(run.best_rps(), bare.best_rps() if bare else None)
        run.vs_aiohttp = _ratio(run.best_rps(), aio.best_rps() if aio else None)


def _target(claim: Claim, figure: Figure) -> str:
    def bound(value: float) -> str:
        compared = claim.versus or claim.against
        return f"{value:g}x" if compared and claim.compare == "ratio" else figure.show(value)

    if claim.low is not None and claim.high is not None:
        return f"{bound(claim.low)} to {bound(claim.high)}"
    if claim.low is not None:
        return f">= {bound(claim.low)}"
    if claim.high is not None:
        return f"<= {bound(claim.high)}"
    return claim.expect or "report"


def _how(claim: Claim, figure: Figure) -> str:
    if claim.against is not None:
        return f"{figure.how}; against {FIGURES[claim.against].how}"
    if claim.versus is None:
        return figure.how
    sign = "/" if claim.compare == "ratio" else "-"
    return f"{figure.how}; {claim.model} {sign} {claim.versus}"


@dataclass(frozen=True)
class Measure:
    """A claim's numbers in one set of runs (None where a figure is missing).

    Attributes:
        value: the claim's figure for its model.
        theirs: what it is compared with (the ``versus`` run's figure, or the
            ``against`` figure of the same run); None when nothing is compared.
        result: the ratio or the difference of the two, or ``value`` when nothing is compared.
        compared: the claim compares two figures.
    """

    value: float | None
    theirs: float | None
    result: float | None
    compared: bool


def measure(claim: Claim, by: Runs) -> Measure | None:
    """The numbers of ``claim`` in the runs; None when a run it names is not there."""
    run = by.get(key(claim.workload, claim.model, claim.at))
    other = by.get(key(claim.workload, claim.versus, claim.at)) if claim.versus else None
    if run is None or (claim.versus and other is None):
        return None
    value = FIGURES[claim.figure].read(run)
    if claim.against is not None:
        other, second = run, FIGURES[claim.against]
    else:
        second = FIGURES[claim.figure]
    if other is None:
        return Measure(value, None, value, compared=False)
    theirs = second.read(other)
    if claim.compare == "ratio":
        result = _ratio(value, theirs)
    else:
        result = None if value is None or theirs is None else value - theirs
    return Measure(value, theirs, result, compared=True)


def verdict(claim: Claim, by: Runs) -> Verdict | None:
    """The claim checked against the runs; None when a run it names is not there."""
    numbers = measure(claim, by)
    if numbers is None:
        return None
    run = by[key(claim.workload, claim.model, claim.at)]
    figure = FIGURES[claim.figure]
    second = FIGURES[claim.against] if claim.against is not None else figure
    value, result = numbers.value, numbers.result
    if not numbers.compared:
        measured = figure.show(value)
    else:
        if claim.compare == "ratio":
            shown = "n/a" if result is None else fmt_ratio(result)
        else:
            shown = figure.show(result)
        measured = f"{shown} ({figure.show(value)} vs {second.show(numbers.theirs)})"
    holds: bool | None = None
    if result is not None and (claim.low is not None or claim.high is not None):
        holds = (claim.low is None or result >= claim.low) and (
            claim.high is None or result <= claim.high
        )
    if claim.needs is not None:
        needed, minimum = claim.needs
        have = FIGURES[needed].read(run)
        measured += f", {FIGURES[needed].show(have)}"
        if holds and (have is None or have < minimum):
            holds = None  # too few to pass; a failure with fewer still fails
    return Verdict(claim.text, _target(claim, figure), measured, holds, _how(claim, figure))


def verdicts(
    runs: Sequence[Run],
    claims: Sequence[Claim] = CLAIMS,
    curve_claims: Sequence[CurveClaim] = CURVE_CLAIMS,
) -> list[Verdict]:
    """Every claim the runs can answer, in the order of ``claims``, then of ``curve_claims``."""
    by = index(runs)
    checked = [verdict(c, by) for c in claims]
    checked += [CURVE_CHECKS[c.check](c, runs) for c in curve_claims]
    return [v for v in checked if v is not None]


def shared_state_verdict(doc: dict[str, Any] | None) -> Verdict | None:
    """Threads share variables: lost updates without ``threading.Lock`` (see ``shared_state``).

    Not a claim about a run: the figures come from the bench's own measurement
    (the ``shared_counter`` block of results.json).
    """
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
        "threads each adding 1 to one counter, read-modify-write with a call between",
    )
