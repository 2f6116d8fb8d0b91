"""How each claim's figure is measured from a run's results: one function per kind of claim.

A claim of :data:`clients.bench.claims.CLAIMS` names its measure (a key of
:data:`MEASURES`); the measure reads the :class:`Results` and returns the claim's
:class:`~clients.bench.records.Verdict`, or None when the runs it needs are not
there (the claim is then left out of every page). ``figure`` compares one
figure of :data:`FIGURES` between two runs (or against a prediction of the same
run); the others read a curve's shape, an experiment's records or the machine block.

A throughput is the higher of our load client's and wrk's (:meth:`Run.best_rps`):
our client may be the limit. Every verdict says the figures it was read from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clients.bench import capacity_measures, upstream_report
from clients.bench.records import Experiments, HandOver, Key, Run, Verdict, key
from clients.bench.targets import TARGETS
from clients.bench.workloads import IO_WAIT_MS
from reporting.formats import fmt_num, fmt_pct, fmt_ratio

if TYPE_CHECKING:
    from clients.bench.claims import Claim

#: a curve has stopped rising at the first point within this share of its highest
KNEE_SHARE = 0.9
#: the article's figure: the interpreter "releases the GIL every 100 bytecodes"
ARTICLE_BYTECODES = 100
#: a hand-over within this factor of the article's figure would bear it out
ARTICLE_TOLERANCE = 10


@dataclass
class Results:
    """What the claims are measured from: a run's machine block, its runs and its experiments."""

    machine: dict[str, Any]
    runs: Sequence[Run]
    experiments: Experiments = field(default_factory=Experiments)
    by: dict[Key, Run] = field(init=False)

    def __post_init__(self) -> None:
        self.by = index(self.runs)


def index(runs: Sequence[Run]) -> dict[Key, Run]:
    """(workload, model[, point]) -> run."""
    return {key(r.workload, r.model, r.point): r for r in runs}


def predicted_rps(run: Run) -> float | None:
    """Little's law under io-wait: a target serving N at once answers N / W requests a second.

    N is its fixed pool (:meth:`Target.serves_at_once` with the server CPUs the
    bench gave it), W the wait of each request; None for a target without a pool.
    """
    target = TARGETS.get(run.model)
    if run.workload != "io-wait" or target is None:
        return None
    pool = target.serves_at_once(len(run.placement.server_cpus) if run.placement else 0)
    if not pool:
        return None
    return min(pool, run.connections or pool) * 1000 / IO_WAIT_MS


@dataclass(frozen=True)
class Figure:
    """A figure of one run: how it is read, how it prints, how it is measured.

    ``source`` names where a run's figure came from when it could come from two places
    (``" by wrk"`` for a throughput wrk measured rather than our client).
    """

    read: Callable[[Run], float | None]
    show: Callable[[float | None], str]
    how: str
    source: Callable[[Run], str] = lambda run: ""


def _rps_source(run: Run) -> str:
    best = run.best_rps()
    return " by wrk" if best is not None and run.wrk and best == run.wrk.rps != run.rps else ""


def _idle(run: Run, name: str) -> float | None:
    value = getattr(run.idle, name, None) if run.ok else None
    return None if value is None else float(value)


def _cores(run: Run) -> float | None:
    return None if not run.ok or run.server_cpu_pct is None else run.server_cpu_pct / 100


def _efficiency(run: Run) -> float | None:
    best = run.best_rps()
    return None if best is None or not run.ideal_rps else best / run.ideal_rps


def _with(unit: str, digits: int = 1) -> Callable[[float | None], str]:
    return lambda v: "n/a" if v is None else f"{fmt_num(v, digits)}{unit}"


FIGURES: dict[str, Figure] = {
    "rps": Figure(
        Run.best_rps,
        _with(" req/s", 0),
        "req/s, the higher of our client's and wrk's",
        _rps_source,
    ),
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
    "predicted_rps": Figure(
        predicted_rps,
        _with(" req/s predicted", 0),
        "N / W: N requests served at once (workers or threads), each waiting W (Little's law)",
    ),
    "idle_held": Figure(
        lambda r: _idle(r, "max_held"), _with(" held", 0), "idle connections held completely"
    ),
}


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def of_reference(run: Run, by: dict[Key, Run], reference: str) -> float | None:
    """``run``'s throughput over ``reference``'s on the same workload (and point), the higher
    of the two clients' each; None without the reference."""
    ref = by.get(key(run.workload, reference, run.point))
    return _ratio(run.best_rps(), ref.best_rps() if ref else None)


def _holds(claim: Claim, result: float | None) -> bool | None:
    if result is None or (claim.low is None and claim.high is None):
        return None
    return (claim.low is None or result >= claim.low) and (
        claim.high is None or result <= claim.high
    )


def _target(claim: Claim, show: Callable[[float | None], str] = str) -> str:
    """The claim's bounds as the report prints them (its ``expect`` when it has none)."""

    def bound(value: float) -> str:
        compared = claim.versus or claim.against or claim.measure != "figure"
        return f"{value:g}x" if compared and claim.compare == "ratio" else show(value)

    if claim.low is not None and claim.high is not None:
        return f"{bound(claim.low)} to {bound(claim.high)}"
    if claim.low is not None:
        return f">= {bound(claim.low)}"
    if claim.high is not None:
        return f"<= {bound(claim.high)}"
    return claim.expect or "report"


# -- figure: one figure of a run, alone or against another run's or a prediction ---------------
def figure(claim: Claim, results: Results) -> Verdict | None:
    """The claim's figure for its model, compared with ``versus``'s (or with ``against``)."""
    by = results.by
    run = by.get(key(claim.workload, claim.model, claim.at))
    other = by.get(key(claim.workload, claim.versus, claim.at)) if claim.versus else None
    if run is None or (claim.versus and other is None):
        return None
    first = FIGURES[claim.figure]
    second = FIGURES[claim.against] if claim.against is not None else first
    if claim.against is not None:
        other = run
    value = first.read(run)
    theirs = None if other is None else second.read(other)
    how = first.how
    if other is None:
        result, measured = value, first.show(value)
    else:
        if claim.compare == "ratio":
            result = _ratio(value, theirs)
            shown = "n/a" if result is None else fmt_ratio(result)
        else:
            result = None if value is None or theirs is None else value - theirs
            shown = first.show(result)
        assert other is not None
        mine = first.show(value) + first.source(run)
        measured = f"{shown} ({mine} vs {second.show(theirs)}{second.source(other)})"
        sign = "/" if claim.compare == "ratio" else "-"
        how += (
            f"; against {second.how}"
            if claim.against is not None
            else f"; {claim.model} {sign} {claim.versus}"
        )
    holds, numbers = _holds(claim, result), {}
    if claim.needs is not None:
        needed, minimum = claim.needs
        have = FIGURES[needed].read(run)
        measured += f", {FIGURES[needed].show(have)}"
        if holds and (have is None or have < minimum):
            holds = None  # too few to pass; a failure with fewer still fails
        if have is not None:
            numbers[needed] = have
    return Verdict(
        claim.text, _target(claim, first.show), measured, holds, how, id=claim.id,
        value=value, theirs=theirs, result=result, numbers=numbers,
    )  # fmt: skip


# -- curves: the shape of one model's runs along a workload's axis ----------------------------
def curve(runs: Sequence[Run], workload: str, model: str) -> list[Run]:
    """The runs of one model's curve that measured something, by point."""
    mine = [r for r in runs if r.workload == workload and r.model == model and r.ok]
    return sorted((r for r in mine if r.point is not None), key=lambda r: r.point or 0.0)


def _at(rows: Sequence[Run], x: float | None) -> Run | None:
    return next((r for r in rows if r.point == x), None)


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:,g}"


def _us(value: float | None) -> str:
    return "n/a" if value is None else f"{fmt_num(value, 1)} us"


def _pct(new: float | None, old: float | None) -> str:
    if new is None or not old:
        return "n/a"
    return f"{100 * (new / old - 1):+.1f}%"


def _refusal(run: Run) -> str:
    return f"refuses at {_x(run.point)} ({fmt_num(run.refused)} of {fmt_num(run.requests)} answers not 2xx)"


def growth(claim: Claim, results: Results) -> Verdict | None:
    """How much the model's CPU per request over ``versus``'s grows from ``base`` to ``at``.

    Where the model refuses connections at ``at`` (its cap), the ratio is read
    at the largest point it served completely, and not judged.
    """
    mine = curve(results.runs, claim.workload, claim.model)
    theirs = {r.point: r for r in curve(results.runs, claim.workload, claim.versus or "")}

    def ratio(x: float | None) -> tuple[float | None, str]:
        a, b = _at(mine, x), theirs.get(x)
        if a is None or b is None or not a.cpu_us() or not b.cpu_us():
            return None, "n/a"
        value = (a.cpu_us() or 0.0) / (b.cpu_us() or 1.0)
        return value, f"{value:.2f}x at {_x(x)} ({_us(a.cpu_us())} vs {_us(b.cpu_us())})"

    base, base_text = ratio(claim.base)
    target_run = _at(mine, claim.at)
    if base is None or target_run is None:
        return None
    at, judged, prefix = claim.at, True, ""
    if target_run.refused:
        served = [r for r in mine if not r.refused and (r.point or 0) > (claim.base or 0)]
        prefix = _refusal(target_run) + "; "
        judged = False
        at = served[-1].point if served else None
    top, top_text = ratio(at)
    result = None if top is None else top / base
    shown = "n/a" if result is None else f"{result:.2f}x"
    return Verdict(
        claim.text,
        f">= {claim.low:g}x from {_x(claim.base)} to {_x(claim.at)}",
        f"{prefix}{shown}: {top_text} against {base_text}",
        _holds(claim, result) if judged else None,
        f"server CPU us/req of {claim.model} / {claim.versus}'s at the same point, "
        f"at {_x(claim.at)} / at {_x(claim.base)}",
        id=claim.id,
        result=result,
    )


def knee(claim: Claim, results: Results) -> Verdict | None:
    """Where req/s stops rising (first point within KNEE_SHARE of the best), and what points beyond cost.

    Expected at ``claim.at``, or at the number of server CPUs when it is None.
    """
    rows = curve(results.runs, claim.workload, claim.model)
    served = [(r, r.served_rps()) for r in rows if r.served_rps() is not None]
    if len(served) < 2:
        return None
    cores = len(rows[0].placement.server_cpus) if rows[0].placement else None
    expected = claim.at if claim.at is not None else cores
    best = max(rps or 0.0 for _, rps in served)
    stop = next(r.point for r, rps in served if (rps or 0.0) >= KNEE_SHARE * best)
    figures = ", ".join(f"{_x(r.point)}: {fmt_num(rps)}" for r, rps in served)
    measured = f"stops rising at {_x(stop)} ({figures} req/s)"
    at_cores = _at(rows, float(cores)) if cores else None
    last = served[-1][0]
    if at_cores is not None and last.point is not None and last.point > (at_cores.point or 0):
        measured += (
            f"; {_x(last.point)} against {_x(at_cores.point)}: "
            f"{_pct(last.served_rps(), at_cores.served_rps())} req/s, "
            f"{_pct(last.cpu_us(), at_cores.cpu_us())} CPU us/req"
        )
    where = "the core count" if claim.at is None else "the first point"
    return Verdict(
        claim.text,
        f"stops rising at {_x(expected)} ({where})",
        measured,
        None if expected is None else stop == expected,
        f"req/s of 2xx answers by point; stopped: the first within {KNEE_SHARE:.0%} of the highest",
        id=claim.id,
        result=stop,
    )


def speedup(claim: Claim, results: Results) -> Verdict | None:
    """req/s at ``at`` over req/s at ``base`` on the same curve."""
    rows = curve(results.runs, claim.workload, claim.model)
    top, bottom = _at(rows, claim.at), _at(rows, claim.base)
    if top is None or bottom is None:
        return None
    a, b = top.served_rps(), bottom.served_rps()
    result = a / b if a and b else None
    cores = None if top.server_cpu_pct is None else top.server_cpu_pct / 100
    shown = "n/a" if result is None else f"{result:.2f}x"
    return Verdict(
        claim.text,
        _target(claim),
        f"{shown} ({fmt_num(a)} vs {fmt_num(b)} req/s); server CPU {fmt_num(cores, 2)} cores "
        f"at {_x(claim.at)}",
        _holds(claim, result),
        f"req/s at {_x(claim.at)} clients / at {_x(claim.base)}",
        id=claim.id,
        result=result,
    )


def switch_latency(claim: Claim, results: Results) -> Verdict | None:
    """GET / p99 (and the background /cpu req/s) at each switch interval: reported."""
    rows = [r for r in curve(results.runs, claim.workload, claim.model) if r.latency_ms]
    if not rows:
        return None
    figures = "; ".join(
        f"{_x(r.point)} ms: p99 {fmt_num(r.latency_ms.get('p99') if r.latency_ms else None, 1)} ms"
        f", /cpu {fmt_num(r.background_rps)} req/s"
        for r in rows
    )
    return Verdict(
        claim.text, _target(claim), figures, None, "our client's p99 of GET /", id=claim.id
    )


# -- experiments: records the bench's own programs wrote beside the matrix -------------------
#: ``syscalls`` claims: what each counting's figure is, how it prints, how it is measured
SYSCALL_FIGURES = {
    "echo-1k": Figure(
        lambda r: None,
        _with(" calls/msg", 2),
        "system calls per echoed 1 KiB message (strace -c -f over a fixed count; not timed)",
    ),
    "hello": Figure(
        lambda r: None,
        _with(" calls/req", 2),
        "system calls per GET / on keep-alive (strace -c -f over a fixed count; not timed)",
    ),
}


def syscalls(claim: Claim, results: Results) -> Verdict | None:
    """System calls per request of ``claim.figure``'s counting, the model's against ``versus``'s."""
    counts = results.experiments.syscalls
    mine, other = counts.get(claim.model), counts.get(claim.versus or "")
    if mine is None or other is None:
        return None
    figure = SYSCALL_FIGURES[claim.figure]
    value, theirs = mine.per_request.get(claim.figure), other.per_request.get(claim.figure)
    result = _ratio(value, theirs)
    shown = "n/a" if result is None else fmt_ratio(result)
    return Verdict(
        claim.text,
        _target(claim, figure.show),
        f"{shown} ({figure.show(value)} vs {figure.show(theirs)})",
        _holds(claim, result),
        f"{figure.how}; {claim.model} / {claim.versus}",
        id=claim.id,
        value=value,
        theirs=theirs,
        result=result,
    )


def _default_step(steps: Sequence[HandOver], default_ms: float) -> HandOver | None:
    return min(steps, key=lambda s: abs(s.interval_ms - default_ms), default=None)


def handover(claim: Claim, results: Results) -> Verdict | None:
    """The article's "every 100 bytecodes" against the measured hand-overs."""
    probe = results.experiments.gil_switch
    if probe is None or not probe.steps:
        return None
    step = _default_step(probe.steps, probe.default_interval_ms)
    if step is None or step.median_ms is None:
        return None
    others = "; ".join(
        f"at {s.interval_ms:g} ms: {fmt_num(s.median_ms, 2)} ms"
        for s in probe.steps
        if s is not step and s.median_ms is not None
    )
    bytecodes = step.bytecodes
    holds = bytecodes is not None and bytecodes <= ARTICLE_BYTECODES * ARTICLE_TOLERANCE
    return Verdict(
        claim.text,
        f"a hand-over every ~{ARTICLE_BYTECODES} bytecodes",
        f"a thread holds the GIL {fmt_num(step.median_ms, 2)} ms (median; p99 "
        f"{fmt_num(step.p99_ms, 2)} ms) at the default switch interval of "
        f"{probe.default_interval_ms:g} ms, about {fmt_num(bytecodes)} bytecodes; {others}",
        holds,
        "two CPU-bound threads noting when each takes the GIL over; bytecodes per spin "
        f"counted by tracing ({fmt_num(probe.bytecodes_per_iteration, 1)})",
        label="holds" if holds else "outdated",
        id=claim.id,
        result=bytecodes,
    )


def fork_size(claim: Claim, results: Results) -> Verdict | None:
    """CPU per fork from the largest parent over the smallest."""
    cost = results.experiments.fork_cost
    if cost is None or len(cost.sizes) < 2:
        return None
    sizes = sorted(cost.sizes, key=lambda s: s.rss_mib)
    small, large = sizes[0], sizes[-1]
    result = large.cpu_ms / small.cpu_ms if small.cpu_ms else None
    figures = ", ".join(f"{fmt_num(s.cpu_ms, 2)} ms at {fmt_num(s.rss_mib, 1)} MiB" for s in sizes)
    touched = [s for s in sizes if s.touch_cpu_ms is not None]
    if touched:
        figures += "; a child reading every object: " + ", ".join(
            f"{fmt_num(s.touch_cpu_ms, 1)} ms ({fmt_num(s.touch_faults)} faults)" for s in touched
        )
    shown = "n/a" if result is None else f"{result:.1f}x"
    return Verdict(
        claim.text,
        f">= {claim.low:g}x from the smallest parent to the largest",
        f"{shown}: {figures}",
        _holds(claim, result),
        "parent + child CPU per fork of a child that exits at once (RUSAGE_SELF + RUSAGE_CHILDREN)",
        id=claim.id,
        result=result,
    )


def shared_counter(claim: Claim, results: Results) -> Verdict | None:
    """Threads share variables: updates lost without ``threading.Lock``, none with it.

    Read from the ``shared-state`` experiment (:mod:`clients.bench.shared_state`).
    """
    doc = results.experiments.shared_state
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
        claim.text,
        "updates lost without the lock, none with it",
        measured,
        free["lost"] > 0 and locked["lost"] == 0,
        "threads each adding 1 to one counter, read-modify-write with a call between",
        id=claim.id,
        value=free["lost"],
        theirs=locked["lost"],
        numbers={
            "threads": free["threads"],
            "updates": free["updates"],
            "lost": free["lost"],
            "expected": free["expected"],
            "share": free["lost"] / free["expected"],
            "locked_lost": locked["lost"],
            "us": per_update_us,
        },
    )


Measure = Callable[["Claim", Results], Verdict | None]

MEASURES: dict[str, Measure] = {
    "figure": figure,
    "knee_order": capacity_measures.knee_order,
    "slow_hurt": capacity_measures.slow_hurt,
    "growth": growth,
    "knee": knee,
    "speedup": speedup,
    "switch_latency": switch_latency,
    "handover": handover,
    "fork_size": fork_size,
    "shared_counter": shared_counter,
    "syscalls": syscalls,
    "upstream_connections": upstream_report.connections,
    "upstream_cpu_growth": upstream_report.cpu_growth,
}
