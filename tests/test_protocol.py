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
from servers.protocol.http11 import (
    CLOSED,
    CONTINUE,
    MAX_BLANK_LINES,
    NEED_DATA,
    Request,
    RequestParser,
)
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
CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"


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
    assert len(both((b"\r\n" * MAX_BLANK_LINES + GOOD) * 3)) == 3  # counted per request


def test_endless_empty_lines_are_refused() -> None:
    """Each empty line would restart the keep-alive clock: a client could hold the connection."""
    assert both(b"\r\n" * (MAX_BLANK_LINES + 1) + GOOD) == [("error", 400)]
    assert both(GOOD + b"\r\n" * 1000) == [both(GOOD)[0], ("error", 400)]


#: Valid by RFC 9112 / RFC 9110 and so accepted: (bytes, what the single request must show).
VALID_CHUNK_LINES = [
    b"5 ;a=b",  # BWS before ";"
    b"5; a = b",  # BWS around ";" and "="
    b"5\t;\ta\t=\tb",
    b'5;a="I \\"love\\""',  # a quoted-pair in a quoted-string
    b'5;a="x\ty \x80\xff"',  # HTAB, SP and obs-text are qdtext
    b'5;a="\\\t\\\x80"',  # a quoted-pair may escape HTAB and obs-text
    b'5;a=""',
    b"5;a;b=c;d",
    b"005",  # leading zeros
    b"5;!#$%&'*+-.^_`|~=~",  # every tchar
]


@pytest.mark.parametrize("line", VALID_CHUNK_LINES)
def test_valid_chunk_lines_are_accepted(line: bytes) -> None:
    [req] = both(CHUNKED_HEAD + line + b'\r\nhello\r\n0;last="yes"\r\n\r\n', eof=True)[:-1]
    assert req.body == b"hello"


VALID_HEADS = [
    # (head, expected (method, path, query, version))
    (b"GET / HTTP/1.2\r\nHost: h\r\n\r\n", (b"GET", b"/", b"", b"1.1")),  # RFC 9110 2.5
    (b"GET /a%20b%2F HTTP/1.1\r\nHost: h\r\n\r\n", (b"GET", b"/a%20b%2F", b"", b"1.1")),
    (
        b"GET /a:b@c!$&'()*+,;=-._~ HTTP/1.1\r\nHost: h\r\n\r\n",
        (b"GET", b"/a:b@c!$&'()*+,;=-._~", b"", b"1.1"),
    ),
    (b"GET //x/?a/b?c HTTP/1.1\r\nHost: h\r\n\r\n", (b"GET", b"//x/", b"a/b?c", b"1.1")),
    (b"GET /x? HTTP/1.1\r\nHost: h\r\n\r\n", (b"GET", b"/x", b"", b"1.1")),
    (b"GET HTTP://H:80/io?ms=1 HTTP/1.1\r\nHost: h\r\n\r\n", (b"GET", b"/io", b"ms=1", b"1.1")),
    (b"GET http://h HTTP/1.1\r\nHost: h\r\n\r\n", (b"GET", b"/", b"", b"1.1")),
    (b"GET https://h?x HTTP/1.1\r\nHost: h\r\n\r\n", (b"GET", b"/", b"x", b"1.1")),
    (b"GET http://[::1]:8/a HTTP/1.1\r\nHost: h\r\n\r\n", (b"GET", b"/a", b"", b"1.1")),
    (b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", (b"OPTIONS", b"*", b"", b"1.1")),
    (b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", (b"CONNECT", b"", b"", b"1.1")),
    (b"CONNECT [::1]:443 HTTP/1.1\r\nHost: h\r\n\r\n", (b"CONNECT", b"", b"", b"1.1")),
    (b"MKCOLA / HTTP/1.1\r\nHost: h\r\n\r\n", (b"MKCOLA", b"/", b"", b"1.1")),
    # Host = uri-host [ ":" port ], empty included (RFC 9110 section 7.2)
    *[
        (b"GET / HTTP/1.1\r\nHost:" + host + b"\r\n\r\n", (b"GET", b"/", b"", b"1.1"))
        for host in (
            b"",
            b" ",
            b" h:",
            b" 127.0.0.1:8000",
            b" [::1]",
            b" [2001:db8::7]:80",
            b" [::ffff:192.0.2.1]",
            b" [1:2:3:4:5:6:7:8]",
            b" [v1.x:y]",
            b" a%41b.example",
            b" xn--bcher-kva.example",
            b" a!$&'()*+,;=b",
        )
    ],
]


@pytest.mark.parametrize(
    ("head", "expected"), VALID_HEADS, ids=[repr(h[:30]) for h, _ in VALID_HEADS]
)
def test_valid_heads_are_accepted(head: bytes, expected: tuple[bytes, ...]) -> None:
    [req] = both(head)
    assert (req.method, req.path, req.query, req.version) == expected


@pytest.mark.parametrize(
    "field",
    [b"chunked,", b", chunked", b"Chunked", b"chunked , ", b",,chunked"],
)
def test_empty_list_elements_are_ignored(field: bytes) -> None:
    """A recipient must accept empty list elements (RFC 9110 section 5.6.1.2)."""
    [req] = both(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: " + field + b"\r\n\r\n"
        b"2\r\nhi\r\n0\r\n\r\n"
    )
    assert req.body == b"hi"


def test_content_length_leading_zeros() -> None:
    """Content-Length = 1*DIGIT: leading zeros are valid (RFC 9110 section 8.6)."""
    [req] = both(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0000000000000005\r\n\r\nhello")
    assert req.body == b"hello"


def test_empty_expect_expects_nothing() -> None:
    parser = RequestParser()
    parser.receive_data(b"POST / HTTP/1.1\r\nHost: h\r\nExpect:\r\nContent-Length: 1\r\n\r\n")
    assert parser.next_event() is NEED_DATA  # no CONTINUE


def test_expect_is_case_insensitive_and_a_list() -> None:
    parser = RequestParser()
    parser.receive_data(
        b"POST / HTTP/1.1\r\nHost: h\r\nExpect: , 100-Continue ,\r\nContent-Length: 1\r\n\r\n"
    )
    assert parser.next_event() is CONTINUE


def test_connection_close_wins_over_keep_alive() -> None:
    [req] = both(b"GET / HTTP/1.0\r\nConnection: close\r\nConnection: Keep-Alive\r\n\r\n")
    assert not req.keep_alive
    [req] = both(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: TE, Close\r\n\r\n")
    assert not req.keep_alive


BAD = [
    # framing and smuggling
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -3\r\n\r\n", 400),
    # chunked must be the final coding, else 400 (RFC 9112 section 6.3); a coding we do not
    # implement before it is 501
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
    (
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: identity\r\n\r\n",
        400,
    ),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;a=b\r\n\r\n", 501),
    # a comma inside a quoted parameter does not split the list
    (b'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip;q="a,chunked"\r\n\r\n', 400),
    (b'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: x;q="a, b", chunked\r\n\r\n', 501),
    (b'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: x;q="a\r\n\r\n', 400),
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
    (b"GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505),
    (b"GET / HTTP/11\r\nHost: h\r\n\r\n", 400),
    (b"GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    # chunk framing
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n 3\r\nabc\r\n", 400),
    # whitespace after the chunk size or after an extension (RFC 9112 section 7.1: BWS only
    # around ";" and "="); controls in a quoted extension value (qdtext, RFC 9110 5.6.4)
    *[
        (CHUNKED_HEAD + line + b"\r\nhello\r\n0\r\n\r\n", 400)
        for line in (
            b"5 ",
            b"5\t",
            b"5;a=b ",
            b"5;a ",
            b"5;a=b\t",
            b'5;a="x\x00"',
            b'5;a="\x1b"',
            b'5;a="\x7f"',
            b'5;a="\\\x00"',
            b'5;a="x\\"',
            b"5;a=\x80",
            b"5;=b",
            b"5;a=",
        )
    ],
    (CHUNKED_HEAD + b"5\r\nhello\r\n0 \r\n\r\n", 400),
    (CHUNKED_HEAD + b"5\r\nhello\r\n0;a=b \r\n\r\n", 400),
    # request targets outside RFC 9112 section 3.2 and RFC 3986
    (b"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"GET /a%4 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b'GET /a"b HTTP/1.1\r\nHost: h\r\n\r\n', 400),
    (b"GET /a|b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"GET /?a[]=1 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"GET http://h:x/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"GET h:80 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    (b"CONNECT http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    # Host = uri-host [ ":" port ] (RFC 9112 section 3.2: an invalid value must get 400)
    *[
        (b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n", 400)
        for host in (b"a b", b"x/y", b"x:80a", b"u@x", b"[::g]", b"[1:2]", b"x:1:2", b"%zz")
    ],
    # the lists the core reads (RFC 9110 sections 7.6.1, 10.1.1)
    (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue=1\r\n\r\n", 417),
    (b"GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue, x\r\n\r\n", 417),
    (b"GET / HTTP/1.1\r\nHost: h\r\nExpect: a b\r\n\r\n", 400),
    # sizes: leading zeros do not count, significant digits do
    (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1%s\r\n\r\n" % (b"0" * 16), 413),
    (CHUNKED_HEAD + b"1" + b"0" * 15 + b"\r\n", 413),
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
def test_io_rejects_bad_query_values_and_keeps_the_connection(query: bytes) -> None:
    conn, _ = connection()
    [response] = conn.receive_data(b"GET /io?" + query + b" HTTP/1.1\r\nHost: h\r\n\r\n")
    assert status_of(response) == 400 and b"Connection: close" not in response
    assert not conn.closed


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
    [response] = conn.receive_data(b"GET /crash HTTP/1.1\r\nHost: h\r\n\r\n")
    assert status_of(response) == 404
    conn, _ = connection(allow_crash=True)
    assert conn.receive_data(b"GET /crash HTTP/1.1\r\nHost: h\r\n\r\n") == [CRASH, CLOSE]


def test_unknown_route_and_wrong_method_keep_the_connection() -> None:
    """404 and 405 answer a well-formed request read to its end: the connection stays open."""
    conn, _ = connection()
    [response] = conn.receive_data(b"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n")
    assert status_of(response) == 404 and b"Connection: close" not in response
    [response] = conn.receive_data(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
    assert status_of(response) == 405 and b"Allow: GET, HEAD\r\n" in response
    assert b"Connection: close" not in response
    [response] = conn.receive_data(GOOD)
    assert status_of(response) == 200 and not conn.closed


def test_refused_request_body_is_consumed_before_the_next_request() -> None:
    """A pipelined request after a 404 with a body (chunked) is read from the right byte."""
    conn, _ = connection()
    actions = conn.receive_data(
        b"POST /nope HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nGET\r\n0\r\n\r\n" + GOOD
    )
    assert [status_of(a) for a in actions] == [404, 200] and not conn.closed


def test_refusals_close_when_the_request_said_so() -> None:
    conn, _ = connection()
    response, close = conn.receive_data(
        b"GET /nope HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    )
    assert status_of(response) == 404 and b"Connection: close\r\n" in response and close is CLOSE
    conn, _ = connection()
    response, close = conn.receive_data(b"GET /nope HTTP/1.0\r\n\r\n")
    assert status_of(response) == 404 and close is CLOSE
    conn, _ = connection()
    [response] = conn.receive_data(b"GET /nope HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert status_of(response) == 404 and b"Connection: keep-alive\r\n" in response
    conn, _ = connection()
    conn.draining = True
    response, close = conn.receive_data(b"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n")
    assert b"Connection: close\r\n" in response and close is CLOSE


def test_head_refusal_has_no_body() -> None:
    conn, _ = connection()
    [response] = conn.receive_data(b"HEAD /nope HTTP/1.1\r\nHost: h\r\n\r\n")
    assert status_of(response) == 404 and response.endswith(b"\r\n\r\n")
    assert int(response.split(b"Content-Length: ")[1].split(b"\r\n")[0]) > 0
    [response] = conn.receive_data(b"HEAD /echo HTTP/1.1\r\nHost: h\r\n\r\n")
    assert status_of(response) == 405 and response.endswith(b"\r\n\r\n")
    assert b"Allow: POST\r\n" in response


@pytest.mark.parametrize(
    "data",
    [
        b"HEAD / HTTP/1.1\r\nHost: a b\r\n\r\n",
        b"HEAD / HTTP/1.1\r\nHost: h\r\nX: \x01\r\n\r\n",
        b"HEAD / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\n",
    ],
)
def test_a_broken_head_request_gets_no_body_either(data: bytes) -> None:
    """A response to HEAD never carries content (RFC 9110 section 9.3.2), refusals included."""
    conn, _ = connection()
    response, close = conn.receive_data(data)
    assert status_of(response) == 400 and response.endswith(b"\r\n\r\n") and close is CLOSE


def test_a_timed_out_head_request_gets_no_body() -> None:
    conn, _ = connection()
    conn.receive_data(b"HEAD / HTTP/1.1\r\nHost: h\r\n")
    [response, close] = conn.timed_out()
    assert status_of(response) == 408 and response.endswith(b"\r\n\r\n") and close is CLOSE


@pytest.mark.parametrize(
    "request_line",
    [b"MKCOLA / HTTP/1.1", b"CONNECT h:443 HTTP/1.1", b"PUT / HTTP/1.1", b"get / HTTP/1.1"],
)
def test_methods_nothing_implements_get_501_and_close(request_line: bytes) -> None:
    conn, _ = connection()
    response, close = conn.receive_data(request_line + b"\r\nHost: h\r\n\r\n")
    assert status_of(response) == 501 and close is CLOSE


def test_the_known_methods_are_those_the_routes_serve() -> None:
    from servers.protocol.app import App

    assert App(ServerConfig(), FakeStats()).methods == {b"GET", b"HEAD", b"POST"}


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
