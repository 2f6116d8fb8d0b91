"""The knee, the SLO rate and the slow-client shares, from tables of rate curves."""

from __future__ import annotations

from pathlib import Path

import pytest

from clients.bench.capacity import (
    RATE_SHARES,
    RATE_SHARES_QUICK,
    RatePoint,
    knee,
    offered_rates,
    relative_to_none,
    slo_rate,
)
from clients.bench.capacity_report import (
    knee_table,
    rate_chart,
    rate_table,
    slow_charts,
    slow_table,
)
from clients.bench.capacity_runs import SLOW_STEPS
from clients.bench.claims import CLAIMS_BY_ID
from clients.bench.harness import Options, build_jobs, run_job
from clients.bench.measures import MEASURES, Results
from clients.bench.records import (
    Latency,
    RateCurve,
    RateStep,
    Run,
    SlowStep,
    SlowSweep,
    Verdict,
)
from clients.bench.workloads import WORKLOADS


def curve(*rows: tuple[float, float, float | None]) -> list[RatePoint]:
    return [RatePoint(offered, achieved, p99) for offered, achieved, p99 in rows]


HOCKEY_STICK = curve(
    (100, 100, 0.5), (400, 400, 0.8), (700, 700, 2.0), (900, 890, 4.9), (1000, 950, 40.0),
    (1200, 960, 900.0),
)  # fmt: skip

#: (name, curve, knee's offered rate, SLO rate's offered rate)
CASES = [
    ("hockey stick", HOCKEY_STICK, 900, 900),
    ("in any order", list(reversed(HOCKEY_STICK)), 900, 900),
    ("knee on the relative rule, SLO on the absolute one",
     curve((100, 100, 2.0), (500, 500, 8.0), (800, 800, 15.0), (1000, 1000, 20.0), (1100, 1100, 21.0)), 1000, 500),
    ("a slow server: knee but no SLO rate",
     curve((10, 10, 50.0), (20, 20, 60.0), (40, 40, 600.0)), 20, None),
    ("a lucky point past the first failure does not count",
     curve((100, 100, 1.0), (200, 200, 20.0), (300, 300, 1.5)), 100, 100),
    ("a point not carried fails, however good its p99",
     curve((100, 100, 1.0), (200, 150, 1.0), (300, 300, 1.0)), 100, 100),
    ("exactly 10x and exactly 10 ms still hold",
     curve((100, 100, 1.0), (200, 200, 10.0)), 200, 200),
    ("nothing answered at the lowest rate", curve((100, 0, None), (200, 200, 1.0)), None, None),
    ("an empty curve", [], None, None),
]  # fmt: skip


@pytest.mark.parametrize("name, points, knee_at, slo_at", CASES, ids=[c[0] for c in CASES])
def test_knee_and_slo_rate(
    name: str, points: list[RatePoint], knee_at: float | None, slo_at: float | None
) -> None:
    found_knee, found_slo = knee(points), slo_rate(points)
    assert (found_knee.offered if found_knee else None) == knee_at
    assert (found_slo.offered if found_slo else None) == slo_at


def test_offered_rates_span_a_tenth_to_more_than_capacity() -> None:
    rates = offered_rates(5000)
    assert len(rates) >= 8 and rates == tuple(sorted(rates))
    assert rates[0] == 500 and rates[-1] == 6000 and 5000 in rates
    assert offered_rates(3, (0.1, 1.0)) == (1.0, 3.0)  # never below 1 req/s
    assert len(RATE_SHARES) >= 8


@pytest.mark.parametrize("capacity", [0, -5])
def test_offered_rates_need_a_capacity(capacity: float) -> None:
    with pytest.raises(ValueError, match="capacity"):
        offered_rates(capacity)


@pytest.mark.parametrize(
    "figures, expected",
    [
        ({0: 1000.0, 10: 900.0, 100: 0.0}, {0: 1.0, 10: 0.9, 100: 0.0}),
        ({100: 5.0, 0: 10.0}, {0: 1.0, 100: 0.5}),
        ({0: 0.0, 10: 5.0}, {0: None, 10: None}),  # nothing to compare with
        ({0: 10.0, 10: None}, {0: 1.0, 10: None}),
        ({10: 5.0}, {10: None}),
    ],
)
def test_relative_to_none(
    figures: dict[int, float | None], expected: dict[int, float | None]
) -> None:
    assert relative_to_none(figures) == pytest.approx(expected)


# -- the sweeps' records: verdicts, tables, charts (made-up runs, no load) -----------------------
def rate_run(model: str, knee_rps: float | None, capacity: float = 1000.0) -> Run:
    steps = [
        RateStep(offered=o, achieved=o, latency_ms=Latency(p50=1.0, p99=p, p999=p, max=p))
        for o, p in ((100, 1.0), (500, 2.0), (1000, 50.0))
    ]
    curve = RateCurve(capacity_rps=capacity, steps=steps, knee_rps=knee_rps, slo_rps=knee_rps)
    return Run(model=model, workload="rate-sweep-io-wait", rate_curve=curve)


def slow_run(model: str, fast_rps: dict[int, float]) -> Run:
    steps = [
        SlowStep(slow=n, fast_rps=rps, fast_latency_ms=Latency(p99=1.0), slow_held=n)
        for n, rps in fast_rps.items()
    ]
    return Run(model=model, workload="slow-clients", slow_sweep=SlowSweep(steps))


def judged(claim_id: str, runs: list[Run]) -> Verdict | None:
    claim = CLAIMS_BY_ID[claim_id]
    return MEASURES[claim.measure](claim, Results({}, runs))


@pytest.mark.parametrize(
    "knees, holds",
    [
        ({"uvloop": 900, "asyncio": 500, "threadpool": 100, "prefork": None}, True),
        ({"uvloop": 900, "asyncio": 100, "threadpool": 100, "prefork": None}, False),
        ({"uvloop": None, "threadpool": None}, False),
    ],
)
def test_every_loop_knee_beyond_every_pool_knee(
    knees: dict[str, float | None], holds: bool
) -> None:
    verdict = judged("rate-sweep-io-wait-knees", [rate_run(m, k) for m, k in knees.items()])
    assert verdict is not None and verdict.holds is holds
    assert "threadpool" in verdict.measured and "uvloop" in verdict.measured


def test_no_knee_verdict_without_both_kinds() -> None:
    assert judged("rate-sweep-io-wait-knees", [rate_run("uvloop", 900)]) is None


@pytest.mark.parametrize(
    "figures, holds",
    [
        ({"uvloop": (1000, 900), "threadpool": (1000, 0), "prefork": (800, 50)}, True),
        ({"uvloop": (1000, 300), "threadpool": (1000, 0)}, False),  # the loop lost too much
        ({"uvloop": (1000, 900), "threadpool": (1000, 500)}, False),  # the pool coped
    ],
)
def test_slow_clients_hurt_pools_far_more_than_loops(
    figures: dict[str, tuple[float, float]], holds: bool
) -> None:
    runs = [slow_run(m, {0: none, 10: none, 100: at}) for m, (none, at) in figures.items()]
    verdict = judged("slow-clients-pools-hurt", runs)
    assert verdict is not None and verdict.holds is holds


def test_sweep_tables_and_charts(tmp_path: Path) -> None:
    runs = [rate_run("uvloop", 500), rate_run("threadpool", None)]
    headers, rows = knee_table("rate-sweep-io-wait", runs)
    assert [r[2] for r in rows] == ["none", "500 (50.0%)"]  # threadpool, then uvloop
    assert len(rate_table("rate-sweep-io-wait", runs)[1]) == 6
    slow = [slow_run("uvloop", {0: 1000, 10: 990, 100: 900}), slow_run("prefork", {0: 800, 10: 0})]
    _, slow_rows = slow_table(slow)
    assert [r[4] for r in slow_rows] == ["100.0%", "0.0%", "100.0%", "99.0%", "90.0%"]
    paths = [rate_chart("rate-sweep-io-wait", runs, tmp_path), *slow_charts(slow, tmp_path)]
    assert all(p.stat().st_size > 0 for p in paths)


def test_tiny_real_sweeps() -> None:
    """Both sweeps on one uvloop server each, at their quick steps, 0.2 s a step."""
    opts = Options(
        models=["uvloop"],
        workloads=[WORKLOADS["rate-sweep-hello"], WORKLOADS["slow-clients"]],
        duration=0.2,
        warmup=0.05,
        quick=True,
        references=False,
        use_wrk=False,
    )
    rate, slow = (run_job(job, opts) for job in build_jobs(opts))
    assert rate.ok and rate.rate_curve is not None, rate
    curve = rate.rate_curve
    assert curve.capacity_rps and curve.capacity_rps > 0
    offered = [s.offered for s in curve.steps]
    assert len(offered) == len(RATE_SHARES_QUICK) and offered == sorted(offered)
    assert curve.steps[0].requests > 0 and curve.steps[0].latency_ms.p99 is not None
    assert slow.ok and slow.slow_sweep is not None, slow
    steps = slow.slow_sweep.steps
    assert [s.slow for s in steps] == list(SLOW_STEPS)
    assert steps[0].fast_rps > 0 and steps[0].slow_connected == 0
    assert steps[-1].slow_held == SLOW_STEPS[-1]  # a loop holds every slow client
