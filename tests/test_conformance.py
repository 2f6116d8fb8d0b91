"""One conformance suite, every model: each runs as a real subprocess on 127.0.0.1, port 0."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from servers.launcher import ServerProcess
from servers.registry import model_names
from tests.helpers import skip_unavailable
from tests.wire import Wire, get

MODELS = model_names()


@pytest.fixture(scope="module", params=MODELS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    skip_unavailable(request.param)
    with ServerProcess(request.param, args=["--site-pages", "50"]) as proc:
        yield proc


@pytest.fixture(scope="module", params=MODELS)
def echo_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    skip_unavailable(request.param)
    with ServerProcess(request.param, "echo") as proc:
        yield proc


def test_hello(server: ServerProcess) -> None:
    with Wire(server.port) as w:
        r = w.request(get("/"))
    assert (r.status, r.body) == (200, b"Hello, World!")
    assert r.headers["content-type"].startswith("text/plain")


def test_keep_alive_serves_many_requests_on_one_connection(server: ServerProcess) -> None:
    with Wire(server.port) as w:
        bodies = [w.request(get("/")).body for _ in range(5)]
        echoed = w.request(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nping").body
    assert bodies == [b"Hello, World!"] * 5 and echoed == b"ping"


def test_pipelined_requests_answered_in_order(server: ServerProcess) -> None:
    with Wire(server.port) as w:
        w.send(
            get("/io?ms=50")
            + get("/")
            + b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
            + get("/io?ms=0")
            + b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo"
        )
        bodies = [w.read_response().body for _ in range(5)]
    assert bodies == [b"waited 50 ms\n", b"Hello, World!", b"one", b"waited 0 ms\n", b"two"]


def test_chunked_request_body(server: ServerProcess) -> None:
    with Wire(server.port) as w:
        w.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n")
        w.send(b"3;ext=1\r\nefg\r\n0\r\n\r\n")
        assert w.read_response().body == b"abcdefg"


def test_expect_100_continue(server: ServerProcess) -> None:
    with Wire(server.port) as w:
        w.send(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
        )
        assert w.read_response().status == 100
        w.send(b"hello")
        r = w.read_response()
    assert (r.status, r.body) == (200, b"hello")


def test_http10_closes_unless_keep_alive(server: ServerProcess) -> None:
    with Wire(server.port) as w:
        r = w.request(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert r.headers["connection"] == "keep-alive"
        r = w.request(b"GET / HTTP/1.0\r\n\r\n")
        assert r.closes and r.body == b"Hello, World!"
        assert w.closed_by_peer()


def test_connection_close_honoured(server: ServerProcess) -> None:
    with Wire(server.port) as w:
        r = w.request(get("/", extra="Connection: close\r\n"))
        assert r.status == 200 and r.closes
        assert w.closed_by_peer()


def test_large_body_echoed(server: ServerProcess) -> None:
    body = bytes(range(256)) * 3000  # 768 KB, under the 1 MiB limit
    with Wire(server.port) as w:
        r = w.request(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        )
    assert r.body == body


def test_io_waits_overlap(server: ServerProcess) -> None:
    """Twenty 1-second waits on twenty connections finish together, not one after another."""
    wires = [Wire(server.port, timeout=30) for _ in range(20)]
    try:
        start = time.monotonic()
        for w in wires:
            w.send(get("/io?ms=1000"))
        statuses = [w.read_response().status for w in wires]
        elapsed = time.monotonic() - start
    finally:
        for w in wires:
            w.close()
    assert statuses == [200] * 20
    assert elapsed < 10, f"waits did not overlap: {elapsed:.1f} s for 20 x 1 s"


def test_cpu_is_deterministic(server: ServerProcess) -> None:
    with Wire(server.port) as w:
        a = w.request(get("/cpu?n=20000")).body
        b = w.request(get("/cpu?n=20000")).body
    assert a == b and a.startswith(b"20000 ")


def test_site_pages_and_404(server: ServerProcess) -> None:
    with Wire(server.port) as w:
        index = w.request(get("/site/"))
        assert index.status == 200 and b'href="/site/1"' in index.body
        assert w.request(get("/site/49")).status == 200
        missing = w.request(get("/site/50"))
    assert missing.status == 404 and missing.closes


def test_stats_document(server: ServerProcess) -> None:
    with Wire(server.port) as w:
        w.request(get("/"))
        stats = json.loads(w.request(get("/stats")).body)
    for key in (
        "model",
        "pid",
        "workers",
        "uptime_s",
        "connections_open",
        "connections_total",
        "requests_total",
        "rss_bytes",
    ):
        assert key in stats
    assert stats["model"] == server.model
    assert (
        stats["connections_open"] >= 1 and stats["requests_total"] >= 2 and stats["rss_bytes"] > 0
    )


BAD_INPUTS = [
    (
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505),
    (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (
        b"GET / HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: y\r\n" % i for i in range(120))
        + b"\r\n",
        431,
    ),
    (b"GET /io?ms=abc HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"PUT / HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    (b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", 404),
]


@pytest.mark.parametrize(
    ("data", "status"), BAD_INPUTS, ids=[str(s) + "-" + repr(d[:24]) for d, s in BAD_INPUTS]
)
def test_bad_input_answered_closed_and_others_unaffected(
    server: ServerProcess, data: bytes, status: int
) -> None:
    with Wire(server.port) as bystander:
        bystander.send(get("/io?ms=200"))  # in flight while the bad request arrives
        with Wire(server.port) as w:
            r = w.request(data)
            assert r.status == status and r.closes
            assert w.closed_by_peer()
        assert bystander.read_response().status == 200
        assert bystander.request(get("/")).status == 200


def test_echo_protocol_streams_a_mebibyte(echo_server: ServerProcess) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    received = bytearray()
    with socket.create_connection(("127.0.0.1", echo_server.port), timeout=20) as sock:

        def reader() -> None:
            while len(received) < len(payload):
                chunk = sock.recv(65536)
                if not chunk:
                    return
                received.extend(chunk)

        thread = threading.Thread(target=reader)
        thread.start()
        for i in range(0, len(payload), 10_000):
            sock.sendall(payload[i : i + 10_000])
        thread.join(30)
    assert bytes(received) == payload


def test_sigterm_finishes_in_flight_and_leaves_nothing(model: str) -> None:
    server = ServerProcess(model).start()
    try:
        tree = server.tree()
        busy = Wire(server.port)
        busy.send(get("/io?ms=800"))
        idle = Wire(server.port)
        assert idle.request(get("/")).status == 200
        time.sleep(0.3)  # both connections are established and the wait is under way
        server.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        r = busy.read_response()
        assert r.status == 200 and r.body == b"waited 800 ms\n"
        assert idle.closed_by_peer(timeout=10), "idle keep-alive connection not closed on shutdown"
        assert server.proc.wait(15) == 0  # type: ignore[union-attr]
        time.sleep(0.2)
        leftovers = [p for p in tree if p.is_running() and p.status() != "zombie"]
        assert not leftovers, f"processes left behind: {leftovers}"
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    finally:
        server.kill()


def test_unknown_model_lists_the_models() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "iomodels", "serve", "--model", "nope", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert "unknown model 'nope'" in out.stderr
    for name in MODELS:
        assert name in out.stderr
