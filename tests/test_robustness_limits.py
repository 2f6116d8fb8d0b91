"""Limits and timeouts in every model: deadlines, the connection cap, the backlog,
slowloris, and running out of file descriptors."""

from __future__ import annotations

import errno
import resource
import socket
import time
from collections.abc import Callable

import pytest

from common.process_tree import ProcessTree
from servers.launcher import ServerProcess
from servers.models._fds import FD_RESERVE, CalmListener, fd_cap
from tests.test_robustness_util import (
    SHORT_TIMEOUTS,
    LimitedServer,
    Slowloris,
    hello_ok,
    listen_backlog,
    time_until_served,
    wait_closed,
)
from tests.wire import Wire, get

Start = Callable[..., ServerProcess]


def one_worker(model: str) -> list[str]:
    """multiprocess and interpreters with one worker, so a cap is exact (the kernel picks the worker)."""
    return ["--workers", "1"] if model in ("multiprocess", "interpreters") else []


def test_header_deadline_counts_from_first_byte(model: str, start_server: Start) -> None:
    """Trickling a head does not extend the header deadline: 408, then close."""
    server = start_server(model, args=SHORT_TIMEOUTS)
    with Wire(server.port) as wire:
        start = time.monotonic()
        wire.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        wire.sock.settimeout(0.2)
        while time.monotonic() - start < 4:
            try:
                data = wire.sock.recv(65536)
            except TimeoutError:
                wire.send(b"a")
                continue
            wire.buf += data
            break
        took, rest = wait_closed(wire.sock, 3)
        elapsed = time.monotonic() - start
    assert wire.buf.startswith(b"HTTP/1.1 408 "), wire.buf[:100]
    assert b"Connection: close" in wire.buf
    assert took is not None, "not closed after the 408"
    assert 0.9 <= elapsed <= 1 + 1.5


def test_body_gap_deadline(model: str, start_server: Start) -> None:
    """A body that stops arriving gets 408 once the gap passes the body timeout."""
    server = start_server(model, args=SHORT_TIMEOUTS)
    with Wire(server.port) as wire:
        wire.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
        for _ in range(4):  # pieces 0.5 s apart keep it alive past the header deadline
            time.sleep(0.5)
            wire.send(b"a")
        start = time.monotonic()
        took, data = wait_closed(wire.sock, 4)
    assert data.startswith(b"HTTP/1.1 408 "), data[:100]
    assert took is not None and took <= 1 + 1.5
    assert time.monotonic() - start >= 0.5


def test_keepalive_idle_closed(model: str, start_server: Start) -> None:
    """An idle keep-alive connection is closed silently after the keep-alive timeout."""
    server = start_server(model, args=SHORT_TIMEOUTS)
    with Wire(server.port) as wire:
        assert wire.request(get("/")).status == 200
        took, data = wait_closed(wire.sock, 4)
    assert data == b""
    assert took is not None and 0.5 <= took <= 1 + 1.5


def test_connection_cap_answers_503(model: str, start_server: Start) -> None:
    """Beyond --max-connections: 503 with Connection: close; a freed slot serves again."""
    server = start_server(model, args=["--max-connections", "2", *one_worker(model)])
    held = [Wire(server.port), Wire(server.port)]
    try:
        for wire in held:
            assert wire.request(get("/")).status == 200
        with Wire(server.port) as extra:
            response = extra.request(get("/"))
            assert response.status == 503 and response.closes
            assert extra.closed_by_peer(3)
        held.pop().close()
        assert time_until_served(server.port, 5) is not None
    finally:
        for wire in held:
            wire.close()


def test_connection_cap_closes_echo(model: str, start_server: Start) -> None:
    """Beyond --max-connections the echo protocol just closes."""
    server = start_server(model, "echo", args=["--max-connections", "1", *one_worker(model)])
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as first:
        first.sendall(b"ping")
        assert first.recv(10) == b"ping"
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as second:
            try:
                second.sendall(b"ping")
            except OSError:
                pass
            took, data = wait_closed(second, 3)
        assert took is not None and data == b""


def test_listen_backlog_default_and_flag(model: str, start_server: Start) -> None:
    """An explicit listen backlog: 1024 by default, --backlog sets it."""
    assert listen_backlog(start_server(model).port) >= 1024
    assert listen_backlog(start_server(model, args=["--backlog", "2000"]).port) == 2000


def test_slowloris(model: str, start_server: Start) -> None:
    """500 connections sending a byte a second: a normal client is still served, and
    every one of them is closed by the header deadline plus one second."""
    deadline = 3.0
    server = start_server(
        model, args=["--header-timeout", str(deadline), "--keepalive-timeout", "3"]
    )
    attack = Slowloris(server.port, count=500)
    try:
        attack.open()
        attack.run(until=1.5)  # every connection has sent its first bytes
        start = time.monotonic()
        assert hello_ok(server.port, timeout=5), "a normal client was not served during slowloris"
        served_in = time.monotonic() - start
        attack.run(until=deadline + 4)
    finally:
        attack.close()
    assert len(attack.closed_after) == attack.count, "some slowloris connections were never closed"
    worst = max(attack.closed_after.values())
    print(f"{model}: normal client served in {served_in:.3f} s; slowest close {worst:.2f} s")
    # fork: a child's clock starts when it is forked, and 500 forks take about a second
    slack = 1.0 if model == "fork" else 0.5
    assert worst <= deadline + 1.0 + slack
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in attack.answers.values())
    assert hello_ok(server.port)


def fds_and_cpu(pid: int) -> float:
    return ProcessTree(pid).cpu_seconds() or 0.0


def test_emfile_backs_off_and_recovers(model: str) -> None:
    """Under ``ulimit -n 256`` a flood of 400 connections neither kills the server nor
    makes it spin; it serves normally within 2 s after the flood stops."""
    with LimitedServer(model, args=["--keepalive-timeout", "30"], nofile=256) as server:
        flood = []
        try:
            for _ in range(400):
                sock = socket.socket()
                sock.settimeout(2)
                try:
                    sock.connect(("127.0.0.1", server.port))
                except OSError:
                    sock.close()
                    continue
                flood.append(sock)
            time.sleep(1.0)  # let the server reach its limit and settle
            cpu_before = fds_and_cpu(server.pid)
            time.sleep(2.0)
            spent = fds_and_cpu(server.pid) - cpu_before
            assert server.proc is not None and server.proc.poll() is None, server.log_text()
        finally:
            for sock in flood:
                sock.close()
        recovered = time_until_served(server.port, 5)
        print(
            f"{model}: {len(flood)} flood connections; CPU {spent:.2f} s over 2 s; served after {recovered}"
        )
        assert spent < 1.0, f"accept loop spinning on EMFILE ({spent:.2f} s CPU in 2 s)"
        assert recovered is not None and recovered <= 2.0, server.log_text()[-2000:]
        assert server.proc.poll() is None


class _Starved:
    """A listener whose accept() fails with EMFILE ``times`` times, then succeeds."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.calls = 0

    def accept(self) -> tuple[object, object]:
        self.calls += 1
        if self.calls <= self.times:
            raise OSError(errno.EMFILE, "Too many open files")
        return "conn", None


def test_calm_listener_ends_the_batch_after_emfile() -> None:
    """asyncio: after one EMFILE the rest of the accept batch sees 'nothing to accept'."""
    with socket.create_server(("127.0.0.1", 0)) as plain:
        calm = CalmListener(plain)
        try:
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(socket.socket, "accept", _Starved(1).accept)
                with pytest.raises(OSError) as first:
                    calm.accept()
                assert first.value.errno == errno.EMFILE
                with pytest.raises(BlockingIOError):
                    calm.accept()
        finally:
            calm.close()


def test_fd_cap_fits_the_open_file_limit() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert fd_cap(10) == 10
    assert fd_cap(soft * 2) == max(1, soft - FD_RESERVE)
