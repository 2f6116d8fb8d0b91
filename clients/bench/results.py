"""A run's files (results.json, results.csv, report.md, charts), and pages rendered from them later.

The experiments have written their own files into the folder by then
(:mod:`clients.bench.experiments`). :func:`write_all` writes the rest at the end
of a run. :func:`render_results`
reads a results.json back and writes its report again, or a docs page
(``docs/results.md``) with its charts in a folder beside it, linked by relative path.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clients.bench import experiments
from clients.bench.claims import judge
from clients.bench.measures import Results, index, of_reference
from clients.bench.records import Experiments, Key, Run, Verdict
from reporting.formats import PERCENTILES

CSV_FIELDS = [
    "workload",
    "model",
    "reference",
    "point",
    "connections",
    "rps",
    "mib_s",
    *(f"latency_{k}_ms" for k, _ in PERCENTILES),
    "errors",
    "server_cpu_us_per_req",
    "server_cpu_pct",
    "server_minflt_per_req",
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
    "conn_kib",
    "refused",
    "background_rps",
    "flagged",
]


def new_dir(root: Path) -> Path:
    """``root/<UTC timestamp>/`` (created)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = root / stamp
    path.mkdir(parents=True, exist_ok=False)
    return path


def csv_row(run: Run, by: dict[Key, Run]) -> dict[str, Any]:
    data = run.to_dict()
    lat = run.latency_ms
    return {
        **{k: data.get(k) for k in CSV_FIELDS},
        "of_bare": of_reference(run, by, "ref-bare"),
        "vs_aiohttp": of_reference(run, by, "ref-aiohttp"),
        **{f"latency_{k}_ms": lat.get(k) if lat else None for k, _ in PERCENTILES},
        "server_processes": run.server_tasks.processes,
        "server_threads": run.server_tasks.threads,
        "wrk_rps": run.wrk.rps if run.wrk else None,
        "wrk_p99_ms": run.wrk.latency_ms.get("p99") if run.wrk else None,
        "idle_per_conn_kib": run.idle.per_conn_kib if run.idle else None,
        "idle_max_held": run.idle.max_held if run.idle else None,
    }


def check(
    machine: dict[str, Any], runs: Sequence[Run], found: Experiments | None = None
) -> list[Verdict]:
    """Every verdict the run answers."""
    return judge(Results(machine, runs, found or Experiments()))


def write_page(
    path: Path,
    machine: dict[str, Any],
    runs: Sequence[Run],
    checked: Sequence[Verdict],
    notes: Sequence[str],
    *,
    found: Experiments,
    chart_dir: Path | None,
    title: str = "iomodels benchmark",
    preface: str = "",
) -> Path:
    """Write a markdown page; its charts are drawn into ``chart_dir`` (none when None) and linked relatively."""
    from clients.bench.render import render

    links: dict[str, list[str]] = {}
    if chart_dir is not None:
        from clients.bench.charts import draw_all

        for workload, charts in draw_all(runs, chart_dir, found).items():
            links[workload] = [Path(os.path.relpath(c, path.parent)).as_posix() for c in charts]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        render(
            machine, runs, checked, links, notes, experiments=found, title=title, preface=preface
        )
    )
    return path


def write_all(
    out: Path,
    machine: dict[str, Any],
    runs: list[Run],
    notes: Sequence[str],
    charts: bool = True,
) -> tuple[Path, list[Verdict]]:
    """Write every file into ``out``; returns report.md's path and the verdicts."""
    found = experiments.load(out)
    checked = check(machine, runs, found)
    doc = {
        "machine": machine,
        "runs": [r.to_dict() for r in runs],
        "verdicts": [v.to_dict() for v in checked],
        "notes": list(notes),
    }
    (out / "results.json").write_text(json.dumps(doc, indent=1, default=str))
    with open(out / "results.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, CSV_FIELDS)
        writer.writeheader()
        by = index(runs)
        writer.writerows(csv_row(r, by) for r in runs)
    report = write_page(
        out / "report.md",
        machine,
        runs,
        checked,
        notes,
        found=found,
        chart_dir=out if charts else None,
    )
    return report, checked


def load(results_dir: Path) -> tuple[dict[str, Any], list[Run], list[str], Experiments]:
    """The machine block, the runs, the notes and the experiments of a run's folder.

    A results.json from before the experiments had files of their own holds them as runs.
    """
    doc = json.loads((results_dir / "results.json").read_text())
    raw = list(doc["runs"])
    old = experiments.from_old_runs(doc["machine"], raw)
    found = experiments.load(results_dir)
    if not (found.gil_switch or found.fork_cost or found.shared_state or found.syscalls):
        old.upstream = found.upstream  # an experiment that never was a run
        found = old
    return doc["machine"], [Run.from_dict(r) for r in raw], list(doc.get("notes", [])), found


def render_results(results_dir: Path, to: Path | None = None, charts: bool = True) -> Path:
    """Render ``results_dir/results.json`` again: its report.md (and charts), or the page ``to``.

    A page elsewhere (``docs/results.md``) gets its charts in a folder named after
    it (``docs/results/``), linked by relative path, and says how it was made.
    Verdicts are checked again from the runs, with the claims of this code.
    """
    machine, runs, notes, found = load(results_dir)
    checked = check(machine, runs, found)
    if to is None:
        return write_page(
            results_dir / "report.md",
            machine,
            runs,
            checked,
            notes,
            found=found,
            chart_dir=results_dir if charts else None,
        )
    preface = (
        f"The figures of one `iomodels bench` run, rendered from its `results.json` by "
        f"`iomodels bench --render {results_dir} --to {to}`: regenerate it, do not edit it. "
        "The commit, the date and the machine that produced them:"
    )
    return write_page(
        to,
        machine,
        runs,
        checked,
        notes,
        found=found,
        chart_dir=to.with_suffix("") if charts else None,
        title="Results",
        preface=preface,
    )
