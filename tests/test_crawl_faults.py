"""Timeouts, retries and redirects, against a small server that misbehaves on purpose.

The server answers one request per connection and then closes it without
saying so (no ``Connection: close``): every crawler must notice the stale
keep-alive connection and reconnect without counting a retry.
"""

from __future__ import annotations

import socketserver
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from clients.crawl import load_crawler
from clients.crawl.config import CrawlConfig
from clients.crawl.stats import CrawlResult, url_digest
from tests.helpers import SYNC_CRAWLERS, crawl_on_this_loop

#: The crawlers' timeout: every route but /slow answers in 0.2 to 1.7 ms (measured idle),
#: so 0.3 s is far over 5x that, and /slow takes 4x longer still.
TIMEOUT = 0.3
RETRIES = 2

LINKS = [
    "/ok",
    "/slow",
    "/drop",
    "/drop-once",
    "/flaky",
    "/busy",
    "/loop/a",
    "/chain/0",
    "/away",
    "/file.bin",
    "/gone",
    "/ok#again",
    "mailto:x@example.invalid",
]


def _html(body: str) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "text/html; charset=utf-8"}, body.encode()


class FaultyHandler(socketserver.BaseRequestHandler):
    """One request per connection: read the head, misbehave according to the path."""

    server: FaultyServer

    def handle(self) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            data += chunk
        path = data.split(b" ", 2)[1].decode()
        with self.server.lock:
            self.server.hits[path] += 1
            hit = self.server.hits[path]
        answer = self.route(path, hit)
        if answer is None:  # drop the connection without a response
            return
        status, headers, body = answer
        head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        try:
            self.request.sendall(head.encode() + b"\r\n" + body)
        except OSError:
            pass  # the client gave up (a timeout): fine

    def route(self, path: str, hit: int) -> tuple[int, dict[str, str], bytes] | None:
        if path == "/":
            return _html("".join(f'<a href="{href}">x</a>' for href in LINKS))
        if path in ("/ok", "/end", "/loop/b"):
            return _html("<p>fine</p>" if path != "/loop/b" else '<a href="/loop/a">back</a>')
        if path == "/slow":
            time.sleep(TIMEOUT * 4)  # the fault under test: an answer slower than the timeout
            return _html("too late")
        if path == "/drop":
            return None
        if path == "/drop-once":
            return None if hit == 1 else _html("second time lucky")
        if path == "/flaky":  # two 503s, then the page
            return (503, {}, b"busy") if hit <= 2 else _html("recovered")
        if path == "/busy":  # always 503, asking for a short wait
            return 503, {"Retry-After": "0"}, b"busy"
        if path == "/loop/a":
            return 302, {"Location": "/loop/b"}, b""
        if path.startswith("/chain/"):  # /chain/0 -> /chain/1 -> ... : too long
            return 301, {"Location": f"/chain/{int(path[7:]) + 1}"}, b""
        if path == "/away":
            return 301, {"Location": "http://offsite.invalid/"}, b""
        if path == "/file.bin":
            return 200, {"Content-Type": "application/octet-stream"}, bytes(100)
        return 404, {}, b"no"


class FaultyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FaultyHandler)
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


@pytest.fixture
def faulty() -> Iterator[FaultyServer]:
    server = FaultyServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def faulty_config(faulty: FaultyServer) -> CrawlConfig:
    return CrawlConfig(
        faulty.url, concurrency=3, timeout=TIMEOUT, retries=RETRIES, backoff=0.01, max_redirects=3
    )


def check_faults_handled(result: CrawlResult, faulty: FaultyServer) -> None:
    """Every misbehaviour of the faulty server met its retry, redirect or error rule."""
    attempts = RETRIES + 1

    # pages: the root, /ok (once, whatever the fragment), the recovered ones, the redirect target
    assert result.digest == url_digest(["/", "/ok", "/drop-once", "/flaky", "/loop/b"])
    assert result.errors == {
        "timeout": 1,  # /slow, after every attempt
        "connection": 1,  # /drop, after every attempt
        "http_503": 1,  # /busy, after every attempt
        "http_404": 1,  # /gone: not retried
        "too_many_redirects": 1,  # /chain/0 -> 1 -> 2 -> 3 -> 4: one hop too many
    }
    assert faulty.hits["/slow"] == faulty.hits["/drop"] == faulty.hits["/busy"] == attempts
    assert faulty.hits["/drop-once"] == 2 and faulty.hits["/flaky"] == 3
    assert faulty.hits["/gone"] == faulty.hits["/ok"] == faulty.hits["/"] == 1
    # the loop is cut by de-duplication, the chain by the redirect budget
    assert faulty.hits["/loop/a"] == faulty.hits["/loop/b"] == 1
    assert [faulty.hits[f"/chain/{n}"] for n in range(5)] == [1, 1, 1, 1, 0]
    assert result.redirects == 1 + 3  # /loop/a, /chain/0..2 (the offsite one is not followed)
    assert result.offsite == 1  # /away's target
    assert result.non_html == 1
    assert result.retries == 3 * (attempts - 1) + 1 + 2
    assert result.requests == sum(faulty.hits.values())


@pytest.mark.parametrize("crawler", SYNC_CRAWLERS)
def test_timeouts_retries_and_redirects(crawler: str, faulty: FaultyServer) -> None:
    check_faults_handled(load_crawler(crawler).crawl(faulty_config(faulty)), faulty)


@pytest.mark.asyncio
async def test_timeouts_retries_and_redirects_asyncio(faulty: FaultyServer) -> None:
    check_faults_handled(await crawl_on_this_loop(faulty_config(faulty)), faulty)
