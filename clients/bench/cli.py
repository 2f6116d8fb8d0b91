"""``iomodels bench``: every model x workload against a fresh server, with a report and charts.

Writes ``results/<UTC timestamp>/`` with results.json, results.csv, report.md and PNG charts.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

QUICK_DURATION = 1.0
QUICK_WARMUP = 0.3


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", default="", help="comma-separated models (default: all)")
    parser.add_argument("--workloads", default="", help="comma-separated workloads (default: all)")
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds measured per run (default 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=None, help="seconds of warm-up per run (default 1)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run of the whole matrix (< 4 min)"
    )
    parser.add_argument("--no-references", action="store_true", help="measure the models only")
    parser.add_argument(
        "--no-wrk", action="store_true", help="skip the wrk cross-check even if installed"
    )
    parser.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    parser.add_argument(
        "--server-cpus", default="", help="CPUs for the server (default: the first)"
    )
    parser.add_argument(
        "--loader-cpus", default="", help="CPUs for the loader (default: the others)"
    )
    parser.add_argument(
        "--idle-steps", default="", help="idle connection steps (default 0,500,...,10000)"
    )
    parser.add_argument(
        "--out", default="results", help="where to create the timestamped directory"
    )


def options_from_args(args: argparse.Namespace) -> Any:
    from clients.bench.harness import Options
    from clients.bench.placement import parse_cpus
    from clients.bench.targets import MODELS, TARGETS
    from clients.bench.workloads import IDLE_STEPS, IDLE_STEPS_QUICK, select

    models = [m for m in args.models.replace(",", " ").split()] or list(MODELS)
    unknown = [m for m in models if m not in TARGETS]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(TARGETS)}")
    duration = (
        args.duration if args.duration is not None else (QUICK_DURATION if args.quick else 10.0)
    )
    warmup = args.warmup if args.warmup is not None else (QUICK_WARMUP if args.quick else 1.0)
    if duration <= 0 or warmup < 0:
        raise ValueError("--duration must be positive and --warmup not negative")
    steps = (
        tuple(int(s) for s in args.idle_steps.split(","))
        if args.idle_steps
        else (IDLE_STEPS_QUICK if args.quick else IDLE_STEPS)
    )
    return Options(
        models=models,
        workloads=select(args.workloads),
        duration=duration,
        warmup=warmup,
        quick=args.quick,
        references=not args.no_references,
        use_wrk=not args.no_wrk,
        server_cpus=parse_cpus(args.server_cpus),
        loader_cpus=parse_cpus(args.loader_cpus),
        idle_steps=steps,
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from clients.bench import harness, machine, shared_state, wrk
    from clients.bench.placement import plan
    from clients.bench.results import new_dir, write_all
    from clients.loadgen.runner import raise_fd_limit

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    console = Console(stderr=True)
    try:
        opts = options_from_args(args)
    except ValueError as exc:
        console.print(f"iomodels bench: error: {exc}")
        return 2
    raise_fd_limit()  # servers inherit it: the idle workload needs 10,000+ sockets
    if opts.use_wrk and not wrk.available():
        opts.notes.append(
            "wrk is not installed: no cross-check of the HTTP figures (sudo apt-get install wrk)"
        )
        opts.use_wrk = False
    if len(os.sched_getaffinity(0)) < 2:
        opts.notes.append(
            "one CPU only: server and loader share it, so throughput figures are pessimistic"
        )
    opts.cpu_n = harness.calibrate_cpu_n()
    shared_counter = (
        shared_state.measure()
    )  # threads and a shared variable, with and without a lock
    jobs = harness.build_jobs(opts)
    for note in opts.notes:
        console.print(f"[yellow]note:[/] {note}")
    info = machine.describe()
    info.update(
        {
            "placement": plan(opts.server_cpus or None, opts.loader_cpus or None).describe()
            + "; the cpu workload gives the server every CPU",
            "command": (
                "iomodels bench "
                + shlex.join(sys.argv[2:] if sys.argv[1:2] == ["bench"] else sys.argv[1:])
            ).strip(),
            "duration_s": opts.duration,
            "warmup_s": opts.warmup,
            "quick": opts.quick,
            "cpu_n": opts.cpu_n,
            "cpu_ms": _cpu_ms(opts.cpu_n),
            "shared_counter": shared_counter,
            "models": opts.models,
            "workloads": [w.name for w in opts.workloads],
        }
    )
    out = new_dir(Path(args.out))
    total = sum(harness.estimate(j, opts) for j in jobs)
    console.print(f"{len(jobs)} runs, about {total / 60:.1f} min; results in {out}/")
    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[step]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("bench", total=total, step="")

        def on_start(job: harness.Job, i: int) -> None:
            progress.update(task, description=f"{job.title}", step=f"{i + 1}/{len(jobs)}")

        def on_done(job: harness.Job, row: dict[str, Any]) -> None:
            progress.advance(task, harness.estimate(job, opts))
            progress.console.print(_one_line(row))

        rows = harness.run_all(opts, on_start, on_done)
    report, verdicts = write_all(out, info, rows, opts.notes, charts=not args.no_charts)
    _print_summary(console, rows, verdicts)
    console.print(f"done in {(time.monotonic() - started) / 60:.1f} min: [bold]{report}[/]")
    return 1 if any(r.get("failed") for r in rows) else 0


def _cpu_ms(n: int) -> float:
    from servers.protocol.cpu import cpu_work

    t0 = time.perf_counter()
    cpu_work(n)
    return (time.perf_counter() - t0) * 1000


def _one_line(row: dict[str, Any]) -> str:
    from clients.bench.report import fmt_ms, fmt_num

    name = f"{row['workload']:>9} {row['model']:<18}"
    if row.get("failed"):
        return f"{name} [red]failed[/]: {str(row['failed']).splitlines()[0][:100]}"
    if row.get("idle"):
        idle = row["idle"]
        kib = idle.get("per_conn_kib")
        return (
            f"{name} held {fmt_num(idle.get('max_held'))}, "
            f"{'-' if kib is None else f'{kib:.1f}'} KiB/conn, p99 x{idle.get('p99_ratio') or 0:.2f}"
            + (f", [yellow]limit at {idle['limit']['held']}[/]" if idle.get("limit") else "")
        )
    lat = row.get("latency_ms") or {}
    cpu = row.get("server_cpu_us_per_req")
    text = (
        f"{name} {fmt_num(row.get('rps')):>9} req/s  {'-' if cpu is None else f'{cpu:6.1f}'} us/req  "
        f"p99 {fmt_ms(lat.get('p99'))} ms  loader {row.get('loader_cpu_pct') or 0:.0f}%"
    )
    if row.get("wrk"):
        text += f"  wrk {fmt_num(row['wrk'].get('rps'))} req/s"
    if row.get("loader_bound"):
        text += " [yellow](loader-bound)[/]"
    if row.get("errors"):
        text += f" [red]{row['errors']} errors {row.get('error_kinds')}[/]"
    return text


def _print_summary(console: Any, rows: list[dict[str, Any]], verdicts: list[Any]) -> None:
    from clients.bench.report import rich_table

    table = rich_table(
        "verdicts",
        ["claim", "target", "measured", "holds"],
        [
            [v.claim, v.target, v.measured, {True: "yes", False: "NO", None: "-"}[v.holds]]
            for v in verdicts
        ],
        align="llll",
    )
    console.print(table)
