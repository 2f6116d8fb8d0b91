"""Hypothesis against the protocol core, no sockets (h11's fuzz harness, ours).

Whatever the bytes, the parser yields requests, NEED_DATA/CONTINUE/CLOSED, or
raises a :class:`ProtocolError` carrying a status we can answer: never any
other exception. The outcome is the same whether the bytes arrive whole, one
byte at a time or in random pieces (CONTINUE aside, which depends on timing).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servers.protocol.app import App
from servers.protocol.config import Limits, ServerConfig
from servers.protocol.connection import HttpConnection
from servers.protocol.effects import CLOSE, Compute, Wait
from servers.protocol.errors import REASONS, ProtocolError
from servers.protocol.http11 import CLOSED, CONTINUE, NEED_DATA, Request, RequestParser
from servers.stats import LocalStats

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Tight limits make every size check reachable with short inputs.
TIGHT = Limits(
    max_request_line=64, max_header_line=48, max_header_count=4, max_body=64, max_chunk_line=16
)
LIMITS = st.sampled_from([Limits(), TIGHT])


def drive(chunks: list[bytes], eof: bool, limits: Limits) -> list[Any]:
    """Feed ``chunks`` (then EOF if asked); return the outcome, CONTINUE left out.

    The outcome lists each Request, then ends with ``("error", status)``,
    ``"closed"`` or ``"need-data"``.
    """
    parser = RequestParser(limits)
    outcome: list[Any] = []
    chunks = [c for c in chunks if c]  # b"" would mean EOF
    for chunk in [*chunks, b""] if eof else chunks:
        parser.receive_data(chunk)
        while True:
            try:
                event = parser.next_event()
            except ProtocolError as exc:
                assert exc.status in REASONS and 400 <= exc.status < 600, exc
                assert exc.detail
                assert parser.broken
                with pytest.raises(ProtocolError):
                    parser.next_event()  # stays broken
                outcome.append(("error", exc.status))
                return outcome
            if event is NEED_DATA:
                break
            if event is CONTINUE:
                continue
            if event is CLOSED:
                assert eof
                outcome.append("closed")
                return outcome
            assert type(event) is Request, event
            outcome.append(event)
    outcome.append("need-data")
    return outcome


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False) if b > a]


def check_consistent(data: bytes, cuts: list[int], eof: bool, limits: Limits) -> list[Any]:
    """Whole, byte by byte and at random cuts: the same outcome. Returns it."""
    whole = drive([data], eof, limits)
    assert drive([data[i : i + 1] for i in range(len(data))], eof, limits) == whole
    assert drive(split_at(data, cuts), eof, limits) == whole
    return whole


# -- strategies ------------------------------------------------------------------------
PIECES = [
    b"GET",
    b"POST",
    b"HEAD",
    b" ",
    b"  ",
    b"/",
    b"/echo",
    b"/io?ms=1",
    b"?",
    b"#",
    b"*",
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"HTTP/2.0",
    b"\r\n",
    b"\r",
    b"\n",
    b"\t",
    b":",
    b",",
    b";",
    b"=",
    b'"',
    b"Host: x",
    b"Host",
    b"Content-Length: ",
    b"Content-Length",
    b"Transfer-Encoding: ",
    b"chunked",
    b"gzip",
    b"Connection: close",
    b"Connection: keep-alive",
    b"Expect: 100-continue",
    b"0",
    b"5",
    b"10",
    b"ff",
    b"-",
    b"+",
    b"hello",
    b"\x00",
    b"\x7f",
    b"\xff",
    b"x" * 70,
    # the branches of the request-target, Host and chunk-extension grammars
    b"CONNECT",
    b"OPTIONS",
    b"http://",
    b"h:80",
    b"[::1]",
    b"%",
    b"%2F",
    b"\\",
    b"|",
    b'"x"',
    b"Transfer-Encoding: chunked",
    b"5;a=b",
    b'5;a="\\""',
]
HTTPISH = st.lists(st.sampled_from(PIECES), max_size=60).map(b"".join)
CUTS = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)

TOKENS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
VALUES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 /;=.,", max_size=20).map(str.strip)


@st.composite
def valid_request(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A well-formed HTTP/1.1 request (Content-Length or chunked body); returns (bytes, body)."""
    body = draw(st.binary(max_size=40))
    method = draw(st.sampled_from([b"GET", b"POST", b"PUT", b"HEAD"]))
    path = b"/" + draw(TOKENS).encode()
    query = draw(st.sampled_from([b"", b"?a=1", b"?ms=5&x=y"]))
    headers = [b"Host: example"]
    headers += [
        f"X-{n}: {v}".encode() for n, v in draw(st.lists(st.tuples(TOKENS, VALUES), max_size=3))
    ]
    chunked = draw(st.booleans())
    if chunked:
        headers.append(b"Transfer-Encoding: chunked")
        sizes = draw(st.lists(st.integers(1, 10), max_size=5))
        parts, rest = [], body
        for size in sizes:
            if not rest:
                break
            piece, rest = rest[:size], rest[size:]
            parts.append(b"%x\r\n%s\r\n" % (len(piece), piece))
        if rest:
            parts.append(b"%x\r\n%s\r\n" % (len(rest), rest))
        encoded = b"".join(parts) + b"0\r\n\r\n"
    else:
        headers.append(b"Content-Length: %d" % len(body))
        encoded = body
    head = method + b" " + path + query + b" HTTP/1.1\r\n" + b"".join(h + b"\r\n" for h in headers)
    return head + b"\r\n" + encoded, body


PIPELINE = st.lists(valid_request(), min_size=1, max_size=3)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid pipeline with a few bytes inserted, deleted or replaced."""
    data = bytearray(b"".join(raw for raw, _ in draw(PIPELINE)))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = draw(
            st.sampled_from([b"\r", b"\n", b" ", b"\t", b":", b"\x00", b"0", b"x", b"\xff", b","])
        )
        if kind == "insert":
            data[pos:pos] = byte
        elif kind == "delete" and pos < len(data):
            del data[pos]
        elif pos < len(data):
            data[pos : pos + 1] = byte
    return bytes(data)


# -- properties ------------------------------------------------------------------------
@FAST
@given(data=st.binary(max_size=600), cuts=CUTS, eof=st.booleans(), limits=LIMITS)
def test_random_bytes(data: bytes, cuts: list[int], eof: bool, limits: Limits) -> None:
    check_consistent(data, cuts, eof, limits)


@FAST
@given(data=HTTPISH, cuts=CUTS, eof=st.booleans(), limits=LIMITS)
def test_http_like_garbage(data: bytes, cuts: list[int], eof: bool, limits: Limits) -> None:
    check_consistent(data, cuts, eof, limits)


@FAST
@given(pipeline=PIPELINE, cuts=CUTS, eof=st.booleans())
def test_valid_requests_any_split(
    pipeline: list[tuple[bytes, bytes]], cuts: list[int], eof: bool
) -> None:
    """Valid pipelined requests parse to exactly their bodies, however they are split."""
    data = b"".join(raw for raw, _ in pipeline)
    outcome = check_consistent(data, cuts, eof, Limits())
    assert outcome[-1] == ("closed" if eof else "need-data")
    assert [r.body for r in outcome[:-1]] == [body for _, body in pipeline]


@FAST
@given(data=mutated(), cuts=CUTS, eof=st.booleans(), limits=LIMITS)
def test_mutated_requests(data: bytes, cuts: list[int], eof: bool, limits: Limits) -> None:
    check_consistent(data, cuts, eof, limits)


@pytest.mark.slow
@LONG
@given(
    data=st.one_of(st.binary(max_size=2000), HTTPISH, mutated()),
    cuts=CUTS,
    eof=st.booleans(),
    limits=LIMITS,
)
def test_long_fuzz_run(data: bytes, cuts: list[int], eof: bool, limits: Limits) -> None:
    check_consistent(data, cuts, eof, limits)


# -- the connection (parser + routes) ---------------------------------------------------
def statuses(chunks: list[bytes], eof: bool) -> list[Any]:
    """Feed an HttpConnection; return the statuses it answers and markers for effects."""
    conn = HttpConnection(App(ServerConfig(allow_crash=False), LocalStats("fuzz")), Limits())
    out: list[Any] = []
    chunks = [c for c in chunks if c]
    for chunk in [*chunks, b""] if eof else chunks:
        for action in conn.receive_data(chunk):
            if type(action) is bytes:
                if action.startswith(b"HTTP/1.1 100 "):
                    continue  # timing dependent, like CONTINUE
                out.append(int(action[9:12]) if action.startswith(b"HTTP/1.1 ") else action)
            elif type(action) is Compute:
                out.append(int(action.run()[9:12]))
            elif type(action) is Wait:
                assert 0 < action.seconds <= 10
            else:
                assert action is CLOSE, action  # never CRASH without --allow-crash
                out.append("close")
    return out


@FAST
@given(data=st.one_of(HTTPISH, mutated()), cuts=CUTS, eof=st.booleans())
def test_connection_never_raises(data: bytes, cuts: list[int], eof: bool) -> None:
    """The whole core (routes included) answers or closes, never raises, whatever the split."""
    whole = statuses([data], eof)
    assert statuses(split_at(data, cuts), eof) == whole
    if "close" in whole:
        assert whole[-1] == "close"
