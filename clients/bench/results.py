"""Writing a run's files: results.json, results.csv, report.md, charts."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clients.bench.analysis import Verdict, add_ratios, shared_state_verdict, verdicts
from clients.bench.predictions import add_predictions
from clients.bench.predictions import verdicts as pool_verdicts
from clients.bench.report import PERCENTILES

CSV_FIELDS = [
    "workload",
    "model",
    "reference",
    "rps",
    "mib_s",
    *(f"latency_{k}_ms" for k, _ in PERCENTILES),
    "errors",
    "server_cpu_us_per_req",
    "server_cpu_pct",
    "server_rss_mb",
    "server_processes",
    "server_threads",
    "loader_cpu_pct",
    "loader_bound",
    "of_bare",
    "vs_aiohttp",
    "wrk_rps",
    "wrk_p99_ms",
    "idle_per_conn_kib",
    "idle_max_held",
    "flagged",
]


def new_dir(root: Path) -> Path:
    """``root/<UTC timestamp>/`` (created)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = root / stamp
    path.mkdir(parents=True, exist_ok=False)
    return path


def csv_row(run: dict[str, Any]) -> dict[str, Any]:
    lat = run.get("latency_ms") or {}
    tasks = run.get("server_tasks") or {}
    wrk = run.get("wrk") or {}
    idle = run.get("idle") or {}
    return {
        **{k: run.get(k) for k in CSV_FIELDS},
        **{f"latency_{k}_ms": lat.get(k) for k, _ in PERCENTILES},
        "server_processes": tasks.get("processes"),
        "server_threads": tasks.get("threads"),
        "wrk_rps": wrk.get("rps"),
        "wrk_p99_ms": (wrk.get("latency_ms") or {}).get("p99"),
        "idle_per_conn_kib": idle.get("per_conn_kib"),
        "idle_max_held": idle.get("max_held"),
    }


def write_all(
    out: Path,
    machine: dict[str, Any],
    runs: list[dict[str, Any]],
    notes: Sequence[str],
    charts: bool = True,
) -> tuple[Path, list[Verdict]]:
    """Write every file into ``out``; returns report.md's path and the verdicts."""
    from clients.bench.render import render

    add_ratios(runs)
    add_predictions(runs)
    checked = verdicts(runs, machine.get("cpu_ms")) + pool_verdicts(runs)
    shared = shared_state_verdict(machine.get("shared_counter"))
    if shared is not None:
        checked.append(shared)
    doc = {
        "machine": machine,
        "runs": runs,
        "verdicts": [v.to_dict() for v in checked],
        "notes": list(notes),
    }
    (out / "results.json").write_text(json.dumps(doc, indent=1, default=str))
    with open(out / "results.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, CSV_FIELDS)
        writer.writeheader()
        writer.writerows(csv_row(r) for r in runs)
    paths: list[Path] = []
    if charts:
        from clients.bench.charts import draw_all

        paths = draw_all(runs, out)
    report = out / "report.md"
    report.write_text(render(machine, runs, checked, paths, notes))
    return report, checked
