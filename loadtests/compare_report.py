"""The comparison report: one row per model, tables and charts from ``clients.bench.report``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clients.bench import report

HEADERS = [
    "model",
    "req/s",
    "failures",
    "p50 ms",
    "p99 ms",
    "max ms",
    "server CPU %",
    "server RSS MB",
    "processes",
    "threads",
    "connections",
    "Locust CPU %",
    "loader-bound",
]


def row(result: dict[str, Any]) -> list[str]:
    """The table cells of one run."""
    return [
        str(result.get("model", "?")),
        report.fmt_num(result.get("rps")),
        report.fmt_num(result.get("failures")),
        report.fmt_ms(result.get("p50_ms")),
        report.fmt_ms(result.get("p99_ms")),
        report.fmt_ms(result.get("max_ms")),
        report.fmt_num(result.get("server_cpu_mean_pct")),
        report.fmt_num(result.get("server_rss_peak_mb"), 1),
        report.fmt_num(result.get("server_processes_peak")),
        report.fmt_num(result.get("server_threads_peak")),
        report.fmt_num(result.get("server_connections_peak")),
        report.fmt_num(result.get("loader_cpu_busiest_mean_pct")),
        "YES" if result.get("loader_bound") else "no",
    ]


def results_table(title: str, results: Sequence[dict[str, Any]]) -> Any:
    """A rich table for the terminal."""
    return report.rich_table(title, HEADERS, [row(r) for r in results])


def write_report(
    out_dir: Path, results: Sequence[dict[str, Any]], scenario: dict[str, Any]
) -> Path:
    """``report.md``, ``results.json`` and the PNG charts in ``out_dir``; returns the markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(
        json.dumps({"scenario": scenario, "results": list(results)}, indent=2, default=str) + "\n"
    )
    models = [str(r.get("model")) for r in results]
    charts = {
        "rps.png": report.bar_chart(
            out_dir / "rps.png",
            "Locust requests/s",
            models,
            [r.get("rps") for r in results],
            "req/s",
        ),
        "latency.png": report.percentile_chart(
            out_dir / "latency.png",
            "Locust response times (closed loop, no coordinated-omission correction)",
            {
                m: {k: r.get(f"{k}_ms") for k, _ in report.PERCENTILES}
                for m, r in zip(models, results, strict=True)
            },
        ),
        "server_cpu.png": report.bar_chart(
            out_dir / "server_cpu.png",
            "Server CPU, mean over the run",
            models,
            [r.get("server_cpu_mean_pct") for r in results],
            "% of one core",
        ),
        "server_rss.png": report.bar_chart(
            out_dir / "server_rss.png",
            "Server RSS, peak (all processes)",
            models,
            [r.get("server_rss_peak_mb") for r in results],
            "MB",
        ),
        "loader_cpu.png": report.bar_chart(
            out_dir / "loader_cpu.png",
            "Busiest Locust process CPU, mean",
            models,
            [r.get("loader_cpu_busiest_mean_pct") for r in results],
            "% of one core",
            hline=(float(results[0].get("loader_cpu_threshold_pct") or 80.0), "loader-bound above"),
        ),
    }
    bound = [m for m, r in zip(models, results, strict=True) if r.get("loader_bound")]
    lines = [
        "# Locust comparison",
        "",
        "Scenario: " + ", ".join(f"{k}={v}" for k, v in scenario.items()),
        "",
        report.markdown_table(HEADERS, [row(r) for r in results]),
        (
            f"**Loader-bound runs: {', '.join(bound)}.** Locust was saturated there: their request "
            "rate measures Locust, not the server. Re-run with `--workers N` or compare with `make bench`."
            if bound
            else "No run was loader-bound: the busiest Locust process stayed under the threshold."
        ),
        "",
        *(f"![{name}]({name})" for name in charts),
        "",
    ]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
