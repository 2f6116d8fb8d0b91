"""``iomodels compare``: the same headless Locust scenario against each model in turn, one report."""

from __future__ import annotations

import argparse
import sys

from loadtests.cli_common import (
    add_headless_args,
    add_scenario_args,
    classes_of,
    ramp_too_long,
    timestamp,
)


def configure(parser: argparse.ArgumentParser) -> None:
    from common.argtypes import add_names_argument
    from servers.registry import model_names, runnable_model_names

    add_names_argument(
        parser,
        "--models",
        model_names(),
        "model",
        default=runnable_model_names(),
        help="models to compare, in order (default: all that run here)",
    )
    add_scenario_args(parser, model=False)
    add_headless_args(parser)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from common.bench_lock import bench_lock
    from loadtests.cli_loadtest import headless_run, scenario_of
    from loadtests.compare_report import results_table, write_report
    from loadtests.launch import sigterm_as_interrupt

    if why := ramp_too_long(args):
        print(f"iomodels compare: error: {why}", file=sys.stderr)
        return 2
    console = Console(width=None if sys.stdout.isatty() else 160)
    out_dir = args.results_dir / f"compare-{timestamp()}"
    scenario = {**scenario_of(args), "classes": " ".join(classes_of(args))}
    results = []
    with sigterm_as_interrupt():
        try:
            with bench_lock(f"iomodels compare --models {' '.join(args.models)}"):
                for model in args.models:
                    console.print(
                        f"[bold]{model}[/]: fresh server, {scenario['users']} users for {args.duration}"
                    )
                    results.append(headless_run(args, model, out_dir / model))
        except KeyboardInterrupt:
            console.print("interrupted: reporting the finished models only")
    if not results:
        return 130
    report_path = write_report(out_dir, results, scenario)
    console.print(results_table("Locust comparison", results))
    console.print(f"report: {report_path} (charts and per-model Locust reports next to it)")
    return 0 if all(r.get("failures", 1) == 0 for r in results) else 1
