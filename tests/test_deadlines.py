"""Every model enforces every deadline on time: a request head, a body, an idle keep-alive.

Each model runs with every timeout at 1 s. Five connections start 0.2 s apart, so that
together they cover every phase of a once-a-second sweep: a driver that checks its
deadlines only now and then answers one of them far too late, or even serves a head
trickled past its deadline. A per-connection timer answers each within milliseconds;
the bounds leave a noisy machine ``SLACK`` more than the 100 ms the models promise.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from servers import registry
from servers.launcher import ServerProcess
from tests.conftest import MODELS
from tests.helpers import skip_unavailable
from tests.wire import get

TIMEOUT_S = 1.0
#: Lateness on top of the promised 100 ms before a deadline counts as missed.
SLACK = 0.3
LATEST = TIMEOUT_S + 0.1 + SLACK
#: Connections per check, and how far apart they start (together: one second of phases).
CONNECTIONS, STAGGER_S = 5, 0.2
TRICKLE_S = 1.5
TRICKLE_GAP_S = 0.1


@pytest.fixture(scope="module", params=MODELS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """Each model's HTTP server with the header, body and keep-alive timeouts at 1 s.

    A pool gets a member per connection: one queued in the backlog has no clock running yet.
    """
    skip_unavailable(request.param)
    seconds = str(TIMEOUT_S)
    args = ["--header-timeout", seconds, "--body-timeout", seconds, "--keepalive-timeout", seconds]
    pool = registry.MODELS[request.param].pool
    if pool is not None:
        args += [pool, str(CONNECTIONS)]
    with ServerProcess(request.param, args=args) as server:
        yield server


def staggered(check: Callable[[int], tuple[float, bytes]], port: int) -> list[tuple[float, bytes]]:
    """``check(port)`` on :data:`CONNECTIONS` connections started :data:`STAGGER_S` apart."""

    def later(index: int) -> tuple[float, bytes]:
        time.sleep(index * STAGGER_S)
        return check(port)

    with ThreadPoolExecutor(CONNECTIONS) as pool:
        return list(pool.map(later, range(CONNECTIONS)))


def read_until_closed(sock: socket.socket, start: float) -> tuple[float, bytes]:
    """Everything until the server closes, and the seconds from ``start`` to its first byte."""
    sock.settimeout(5 * TIMEOUT_S)
    data, first = b"", None
    try:
        while chunk := sock.recv(65536):
            first = first or time.monotonic()
            data += chunk
    except ConnectionResetError:
        pass
    return (first or time.monotonic()) - start, data


def trickled_head(port: int) -> tuple[float, bytes]:
    """A head sent a field line every 100 ms for 1.5 s: seconds to the answer, and the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        start = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        while time.monotonic() - start < TRICKLE_S:
            if select.select([sock], [], [], TRICKLE_GAP_S)[0]:
                break  # answered (or closed): stop trickling
            try:
                sock.sendall(b"X-Trickle: 1\r\n")
            except OSError:
                break
        if time.monotonic() - start >= TRICKLE_S:
            sock.sendall(b"\r\n")  # the head is complete, late
        return read_until_closed(sock, start)


def stalled_body(port: int) -> tuple[float, bytes]:
    """A head promising 10 bytes of body, then 5 of them: seconds to the answer, and the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
        return read_until_closed(sock, time.monotonic())


def idle_keep_alive(port: int) -> tuple[float, bytes]:
    """One request answered, then silence: seconds from the answer to the close, and the rest."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(get("/"))
        response = b""
        while b"Hello, World!" not in response:
            response += sock.recv(65536)
        start = time.monotonic()
        sock.settimeout(5 * TIMEOUT_S)
        rest = sock.recv(65536)  # b"" at the close
        return time.monotonic() - start, rest


def status(answer: bytes) -> str:
    return answer.split(b"\r\n", 1)[0].decode("latin-1") or "nothing"


def test_trickled_head_answered_408_on_time(server: ServerProcess) -> None:
    results = staggered(trickled_head, server.port)
    assert [status(answer) for _, answer in results] == ["HTTP/1.1 408 Request Timeout"] * 5
    late = [round(seconds, 3) for seconds, _ in results if not TIMEOUT_S <= seconds <= LATEST]
    assert not late, f"408 answered outside [{TIMEOUT_S}, {LATEST}] s: {late}"


def test_stalled_body_answered_408_on_time(server: ServerProcess) -> None:
    results = staggered(stalled_body, server.port)
    assert [status(answer) for _, answer in results] == ["HTTP/1.1 408 Request Timeout"] * 5
    late = [round(seconds, 3) for seconds, _ in results if not TIMEOUT_S <= seconds <= LATEST]
    assert not late, f"408 answered outside [{TIMEOUT_S}, {LATEST}] s: {late}"


def test_idle_keep_alive_closed_on_time(server: ServerProcess) -> None:
    results = staggered(idle_keep_alive, server.port)
    assert [rest for _, rest in results] == [b""] * 5, "an idle connection got bytes, not a close"
    # The clock started when the answer arrived, a little after the server's own.
    early = TIMEOUT_S - 0.1
    late = [round(seconds, 3) for seconds, _ in results if not early <= seconds <= LATEST]
    assert not late, f"idle connections closed outside [{early}, {LATEST}] s: {late}"
