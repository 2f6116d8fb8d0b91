"""``iomodels loadtest``: one headless Locust run against a fresh server, saved under ``results/``."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from loadtests.cli_common import (
    add_headless_args,
    add_scenario_args,
    classes_of,
    headless_spec,
    ramp_too_long,
    timestamp,
)


def configure(parser: argparse.ArgumentParser) -> None:
    from loadtests import across_hosts

    add_scenario_args(parser)
    add_headless_args(parser)
    across_hosts.add_arguments(parser)


def headless_run(
    args: argparse.Namespace, model: str, out_dir: Path, host: str = ""
) -> dict[str, Any]:
    """Start a fresh server of ``model`` (unless ``host``), run Locust headless into ``out_dir``, read it back."""
    from loadtests.launch import run_locust, target_server

    with target_server(model, args.protocol, host, args.server_arg) as (url, server):
        out_dir.mkdir(parents=True, exist_ok=True)  # only once there is something to measure
        spec = headless_spec(
            args,
            url,
            out_dir,
            server_pid=server.pid if server else 0,
            processes=args.processes,
        )
        code = run_locust(spec.command())
    return record(args, out_dir, code, spec.command(), url, model=model, host=host)


def across_hosts_run(args: argparse.Namespace, model: str, out_dir: Path) -> dict[str, Any]:
    """The same run with the server, the master and each worker on a test host of its own."""
    from loadtests.across_hosts import run_across_hosts

    code, command, url = run_across_hosts(args, model, out_dir, processes=args.processes)
    scenario = {"test_hosts": args.test_hosts, "link_rate_bits": args.link_rate}
    return record(args, out_dir, code, command, url, model=model, more=scenario)


def record(
    args: argparse.Namespace,
    out_dir: Path,
    code: int,
    command: list[str],
    url: str,
    *,
    model: str,
    host: str = "",
    more: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Read a finished run back from ``out_dir``, add how it was made, save it as ``run.json``."""
    from loadtests.results import read_run

    result = read_run(out_dir)
    result.update(
        host=url,
        model=model if not host else result.get("model", host),
        locust_exit_code=code,
        command=command,
        scenario={**scenario_of(args), **(more or {})},
    )
    (out_dir / "run.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def scenario_of(args: argparse.Namespace) -> dict[str, Any]:
    """The Locust scenario a run used, as recorded in its results."""
    return {
        "classes": classes_of(args),
        "users": args.users,
        "spawn_rate": args.spawn_rate,
        "duration": args.duration,
        "processes": args.processes,
        "protocol": args.protocol,
        "locust_args": args.locust_args,
    }


def run_label(args: argparse.Namespace) -> str:
    """What a run's results folder is named after: the model served, or the host given."""
    if not args.host:
        return str(args.model)
    return "host-" + re.sub(r"[^A-Za-z0-9.]+", "-", args.host.split("://", 1)[-1]).strip("-")


def nothing_answered(result: dict[str, Any]) -> str:
    """Why a run measured nothing (no request answered), in one line; "" when some were."""
    requests, failures = result.get("requests", 0), result.get("failures", 0)
    if requests and requests > failures:
        return ""
    kinds = result.get("failure_kinds") or {}
    code = result.get("locust_exit_code")
    if not requests and code:
        return f"Locust exited {code} before sending a request (its reason is in locust.log)"
    cause = next(iter(kinds), "no request was sent")
    return (
        f"the host {result.get('host', '?')} does not answer: {failures:,} of {requests:,} "
        f"requests failed ({cause}); no throughput to report"
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from common.bench_lock import bench_lock
    from loadtests.across_hosts import refusal
    from loadtests.compare_report import results_table
    from loadtests.launch import sigterm_as_interrupt

    problem = refusal(args)
    if problem:
        print(f"iomodels loadtest: error: {problem}", file=sys.stderr)
        return 2
    if why := ramp_too_long(args):
        print(f"iomodels loadtest: error: {why}", file=sys.stderr)
        return 2
    out_dir = args.results_dir / f"locust-{run_label(args)}-{timestamp()}"
    with sigterm_as_interrupt():
        try:
            with bench_lock(f"iomodels loadtest --model {args.model}"):
                if args.test_hosts:
                    result = across_hosts_run(args, args.model, out_dir)
                else:
                    result = headless_run(args, args.model, out_dir, args.host)
        except KeyboardInterrupt:
            print(f"interrupted; partial results in {out_dir}")
            return 130
    if why := nothing_answered(result):
        print(f"iomodels loadtest: {why}", file=sys.stderr)
        print(f"results: {out_dir}/ (locust.log, locust_failures.csv)")
        return 1
    Console(width=None if sys.stdout.isatty() else 160).print(
        results_table(f"Locust, {run_label(args)}", [result])
    )
    print(f"results: {out_dir}/ (report.html, locust_*.csv, stats.json, summary.json, run.json)")
    return int(result["locust_exit_code"])
