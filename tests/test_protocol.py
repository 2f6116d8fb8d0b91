"""The protocol core without sockets: a table of cases, fed whole and one byte at a time."""

from __future__ import annotations

import ast
import json
import pathlib

import pytest

from servers.protocol import CLOSE, CRASH, Compute, ServerConfig, Wait
from servers.protocol.config import Limits
from servers.protocol.connection import EchoConnection, HttpConnection, make_connection_factory
from servers.protocol.errors import ProtocolError
from servers.protocol.http11 import CLOSED, CONTINUE, NEED_DATA, Request, RequestParser
from servers.protocol.site import Site


class FakeStats:
    def __init__(self) -> None:
        self.requests = 0

    def request_done(self) -> None:
        self.requests += 1

    def snapshot(self) -> dict[str, object]:
        return {"model": "test", "requests_total": self.requests}


def events(
    data: bytes, *, bytewise: bool = False, eof: bool = False, limits: Limits | None = None
) -> list:
    """Feed ``data`` and collect every event; a ProtocolError ends the list as ("error", status)."""
    parser = RequestParser(limits)
    pieces = [data[i : i + 1] for i in range(len(data))] if bytewise else [data]
    if eof:
        pieces.append(b"")
    out: list = []
    try:
        for piece in pieces:
            parser.receive_data(piece)
            while True:
                event = parser.next_event()
                if event is NEED_DATA:
                    break
                if event is CONTINUE:
                    continue
                out.append(event)
                if event is CLOSED:
                    return out
    except ProtocolError as exc:
        out.append(("error", exc.status))
    return out


def both(data: bytes, **kw: object) -> list:
    """Events fed whole; asserts byte-by-byte feeding gives exactly the same."""
    whole = events(data, **kw)  # type: ignore[arg-type]
    assert events(data, bytewise=True, **kw) == whole  # type: ignore[arg-type]
    return whole


GOOD = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"


def test_simple_get() -> None:
    [req] = both(GOOD)
    assert isinstance(req, Request)
    assert (req.method, req.path, req.query, req.version) == (b"GET", b"/", b"", b"1.1")
    assert req.headers == [(b"host", b"example")]
    assert req.keep_alive and req.body == b""


def test_header_names_lowercased_values_trimmed() -> None:
    [req] = both(b"GET /x?a=1 HTTP/1.1\r\nHOST:  h \r\nX-Thing:\tv  w\t\r\n\r\n")
    assert req.headers == [(b"host", b"h"), (b"x-thing", b"v  w")]
    assert (req.path, req.query) == (b"/x", b"a=1")


def test_pipelined_requests_in_order() -> None:
    reqs = both(
        GOOD.replace(b"/", b"/a", 1) + GOOD.replace(b"/", b"/b", 1) + GOOD.replace(b"/", b"/c", 1)
    )
    assert [r.path for r in reqs] == [b"/a", b"/b", b"/c"]


def test_content_length_body() -> None:
    [req] = both(b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
    assert req.body == b"hello"


def test_chunked_body_with_extensions_and_trailers() -> None:
    data = (
        b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n"
    )
    [req] = both(data)
    assert req.body == b"hello world"


def test_keep_alive_rules() -> None:
    [r10] = both(b"GET / HTTP/1.0\r\n\r\n")
    [r10ka] = both(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
    [r11close] = both(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert (r10.keep_alive, r10ka.keep_alive, r11close.keep_alive) == (False, True, False)


def test_absolute_form_target() -> None:
    [req] = both(b"GET http://example/io?ms=1 HTTP/1.1\r\nHost: example\r\n\r\n")
    assert (req.path, req.query) == (b"/io", b"ms=1")


def test_clean_eof_between_requests() -> None:
    assert both(GOOD, eof=True)[-1] is CLOSED
    assert both(b"", eof=True) == [CLOSED]


def test_leading_empty_lines_tolerated() -> None:
    [req] = both(b"\r\n\r\n" + GOOD)
    assert req.path == b"/"


BAD = [
    # framing and smuggling
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -3\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
    (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    # headers
    (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  folded\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: h\r\nBad\x7fName: v\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: h\r\nExpect: something-else\r\n\r\n", 417),
    # request line and version
    (b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400),
    (b"GET noslash HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
    (b"GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505),
    (b"GET / HTTP/11\r\nHost: h\r\n\r\n", 400),
    (b"GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    # chunk framing
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n 3\r\nabc\r\n", 400),
    # incomplete at EOF
    (b"GET / HTTP/1.1\r\nHost: h\r\n", 400),
]


@pytest.mark.parametrize(("data", "status"), BAD, ids=[repr(d[:40]) for d, _ in BAD])
def test_bad_requests(data: bytes, status: int) -> None:
    assert both(data, eof=True)[-1] == ("error", status)


def test_size_limits() -> None:
    limits = Limits()
    long_target = b"/" + b"a" * limits.max_request_line
    assert both(b"GET " + long_target + b" HTTP/1.1\r\nHost: h\r\n\r\n")[-1] == ("error", 414)
    big_header = b"X: " + b"v" * limits.max_header_line + b"\r\n"
    assert both(b"GET / HTTP/1.1\r\nHost: h\r\n" + big_header + b"\r\n")[-1] == ("error", 431)
    many = b"".join(b"X-%d: v\r\n" % i for i in range(limits.max_header_count + 1))
    assert both(b"GET / HTTP/1.1\r\nHost: h\r\n" + many + b"\r\n")[-1] == ("error", 431)
    too_big = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % (limits.max_body + 1)
    assert both(too_big)[-1] == ("error", 413)
    chunked = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % (
        limits.max_body + 1
    )
    assert both(chunked)[-1] == ("error", 413)


def test_limits_fire_without_waiting_for_the_end() -> None:
    """A never-ending request line is refused once it passes the limit, not at a timeout."""
    parser = RequestParser()
    parser.receive_data(b"GET /" + b"a" * 9000)
    with pytest.raises(ProtocolError) as info:
        parser.next_event()
    assert info.value.status == 414


def test_a_line_exactly_at_the_limit_is_accepted_bytewise() -> None:
    limits = Limits()
    value = b"v" * (limits.max_header_line - 3)
    [req] = both(b"GET / HTTP/1.1\r\nHost: h\r\nX: " + value + b"\r\n\r\n")
    assert req.headers[1] == (b"x", value)


def test_errors_are_sticky() -> None:
    parser = RequestParser()
    parser.receive_data(b"BAD\r\n")
    for _ in range(2):
        with pytest.raises(ProtocolError):
            parser.next_event()


def test_expect_100_continue() -> None:
    parser = RequestParser()
    parser.receive_data(
        b"POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    )
    assert parser.next_event() is CONTINUE
    assert parser.next_event() is NEED_DATA
    parser.receive_data(b"ok")
    req = parser.next_event()
    assert isinstance(req, Request) and req.body == b"ok"


# -- connection + routes --------------------------------------------------------------


def connection(**config: object) -> tuple[HttpConnection, FakeStats]:
    stats = FakeStats()
    conn = make_connection_factory(ServerConfig(**config), stats)()  # type: ignore[arg-type]
    assert isinstance(conn, HttpConnection)
    return conn, stats


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> bytes:
    return response.split(b"\r\n\r\n", 1)[1]


def test_hello_and_keep_alive() -> None:
    conn, stats = connection()
    [response] = conn.receive_data(GOOD)
    assert status_of(response) == 200 and body_of(response) == b"Hello, World!"
    assert b"Content-Length: 13\r\n" in response and b"Connection: close" not in response
    assert stats.requests == 1 and not conn.closed


def test_http10_keep_alive_is_announced() -> None:
    conn, _ = connection()
    [response] = conn.receive_data(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert b"Connection: keep-alive\r\n" in response
    response, close = conn.receive_data(b"GET / HTTP/1.0\r\n\r\n")
    assert b"Connection: close\r\n" in response and close is CLOSE


def test_echo_route_returns_body() -> None:
    conn, _ = connection()
    [response] = conn.receive_data(
        b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
    )
    assert body_of(response) == b"abc"


def test_io_route_asks_for_a_wait_before_answering() -> None:
    conn, _ = connection()
    wait, response = conn.receive_data(b"GET /io?ms=250 HTTP/1.1\r\nHost: h\r\n\r\n")
    assert wait == Wait(0.25) and status_of(response) == 200


@pytest.mark.parametrize("query", [b"ms=-1", b"ms=10001", b"ms=abc", b"ms=1&ms=2", b"ms=1.5"])
def test_io_rejects_bad_query_values(query: bytes) -> None:
    conn, _ = connection()
    response, close = conn.receive_data(b"GET /io?" + query + b" HTTP/1.1\r\nHost: h\r\n\r\n")
    assert status_of(response) == 400 and close is CLOSE


def test_cpu_route_is_deterministic_compute() -> None:
    conn, _ = connection()
    [compute] = conn.receive_data(b"GET /cpu?n=1000 HTTP/1.1\r\nHost: h\r\n\r\n")
    assert isinstance(compute, Compute) and compute.n == 1000
    first, second = compute.run(), compute.run()
    assert first == second and body_of(first).startswith(b"1000 ")
    [other] = connection()[0].receive_data(b"GET /cpu?n=1001 HTTP/1.1\r\nHost: h\r\n\r\n")
    assert isinstance(other, Compute) and body_of(other.run()) != body_of(first)


def test_crash_is_404_unless_allowed() -> None:
    conn, _ = connection()
    response, close = conn.receive_data(b"GET /crash HTTP/1.1\r\nHost: h\r\n\r\n")
    assert status_of(response) == 404
    conn, _ = connection(allow_crash=True)
    assert conn.receive_data(b"GET /crash HTTP/1.1\r\nHost: h\r\n\r\n") == [CRASH, CLOSE]


def test_unknown_route_and_wrong_method() -> None:
    conn, _ = connection()
    response, close = conn.receive_data(b"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n")
    assert status_of(response) == 404 and close is CLOSE
    conn, _ = connection()
    response, close = conn.receive_data(b"DELETE / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert status_of(response) == 405 and b"Allow: GET, HEAD\r\n" in response


def test_head_has_headers_only() -> None:
    conn, _ = connection()
    [response] = conn.receive_data(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert b"Content-Length: 13\r\n" in response and response.endswith(b"\r\n\r\n")


def test_stats_route_is_json() -> None:
    conn, stats = connection()
    [response] = conn.receive_data(b"GET /stats HTTP/1.1\r\nHost: h\r\n\r\n")
    assert json.loads(body_of(response)) == {"model": "test", "requests_total": 1}


def test_errors_close_and_nothing_after_is_parsed() -> None:
    conn, stats = connection()
    actions = conn.receive_data(b"GET / HTTP/9.9\r\nHost: h\r\n\r\n" + GOOD)
    assert [status_of(a) for a in actions if isinstance(a, bytes)] == [505]
    assert actions[-1] is CLOSE and conn.closed and conn.receive_data(GOOD) == []


def test_expect_continue_interim_response() -> None:
    conn, _ = connection()
    [interim] = conn.receive_data(
        b"POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    )
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    [response] = conn.receive_data(b"hi")
    assert body_of(response) == b"hi"


def test_deadlines_follow_the_connection_state() -> None:
    now = [100.0]
    limits = Limits(header_timeout=10, body_timeout=7, keepalive_timeout=5)
    from servers.protocol.app import App

    conn = HttpConnection(App(ServerConfig(), FakeStats()), limits, clock=lambda: now[0])
    assert conn.deadline() == 105.0  # idle keep-alive
    conn.receive_data(b"GET / HT")
    now[0] = 103.0
    conn.receive_data(b"TP/1.1\r\n")
    assert conn.deadline() == 110.0  # header deadline runs from the first byte, not the last
    conn.receive_data(b"Host: h\r\nContent-Length: 9\r\n\r\nabc")
    assert conn.deadline() == 110.0  # body gap runs from the last piece
    [timeout, close] = conn.timed_out()
    assert status_of(timeout) == 408 and close is CLOSE


def test_draining_closes_after_the_response_in_flight() -> None:
    conn, _ = connection()
    conn.draining = True
    response, close = conn.receive_data(GOOD)
    assert b"Connection: close\r\n" in response and close is CLOSE


def test_echo_connection_returns_every_byte() -> None:
    conn = EchoConnection(Limits())
    assert conn.receive_data(b"abc") == [b"abc"]
    assert conn.receive_data(b"") == [CLOSE]


# -- the site ----------------------------------------------------------------------------


def test_site_is_deterministic_and_fully_reachable() -> None:
    site = Site(200)
    assert site.lookup(b"/site/7").body == Site(200).lookup(b"/site/7").body
    assert site.reachable_pages() == {"/site/"} | {f"/site/{i}" for i in range(1, 200)}
    assert site.lookup(b"/site/200").status == 404
    assert site.lookup(b"/site/r/4").status == 301
    assert site.lookup(b"/site/missing/7").status == 404


def test_site_latency_marks_slow_pages() -> None:
    site = Site(100, latency_ms=10)
    assert site.lookup(b"/site/1").delay_s == pytest.approx(0.01)
    assert site.lookup(b"/site/13").delay_s == pytest.approx(0.1)


# -- sans-IO: the core imports no IO library ------------------------------------------

FORBIDDEN = {
    "socket",
    "selectors",
    "asyncio",
    "gevent",
    "uvloop",
    "threading",
    "multiprocessing",
    "select",
    "ssl",
}


def test_protocol_core_imports_no_io_library() -> None:
    package = pathlib.Path(__file__).resolve().parent.parent / "servers" / "protocol"
    imported: set[str] = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert imported, "no imports found: the check is broken"
    assert not imported & FORBIDDEN


def test_importing_the_core_loads_no_io_module() -> None:
    import subprocess
    import sys

    forbidden = sorted(FORBIDDEN)
    code = (
        "import sys; import servers.protocol, servers.protocol.app; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
