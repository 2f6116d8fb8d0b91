"""Helpers for the robustness tests (no tests here): attackers, probes, process checks."""

from __future__ import annotations

import selectors
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import psutil

from servers.launcher import ServerProcess
from tests.wire import Wire, get

#: Short limits for tests: deadlines in seconds, via the documented flags.
SHORT_TIMEOUTS = ["--header-timeout", "1", "--body-timeout", "1", "--keepalive-timeout", "1"]


def wait_closed(sock: socket.socket, timeout: float) -> tuple[float | None, bytes]:
    """Read until the peer closes; return (seconds it took or None on timeout, bytes read)."""
    start = time.monotonic()
    data = b""
    while True:
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            return None, data
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return None, data
        except ConnectionResetError:
            return time.monotonic() - start, data
        if not chunk:
            return time.monotonic() - start, data
        data += chunk


def hello_ok(port: int, timeout: float = 5.0) -> bool:
    """One ``GET /`` on a fresh connection answered 200."""
    try:
        with Wire(port, timeout=timeout) as wire:
            return wire.request(get("/")).status == 200
    except OSError:
        return False


def time_until_served(port: int, limit: float, attempt_timeout: float = 0.5) -> float | None:
    """Seconds until a fresh ``GET /`` is answered 200 (polling), or None past ``limit``."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if hello_ok(port, attempt_timeout):
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def listen_backlog(port: int) -> int:
    """The backlog of the socket listening on ``port`` (``ss`` shows it as Send-Q)."""
    out = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return int(out.split()[2])


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``procs`` still running (zombies count as gone)."""
    out = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except psutil.NoSuchProcess:
            pass
    return out


def workers(server: ServerProcess) -> list[psutil.Process]:
    """The live child processes of a server (multiprocess workers, fork children), not
    counting multiprocessing's resource tracker."""
    try:
        children = alive(psutil.Process(server.pid).children())
    except psutil.NoSuchProcess:
        return []
    out = []
    for child in children:
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                out.append(child)
        except psutil.Error:
            pass
    return out


class LimitedServer(ServerProcess):
    """A server started under ``ulimit -n NOFILE`` (set in a tiny exec wrapper)."""

    def __init__(self, *args: object, nofile: int = 256, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.nofile = nofile

    def command(self) -> list[str]:
        wrapper = (
            "import os, resource, sys; "
            f"resource.setrlimit(resource.RLIMIT_NOFILE, ({self.nofile}, {self.nofile})); "
            "os.execv(sys.argv[1], sys.argv[1:])"
        )
        return [sys.executable, "-c", wrapper, *super().command()]


@dataclass
class Slowloris:
    """``count`` connections, each sending one more byte of an endless head every ``interval``."""

    port: int
    count: int = 500
    interval: float = 1.0
    socks: list[socket.socket] = field(default_factory=list)
    first_byte: dict[int, float] = field(default_factory=dict)
    closed_after: dict[int, float] = field(default_factory=dict)  # fd -> seconds after first byte
    answers: dict[int, bytes] = field(default_factory=dict)

    HEAD = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10_000

    def open(self) -> None:
        for _ in range(self.count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            sock.setblocking(False)
            self.socks.append(sock)

    def run(self, until: float) -> None:
        """Trickle bytes until every connection is closed or ``until`` seconds passed."""
        sel = selectors.DefaultSelector()
        offset = {s.fileno(): 0 for s in self.socks}
        for sock in self.socks:
            sel.register(sock, selectors.EVENT_READ)
        start = time.monotonic()
        next_tick = start
        while len(self.closed_after) < len(self.socks) and time.monotonic() - start < until:
            now = time.monotonic()
            if now >= next_tick:
                next_tick += self.interval
                for sock in self.socks:
                    fd = sock.fileno()
                    if fd in self.closed_after:
                        continue
                    try:
                        sock.send(self.HEAD[offset[fd] : offset[fd] + 1])
                    except OSError:
                        continue  # closed: the read side will tell
                    offset[fd] += 1
                    self.first_byte.setdefault(fd, time.monotonic())
            for key, _ in sel.select(timeout=max(0.0, min(0.05, next_tick - time.monotonic()))):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                fd = sock.fileno()
                try:
                    chunk = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if chunk:
                    self.answers[fd] = self.answers.get(fd, b"") + chunk
                    continue
                self.closed_after[fd] = time.monotonic() - self.first_byte.get(fd, start)
                sel.unregister(sock)
        sel.close()

    def close(self) -> None:
        for sock in self.socks:
            sock.close()
