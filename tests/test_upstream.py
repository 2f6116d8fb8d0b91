"""``GET /db`` on every model against a real redis-server, and its failures.

Each model reads what was seeded and answers the same; the failures use a real
server too where one can show them (down, then back) and a small fake upstream
in this process where Redis cannot misbehave on cue (silent, slow, wrong).
"""

from __future__ import annotations

import os
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from common.redis_server import INSTALL_HINT, RedisServer, free_port
from servers.launcher import ServerProcess
from servers.protocol import upstream
from servers.registry import MODELS
from tests.helpers import skip_unavailable

pytestmark = pytest.mark.timeout(120)


def need_redis() -> None:
    """Skip where redis-server is absent, except in CI (which installs it)."""
    from shutil import which

    if which("redis-server") is None:
        if os.environ.get("CI") == "true":
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    need_redis()
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module", params=list(MODELS))
def db_server(request: pytest.FixtureRequest, redis: RedisServer) -> Iterator[ServerProcess]:
    skip_unavailable(request.param)
    with ServerProcess(request.param, args=["--upstream", redis.url]) as server:
        yield server


def get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """One request on its own connection: status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" % path.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def get_many(port: int, paths: list[str], timeout: float = 10.0) -> list[tuple[int, bytes]]:
    """Requests one after another on one keep-alive connection."""
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        reader = sock.makefile("rb")
        for path in paths:
            sock.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path.encode())
            status = int(reader.readline().split()[1])
            length = 0
            while (line := reader.readline()) != b"\r\n":
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            answers.append((status, reader.read(length)))
    return answers


def expected(start: int, n: int) -> bytes:
    return b"".join(upstream.value((start + i) % upstream.KEYS) + b"\n" for i in range(n))


def test_db_reads_the_seeded_values(db_server: ServerProcess) -> None:
    assert get(db_server.port, "/db?n=3&key=998") == (200, expected(998, 3))
    assert get(db_server.port, "/db") == (200, expected(0, 1))


def test_db_counts_round_trips_and_connections(db_server: ServerProcess) -> None:
    import json

    before, (status, body), after = get_many(db_server.port, ["/stats", "/db?n=5&key=7", "/stats"])
    first, second = json.loads(before[1]), json.loads(after[1])
    assert status == 200 and body == expected(7, 5)
    assert second["upstream_round_trips"] - first["upstream_round_trips"] == 5
    assert second["upstream_connections_open"] >= 1


@pytest.mark.parametrize("query", ["n=0", "n=101", "key=1000", "n=x", "n=1&n=2"])
def test_db_refuses_bad_parameters(db_server: ServerProcess, query: str) -> None:
    status, body = get(db_server.port, f"/db?{query}")
    assert status == 400 and b"query parameter" in body


def test_db_without_upstream_is_503() -> None:
    with ServerProcess("asyncio") as server:
        status, body = get(server.port, "/db")
    assert status == 503 and b"--upstream" in body


# -- failures, on every model -------------------------------------------------------------


class FakeUpstream(socketserver.ThreadingTCPServer):
    """A misbehaving upstream: ``silent`` never answers, ``wrong`` answers another key's
    value, ``slow`` answers rightly after ``delay`` seconds. Counts connections."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, mode: str, delay: float = 0.0) -> None:
        self.mode, self.delay, self.connections = mode, delay, 0
        super().__init__(("127.0.0.1", 0), FakeHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.server_address[1]}"


class FakeHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        fake: FakeUpstream = self.server  # type: ignore[assignment]
        fake.connections += 1
        from servers.protocol import resp

        reader = resp.make_reader()
        while data := self.request.recv(65536):
            reader.feed(data)
            while (command := reader.gets()) is not False:
                if fake.mode == "silent":
                    continue
                asked = command[1]
                index = int(asked.split(b":")[1])
                answer = upstream.value(index if fake.mode == "slow" else index + 1)
                time.sleep(fake.delay)
                self.request.sendall(b"$%d\r\n%s\r\n" % (len(answer), answer))


def serve_args(model: str, url: str, *extra: str) -> list[str]:
    args = ["--upstream", url, *extra]
    if "--workers" in MODELS[model].flags:
        args += ["--workers", "1"]
    return args


def test_upstream_down_is_502_fast_others_unaffected_then_reconnects(
    model: str, start_server
) -> None:
    need_redis()
    port = free_port()
    server = start_server(model, args=serve_args(model, f"redis://127.0.0.1:{port}"))
    started = time.monotonic()
    status, body = get(server.port, "/db")
    assert status == 502 and b"upstream unavailable" in body
    assert time.monotonic() - started < 5.0
    assert get(server.port, "/")[0] == 200
    with RedisServer(port):
        assert get(server.port, "/db?key=3") == (200, expected(3, 1))


def test_upstream_silent_past_the_timeout_is_504(model: str, start_server) -> None:
    fake = FakeUpstream("silent")
    server = start_server(model, args=serve_args(model, fake.url, "--upstream-timeout", "0.5"))
    status, body = get(server.port, "/db")
    assert status == 504 and b"did not answer within 0.5 s" in body
    assert get(server.port, "/")[0] == 200
    fake.shutdown()


def test_a_reply_not_asked_for_is_502_and_the_connection_dropped(model: str, start_server) -> None:
    fake = FakeUpstream("wrong")
    server = start_server(model, args=serve_args(model, fake.url))
    answers = get_many(server.port, ["/db?key=1", "/db?key=2"])
    assert [status for status, _ in answers] == [502, 502]
    assert b"not the value of item:1" in answers[0][1]
    assert fake.connections == 2  # the first was dropped, the second is new
    fake.shutdown()


def test_a_full_pool_makes_a_query_wait_then_503(model: str, start_server) -> None:
    """Pool of one, replies taking 3 s, timeout 4 s: a second query waits 2 s for it, then 503.

    The models holding a connection per thread of control never wait: both answer.
    """
    fake = FakeUpstream("slow", delay=3.0)
    args = serve_args(model, fake.url, "--upstream-timeout", "4", "--upstream-pool", "1")
    server = start_server(model, args=args)
    results: list[int] = []

    def query() -> None:
        results.append(get(server.port, "/db")[0])

    threads = [threading.Thread(target=query) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join()
    pooled = MODELS[model].upstream == "pool"
    assert sorted(results) == ([200, 503] if pooled else [200, 200])
    fake.shutdown()


def test_a_connections_own_deadlines_wait_for_its_query(model: str, start_server) -> None:
    """A keep-alive timeout of 1 s does not cut a query that takes 2 s (its own bound is 4 s)."""
    fake = FakeUpstream("slow", delay=2.0)
    args = serve_args(model, fake.url, "--upstream-timeout", "4", "--keepalive-timeout", "1")
    server = start_server(model, args=args)
    answers = get_many(server.port, ["/db?key=4", "/"])
    assert answers == [(200, expected(4, 1)), (200, b"Hello, World!")]
    fake.shutdown()
