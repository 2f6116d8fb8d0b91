"""The comparison report: where it comes from, one row per model, what the latencies mean, the charts.

Tables, charts, styles and provenance come from :mod:`reporting`, as the bench's do.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from loadtests.loader_cpu import BOUND_SHARE
from loadtests.scenario import IO_MS, LOADER_BOUND_PCT, WEBSITE_MIX, share
from reporting import provenance
from reporting.charts import Bar, bar_chart, percentile_chart
from reporting.formats import PERCENTILES, fmt_ms, fmt_num
from reporting.tables import markdown_table, rich_table

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


def row(result: Mapping[str, Any]) -> list[str]:
    """The table cells of one run."""
    return [
        str(result.get("model", "?")),
        fmt_num(result.get("rps")),
        fmt_num(result.get("failures")),
        fmt_ms(result.get("p50_ms")),
        fmt_ms(result.get("p99_ms")),
        fmt_ms(result.get("max_ms")),
        fmt_num(result.get("server_cpu_mean_pct")),
        fmt_num(result.get("server_rss_peak_mb"), 1),
        fmt_num(result.get("server_processes_peak")),
        fmt_num(result.get("server_threads_peak")),
        fmt_num(result.get("server_connections_peak")),
        fmt_num(result.get("loader_cpu_busiest_mean_pct")),
        "YES" if result.get("loader_bound") else "no",
    ]


def results_table(title: str, results: Sequence[Mapping[str, Any]]) -> Any:
    """A rich table for the terminal."""
    return rich_table(title, HEADERS, [row(r) for r in results])


def io_wait_ms(scenario: Mapping[str, Any]) -> int:
    """The wait of ``GET /io?ms=N`` in this scenario: ``--io-ms`` of its Locust arguments, or the default."""
    args = shlex.split(str(scenario.get("locust_args") or ""))
    for index, arg in enumerate(args):
        if arg == "--io-ms" and index + 1 < len(args):
            return int(args[index + 1])
        if arg.startswith("--io-ms="):
            return int(arg.split("=", 1)[1])
    return IO_MS


def classes_of(scenario: Mapping[str, Any]) -> list[str]:
    classes = scenario.get("classes") or []
    return classes.split() if isinstance(classes, str) else list(classes)


def latency_note(scenario: Mapping[str, Any]) -> str:
    """Why the latency percentiles flatten at the ``/io`` wait, when the scenario asks for it."""
    ms = io_wait_ms(scenario)
    classes = classes_of(scenario)
    if "WebsiteUser" in classes:
        io_share = share("io")
        weights = ", ".join(f"{task} {weight}" for task, weight in WEBSITE_MIX.items())
        return (
            f"**Why the latency chart flattens at {ms} ms.** WebsiteUser picks `GET /io?ms={ms}` for "
            f"{io_share:.0%} of its tasks (weights: {weights}), and the server waits {ms} ms on each "
            f"by design. So from about p{100 * (1 - io_share):.0f} up, every model's percentiles sit at "
            f"{ms} ms or just above it: the plateau is the wait asked for, not a limit of the server. "
            f"Compare the models below it, and by how much their tail rises above it."
        )
    if "IoUser" in classes:
        return (
            f"**Every request waits {ms} ms.** IoUser only asks `GET /io?ms={ms}`: latencies start "
            f"at {ms} ms by design; what a model adds shows above it."
        )
    return ""


def loader_chart(path: Path, models: Sequence[str], results: Sequence[Mapping[str, Any]]) -> Path:
    """The loader-bound rule as it is judged: the share of the samples with Locust saturated.

    A run is loader-bound when the busiest Locust process sat at or above the
    threshold (80% CPU) in at least a quarter of the samples: the bars are that
    share, the line that quarter, so a bar reaching the line is a YES.
    """
    threshold = float(results[0].get("loader_cpu_threshold_pct") or LOADER_BOUND_PCT)
    return bar_chart(
        path,
        f"Samples with the busiest Locust process at >= {threshold:g}% CPU",
        [
            Bar(m, _pct(r.get("loader_saturated_share")))
            for m, r in zip(models, results, strict=True)
        ],
        "% of the samples while users ran",
        hline=(BOUND_SHARE * 100, "loader-bound from here"),
    )


def _pct(share: Any) -> float | None:
    return None if share is None else round(float(share) * 100, 1)


def write_report(
    out_dir: Path, results: Sequence[dict[str, Any]], scenario: dict[str, Any]
) -> Path:
    """``report.md``, ``results.json`` and the PNG charts in ``out_dir``; returns the markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    origin = provenance.describe()
    (out_dir / "results.json").write_text(
        json.dumps(
            {"provenance": origin.to_dict(), "scenario": scenario, "results": list(results)},
            indent=2,
            default=str,
        )
        + "\n"
    )
    models = [str(r.get("model")) for r in results]
    io_ms = io_wait_ms(scenario)
    plateau = (io_ms, f"GET /io?ms={io_ms} waits") if latency_note(scenario) else None
    charts = [
        bar_chart(
            out_dir / "rps.png",
            "Locust requests/s",
            [Bar(m, r.get("rps"), bool(r.get("loader_bound"))) for m, r in zip(models, results, strict=True)],
            "req/s",
        ),
        percentile_chart(
            out_dir / "latency.png",
            "Locust response times (closed loop, no coordinated-omission correction)",
            {m: {k: r.get(f"{k}_ms") for k, _ in PERCENTILES} for m, r in zip(models, results, strict=True)},
            hline=plateau,
        ),
        bar_chart(
            out_dir / "server_cpu.png",
            "Server CPU, mean over the run",
            [Bar(m, r.get("server_cpu_mean_pct")) for m, r in zip(models, results, strict=True)],
            "% of one core",
        ),
        bar_chart(
            out_dir / "server_rss.png",
            "Server RSS, peak (all processes)",
            [Bar(m, r.get("server_rss_peak_mb")) for m, r in zip(models, results, strict=True)],
            "MB",
        ),
        loader_chart(out_dir / "loader_cpu.png", models, results),
    ]  # fmt: skip
    bound = [m for m, r in zip(models, results, strict=True) if r.get("loader_bound")]
    note = latency_note(scenario)
    lines = [
        "# Locust comparison",
        "",
        *provenance.markdown_lines(origin),
        "- Scenario: " + ", ".join(f"{k}={v}" for k, v in scenario.items()),
        "",
        markdown_table(HEADERS, [row(r) for r in results]),
        (
            f"**Loader-bound runs: {', '.join(bound)}.** Locust was saturated there: their request "
            "rate measures Locust, not the server (a floor: hatched and marked ≥ in the chart). "
            "Re-run with `--processes N` (make: PROCESSES=N) or compare with `make bench`."
            if bound
            else "No run was loader-bound: the busiest Locust process stayed under the threshold."
        ),
        "",
        *([note, ""] if note else []),
        *(f"![{path.stem}]({path.name})" for path in charts),
        "",
    ]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
