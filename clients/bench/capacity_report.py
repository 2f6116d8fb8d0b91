"""The tables and charts of ``rate-sweep-*`` and ``slow-clients`` (from their runs' sweep records)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clients.bench.capacity import KNEE_FACTOR, SLO_P99_MS, relative_to_none
from clients.bench.records import Run
from reporting.charts import line_chart
from reporting.formats import fmt_ms, fmt_num, fmt_pct
from reporting.tables import label

RATE_NOTE = (
    "Each model's closed-loop capacity first, then open-loop runs at fixed offered rates on the "
    "same connections, lowest first, on one server. Latencies are corrected for coordinated "
    "omission: each request is timed from when it should have gone out, so a server falling "
    "behind shows its queue. Achieved counts 2xx answers. The knee is the highest offered rate "
    f"up to which p99 stays within {KNEE_FACTOR:g}x its p99 at the lowest rate; the SLO rate the "
    f"highest up to which p99 <= {SLO_P99_MS:g} ms; both read upwards to the first point that "
    "fails, and a point achieving under 90% of its offered rate fails.\n"
)
SLOW_NOTE = (
    "The fast clients (closed loop, keep-alive) measured with 0, 10, 100, 1,000 slow clients "
    "beside them on one server, fewest first. `starved`: fast connections the server never "
    "answered in the window. The slow clients' own figures are their requests answered in the "
    "window and their p99 (most of it their own pace). A loop busy with slow clients can serve "
    "the fast ones faster than with none: it waits in epoll less often per request.\n"
)
PAST_KNEE = (
    f"hollow: past the knee (p99 above {KNEE_FACTOR:g}x its lowest-rate p99, or not carried)"
)


def _sweeps(workload: str, runs: Sequence[Run]) -> list[Run]:
    return sorted((r for r in runs if r.workload == workload), key=lambda r: r.model)


def _rate(value: float | None, capacity: float | None) -> str:
    if value is None:
        return "none"
    share = f" ({fmt_pct(value / capacity)})" if capacity else ""
    return f"{fmt_num(value)}{share}"


def knee_table(workload: str, runs: Sequence[Run]) -> tuple[list[str], list[list[Any]]]:
    """Per model: its closed-loop capacity, the knee and the SLO rate (share of capacity)."""
    headers = ["server", "closed-loop req/s", "knee req/s offered", "SLO rate (p99 <= 10 ms)"]
    rows: list[list[Any]] = []
    for run in _sweeps(workload, runs):
        curve = run.rate_curve
        if curve is None:
            rows.append([label(run.model), f"failed: {run.failed}", "", ""])
            continue
        capacity = curve.capacity_rps
        rows.append(
            [
                label(run.model),
                fmt_num(capacity),
                _rate(curve.knee_rps, capacity),
                _rate(curve.slo_rps, capacity),
            ]
        )
    return headers, rows


def rate_table(workload: str, runs: Sequence[Run]) -> tuple[list[str], list[list[Any]]]:
    """Every open-loop step of every model: offered, achieved and the corrected percentiles."""
    headers = ["server", "offered req/s", "achieved req/s", "p50 ms", "p99 ms", "p99.9 ms"]
    headers += ["max ms", "errors", "server CPU"]
    rows: list[list[Any]] = []
    for run in _sweeps(workload, runs):
        for i, step in enumerate(run.rate_curve.steps if run.rate_curve else ()):
            lat = step.latency_ms
            rows.append(
                [
                    label(run.model) if i == 0 else "",
                    fmt_num(step.offered),
                    fmt_num(step.achieved),
                    *(fmt_ms(lat.get(k)) for k in ("p50", "p99", "p999", "max")),
                    fmt_num(step.errors),
                    "-" if step.server_cpu_pct is None else f"{step.server_cpu_pct:.0f}%",
                ]
            )
    return headers, rows


def slow_table(runs: Sequence[Run]) -> tuple[list[str], list[list[Any]]]:
    """Per model and number of slow clients: the fast clients' req/s and p99, the slow ones'."""
    headers = ["server", "slow clients", "held", "fast req/s", "of none", "fast p99 ms"]
    headers += ["starved", "slow req/s", "slow p99 ms", "server CPU"]
    rows: list[list[Any]] = []
    for run in _sweeps("slow-clients", runs):
        steps = run.slow_sweep.steps if run.slow_sweep else []
        share = relative_to_none({s.slow: s.fast_rps for s in steps})
        for i, step in enumerate(steps):
            rows.append(
                [
                    label(run.model) if i == 0 else "",
                    fmt_num(step.slow),
                    fmt_num(step.slow_held),
                    fmt_num(step.fast_rps),
                    fmt_pct(share.get(step.slow)),
                    fmt_ms(step.fast_latency_ms.get("p99")),
                    fmt_num(step.fast_error_kinds.get("starved", 0)),
                    fmt_num(step.slow_rps),
                    fmt_ms(step.slow_latency_ms.get("p99")),
                    "-" if step.server_cpu_pct is None else f"{step.server_cpu_pct:.0f}%",
                ]
            )
    return headers, rows


def rate_chart(workload: str, runs: Sequence[Run], out_dir: Path) -> Path:
    """p99 against offered rate, a line per model (log axes); points past the knee hollow."""
    series: dict[str, tuple[list[float], list[float | None]]] = {}
    past: dict[str, list[bool]] = {}
    for run in _sweeps(workload, runs):
        curve = run.rate_curve
        if curve is None or not curve.steps:
            continue
        series[run.model] = (
            [s.offered for s in curve.steps],
            [s.latency_ms.get("p99") for s in curve.steps],
        )
        knee = curve.knee_rps or 0.0
        past[run.model] = [s.offered > knee for s in curve.steps]
    return line_chart(
        out_dir / f"{workload}-p99.png",
        f"{workload}: p99 against offered rate (open loop, corrected)",
        series,
        "offered req/s (log)",
        "p99 ms (log)",
        logx=True,
        logy=True,
        flagged=past,
        flag_label=PAST_KNEE,
        hline=(SLO_P99_MS, f"SLO p99 {SLO_P99_MS:g} ms"),
    )


def slow_charts(runs: Sequence[Run], out_dir: Path) -> list[Path]:
    """The fast clients' req/s (share of none) and p99 against slow clients beside them."""
    sweeps = {
        r.model: r.slow_sweep.steps
        for r in _sweeps("slow-clients", runs)
        if r.slow_sweep and r.slow_sweep.steps
    }
    counts = sorted({s.slow for steps in sweeps.values() for s in steps})
    at = {count: i for i, count in enumerate(counts)}  # evenly spaced: 0 has no place on a log axis
    xlabel = "slow clients beside the fast ones: " + ", ".join(f"{c:,}" for c in counts)
    shares: dict[str, tuple[list[float], list[float | None]]] = {}
    p99s: dict[str, tuple[list[float], list[float | None]]] = {}
    for model, steps in sweeps.items():
        share = relative_to_none({s.slow: s.fast_rps for s in steps})
        xs = [float(at[s.slow]) for s in steps]
        percent = [None if (v := share[s.slow]) is None else 100 * v for s in steps]
        shares[model] = (xs, percent)
        p99s[model] = (xs, [s.fast_latency_ms.get("p99") for s in steps])
    return [
        line_chart(out_dir / "slow-clients-rps.png",
                   "slow-clients: fast clients' req/s, % of with none", shares, xlabel,
                   "% of req/s with no slow client", hline=(100, "untouched")),
        line_chart(out_dir / "slow-clients-p99.png", "slow-clients: fast clients' p99", p99s,
                   xlabel, "p99 ms (log)", logy=True),
    ]  # fmt: skip
