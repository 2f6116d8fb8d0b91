"""The load client as a subprocess on the loader CPUs, speaking JSON lines (see ``clients.loadgen.cli``)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any


class LoaderError(RuntimeError):
    """The loader exited early, printed garbage, or ran past its deadline (its stderr is in the message)."""


class LoaderProcess:
    """``python -m clients.loadgen ARGS --json``; iterate :meth:`events` for its JSON lines."""

    def __init__(self, args: Sequence[str], cpus: Sequence[int], timeout: float) -> None:
        self._err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "clients.loadgen", *args, "--json"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
        )
        try:
            os.sched_setaffinity(self.proc.pid, cpus)
        except OSError:
            pass
        self.deadline = time.monotonic() + timeout

    def stderr(self) -> str:
        self._err.seek(0)
        return self._err.read().decode(errors="replace")[-2000:]

    def events(self) -> Iterator[dict[str, Any]]:
        """Each JSON line as it arrives, until the ``result`` event."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        buf = b""
        while True:
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    event = json.loads(line)
                except ValueError:
                    raise LoaderError(f"loader printed {line[:200]!r}") from None
                yield event
                if event.get("event") == "result":
                    return
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise LoaderError(f"loader ran past its deadline; stderr:\n{self.stderr()}")
            ready, _, _ = select.select([fd], [], [], min(remaining, 1.0))
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    self.proc.wait()
                    raise LoaderError(
                        f"loader exited ({self.proc.returncode}); stderr:\n{self.stderr()}"
                    )
                buf += chunk

    def send(self, line: str = "") -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream:
                stream.close()
        self._err.close()
