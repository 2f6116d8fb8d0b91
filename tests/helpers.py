"""Helpers for the tests (no tests here): waiting, probes, process checks, crawls, attackers.

Tests synchronise with :func:`wait_until` (or :func:`wait_until_async` inside an event loop),
never with a sleep: a condition polled up to a generous timeout passes as soon as it holds on
an idle machine and still passes on a loaded one.
"""

from __future__ import annotations

import asyncio
import inspect
import select
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import psutil
import pytest

from clients.crawl import crawler_names
from clients.crawl.config import CrawlConfig
from clients.crawl.core import Crawl
from clients.crawl.drivers import aio
from clients.crawl.stats import CrawlResult, own_peak_rss
from servers.launcher import ServerProcess
from servers.registry import unavailable
from tests.wire import Wire, get

T = TypeVar("T")

#: Short limits for tests: deadlines in seconds, via the documented flags.
SHORT_TIMEOUTS = ["--header-timeout", "1", "--body-timeout", "1", "--keepalive-timeout", "1"]


# -- waiting --------------------------------------------------------------------------------
def _describe(predicate: Callable[..., object], what: str | None) -> str:
    """What is awaited: ``what``, else the lambda's source line, else the function's name."""
    if what:
        return what
    name = getattr(predicate, "__qualname__", repr(predicate))
    if name.endswith("<lambda>"):
        try:
            return inspect.getsource(predicate).strip()
        except (OSError, TypeError):
            pass
    return name


def _timed_out(
    predicate: Callable[..., object], what: str | None, timeout: float, last: object
) -> AssertionError:
    return AssertionError(
        f"waited {timeout} s for {_describe(predicate, what)}; last value: {last!r}"
    )


def wait_until(
    predicate: Callable[[], T], timeout: float, interval: float = 0.02, what: str | None = None
) -> T:
    """Call ``predicate`` every ``interval`` seconds until it returns a truthy value.

    Returns:
        The predicate's first truthy value.

    Raises:
        AssertionError: ``timeout`` seconds passed first; the message says what was awaited
            (``what``, or the predicate's source) and the last value seen.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _timed_out(predicate, what, timeout, value)
        time.sleep(interval)


async def wait_until_async(
    predicate: Callable[[], T],
    timeout: float,  # noqa: ASYNC109 - the same call as wait_until, with the same failure message
    interval: float = 0.02,
    what: str | None = None,
) -> T:
    """:func:`wait_until` for a test running in an event loop: the loop keeps running meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _timed_out(predicate, what, timeout, value)
        await asyncio.sleep(interval)


def seconds_until(
    predicate: Callable[[], object], timeout: float, interval: float = 0.02, what: str | None = None
) -> float:
    """Seconds until ``predicate`` holds (see :func:`wait_until`, which raises past ``timeout``)."""
    start = time.monotonic()
    wait_until(predicate, timeout, interval, what)
    return time.monotonic() - start


def unchanged(sample: Callable[[], object]) -> Callable[[], bool]:
    """A predicate that holds once two successive calls of ``sample`` return the same value.

    With :func:`wait_until` it waits for something to settle, as long as it keeps moving.
    """
    last: list[object] = []

    def settled() -> bool:
        now = sample()
        same = bool(last) and last[-1] == now
        last[:] = [now]
        return same

    return settled


# -- sockets and servers ----------------------------------------------------------------------
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


def readable(sock: socket.socket) -> bool:
    """Something (data or EOF) is waiting to be read on ``sock`` right now."""
    return bool(select.select([sock], [], [], 0)[0])


def hello_ok(port: int, timeout: float = 5.0) -> bool:
    """One ``GET /`` on a fresh connection answered 200."""
    try:
        with Wire(port, timeout=timeout) as wire:
            return wire.request(get("/")).status == 200
    except OSError:
        return False


def refused(port: int) -> bool:
    """A connection to ``port`` is refused (nothing listens there any more)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return True
    return False


def _ss(*args: str) -> list[list[str]]:
    out = subprocess.run(["ss", "-Htn", *args], capture_output=True, text=True, check=True).stdout
    return [line.split() for line in out.splitlines() if line.strip()]


def listen_backlog(port: int) -> int:
    """The backlog of the socket listening on ``port`` (``ss`` shows it as Send-Q)."""
    return int(_ss("-l", f"sport = :{port}")[0][2])


def accept_queue(port: int) -> int:
    """Connections waiting in the accept queue of the socket listening on ``port`` (Recv-Q)."""
    rows = _ss("-l", f"sport = :{port}")
    return int(rows[0][1]) if rows else 0


def unread_by_server(client: socket.socket) -> int | None:
    """Bytes the server has not read yet of what ``client`` sent (its Recv-Q); None once gone.

    Zero means the server has read the request: every driver parses what it reads at once,
    so a request it has read is in the core (in flight), not waiting in the kernel.
    """
    server_port = client.getpeername()[1]
    client_port = client.getsockname()[1]
    rows = _ss("state", "established", f"( sport = :{server_port} and dport = :{client_port} )")
    return int(rows[0][0]) if rows else None


def in_flight(client: socket.socket) -> bool:
    """The server has read everything ``client`` sent (see :func:`unread_by_server`)."""
    return unread_by_server(client) == 0


# -- processes ------------------------------------------------------------------------------
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


# -- crawlers -------------------------------------------------------------------------------
#: Crawlers with a synchronous ``crawl(config)``; the asyncio one runs in async tests instead,
#: on the test's own loop (see :func:`crawl_on_this_loop`).
SYNC_CRAWLERS = [name for name in crawler_names() if name != "asyncio"]


async def crawl_on_this_loop(config: CrawlConfig) -> CrawlResult:
    """The asyncio crawler on the running event loop: what its ``crawl()`` does, loop aside."""
    core = Crawl(config, "asyncio")
    started = time.perf_counter()
    await aio.crawl_into(core, config)
    return core.result(time.perf_counter() - started, own_peak_rss())


# -- attackers ------------------------------------------------------------------------------
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


def skip_unavailable(model: str) -> None:
    """Skip the current test when ``model`` cannot run on this machine, with the registry's reason."""
    reason = unavailable(model)
    if reason is not None:
        pytest.skip(f"{model}: {reason}")
