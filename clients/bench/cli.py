"""``iomodels bench``: every model x workload against a fresh server, with a report and charts.

Writes ``results/<UTC timestamp>/`` with results.json, results.csv, report.md and PNG charts.
``--render DIR`` writes DIR's report again from its results.json, or with ``--to PAGE``
a docs page (``docs/results.md``) with its charts beside it; nothing is measured.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.argtypes import add_names_argument

if TYPE_CHECKING:
    from clients.bench.records import Run

QUICK_DURATION = 1.0
QUICK_WARMUP = 0.3


def configure(parser: argparse.ArgumentParser) -> None:
    from clients.bench.experiments import EXPERIMENTS
    from clients.bench.targets import MODELS, TARGETS
    from clients.bench.workloads import GROUPS, WORKLOADS

    add_names_argument(
        parser,
        "--models",
        TARGETS,
        "model",
        default=list(MODELS),
        help="models and reference servers to measure, in order",
    )
    add_names_argument(
        parser,
        "--workloads",
        dict.fromkeys([*WORKLOADS, *GROUPS, *EXPERIMENTS]),
        "workload",
        help="workloads and experiments to run (shared-state always runs: it takes 0.3 s)",
    )
    parser.add_argument(
        "--duration", type=float, default=None, help="seconds measured per run (default 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=None, help="seconds of warm-up per run (default 1)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short smoke run of the whole matrix (about 12 min: it prints its estimate)",
    )
    parser.add_argument(
        "--no-references",
        action="store_true",
        help="measure the models only (by default each workload's reference servers join them, "
        "and the report lists which)",
    )
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
    parser.add_argument(
        "--render",
        metavar="RESULTS_DIR",
        type=Path,
        help="measure nothing: write RESULTS_DIR/report.md again from its results.json",
    )
    parser.add_argument(
        "--to",
        metavar="PAGE",
        type=Path,
        help="with --render: write this page instead (docs/results.md; charts go to docs/results/)",
    )
    parser.add_argument(
        "--claims-zh",
        metavar="PAGE",
        type=Path,
        help="with --render: write the article's claims, in Chinese, to this page "
        "(docs/claims.zh.md; charts go to docs/claims.zh/); with --to, both pages",
    )
    parser.add_argument(
        "--crawl",
        metavar="CRAWL_DIR",
        type=Path,
        help="with --claims-zh: the crawl-bench results folder answering the crawl claims",
    )


def options_from_args(args: argparse.Namespace) -> tuple[Any, list[str]]:
    """The run's options, and the notes its report opens with (what it will leave out and why)."""
    from clients.bench import wrk
    from clients.bench.experiments import EXPERIMENTS
    from clients.bench.harness import Options
    from clients.bench.placement import parse_cpus
    from clients.bench.targets import MODELS
    from clients.bench.workloads import GROUPS, IDLE_STEPS, IDLE_STEPS_QUICK, WORKLOADS

    models = list(args.models) or list(MODELS)
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
    notes = []
    use_wrk = not args.no_wrk and wrk.available()
    if not args.no_wrk and not use_wrk:
        notes.append(
            "wrk is not installed: no cross-check of the HTTP figures (sudo apt-get install wrk)"
        )
    if len(os.sched_getaffinity(0)) < 2:
        notes.append(
            "one CPU only: server and loader share it, so throughput figures are pessimistic"
        )
    # a group and its members both named (the default names everything): each runs once
    named = list(dict.fromkeys(n for given in args.workloads for n in GROUPS.get(given, (given,))))
    opts = Options(
        models=models,
        workloads=[WORKLOADS[n] for n in named if n in WORKLOADS],
        experiments=[n for n in EXPERIMENTS if n in named or n == "shared-state"],
        duration=duration,
        warmup=warmup,
        quick=args.quick,
        references=not args.no_references,
        use_wrk=use_wrk,
        server_cpus=parse_cpus(args.server_cpus),
        loader_cpus=parse_cpus(args.loader_cpus),
        idle_steps=steps,
    )
    return opts, notes


def render(args: argparse.Namespace) -> int:
    """``--render``: a report or a docs page from a results.json."""
    from clients.bench.results import render_results

    for folder in (args.render, args.crawl):
        if folder is not None and not (folder / "results.json").is_file():
            print(f"iomodels bench: error: no results.json in {folder}", file=sys.stderr)
            return 2
    if args.claims_zh is not None:
        from clients.bench.claims_zh import write_page

        print(write_page(args.claims_zh, args.render, args.crawl, charts=not args.no_charts))
    if args.to is not None or args.claims_zh is None:
        print(render_results(args.render, args.to, charts=not args.no_charts))
    return 0


def run(args: argparse.Namespace) -> int:
    for flag, given in (("--to", args.to), ("--claims-zh", args.claims_zh)):
        if given is not None and args.render is None:
            print(f"iomodels bench: error: {flag} needs --render RESULTS_DIR", file=sys.stderr)
            return 2
    if args.crawl is not None and args.claims_zh is None:
        print("iomodels bench: error: --crawl needs --claims-zh PAGE", file=sys.stderr)
        return 2
    if args.render is not None:
        return render(args)
    from common.bench_lock import bench_lock

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        opts, notes = options_from_args(args)
    except ValueError as exc:
        print(f"iomodels bench: error: {exc}", file=sys.stderr)
        return 2
    with bench_lock(_command_line()):
        return _measure(args, opts, notes)


def _command_line() -> str:
    """The command as typed, for the report and for whoever waits for the lock."""
    words = sys.argv[2:] if sys.argv[1:2] == ["bench"] else sys.argv[1:]
    return ("iomodels bench " + shlex.join(words)).strip()


def _measure(args: argparse.Namespace, opts: Any, notes: list[str]) -> int:
    """Run the whole matrix (the bench lock is held) and write the results directory.

    Ctrl-C stops it between two measurements: the runs finished by then are
    written and rendered as any run's are, and it exits 130.
    """
    import dataclasses

    from rich.console import Console

    from clients.bench import experiments, harness, machine
    from clients.bench.placement import plan
    from clients.bench.results import new_dir, write_all
    from common.fd_limit import raise_fd_limit

    console = Console(stderr=True, soft_wrap=True)  # piped: plain lines, never wrapped
    raise_fd_limit()  # servers inherit it: the idle workload needs 10,000+ sockets
    opts = dataclasses.replace(opts, cpu_n=harness.calibrate_cpu_n())
    jobs = harness.build_jobs(opts, notes)
    chosen = [experiments.EXPERIMENTS[name] for name in opts.experiments]
    for e in chosen:
        if e.models and not set(e.models) & set(opts.models):
            notes.append(
                f"{e.name} skipped: it counts {', '.join(e.models)}, none of them asked for"
            )
    chosen = [e for e in chosen if not e.models or set(e.models) & set(opts.models)]
    for note in notes:
        console.print(f"[yellow]note:[/] {note}")
    info = machine.describe()
    info.update(
        {
            "placement": plan(opts.server_cpus or None, opts.loader_cpus or None).describe()
            + "; the cpu workload gives the server every CPU",
            "command": _command_line(),
            "duration_s": opts.duration,
            "warmup_s": opts.warmup,
            "quick": opts.quick,
            "cpu_n": opts.cpu_n,
            "cpu_ms": _cpu_ms(opts.cpu_n),
            "models": list(opts.models),
            "workloads": [w.name for w in opts.workloads],
        }
    )
    out = new_dir(Path(args.out))
    total = sum(harness.estimate(j, opts) for j in jobs)
    total += sum(e.seconds[opts.quick] for e in chosen)
    console.print(
        f"{len(jobs)} runs and {len(chosen)} experiments, about {total / 60:.1f} min; "
        f"results in {out}/"
    )
    server_cpus = plan(opts.server_cpus or None, opts.loader_cpus or None).server_cpus
    rows: list[Run] = []
    started = time.monotonic()
    try:
        with _progress(console) as progress:
            task = progress.add_task("bench", total=total, step="")
            for e in chosen:  # before the harness moves to the loader CPUs: they place themselves
                progress.update(task, description=f"{e.name} experiment", step="")
                why = experiments.run(
                    e, out, quick=opts.quick, models=opts.models, server_cpus=server_cpus
                )
                progress.advance(task, e.seconds[opts.quick])
                done = "[red]failed[/]: " + why.splitlines()[0][:100] if why else "done"
                progress.console.print(f"{e.name} experiment {done}")
            with harness.on_loader_cpus(opts):
                for i, job in enumerate(jobs):
                    progress.update(task, description=job.title, step=f"{i + 1}/{len(jobs)}")
                    rows.append(harness.run_job(job, opts))
                    progress.advance(task, harness.estimate(job, opts))
                    progress.console.print(f"{i + 1:>3}/{len(jobs)} {_one_line(rows[-1])}")
    except KeyboardInterrupt:
        notes.append(
            f"interrupted (Ctrl-C) after {len(rows)} of {len(jobs)} runs: the rest were not measured"
        )
        write_all(out, info, rows, notes, charts=not args.no_charts)
        console.print(f"interrupted; partial results in {out}/")
        return 130
    report, verdicts = write_all(out, info, rows, notes, charts=not args.no_charts)
    _print_summary(console, verdicts)
    console.print(f"done in {(time.monotonic() - started) / 60:.1f} min: [bold]{report}[/]")
    return 1 if any(not r.ok for r in rows) else 0


def _progress(console: Any) -> Any:
    """A bar with the run going on and the ETA; none when piped (it would be redrawn into the pipe)."""
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[step]}"),
    )
    return Progress(
        *columns,
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )


def _cpu_ms(n: int) -> float:
    from servers.protocol.cpu import cpu_work

    t0 = time.perf_counter()
    cpu_work(n)
    return (time.perf_counter() - t0) * 1000


def _one_line(row: Run) -> str:
    from reporting.formats import fmt_ms, fmt_num

    name = f"{row.workload:>9} {row.model:<18}"
    if not row.ok:
        return f"{name} [red]failed[/]: {str(row.failed).splitlines()[0][:100]}"
    if row.idle:
        idle = row.idle
        kib = idle.per_conn_kib
        return (
            f"{name} held {fmt_num(idle.max_held)}, "
            f"{'-' if kib is None else f'{kib:.1f}'} KiB/conn, p99 x{idle.p99_ratio or 0:.2f}"
            + (f", [yellow]limit at {idle.limit.held}[/]" if idle.limit else "")
        )
    lat = row.latency_ms
    cpu = row.server_cpu_us_per_req
    text = (
        f"{name} {fmt_num(row.rps):>9} req/s  {'-' if cpu is None else f'{cpu:6.1f}'} us/req  "
        f"p99 {fmt_ms(lat.get('p99') if lat else None)} ms  loader {row.loader_cpu_pct or 0:.0f}%"
    )
    if row.wrk:
        text += f"  wrk {fmt_num(row.wrk.rps)} req/s"
    if row.loader_bound:
        text += " [yellow](loader-bound)[/]"
    if row.errors:
        text += f" [red]{row.errors} errors {row.error_kinds}[/]"
    return text


def _print_summary(console: Any, verdicts: list[Any]) -> None:
    from reporting.tables import rich_table

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
