"""Start a server of any model as a real subprocess and stop it cleanly.

Used by the tests, the benchmark, the Locust targets and the crawlers: one way
to get a fresh server on ``127.0.0.1`` with a free port and to be sure it and
all its children are gone afterwards.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

from common.process_tree import ProcessTree, kill_all, stop_tree

_READY = re.compile(
    r"listening on (http|echo)://(\[[^\]]+\]|[^:]+):(\d+) model=(\S+) pid=(\d+)(?: gil=(\w+))?"
)


class ServerStartError(RuntimeError):
    """The server exited or did not print its ready line in time (its log is in the message).

    Attributes:
        reason: the server's own last word (the last line of its log), for a one-line error.
        exit_code: the server's exit status, None if it was still running (and killed).
    """

    def __init__(self, message: str, reason: str = "", exit_code: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.exit_code = exit_code


class ServerProcess:
    """``iomodels serve`` in a subprocess on port 0; a context manager.

    Args:
        model: a registered model name.
        protocol: ``"http"`` or ``"echo"``.
        args: more ``iomodels serve`` flags (``["--allow-crash"]``...).
        cpus: CPUs to pin the server (and every process it starts) to.
        env: extra environment variables.
        host: the address to bind (127.0.0.1 except on a test host, see ``common/netns.py``).
        wrapper: a command prefix to run it under (``ip netns exec NAME``: it execs, same pid).
    """

    def __init__(
        self,
        model: str,
        protocol: str = "http",
        args: Sequence[str] = (),
        *,
        cpus: Sequence[int] | None = None,
        env: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        wrapper: Sequence[str] = (),
    ) -> None:
        self.model = model
        self.protocol = protocol
        self.args = list(args)
        self.cpus = list(cpus) if cpus else None
        self.env = env
        self.host = host
        self.wrapper = list(wrapper)
        self.port = 0
        #: what the ready line said of the GIL: "off", "on" or "none" (see servers.gil)
        self.gil: str | None = None
        self.proc: subprocess.Popen[str] | None = None
        self._log = tempfile.NamedTemporaryFile(
            prefix=f"iomodels-{model}-", suffix=".log", delete=False
        )

    @property
    def url(self) -> str:
        scheme = "echo" if self.protocol == "echo" else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        return [
            *self.wrapper,
            sys.executable,
            "-m",
            "iomodels",
            "serve",
            "--model",
            self.model,
            "--host",
            self.host,
            "--port",
            "0",
            "--protocol",
            self.protocol,
            *self.args,
        ]

    def start(self, timeout: float = 30.0) -> ServerProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(self.env or {})}
        self.proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        if self.cpus:
            os.sched_setaffinity(self.proc.pid, self.cpus)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        os.set_blocking(self.proc.stdout.fileno(), False)
        while time.monotonic() < deadline:
            chunk = self.proc.stdout.readline()
            if chunk:
                line += chunk
                if line.endswith("\n"):
                    break
            elif self.proc.poll() is not None:
                break
            else:
                time.sleep(0.01)
        match = _READY.search(line)
        if not match:
            code = self.proc.poll()
            self.kill()
            log = self.log_text()
            last = log.strip().splitlines()[-1:] or [f"no ready line within {timeout:g} s"]
            raise ServerStartError(
                f"{self.model} server did not start (exit {self.proc.returncode}); "
                f"stdout: {line!r}; log:\n{log}",
                reason=last[0].strip(),
                exit_code=code,
            )
        self.port = int(match.group(3))
        self.gil = match.group(6)
        return self

    def log_text(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def tree(self) -> list[psutil.Process]:
        """The server process and all its descendants (alive now)."""
        return ProcessTree(self.pid).processes()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        """Send ``sig`` and wait; anything still alive after ``timeout`` is killed. Returns the exit code."""
        if self.proc is None:
            return None
        code = stop_tree(self.proc, sig, timeout)
        self._close_stdout()
        return code

    def kill(self) -> None:
        """SIGKILL the server and every process it started; reap it."""
        if self.proc is None:
            return
        kill_all(self.tree())
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._close_stdout()

    def _close_stdout(self) -> None:
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        try:
            os.unlink(self._log.name)
        except OSError:
            pass
