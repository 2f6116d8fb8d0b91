"""Arguments shared by ``iomodels locust``, ``loadtest`` and ``compare``."""

from __future__ import annotations

import argparse
import re
import shlex
import time
from collections.abc import Sequence
from pathlib import Path

from common.argtypes import int_range, one_of
from common.renamed import add_renamed
from loadtests.launch import ALL_CLASSES, LocustRun, default_classes
from servers.registry import model_names

_RUN_TIME = re.compile(r"\d+|(?=\d)(\d+h)?(\d+m)?(\d+s)?")


def run_time(text: str) -> str:
    """A Locust run time (``30s``, ``2m``, ``1h30m``, ``45``), checked before any server starts."""
    if not _RUN_TIME.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a run time: use 30s, 2m, 1h30m...")
    return text.strip()


def run_seconds(text: str) -> int:
    """The seconds of a run time :func:`run_time` accepted (``1h30m`` -> 5400, ``45`` -> 45)."""
    if text.isdigit():
        return int(text)
    found = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    assert found, text
    hours, minutes, secs = (int(part or 0) for part in found.groups())
    return hours * 3600 + minutes * 60 + secs


def ramp_too_long(args: argparse.Namespace) -> str:
    """Why a headless run would be all ramp-up, in one line ("" when users run steady a while).

    The figures are measured from the end of the ramp (Locust's ``--reset-stats``),
    so a run no longer than its ramp would measure nothing.
    """
    ramp = args.users / args.spawn_rate
    total = run_seconds(args.duration)
    if total > ramp:
        return ""
    return (
        f"the ramp-up ({args.users} users at {args.spawn_rate:g}/s: {ramp:g} s) fills the whole "
        f"{args.duration} run, and the figures are measured after it: give a --duration above "
        f"{ramp:g}s (make: DURATION=) or a higher --spawn-rate (SPAWN_RATE=)"
    )


def target_url(text: str) -> str:
    """A running server's URL with its scheme (``http://HOST:PORT``, ``echo://HOST:PORT``); "" for none."""
    if text and "://" not in text:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no scheme: use http://{text} (or echo://{text} with --protocol echo)"
        )
    return text


def positive_rate(text: str) -> float:
    """Users started per second: a number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value:g} is out of range: use a number above 0")
    return value


def add_scenario_args(parser: argparse.ArgumentParser, *, model: bool = True) -> None:
    """The target, the users and the Locust knobs."""
    if model:
        parser.add_argument(
            "--model",
            type=one_of(model_names(), "model"),
            default="asyncio",
            metavar="MODEL",
            help=f"the server model to start: {', '.join(model_names())} (default: asyncio)",
        )
        parser.add_argument(
            "--host",
            type=target_url,
            default="",
            help="aim at this running server (http://HOST:PORT) instead of starting one (default: start one)",
        )
    parser.add_argument(
        "--protocol",
        choices=["http", "echo"],
        default="http",
        help="the server's protocol (default http)",
    )
    parser.add_argument(
        "--classes",
        nargs="+",
        choices=ALL_CLASSES,
        metavar="CLASS",
        help=f"Locust user classes ({', '.join(ALL_CLASSES)}); default WebsiteUser, EchoUser for echo",
    )
    parser.add_argument(
        "--users",
        type=int_range(1, 100_000),
        default=100,
        help="concurrent Locust users (default 100)",
    )
    parser.add_argument(
        "--spawn-rate", type=positive_rate, default=20, help="users started per second (default 20)"
    )
    parser.add_argument(
        "--processes",
        type=int_range(0, 256),
        default=0,
        help="Locust worker processes (Locust's --processes N); 0: one process (default 0)",
    )
    add_renamed(parser, "--workers", "--processes")
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="one more 'iomodels serve' argument (repeatable), e.g. --server-arg=--workers=2 (default: none)",
    )
    parser.add_argument(
        "--locust-args",
        default="",
        metavar="'ARGS'",
        help='more Locust arguments in one string: --locust-args="--io-ms 100 --message-size 4096" (default: none)',
    )


def add_headless_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--duration",
        type=run_time,
        default="30s",
        help="run time per run (Locust's -t: 30s, 2m...; default 30s)",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=Path("results"),
        help="where result directories go (default results)",
    )


def classes_of(args: argparse.Namespace) -> list[str]:
    return list(args.classes) if args.classes else default_classes(args.protocol)


def extra_args(args: argparse.Namespace) -> list[str]:
    return shlex.split(args.locust_args)


def headless_spec(
    args: argparse.Namespace,
    url: str,
    out_dir: Path,
    *,
    server_pid: int = 0,
    processes: int = 0,
    more: Sequence[str] = (),
) -> LocustRun:
    """The headless run ``args`` ask for, against ``url``, writing into ``out_dir``; ``more`` Locust flags."""
    return LocustRun(
        host=url,
        classes=classes_of(args),
        users=args.users,
        spawn_rate=args.spawn_rate,
        run_time=args.duration,
        out_dir=out_dir,
        processes=processes,
        server_pid=server_pid,
        extra=[*extra_args(args), *more],
    )


def timestamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")
