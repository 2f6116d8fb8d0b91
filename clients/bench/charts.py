"""The bench's PNG charts: per workload, the figures of its table, in the table's order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from clients.bench.records import Run
from clients.bench.render import ordered
from reporting.charts import Bar, bar_chart, line_chart, percentile_chart

WRK_LABEL = "wrk req/s (a C client)"


def _throughput(workload: str, rows: Sequence[Run], out_dir: Path) -> Path:
    unit = "messages/s" if workload.startswith("echo") else "requests/s"
    return bar_chart(
        out_dir / f"throughput-{workload}.png",
        f"{workload}: throughput (our load client)",
        throughput_bars(rows),
        unit,
        marker_label=WRK_LABEL,
    )


def throughput_bars(rows: Sequence[Run]) -> list[Bar]:
    """A bar per run: our client's figure (a floor when it was the limit), wrk's as the marker."""
    return [Bar(r.model, r.rps, r.loader_bound, r.wrk.rps if r.wrk else None) for r in rows]


def draw_all(runs: Sequence[Run], out_dir: Path) -> dict[str, list[Path]]:
    """Every chart the runs allow, by workload; returns the files written."""
    drawn: dict[str, list[Path]] = {}
    for workload in dict.fromkeys(r.workload for r in runs if r.ok):
        paths = drawn.setdefault(workload, [])
        rows = [r for r in ordered(workload, runs) if r.ok]
        cpu = [Bar(r.model, r.server_cpu_us_per_req) for r in rows]
        if workload != "idle":
            paths.append(_throughput(workload, rows, out_dir))
        lat = {r.model: asdict(r.latency_ms) for r in rows if r.latency_ms}
        if lat:
            paths.append(
                percentile_chart(
                    out_dir / f"latency-{workload}.png",
                    f"{workload}: latency percentiles (our load client)",
                    lat,
                )
            )
        if any(b.value is not None for b in cpu) and workload != "churn":
            paths.append(
                bar_chart(
                    out_dir / f"cpu-per-request-{workload}.png",
                    f"{workload}: server CPU per request",
                    cpu,
                    "CPU us / request",
                )
            )
        if workload == "io-wait":
            paths.append(
                bar_chart(
                    out_dir / "io-wait-efficiency.png",
                    "io-wait: efficiency (req/s of the ideal)",
                    [
                        Bar(r.model, 100 * r.rps / r.ideal_rps, r.loader_bound)
                        for r in rows
                        if r.rps is not None and r.ideal_rps
                    ],
                    "% of ideal",
                    hline=(90, "90% target"),
                )
            )
        if workload == "churn":
            paths.append(
                bar_chart(
                    out_dir / "churn-cost.png",
                    "churn: server CPU per connection (connect + one request + close)",
                    cpu,
                    "CPU us / connection",
                )
            )
        if workload == "idle":
            series = {
                r.model: ([s.held for s in r.idle.steps], [s.pss_mb for s in r.idle.steps])
                for r in rows
                if r.idle
            }
            paths.append(
                line_chart(
                    out_dir / "idle-memory.png",
                    "idle: server memory (PSS, whole tree)",
                    series,
                    "idle keep-alive connections held",
                    "MiB",
                )
            )
    return drawn
