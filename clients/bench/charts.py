"""The bench's PNG charts: per workload, the figures of its table, in the table's order.

A workload of one point per server gets bars and percentiles; a curve gets a
line per model over its axis (:func:`curve_charts`), and an experiment the chart
of its record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from clients.bench import capacity_report
from clients.bench.measures import curve
from clients.bench.records import Experiments, Run
from clients.bench.render import ordered
from clients.bench.workloads import WORKLOADS, conn_sweep_wait_ms
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


def draw_all(
    runs: Sequence[Run], out_dir: Path, experiments: Experiments | None = None
) -> dict[str, list[Path]]:
    """Every chart the runs and the experiments allow, by workload (or experiment); the files written."""
    found = experiments or Experiments()
    drawn: dict[str, list[Path]] = {}
    for workload in dict.fromkeys(r.workload for r in runs if r.ok):
        paths = drawn.setdefault(workload, [])
        known = WORKLOADS.get(workload)
        if known is not None and known.curve:
            paths += curve_charts(workload, runs, out_dir, found)
            continue
        if known is not None and known.mode == "rate-sweep":
            paths.append(capacity_report.rate_chart(workload, runs, out_dir))
            continue
        if known is not None and known.mode == "slow-clients":
            paths += capacity_report.slow_charts(runs, out_dir)
            continue
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
    if found.gil_switch is not None and "gil-switch" not in drawn:
        drawn["gil-switch"] = [_gil_chart(runs, out_dir, found)]
    if found.syscalls:  # counted, never timed: calls per request are its only figures
        drawn["syscalls"] = _syscall_charts(found, out_dir)
    if found.fork_cost is not None:
        drawn["fork-cost"] = [_fork_chart(found, out_dir)]
    return drawn


REFUSES = "hollow: refuses some connections there (503 at its cap)"
HELD = "GIL held by one of two spinning threads (median)"


def _syscall_charts(found: Experiments, out_dir: Path) -> list[Path]:
    """System calls per echoed message and per hello request: the syscalls table's two columns."""
    paths = []
    for counted, unit in (("echo-1k", "message"), ("hello", "request")):
        bars = [Bar(model, f.per_request.get(counted)) for model, f in found.syscalls.items()]
        if any(b.value is not None for b in bars):
            paths.append(
                bar_chart(
                    out_dir / f"syscalls-{counted}.png",
                    f"syscalls: system calls per {counted} {unit} (strace -c -f)",
                    bars,
                    f"system calls / {unit}",
                )
            )
    return paths


def _models(workload: str, runs: Sequence[Run]) -> list[str]:
    return list(
        dict.fromkeys(r.model for r in runs if r.workload == workload and r.point is not None)
    )


def _series(
    workload: str, runs: Sequence[Run], figure: Callable[[Run], float | None]
) -> dict[str, tuple[list[float], list[float | None]]]:
    """Per model, its curve's x and ``figure`` at each point."""
    out: dict[str, tuple[list[float], list[float | None]]] = {}
    for model in _models(workload, runs):
        rows = curve(runs, workload, model)
        if rows:
            out[model] = ([r.point or 0.0 for r in rows], [figure(r) for r in rows])
    return out


def _refusing(workload: str, runs: Sequence[Run]) -> dict[str, list[bool]]:
    return {m: [bool(r.refused) for r in curve(runs, workload, m)] for m in _models(workload, runs)}


def _cores(runs: Sequence[Run], workload: str) -> int | None:
    placed = next((r.placement for r in runs if r.workload == workload and r.placement), None)
    return len(placed.server_cpus) if placed else None


def curve_charts(
    workload: str, runs: Sequence[Run], out_dir: Path, found: Experiments | None = None
) -> list[Path]:
    """The charts of a curve workload (gil-switch's with the experiment's hand-overs beside)."""
    known = WORKLOADS[workload]
    ticks = known.points
    if workload == "conn-sweep":
        refusing = _refusing(workload, runs)

        def above_wait(r: Run) -> float | None:
            p99 = r.latency_ms.get("p99") if r.latency_ms else None
            return None if p99 is None else max(p99 - conn_sweep_wait_ms(r.point or 0), 0.01)

        charts = (
            ("conn-sweep-cpu.png", "server CPU per request (ideal 10,000 req/s at every point)",
             Run.cpu_us, "CPU us / request", False),
            ("conn-sweep-p99.png", "p99 latency above the wait (connections/10 ms)", above_wait,
             "p99 - wait, ms (log)", True),
            ("conn-sweep-memory.png", "server memory per connection (PSS growth / connections)",
             Run.memory_per_connection, "KiB / connection", False),
        )  # fmt: skip
        return [
            line_chart(
                out_dir / name,
                f"conn-sweep: {title}",
                _series(workload, runs, figure),
                "concurrent connections (log)",
                ylabel,
                logx=True,
                logy=logy,
                xticks=ticks,
                flagged=refusing,
                flag_label=REFUSES,
            )
            for name, title, figure, ylabel, logy in charts
        ]
    if workload == "cpu-sweep":
        cores = _cores(runs, workload)
        return [
            line_chart(out_dir / "cpu-sweep-rps.png",
                       "cpu-sweep: req/s of pure-Python work against workers",
                       _series(workload, runs, Run.served_rps),
                       "workers: processes, or threads (= requests in flight)", "requests/s",
                       logx=True, xticks=ticks,
                       vline=(cores, f"{cores} cores") if cores else None),
        ]  # fmt: skip
    if workload == "cpu-c":
        return [
            line_chart(out_dir / "cpu-c-cores.png",
                       "cpu-c: server CPU used on SHA-256 (C code releasing the GIL)",
                       _series(workload, runs, lambda r: (r.server_cpu_pct or 0) / 100 or None),
                       "concurrent clients", "server CPU (cores)", xticks=ticks,
                       hline=(1.0, "one core")),
        ]  # fmt: skip
    if workload == "gil-switch":
        return [_gil_chart(runs, out_dir, found or Experiments())]
    return []


def _gil_chart(runs: Sequence[Run], out_dir: Path, found: Experiments) -> Path:
    """GET / p99 of each thread model by switch interval, beside how long a thread holds the GIL."""
    series = _series(
        "gil-switch", runs, lambda r: r.latency_ms.get("p99") if r.latency_ms else None
    )
    probe = found.gil_switch
    if probe is not None:
        steps = probe.steps
        series[HELD] = ([s.interval_ms for s in steps], [s.median_ms for s in steps])
    return line_chart(
        out_dir / "gil-switch.png",
        "gil-switch: GET / p99 while /cpu keeps threads busy (a line per model)",
        series,
        "sys.setswitchinterval (ms, log)",
        "ms (log)",
        logx=True,
        logy=True,
        xticks=WORKLOADS["gil-switch"].points,
    )


def _fork_chart(found: Experiments, out_dir: Path) -> Path:
    cost = found.fork_cost
    sizes = sorted(cost.sizes, key=lambda s: s.rss_mib) if cost else []
    rss = [s.rss_mib for s in sizes]
    return line_chart(
        out_dir / "fork-cost.png",
        "fork-cost: CPU per fork (parent + child) against the parent's size",
        {
            "fork": (rss, [s.cpu_ms for s in sizes]),
            "fork, child reads every object": (rss, [s.touch_cpu_ms for s in sizes]),
        },
        "parent RSS (MiB, log)",
        "CPU ms per fork (log)",
        logx=True,
        logy=True,
        xticks=sorted({round(x) for x in rss}),
    )
