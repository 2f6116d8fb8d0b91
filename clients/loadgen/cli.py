"""``iomodels load`` / ``python -m clients.loadgen``: one load run against one server.

With ``--json``, prints one JSON object per line: ``{"event": "measure"}`` when the
measured window opens, ``{"event": "done"}`` when it closes, then the result. With
``--idle-steps``, it holds idle connections in steps and waits for a line on stdin
before each probe (the benchmark measures the server then).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from urllib.parse import urlsplit


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="http://HOST:PORT/PATH or echo://HOST:PORT")
    parser.add_argument(
        "-c", "--connections", type=int, default=10, help="concurrent connections (default 10)"
    )
    parser.add_argument(
        "-d", "--duration", type=float, default=10.0, help="seconds measured (default 10)"
    )
    parser.add_argument(
        "-w", "--warmup", type=float, default=1.0, help="seconds before measuring (default 1)"
    )
    parser.add_argument(
        "-p",
        "--pipeline",
        type=int,
        default=1,
        help="requests in flight per connection (default 1)",
    )
    parser.add_argument(
        "-R",
        "--rate",
        type=float,
        default=0.0,
        help="open loop: requests/s in total, latency corrected for coordinated omission (default 0: closed loop)",
    )
    parser.add_argument(
        "--size", type=int, default=1024, help="echo: bytes per message (default 1024)"
    )
    parser.add_argument("--churn", action="store_true", help="HTTP: a new connection per request")
    parser.add_argument(
        "--slow-clients",
        type=int,
        default=0,
        help="HTTP: slow clients (a few bytes at a time, a small receive window) beside the "
        "load, reported apart (0)",
    )
    parser.add_argument(
        "--idle-steps",
        default="",
        help="comma-separated idle connection counts to step through (probe = this run)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output (JSON lines)")
    parser.add_argument(
        "--histogram", action="store_true", help="include the encoded HDR histogram"
    )


def config_from_args(args: argparse.Namespace) -> Any:
    from clients.loadgen.config import LoadConfig

    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "echo") or not parts.hostname or not parts.port:
        raise ValueError(f"cannot load {args.url!r}: use http://HOST:PORT/PATH or echo://HOST:PORT")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    mode = "echo" if parts.scheme == "echo" else ("churn" if args.churn else "http")
    return LoadConfig(
        host=parts.hostname,
        port=parts.port,
        mode=mode,
        path=path,
        size=args.size,
        connections=args.connections,
        pipeline=args.pipeline,
        duration=args.duration,
        warmup=args.warmup,
        rate=args.rate,
        slow_clients=args.slow_clients,
    )


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    from clients.loadgen.runner import run_load

    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"iomodels load: error: {exc}", file=sys.stderr)
        return 2
    if args.idle_steps:
        return _run_idle(config, [int(s) for s in args.idle_steps.split(",")], args.json)
    on_event = (lambda name: _emit({"event": name})) if args.json else None
    result = run_load(config, on_event, keep_histogram=args.histogram)
    why = nothing_answered(result)
    if args.json:
        _emit({"event": "result", **result.to_dict()})
    elif not why:
        _print(result)
    if why:
        print(f"iomodels load: error: {args.url}: {why}", file=sys.stderr)
        return 1
    return 0


def nothing_answered(result: Any) -> str:
    """Why a run measured nothing, in one line ("" when some request was answered)."""
    if result.requests:
        return ""
    if result.connect_error:
        failed = result.error_kinds.get("connect", result.connections)
        return (
            f"no request answered: {failed} of {result.connections} connections failed "
            f"({result.connect_error})"
        )
    kinds = ", ".join(f"{kind} {n}" for kind, n in result.error_kinds.items()) or "no errors"
    return f"no request answered while measuring ({kinds})"


def _run_idle(config: Any, steps: list[int], as_json: bool) -> int:
    import asyncio

    from clients.loadgen.idle import idle_steps
    from clients.loadgen.runner import new_loop
    from common.fd_limit import raise_fd_limit

    raise_fd_limit()

    async def pause(step: dict[str, Any]) -> None:
        _emit({"event": "holding", **step}) if as_json else print(f"holding {step['held']} idle")
        if as_json:
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    def report(step: dict[str, Any]) -> None:
        if as_json:
            _emit({"event": "step", **step})
        else:
            print(
                f"{step['held']:>6} idle: hello p99 {step['probe']['latency_ms']['p99']} ms, "
                f"refused {step['refused'] + step['closed'] + step['connect']}, stalled {step['stalled']}"
            )

    with asyncio.Runner(loop_factory=new_loop) as runner:
        rows = runner.run(idle_steps(config, steps, pause, report))
    if as_json:
        _emit({"event": "result", "steps": rows})
    return 0


def _print(result: Any) -> None:
    from rich.console import Console

    from reporting.formats import PERCENTILES, fmt_ms, fmt_num
    from reporting.tables import rich_table

    lat = result.latency_ms
    table = rich_table(
        "load",
        ["req/s", "MiB/s", *(f"{text} ms" for _, text in PERCENTILES), "errors", "loader CPU"],
        [
            [
                fmt_num(result.rps),
                fmt_num(result.mib_s, 1),
                *(fmt_ms(lat[k]) for k, _ in PERCENTILES),
                str(result.errors),
                f"{result.loader_cpu_pct:.0f}%" + (" (bound)" if result.loader_bound else ""),
            ]
        ],
        align="r" * 9,
    )
    Console().print(table)
    if result.retried:
        print(
            f"retried {result.retried} requests: an idle keep-alive close crossed them, "
            "sent again on a new connection (not errors)"
        )
    if result.slow:
        slow = result.slow
        print(
            f"beside {slow['held']} of {slow['clients']} slow clients still held "
            f"({slow['rps']:.0f} req/s, p99 {fmt_ms(slow['latency_ms']['p99'])} ms; "
            f"closed {slow['closed']}, refused {slow['refused']}, connect failed {slow['connect']})"
        )
