"""``iomodels loadtest --test-hosts N``: one headless Locust run across test hosts.

The distributed run Locust offers (a master, workers elsewhere), made real on
one machine: :class:`common.netns.HostNetwork` makes a host for the server, one for
Locust's master and one for each of N workers, all on one bridge (optionally
shaped to ``--link-rate``). The server binds its host's address (the one case
it binds other than 127.0.0.1: that network is private to this machine), the
master waits for its N workers and runs the usual headless scenario, and the
results are read back like any ``loadtest``. Every process is stopped and every
namespace removed on exit, Ctrl-C (or SIGTERM) and failure.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from common.argtypes import int_range
from common.netns import Host, HostNetwork, NetnsUnavailable, check_support, parse_rate, sweep_stale
from loadtests.cli_common import headless_spec
from loadtests.launch import LOCUSTFILE, run_locust, stop_locust
from servers.launcher import ServerProcess

#: seconds the master waits for its workers to connect, and the margin past the run time
WORKERS_WAIT_S = 30
MARGIN_S = WORKERS_WAIT_S + 60


def link_rate(text: str) -> int:
    """``--link-rate``: a tc rate (``100mbit``), in bits per second."""
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--test-hosts N`` and ``--link-rate RATE``."""
    parser.add_argument(
        "--test-hosts",
        type=int_range(1, 32),
        default=0,
        metavar="N",
        help="run across network namespaces (root): the server, the master and N workers "
        "each on a host of its own (docs/locust.md)",
    )
    parser.add_argument(
        "--link-rate",
        type=link_rate,
        default=None,
        metavar="RATE",
        help="with --test-hosts: shape every link to RATE each way (tc tbf: 512kbit, 100mbit...; "
        "no delay or loss: this kernel has no netem)",
    )


def refusal(args: argparse.Namespace) -> str | None:
    """Why the run across test hosts cannot start here (one line), or None."""
    if not args.test_hosts:
        return "--link-rate needs --test-hosts" if args.link_rate else None
    if args.host:
        return "--test-hosts starts its own server: drop --host"
    try:
        check_support(shaping=args.link_rate is not None)
    except NetnsUnavailable as exc:
        return str(exc)
    return None


def run_seconds(run_time: str) -> int:
    """Seconds in a Locust run time (``45``, ``30s``, ``1h30m``)."""
    if run_time.isdigit():
        return int(run_time)
    scale = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * scale[unit] for n, unit in re.findall(r"(\d+)([hms])", run_time))


def start_worker(
    worker: Host, master_address: str, out_dir: Path, processes: int
) -> subprocess.Popen[bytes]:
    """A Locust worker on ``worker`` that connects to the master (it sends the users and the knobs)."""
    log = out_dir / f"{worker.role}.log"
    cmd = [*worker.exec_prefix(), sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    cmd += ["--worker", "--master-host", master_address, "--logfile", str(log)]
    cmd += ["--processes", str(processes)] if processes else []
    with open(log, "ab") as output:  # what it prints besides its log (a traceback) goes there too
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=output, stderr=output)


def run_across_hosts(
    args: argparse.Namespace, model: str, out_dir: Path, processes: int = 0
) -> tuple[int, list[str], str]:
    """Run the scenario of ``args`` with the server, the master and each worker on a host of its own.

    Args:
        processes: Locust processes forked on each worker host (0: one).

    Returns:
        Locust's exit code, the master's command and the server's URL.
    """
    sweep_stale()
    roles = ["server", "master", *(f"worker{i}" for i in range(1, args.test_hosts + 1))]
    with HostNetwork(roles, args.link_rate) as network:
        host, master = network["server"], network["master"]
        server = ServerProcess(
            model, args.protocol, args.server_arg, host=host.address, wrapper=host.exec_prefix()
        )
        try:
            server.start()
            out_dir.mkdir(parents=True, exist_ok=True)
            workers: list[subprocess.Popen[bytes]] = []
            try:
                for worker in network:
                    if worker.role.startswith("worker"):
                        workers.append(start_worker(worker, master.address, out_dir, processes))
                spec = headless_spec(
                    args,
                    server.url,
                    out_dir,
                    server_pid=server.pid,
                    more=[
                        *("--master", "--master-bind-host", master.address),
                        *("--expect-workers", str(args.test_hosts * (processes or 1))),
                        *("--expect-workers-max-wait", str(WORKERS_WAIT_S)),
                        *("--loader-pids", ",".join(str(proc.pid) for proc in workers)),
                    ],
                )
                command = [*master.exec_prefix(), *spec.command()]
                code = run_locust(command, timeout=run_seconds(args.duration) + MARGIN_S)
            finally:
                for proc in workers:
                    stop_locust(proc, grace=10)
        finally:
            server.stop(timeout=15)
    return code, command, server.url
