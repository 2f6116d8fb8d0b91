"""A private ``redis-server`` for ``GET /db``: started in a temporary directory, seeded, stopped.

``with RedisServer() as redis:`` starts Debian's ``redis-server`` on a free
127.0.0.1 port (or, with ``unix=True``, on a Unix socket in its directory),
with no persistence, writes the data the route reads
(:func:`servers.protocol.upstream.seed_commands`) and stops it on exit.
``redis.url`` is what ``iomodels serve --upstream`` takes; ``info()`` reads
``INFO`` (``connected_clients``, ``used_cpu_sys`` ...). Where redis-server is
absent, :class:`RedisMissing` says in one line how to install it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from servers.protocol import resp
from servers.protocol.upstream import seed_commands

INSTALL_HINT = "redis-server not found: install it with `sudo apt-get install -y redis-server`"
START_TIMEOUT = 10.0


class RedisMissing(RuntimeError):
    """redis-server is not installed (the message says how to install it)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One redis-server process of our own; a context manager."""

    def __init__(self, port: int | None = None, *, unix: bool = False, seed: bool = True) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise RedisMissing(INSTALL_HINT)
        self.unix = unix
        self.port = port or free_port()
        self.seed = seed
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._owner = os.getpid()  # a forked child leaving a `with` must not stop it
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def path(self) -> str:
        assert self._dir is not None
        return str(Path(self._dir.name) / "redis.sock")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def url(self) -> str:
        """What ``--upstream`` takes."""
        return f"unix://{self.path}" if self.unix else f"redis://127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        """Start, wait until it answers, seed; raise if it does not come up."""
        self._dir = tempfile.TemporaryDirectory(prefix="iomodels-redis-")
        args = [self.binary or "redis-server", "--dir", self._dir.name, "--save", ""]
        args += ["--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"]
        args += ["--maxclients", "10000"]
        if self.unix:
            args += ["--port", "0", "--unixsocket", self.path]
        else:
            args += ["--bind", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                err = (
                    self.process.stderr.read().decode(errors="replace")
                    if self.process.stderr
                    else ""
                )
                self.stop()
                raise RuntimeError(f"redis-server exited at start: {err.strip()[-300:]}")
            try:
                self.call(b"PING")
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("redis-server did not answer within 10 s") from None
                time.sleep(0.02)
        if self.seed:
            self.pipeline(list(seed_commands()))
        return self

    def connect(self) -> socket.socket:
        if self.unix:
            sock = socket.socket(socket.AF_UNIX)
            sock.settimeout(5)
            sock.connect(self.path)
        else:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        return sock

    def pipeline(self, commands: list[bytes]) -> list[Any]:
        """Send RESP commands on one connection; their replies, in order."""
        reader = resp.make_reader()
        replies: list[Any] = []
        with self.connect() as sock:
            sock.sendall(b"".join(commands))
            while len(replies) < len(commands):
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("redis-server closed the connection")
                reader.feed(data)
                while (reply := reader.gets()) is not False:
                    replies.append(reply)
        return replies

    def call(self, *parts: bytes) -> Any:
        return self.pipeline([resp.command(*parts)])[0]

    def info(self) -> dict[str, str]:
        """``INFO``'s fields (``connected_clients``, ``used_cpu_sys``, ``used_cpu_user`` ...)."""
        text = self.call(b"INFO").decode()
        pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
        return {name: value for name, value in pairs}

    def clients(self) -> int:
        """Connected clients, not counting the one asking."""
        return int(self.info()["connected_clients"]) - 1

    def cpu_seconds(self) -> float:
        info = self.info()
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])

    def stop(self) -> None:
        if os.getpid() != self._owner:
            return
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
