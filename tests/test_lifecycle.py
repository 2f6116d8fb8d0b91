"""The shared lifecycle: signals recorded, one drain policy, closes that keep the last response."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from collections.abc import Callable

import psutil
import pytest

from servers.launcher import ServerProcess
from servers.lifecycle import Lifecycle, WakeupPipe
from servers.models import _closing
from servers.models._fds import Backoff
from tests.helpers import wait_until
from tests.wire import Wire, get

Start = Callable[..., ServerProcess]


class FakeServer:
    """A Drainable that records what the drain asked, with connections that close on cue."""

    def __init__(self, connections: int) -> None:
        self.connections = connections
        self.calls: list[str] = []

    def stop_accepting(self) -> None:
        self.calls.append("stop_accepting")

    def stop_connections(self) -> None:
        self.calls.append("stop_connections")

    def open_connections(self) -> int:
        return self.connections

    def abort_connections(self) -> None:
        self.calls.append(f"abort({self.connections})")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_first_signal_stops_second_forces_others_are_queued() -> None:
    woken: list[int] = []
    lifecycle = Lifecycle(5.0)
    lifecycle.handle_signals(lambda: woken.append(1), install=lambda signum, cb, arg: None)
    assert not lifecycle.stopping
    lifecycle.record(signal.SIGCHLD)
    lifecycle.record(signal.SIGCHLD)
    assert not lifecycle.stopping and lifecycle.take() == [signal.SIGCHLD, signal.SIGCHLD]
    assert lifecycle.take() == []
    lifecycle.record(signal.SIGTERM)
    assert lifecycle.stopping and not lifecycle.forced
    lifecycle.record(signal.SIGINT)
    assert lifecycle.forced
    assert len(woken) == 4  # every signal wakes the main loop


def test_drain_ends_when_the_last_connection_closes() -> None:
    clock, server = FakeClock(), FakeServer(2)
    steps = Lifecycle(10.0, clock).drain(server)
    assert next(steps) == 10.0
    assert server.calls == ["stop_accepting", "stop_connections"]
    clock.now += 4
    server.connections = 1
    assert next(steps) == 6.0  # the time left of the grace period, not a poll interval
    server.connections = 0
    assert list(steps) == []
    assert server.calls[-1] == "abort(0)"


def test_drain_ends_with_the_grace_period() -> None:
    clock, server = FakeClock(), FakeServer(3)
    steps = Lifecycle(2.0, clock).drain(server)
    assert next(steps) == 2.0
    clock.now += 2.5
    assert list(steps) == []
    assert server.calls == ["stop_accepting", "stop_connections", "abort(3)"]


def test_a_second_signal_ends_the_drain() -> None:
    clock, server = FakeClock(), FakeServer(3)
    lifecycle = Lifecycle(30.0, clock)
    lifecycle.record(signal.SIGTERM)
    steps = lifecycle.drain(server)
    next(steps)
    lifecycle.record(signal.SIGTERM)
    assert list(steps) == []
    assert server.calls[-1] == "abort(3)"


def test_drain_with_nothing_open_does_not_wait() -> None:
    server = FakeServer(0)
    assert list(Lifecycle(10.0).drain(server)) == []
    assert server.calls == ["stop_accepting", "stop_connections", "abort(0)"]


def test_a_real_signal_is_recorded_and_wakes_the_pipe_without_raising() -> None:
    lifecycle, wakeup = Lifecycle(1.0), WakeupPipe()
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)}
    try:
        wakeup.watch_signals()
        lifecycle.handle_signals(wakeup.wake, also=(signal.SIGUSR1,))
        os.kill(os.getpid(), signal.SIGUSR1)
        assert wakeup.wait(5.0)
        assert lifecycle.take() == [signal.SIGUSR1] and not lifecycle.stopping
        os.kill(
            os.getpid(), signal.SIGTERM
        )  # would end the test run if the handler raised or exited
        assert wakeup.wait(5.0) and lifecycle.stopping
        assert not wakeup.wait(0.01)  # emptied by the wait that saw it
    finally:
        wakeup.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def test_wakeup_pipe_is_woken_from_another_thread() -> None:
    wakeup = WakeupPipe()
    try:
        assert not wakeup.wait(0.01)
        threading.Thread(target=wakeup.wake).start()
        assert wakeup.wait(5.0)
    finally:
        wakeup.close()


def test_backoff_doubles_to_half_a_second_and_resets() -> None:
    backoff = Backoff()
    delays = [backoff.failed(OSError(24, "Too many open files")) for _ in range(8)]
    assert delays == [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.5, 0.5]
    backoff.succeeded()
    assert backoff.failed(OSError(24, "Too many open files")) == 0.01


def test_a_refusal_is_answered_then_closed_when_the_client_closes() -> None:
    refusals = _closing.Refusals()
    client, served = socket.socketpair()
    with client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        refusals.refuse(served, "http")
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # more arrives after the refusal
        reply = _read_to_eof(client)
        assert reply.startswith(b"HTTP/1.1 503 ") and b"Connection: close" in reply
        assert refusals.fds() == [served.fileno()]  # lingering: the server side is still open
        refusals.service(set(refusals.fds()))  # reads the late request: not yet EOF
    refusals.service(set(refusals.fds()))  # the client closed: EOF
    assert refusals.fds() == [] and served.fileno() == -1


def test_a_lingering_refusal_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_closing, "LINGER_S", 0.0)
    refusals = _closing.Refusals()
    client, served = socket.socketpair()
    with client:
        refusals.refuse(served, "echo")
        assert refusals.timeout() is None  # expired and closed: nothing to wait for
        assert refusals.fds() == [] and served.fileno() == -1


def test_lingering_close_reads_what_the_client_still_sends() -> None:
    client, served = socket.socketpair()
    with client:
        client.sendall(b"late bytes that would otherwise turn the close into a reset")
        worker = threading.Thread(target=_closing.linger, args=(served,))
        worker.start()
        assert _read_to_eof(client) == b""  # the half-close: EOF, not a reset
    worker.join(5 * _closing.LINGER_S)
    assert not worker.is_alive() and served.fileno() == -1


# -- every model ---------------------------------------------------------------------


def test_nothing_is_left_behind_not_even_a_zombie(model: str, start_server: Start) -> None:
    """After SIGTERM every process of the server's tree is gone (reaped, not a zombie)."""
    server = start_server(model)
    assert Wire(server.port).request(get("/")).status == 200
    tree = server.tree()
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(30) == 0
    left = []
    for proc in tree:
        try:
            left.append(f"{proc.pid} {proc.name()} {proc.status()}")
        except psutil.NoSuchProcess:
            pass
    assert left == []


def test_the_response_before_a_close_survives_bytes_that_follow_it(
    model: str, start_server: Start
) -> None:
    """A response that closes, then more pipelined requests: the client reads it whole, then EOF.

    The extra requests reach the server after it read the first ones (they are
    sent once the first response is back, while the server waits 50 ms), so
    they are still unread when the server closes: without a lingering close
    the kernel answers them with a reset that destroys the last response.
    """
    server = start_server(model)
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(
                b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /io?ms=50 HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET / HTTP/1.0\r\n\r\n"
            )
            first = sock.recv(65536)
            assert first.startswith(b"HTTP/1.1 200 ")
            sock.sendall(get("/") * 20)
            stream = first + _read_to_eof(sock)
        assert stream.count(b"HTTP/1.1 200 OK\r\n") == 3, stream
        assert stream.endswith(b"Hello, World!")


def test_a_client_that_never_closes_is_let_go(model: str, start_server: Start) -> None:
    """A lingering close is bounded: the connection is closed within a few seconds anyway."""
    server = start_server(model, args=["--keepalive-timeout", "60"])
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle:
        idle.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert _read_to_eof(idle).endswith(b"Hello, World!")  # then EOF: the server half-closed
        # still open on this side; the server must not wait for it forever
        wait_until(lambda: _open_connections(server.port) == 1, 10 * _closing.LINGER_S)


def _open_connections(port: int) -> int:
    with Wire(port) as wire:
        return int(json.loads(wire.request(get("/stats")).body)["connections_open"])


def _read_to_eof(sock: socket.socket) -> bytes:
    data = b""
    sock.settimeout(10)
    while chunk := sock.recv(65536):
        data += chunk
    return data
