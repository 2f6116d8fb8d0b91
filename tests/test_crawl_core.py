"""The crawlers' pure core: no sockets, no servers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from clients.crawl.config import CrawlConfig
from clients.crawl.core import Crawl
from clients.crawl.frontier import Frontier, Job
from clients.crawl.genloop import Loop, Queue, Task
from clients.crawl.http1 import ResponseReader
from clients.crawl.links import extract_links
from clients.crawl.outcome import (
    ERROR,
    NON_HTML,
    PAGE,
    REDIRECT,
    FetchError,
    Outcome,
    Response,
    classify,
)
from clients.crawl.policy import retry_delay
from clients.crawl.stats import url_digest
from clients.crawl.urls import Scope, normalise

ROOT = "http://127.0.0.1:8000/site/"


@pytest.mark.parametrize(
    ("href", "base", "expected"),
    [
        ("/site/3", ROOT, "http://127.0.0.1:8000/site/3"),
        ("3", "http://127.0.0.1:8000/site/5", "http://127.0.0.1:8000/site/3"),
        ("3#part", ROOT, "http://127.0.0.1:8000/site/3"),
        ("../site/./4", "http://127.0.0.1:8000/site/5", "http://127.0.0.1:8000/site/4"),
        ("HTTP://EXAMPLE.com:80", "", "http://example.com/"),
        ("https://example.com:443/a?b=1#c", "", "https://example.com/a?b=1"),
        ("  /x  ", ROOT, "http://127.0.0.1:8000/x"),
        ("mailto:someone@example.com", ROOT, None),
        ("javascript:void(0)", ROOT, None),
        ("http://[::1]:8080/a", "", "http://[::1]:8080/a"),
        ("http://example.com:99999/", "", None),
        ("", ROOT, None),
    ],
)
def test_normalise(href: str, base: str, expected: str | None) -> None:
    assert normalise(href, base) == expected


def test_scope_is_scheme_host_and_port() -> None:
    scope = Scope(ROOT)
    assert scope.allows("http://127.0.0.1:8000/elsewhere")
    assert not scope.allows("http://127.0.0.1:8001/site/")
    assert not scope.allows("https://127.0.0.1:8000/site/")
    assert not scope.allows("http://offsite.invalid/1")


def test_extract_links_with_the_html_parser() -> None:
    html = """<html><head><base href="/docs/"></head><body>
    <a href="a.html">A</a> <A HREF='b.html#x'>B</A> <a>no href</a> <a href="a.html">again</a>
    <area href="/map"> <link href="/style.css"> <a href="mailto:x@y">mail</a>
    <a href="http://other.invalid/">off</a> <p>href="/not-a-link"</p>
    </body></html>"""
    assert extract_links(html, "http://h/page") == [
        "http://h/docs/a.html",
        "http://h/docs/b.html",
        "http://h/map",
        "http://other.invalid/",
    ]


def test_frontier_deduplicates_and_applies_limits() -> None:
    frontier = Frontier(max_pages=3, max_depth=1)
    assert frontier.admit("u1", 0, 5) == Job("u1", 0, 5)
    assert frontier.admit("u1", 0, 5) is None
    assert frontier.admit("u2", 2, 5) is None  # too deep
    assert frontier.admit("u2", 1, 5) is not None
    assert frontier.admit("u3", 1, 5) is not None
    assert frontier.admit("u4", 1, 5) is None  # max_pages reached
    assert frontier.dropped == 2


def _response(status: int, body: bytes = b"", **headers: str) -> Response:
    return Response(status, {k.replace("_", "-"): v for k, v in headers.items()}, body)


def test_classify() -> None:
    page = classify(
        ROOT, _response(200, b'<a href="1">x</a>', content_type="text/html; charset=utf-8")
    )
    assert (page.kind, page.links) == (PAGE, ("http://127.0.0.1:8000/site/1",))
    assert (
        classify(ROOT, _response(200, b"\0", content_type="application/octet-stream")).kind
        == NON_HTML
    )
    moved = classify(ROOT, _response(301, location="/site/2"))
    assert (moved.kind, moved.location) == (REDIRECT, "http://127.0.0.1:8000/site/2")
    assert classify(ROOT, _response(302)).error == "bad_redirect"
    busy = classify(ROOT, _response(503, retry_after="2"))
    assert (busy.kind, busy.error, busy.retry_after) == (ERROR, "http_503", 2.0)
    latin = classify(
        ROOT,
        _response(200, '<a href="é">'.encode("latin-1"), content_type="text/html; charset=latin-1"),
    )
    assert latin.links == ("http://127.0.0.1:8000/site/%C3%A9",) or latin.links == (
        "http://127.0.0.1:8000/site/é",
    )


def test_retry_policy() -> None:
    config = CrawlConfig(ROOT, retries=3, backoff=0.1, backoff_max=0.3)
    failed = Outcome(ROOT, ERROR, error="timeout")
    assert [retry_delay(config, n, failed) for n in (1, 2, 3, 4)] == [0.1, 0.2, 0.3, None]
    assert retry_delay(config, 1, Outcome(ROOT, ERROR, 503, error="http_503")) == 0.1
    assert retry_delay(config, 1, Outcome(ROOT, ERROR, 503, error="http_503", retry_after=9)) == 0.3
    assert retry_delay(config, 1, Outcome(ROOT, ERROR, 404, error="http_404")) is None
    assert retry_delay(config, 1, Outcome(ROOT, ERROR, error="too_large")) is None
    assert retry_delay(config, 1, Outcome(ROOT, PAGE, 200)) is None


def test_core_follows_redirects_within_budget_and_scope() -> None:
    core = Crawl(CrawlConfig(ROOT, max_redirects=1))
    (root,) = core.start()
    new = core.record(
        root, Outcome(ROOT, PAGE, 200, links=(ROOT + "r", "http://offsite.invalid/", ROOT + "r"))
    )
    assert [job.url for job in new] == [ROOT + "r"]
    (hop,) = core.record(new[0], Outcome(ROOT + "r", REDIRECT, 301, location=ROOT + "rr"))
    assert (hop.depth, hop.redirects_left) == (1, 0)
    assert core.record(hop, Outcome(ROOT + "rr", REDIRECT, 301, location=ROOT + "end")) == []
    result = core.result(1.0, 0)
    assert (result.pages, result.redirects, result.offsite, result.requests) == (1, 1, 1, 3)
    assert result.errors == {"too_many_redirects": 1}
    assert result.digest == url_digest(["/site/"])


RESPONSES = [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, b"hello", True),
    (
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: close\r\n\r\nno\n",
        404,
        b"no\n",
        False,
    ),
    (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\n\r\n",
        200,
        b"hello world",
        True,
    ),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, b"ok", False),
]


@pytest.mark.parametrize(("wire", "status", "body", "keep_alive"), RESPONSES)
@pytest.mark.parametrize("split", [0, 1])
def test_response_reader_whole_or_byte_by_byte(
    wire: bytes, status: int, body: bytes, keep_alive: bool, split: int
) -> None:
    reader = ResponseReader(max_body=1000)
    pieces = [wire] if not split else [wire[i : i + 1] for i in range(len(wire))]
    results = [reader.feed(piece) for piece in pieces]
    assert all(r is None for r in results[:-1])
    assert results[-1] is not None
    assert (results[-1].status, results[-1].body, reader.keep_alive) == (status, body, keep_alive)


def test_response_reader_close_delimited_and_errors() -> None:
    reader = ResponseReader(max_body=1000)
    assert reader.feed(b"HTTP/1.1 200 OK\r\n\r\nuntil") is None
    response = reader.feed(b"")
    assert response is not None and response.body == b"until" and not reader.keep_alive
    truncated = ResponseReader(1000)
    truncated.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort")
    with pytest.raises(FetchError) as info:
        truncated.feed(b"")
    assert info.value.kind == "connection"
    for garbage in (b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 200 OK\r\nbroken\r\n\r\n"):
        with pytest.raises(FetchError) as info:
            ResponseReader(1000).feed(garbage)
        assert info.value.kind == "protocol"
    with pytest.raises(FetchError) as info:
        ResponseReader(4).feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
    assert info.value.kind == "too_large"


def test_generator_loop_queue_join_and_timeouts() -> None:
    loop = Loop()
    jobs = Queue()
    done: list[int] = []

    def worker():
        while True:
            n = yield from jobs.get()
            yield from loop.sleep(0.001 * n)  # the loop's own timer, under test
            if n < 3:
                jobs.put_nowait(n + 10)
            done.append(n)
            jobs.task_done()

    for n in range(5):
        jobs.put_nowait(n)
    workers = [Task(loop, worker()) for _ in range(2)]
    loop.run_until_complete(Task(loop, jobs.join()))
    assert sorted(done) == [0, 1, 2, 3, 4, 10, 11, 12]
    for task in workers:
        task.cancel()

    import socket

    a, b = socket.socketpair()
    a.setblocking(False)

    def wait_forever():
        yield from loop.wait_io(a, 1, deadline=0.0)

    with pytest.raises(TimeoutError):
        loop.run_until_complete(Task(loop, wait_forever()))
    assert not loop.selector.get_map() or all(
        key.fileobj is not a for key in loop.selector.get_map().values()
    )
    a.close()
    b.close()
    loop.close()


def test_core_imports_no_io_library() -> None:
    code = (
        "import sys; import clients.crawl.core, clients.crawl.http1, clients.crawl.outcome;"
        "print(sorted(m for m in ('socket', 'selectors', 'asyncio', 'gevent', 'aiohttp', 'http.client', 'threading') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
