"""The checks of :data:`clients.bench.claims.CURVE_CLAIMS`: the shape of a curve, a probe's figures.

Each check takes its claim and every run, and returns a verdict, or None when
the runs it needs are not there (the claim is then left out of the report).
Every verdict says the figures it was read from, so that a reader can find
them on the chart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from clients.bench.claims import KNEE_SHARE, CurveClaim
from clients.bench.records import HandOver, Run, Verdict
from reporting.formats import fmt_num

Check = Callable[[CurveClaim, Sequence[Run]], Verdict | None]

#: the article's figure: the interpreter "releases the GIL every 100 bytecodes"
ARTICLE_BYTECODES = 100
#: a hand-over within this factor of the article's figure would bear it out
ARTICLE_TOLERANCE = 10


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


def growth(claim: CurveClaim, runs: Sequence[Run]) -> Verdict | None:
    """How much the model's CPU per request over ``versus``'s grows from ``base`` to ``at``.

    Where the model refuses connections at ``at`` (its cap), the ratio is read
    at the largest point it served completely, and not judged.
    """
    mine = curve(runs, claim.workload, claim.model)
    theirs = {r.point: r for r in curve(runs, claim.workload, claim.versus or "")}

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
    holds = None
    if judged and result is not None and claim.low is not None:
        holds = result >= claim.low
    return Verdict(
        claim.text,
        f">= {claim.low:g}x from {_x(claim.base)} to {_x(claim.at)}",
        f"{prefix}{shown}: {top_text} against {base_text}",
        holds,
        f"server CPU us/req of {claim.model} / {claim.versus}'s at the same point, "
        f"at {_x(claim.at)} / at {_x(claim.base)}",
    )


def knee(claim: CurveClaim, runs: Sequence[Run]) -> Verdict | None:
    """Where req/s stops rising (first point within KNEE_SHARE of the best), and what points beyond cost.

    Expected at ``claim.at``, or at the number of server CPUs when it is None.
    """
    rows = curve(runs, claim.workload, claim.model)
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
    )


def speedup(claim: CurveClaim, runs: Sequence[Run]) -> Verdict | None:
    """req/s at ``at`` over req/s at ``base`` on the same curve."""
    rows = curve(runs, claim.workload, claim.model)
    top, bottom = _at(rows, claim.at), _at(rows, claim.base)
    if top is None or bottom is None:
        return None
    a, b = top.served_rps(), bottom.served_rps()
    result = a / b if a and b else None
    cores = None if top.server_cpu_pct is None else top.server_cpu_pct / 100
    shown = "n/a" if result is None else f"{result:.2f}x"
    return Verdict(
        claim.text,
        f">= {claim.low:g}x" if claim.low is not None else claim.expect or "report",
        f"{shown} ({fmt_num(a)} vs {fmt_num(b)} req/s); server CPU {fmt_num(cores, 2)} cores "
        f"at {_x(claim.at)}",
        None if result is None or claim.low is None else result >= claim.low,
        f"req/s at {_x(claim.at)} clients / at {_x(claim.base)}",
    )


def _default_step(steps: Sequence[HandOver], default_ms: float) -> HandOver | None:
    return min(steps, key=lambda s: abs(s.interval_ms - default_ms), default=None)


def handover(claim: CurveClaim, runs: Sequence[Run]) -> Verdict | None:
    """The article's "every 100 bytecodes" against the measured hand-overs."""
    run = next((r for r in runs if r.workload == claim.workload and r.model == claim.model), None)
    if run is None or run.handovers is None or not run.handovers.steps:
        return None
    probe = run.handovers
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
    )


def switch_latency(claim: CurveClaim, runs: Sequence[Run]) -> Verdict | None:
    """GET / p99 (and the background /cpu req/s) at each switch interval: reported."""
    rows = [r for r in curve(runs, claim.workload, claim.model) if r.latency_ms is not None]
    if not rows:
        return None
    figures = "; ".join(
        f"{_x(r.point)} ms: p99 {fmt_num(r.latency_ms.get('p99') if r.latency_ms else None, 1)} ms"
        f", /cpu {fmt_num(r.background_rps)} req/s"
        for r in rows
    )
    return Verdict(claim.text, claim.expect or "report", figures, None, "our client's p99 of GET /")


def fork_size(claim: CurveClaim, runs: Sequence[Run]) -> Verdict | None:
    """CPU per fork from the largest parent over the smallest."""
    run = next((r for r in runs if r.workload == claim.workload and r.model == claim.model), None)
    if run is None or run.fork_cost is None or len(run.fork_cost.sizes) < 2:
        return None
    sizes = sorted(run.fork_cost.sizes, key=lambda s: s.rss_mib)
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
        None if result is None or claim.low is None else result >= claim.low,
        "parent + child CPU per fork of a child that exits at once (RUSAGE_SELF + RUSAGE_CHILDREN)",
    )


CURVE_CHECKS: dict[str, Check] = {
    "growth": growth,
    "knee": knee,
    "speedup": speedup,
    "handover": handover,
    "switch_latency": switch_latency,
    "fork_size": fork_size,
}
