"""Run Locust (always in its own process: it monkey-patches with gevent) against a server we start.

Shared by ``iomodels locust`` (the web UI), ``iomodels loadtest`` (one headless
run) and ``iomodels compare`` (one headless run per model): build the Locust
command line, start the target server, run Locust, and on Ctrl-C, SIGTERM or
an error stop both and leave no process behind.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common.process_tree import stop_tree
from servers.launcher import ServerProcess

logger = logging.getLogger(__name__)

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
HTTP_CLASSES = ["WebsiteUser", "HelloUser", "IoUser", "CpuUser", "DbUser"]
ALL_CLASSES = [*HTTP_CLASSES, "EchoUser"]


def default_classes(protocol: str) -> list[str]:
    """The user class that fits a server's protocol."""
    return ["EchoUser"] if protocol == "echo" else ["WebsiteUser"]


@dataclass
class LocustRun:
    """What to ask of Locust; :meth:`command` turns it into its command line."""

    host: str
    classes: Sequence[str] = ()
    headless: bool = True
    users: int = 100
    spawn_rate: float = 20
    run_time: str = "30s"
    out_dir: Path | None = None
    processes: int = 0
    web_host: str = "127.0.0.1"
    web_port: int = 8089
    server_pid: int = 0
    extra: Sequence[str] = field(default_factory=list)

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", self.host]
        if self.server_pid:
            cmd += ["--server-pid", str(self.server_pid)]
        if self.processes:
            cmd += ["--processes", str(self.processes)]
        if self.headless:
            cmd += [
                "--headless",
                "-u",
                str(self.users),
                "-r",
                str(self.spawn_rate),
                "-t",
                self.run_time,
            ]
            # the figures start once every user runs: a ramp is not a steady state
            cmd += ["--stop-timeout", "5", "--only-summary", "--reset-stats"]
        else:
            cmd += ["--web-host", self.web_host, "--web-port", str(self.web_port), "--class-picker"]
            cmd += ["-u", str(self.users), "-r", str(self.spawn_rate)]
        if self.out_dir is not None:
            out = self.out_dir
            cmd += [
                "--csv",
                str(out / "locust"),
                "--csv-full-history",
                "--html",
                str(out / "report.html"),
                "--json-file",
                str(out / "stats"),
                "--iomodels-summary",
                str(out / "summary.json"),
                "--logfile",
                str(out / "locust.log"),
            ]
        return [*cmd, *self.extra, *self.classes]


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so being killed politely still cleans up."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def target_server(
    model: str, protocol: str, host: str = "", server_args: Sequence[str] = ()
) -> Iterator[tuple[str, ServerProcess | None]]:
    """``(url, server)``: a fresh server of ``model`` on a free port, or ``host`` as given (no server)."""
    if host:
        yield host, None
        return
    server = ServerProcess(model, protocol, list(server_args))
    try:
        server.start()
        yield server.url, server
    finally:
        server.stop(timeout=15)


def run_locust(cmd: Sequence[str], *, timeout: float | None = None, quiet: bool = False) -> int:
    """Run Locust to the end; on Ctrl-C (or ``timeout``) stop it and every worker it forked.

    Locust saves its reports when it gets SIGINT, so that is what it gets first;
    anything still alive after 20 s is killed. KeyboardInterrupt is re-raised.
    """
    logger.debug("running %s", " ".join(cmd))
    output = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=output)
    try:
        return proc.wait(timeout)
    except (KeyboardInterrupt, subprocess.TimeoutExpired):
        stop_locust(proc)
        raise
    finally:
        stop_locust(proc)


def stop_locust(proc: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """Stop Locust and every worker it forked: SIGINT (it saves its reports then), a grace period, SIGKILL.

    After Ctrl-C in a terminal Locust got the SIGINT too: it gets 3 s to exit
    before a second one.
    """
    stop_tree(proc, signal.SIGINT, grace, patience=3.0)
