"""The iouring model: its ring plumbing, its back-pressure, its fallback, and saying why it cannot run."""

from __future__ import annotations

import errno
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from servers.launcher import ServerProcess
from servers.models import _ring
from servers.registry import MODELS, ModelUnavailable, load_model, unavailable
from tests.helpers import skip_unavailable, wait_until
from tests.wire import Wire, get


@pytest.fixture
def ring() -> Iterator[_ring.Ring]:
    skip_unavailable("iouring")
    made = _ring.Ring(8)
    yield made
    made.close_ring()


def _collect(ring: _ring.Ring, count: int) -> list[tuple[int, int, int]]:
    done: list[tuple[int, int, int]] = []
    while len(done) < count:
        done += ring.submit_and_wait()
    return done


# -- the plumbing ----------------------------------------------------------------------


def test_completions_are_read_in_order_across_the_end_of_the_queue(ring: _ring.Ring) -> None:
    """Five rounds of six timeouts through a completion queue of 16 entries: it wraps around."""
    for round_ in range(5):
        tags = [round_ * 10 + i for i in range(6)]
        for tag in tags:
            ring.timeout(0.0, tag)
        done = _collect(ring, 6)
        assert sorted(tag for tag, _, _ in done) == tags
        assert {result for _, result, _ in done} == {-errno.ETIME}


def test_a_timeout_completes_after_its_time(ring: _ring.Ring) -> None:
    started = time.monotonic()
    ring.timeout(0.2, 7)
    assert _collect(ring, 1) == [(7, -errno.ETIME, 0)]
    assert time.monotonic() - started >= 0.19


def test_provided_buffers_carry_every_byte_and_come_back(ring: _ring.Ring) -> None:
    """Two buffers, ten messages: each arrives whole in a buffer that then goes back to the ring."""
    try:
        buffers = _ring.BufferRing(ring, 1, 2, 4096)
    except OSError as exc:
        pytest.skip(f"no provided-buffer ring here: {exc}")
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ring.recv_multishot(ours.fileno(), buffers.group, 5)
        received = []
        for i in range(10):
            message = b"message %d" % i
            theirs.send(message)
            tag, result, flags = _collect(ring, 1)[0]
            assert (tag, result) == (5, len(message)) and flags & _ring.F_MORE
            received.append(buffers.take(flags >> _ring.BUFFER_SHIFT, result))
        ring.cancel(5)
        assert _collect(ring, 1) == [(5, -errno.ECANCELED, 0)]
    assert received == [b"message %d" % i for i in range(10)]


def test_a_signal_wakes_a_wait_in_the_ring(ring: _ring.Ring) -> None:
    """A read on a pipe completes when a byte arrives: how a signal ends the server's wait."""
    read_fd, write_fd = os.pipe()
    try:
        buffer = bytearray(8)
        ring.read(read_fd, buffer, 3)
        ring.timeout(30.0, 4)
        os.write(write_fd, b"\0")
        assert _collect(ring, 1) == [(3, 1, 0)]
    finally:
        os.close(read_fd)
        os.close(write_fd)


# -- the server ------------------------------------------------------------------------


@pytest.fixture
def iouring() -> str:
    skip_unavailable("iouring")
    return "iouring"


def test_the_log_says_how_receives_are_made(iouring: str) -> None:
    with ServerProcess(iouring, args=["--log-level", "info"]) as server:
        assert Wire(server.port).request(get("/")).status == 200
        assert "receives: multishot into a provided-buffer ring" in server.log_text()


def test_per_connection_buffers_serve_the_same(iouring: str) -> None:
    """Without a provided-buffer ring: single-shot receives into each connection's buffer."""
    env = {"IOMODELS_IOURING_PROVIDED_BUFFERS": "0"}
    with ServerProcess(iouring, "echo", env=env) as server:
        assert "single-shot into per-connection buffers" in server.log_text()
        payload = bytes(range(256)) * 4096  # 1 MiB
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            assert _echo_back(sock, payload) == payload
    with ServerProcess(iouring, env=env) as server, Wire(server.port) as w:
        w.send(
            get("/io?ms=30")
            + get("/")
            + b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
        )
        bodies = [w.read_response().body for _ in range(3)]
    assert bodies == [b"waited 30 ms\n", b"Hello, World!", b"hi"]


def test_a_client_that_does_not_read_is_not_read_either(iouring: str) -> None:
    """Back-pressure: the server stops reading a client that does not read its echo.

    The client sends without reading until it cannot send any more; a server
    that kept reading would take everything offered (256 MiB). Then every
    byte comes back, in order: the sends that stopped part-way went on from
    where they stopped.
    """
    offered = 256 * 1024 * 1024
    chunk = bytes(range(256)) * 256  # 64 KiB
    with ServerProcess(iouring, "echo") as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        with sock:
            sock.setblocking(False)
            sent, stalled_since = 0, time.monotonic()
            while sent < offered and time.monotonic() - stalled_since < 1.0:
                if not select.select([], [sock], [], 0.1)[1]:
                    continue
                try:
                    sent += sock.send(chunk)
                    stalled_since = time.monotonic()
                except BlockingIOError:
                    pass
            assert sent < offered, "the server read everything it was offered"
            sock.setblocking(True)
            back = _read_exactly(sock, sent)
    expected = (chunk * (sent // len(chunk) + 1))[:sent]
    assert back == expected


def test_a_client_resetting_during_a_wait_is_noticed(iouring: str) -> None:
    with ServerProcess(iouring) as server:
        client = socket.create_connection(("127.0.0.1", server.port))
        client.sendall(get("/io?ms=5000"))
        wait_until(lambda: _open_connections(server.port) == 2, 5)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # RST while the server waits
        wait_until(lambda: _open_connections(server.port) == 1, 5)


def test_a_long_pipeline_of_waits_is_answered_in_order(iouring: str) -> None:
    """More pipelined requests than the driver queues behind a Wait: reading pauses, nothing is lost."""
    count = 300
    with ServerProcess(iouring) as server, Wire(server.port, timeout=30) as w:
        w.send(b"".join(get(f"/io?ms={i % 3}") for i in range(count)))
        bodies = [w.read_response().body for _ in range(count)]
    assert bodies == [b"waited %d ms\n" % (i % 3) for i in range(count)]


def _open_connections(port: int) -> int:
    with Wire(port) as wire:
        return int(json.loads(wire.request(get("/stats")).body)["connections_open"])


def _echo_back(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    return _read_exactly(sock, len(payload))


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(min(1 << 20, size - len(data)))
        if not chunk:
            break
        data += chunk
    return bytes(data)


# -- where io_uring is not available ---------------------------------------------------


def test_io_uring_is_for_linux_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert _ring.unavailable_reason() == "io_uring is a Linux interface; this is darwin"


def test_without_the_liburing_package_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "liburing", None)
    reason = _ring.unavailable_reason()
    assert reason is not None and "pip install liburing" in reason


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSYS, "no io_uring"),
        (errno.EPERM, "io_uring"),
        (errno.EINVAL, "older than Linux 6.1"),
    ],
)
def test_a_refused_ring_is_explained_in_one_line(code: int, words: str) -> None:
    reason = _ring._explain(OSError(code, os.strerror(code)))
    assert words in reason and "\n" not in reason


def test_an_unavailable_model_is_refused_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        MODELS, "iouring", replace(MODELS["iouring"], missing=lambda: "no ring here")
    )
    assert unavailable("iouring") == "no ring here"
    with pytest.raises(ModelUnavailable) as info:
        load_model("iouring")
    assert str(info.value) == "model 'iouring' cannot run here: no ring here"


def test_serve_exits_2_with_one_line_when_the_model_cannot_run() -> None:
    code = (
        "import sys; import servers.models._ring as r; "
        "r.unavailable_reason = lambda: 'io_uring is disabled here (test)'; "
        "from iomodels.cli import main; sys.exit(main(['serve', '--model', 'iouring', '--port', '0']))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "iomodels serve: error: model 'iouring' cannot run here: io_uring is disabled here (test)"
    ]
