"""The iomodels knobs as Locust command-line arguments (also shown in the web UI).

Registered on ``events.init_command_line_parser``; users read them at run time
from ``environment.parsed_options``, so a change made in the web UI's start
form applies to the next test (Locust sends them to workers too).
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from locust import events

from loadtests.scenario import (
    CPU_N,
    ECHO_TIMEOUT_S,
    IO_MS,
    LOADER_BOUND_PCT,
    MESSAGE_SIZE,
    STATS_INTERVAL_S,
    THINK_MS,
)

__all__ = [
    "CPU_N",
    "ECHO_TIMEOUT_S",
    "IO_MS",
    "LOADER_BOUND_PCT",
    "MESSAGE_SIZE",
    "STATS_INTERVAL_S",
    "THINK_MS",
    "add_arguments",
    "option",
    "pid_list",
]


def pid_list(text: str) -> str:
    """``--loader-pids``: process ids separated by commas (or nothing)."""
    if not re.fullmatch(r"(\d+(,\d+)*)?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of pids: use 1234,1240")
    return text


@events.init_command_line_parser.add_listener
def add_arguments(parser: Any) -> None:
    """Add the ``iomodels`` argument group to Locust's parser."""
    # straight on the parser: only LocustArgumentParser.add_argument knows include_in_web_ui
    group = parser
    group.add_argument(
        "--message-size",
        type=int,
        default=MESSAGE_SIZE,
        metavar="BYTES",
        help="bytes per POST /echo body and per EchoUser message",
    )
    group.add_argument(
        "--io-ms", type=int, default=IO_MS, metavar="MS", help="the wait asked of GET /io?ms=N"
    )
    group.add_argument(
        "--cpu-n", type=int, default=CPU_N, metavar="N", help="the work asked of GET /cpu?n=N"
    )
    group.add_argument(
        "--think-ms",
        type=int,
        default=THINK_MS,
        metavar="MS",
        help="mean think time between two tasks of a user (uniform 0.5x..1.5x); 0 = closed loop flat out",
    )
    group.add_argument(
        "--echo-timeout",
        type=float,
        default=ECHO_TIMEOUT_S,
        metavar="S",
        help="EchoUser: seconds to wait for the whole echo before a failure",
    )
    group.add_argument(
        "--server-stats-interval",
        type=float,
        default=STATS_INTERVAL_S,
        metavar="S",
        help="how often the plugin polls the target's /stats and the loader's CPU",
    )
    group.add_argument(
        "--server-pid",
        type=int,
        default=0,
        include_in_web_ui=False,
        metavar="PID",
        help="pid of a local server (for CPU and memory when it has no /stats, e.g. --protocol echo)",
    )
    group.add_argument(
        "--loader-pids",
        type=pid_list,
        default="",
        include_in_web_ui=False,
        metavar="PID,PID",
        help="more Locust processes on this machine whose CPU counts as the loader's "
        "(workers not forked by this one, e.g. on test hosts)",
    )
    group.add_argument(
        "--loader-bound-pct",
        type=float,
        default=LOADER_BOUND_PCT,
        include_in_web_ui=False,
        metavar="PCT",
        help="a Locust process at or above this CPU %% counts as saturated",
    )
    group.add_argument(
        "--iomodels-summary",
        default="",
        include_in_web_ui=False,
        metavar="PATH",
        help="write the plugin's run summary (server and loader figures) to this JSON file",
    )


def option(environment: Any, name: str, default: Any) -> Any:
    """One iomodels option from ``environment.parsed_options`` (``default`` when run without them)."""
    options = getattr(environment, "parsed_options", None)
    value = getattr(options, name, None) if options is not None else None
    return default if value is None else value
