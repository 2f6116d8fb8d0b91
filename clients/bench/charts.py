"""The bench's PNG charts, drawn with the shared helpers of :mod:`clients.bench.report`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clients.bench import report
from clients.bench.analysis import best_rps

log = logging.getLogger(__name__)


def _by_workload(runs: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        if not run.get("failed"):
            out.setdefault(run["workload"], []).append(run)
    return out


def draw_all(runs: Sequence[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Every chart the runs allow; returns the files written."""
    paths: list[Path] = []
    for workload, rows in _by_workload(runs).items():
        rows = sorted(rows, key=lambda r: -(best_rps(r) or 0))
        names = [r["model"] for r in rows]
        paths.append(
            report.bar_chart(
                out_dir / f"throughput-{workload}.png",
                f"{workload}: throughput",
                names,
                [best_rps(r) for r in rows],
                "requests/s",
            )
        )
        lat = {r["model"]: r["latency_ms"] for r in rows if r.get("latency_ms")}
        if lat:
            paths.append(
                report.percentile_chart(
                    out_dir / f"latency-{workload}.png", f"{workload}: latency percentiles", lat
                )
            )
        cpu = [r.get("server_cpu_us_per_req") for r in rows]
        if any(c is not None for c in cpu):
            paths.append(
                report.bar_chart(
                    out_dir / f"cpu-per-request-{workload}.png",
                    f"{workload}: server CPU per request",
                    names,
                    cpu,
                    "CPU us / request",
                )
            )
        if workload == "io-wait":
            ideal = rows[0].get("ideal_rps") or 10_000
            paths.append(
                report.bar_chart(
                    out_dir / "io-wait-efficiency.png",
                    "io-wait: efficiency",
                    names,
                    [100 * (best_rps(r) or 0) / ideal for r in rows],
                    "% of ideal",
                    hline=(90, "90% target"),
                )
            )
        if workload == "churn":
            paths.append(
                report.bar_chart(
                    out_dir / "churn-cost.png",
                    "churn: server CPU per connection (connect + one request + close)",
                    names,
                    cpu,
                    "CPU us / connection",
                )
            )
        if workload == "idle":
            series = {}
            for r in rows:
                steps = (r.get("idle") or {}).get("steps", [])
                series[r["model"]] = ([s["held"] for s in steps], [s.get("pss_mb") for s in steps])
            paths.append(
                report.line_chart(
                    out_dir / "idle-memory.png",
                    "idle: server memory (PSS, whole tree)",
                    series,
                    "idle keep-alive connections held",
                    "MiB",
                )
            )
    return paths
