"""The parser against the RFC grammar: lines written from the ABNF are accepted, lines one byte
outside it are refused, and the whole-head (fast) and line-by-line paths agree.

A second recognizer of the chunk line, written here by hand from RFC 9112
section 7.1, is the oracle for mutated lines: it shares no code with
``servers.protocol.abnf``.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servers.protocol.config import Limits
from servers.protocol.errors import ProtocolError
from servers.protocol.http11 import CLOSED, NEED_DATA, Request, RequestParser
from tests import grammar_strategies as g
from tests.test_protocol import BAD, VALID_HEADS

FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHUNKED_HEAD = b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
MAX_BODY = Limits().max_body


# -- an independent recognizer of the chunk line (RFC 9112 section 7.1) -------------------
def chunk_line_size(line: bytes) -> int | None:
    """The chunk size when ``line`` is ``chunk-size [ chunk-ext ]``, else None.

    chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), the name a
    token and the value a token or a quoted-string.
    """
    n = len(line)

    def skip(i: int, alphabet: bytes) -> int:
        while i < n and line[i] in alphabet:
            i += 1
        return i

    def quoted_string(i: int) -> int | None:  # i is on the opening DQUOTE
        i += 1
        while i < n:
            c = line[i]
            if c == 0x22:
                return i + 1
            if c == 0x5C:
                if i + 1 >= n or line[i + 1] not in g.QUOTABLE:
                    return None
                i += 2
            elif c in g.QDTEXT:
                i += 1
            else:
                return None
        return None

    end = skip(0, g.HEXDIG)
    if end == 0:
        return None
    size = int(line[:end], 16)
    i = end
    while i < n:
        i = skip(i, b" \t")
        if i >= n or line[i] != 0x3B:  # ";"
            return None
        start = skip(i + 1, b" \t")
        i = skip(start, g.TCHAR)
        if i == start:
            return None
        j = skip(i, b" \t")
        if j < n and line[j] == 0x3D:  # "="
            j = skip(j + 1, b" \t")
            if j < n and line[j] == 0x22:
                end_of_value = quoted_string(j)
            else:
                end_of_value = skip(j, g.TCHAR)
                end_of_value = end_of_value if end_of_value > j else None
            if end_of_value is None:
                return None
            i = end_of_value
    return size


def test_the_recognizer_itself() -> None:
    assert chunk_line_size(b"1f") == 31
    assert chunk_line_size(b'5 ; a = "x\\"y"') == 5
    for bad in (b"", b"5 ", b"5;", b"5;a=", b'5;a="', b'5;a="\x00"', b"5;a=b ", b"x"):
        assert chunk_line_size(bad) is None, bad


# -- feeding -----------------------------------------------------------------------------
def outcome(data: bytes, bytewise: bool = False) -> list[object]:
    """Requests (as (path, body)) then "closed", or ("error", status); fed with EOF."""
    parser = RequestParser()
    pieces = [data[i : i + 1] for i in range(len(data))] if bytewise else [data]
    out: list[object] = []
    try:
        for piece in [*pieces, b""]:
            parser.receive_data(piece)
            while (event := parser.next_event()) is not NEED_DATA:
                if event is CLOSED:
                    out.append("closed")
                    return out
                if isinstance(event, Request):
                    out.append((event.path, event.body))
    except ProtocolError as exc:
        out.append(("error", exc.status))
    return out


def both_ways(data: bytes) -> list[object]:
    whole = outcome(data)
    assert outcome(data, bytewise=True) == whole
    return whole


def chunked_request(line: bytes, data: bytes) -> bytes:
    """A request whose first chunk line is ``line``; ``data`` follows when its size is not 0."""
    if data:
        return CHUNKED_HEAD + line + b"\r\n" + data + b"\r\n0\r\n\r\n"
    return CHUNKED_HEAD + line + b"\r\n\r\n"


# -- chunk lines -------------------------------------------------------------------------
@FAST
@given(st.data())
def test_chunk_lines_from_the_grammar_are_accepted(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, 40))
    line = data.draw(g.chunk_line(size))
    assert chunk_line_size(line) == size
    assert both_ways(chunked_request(line, b"x" * size)) == [(b"/echo", b"x" * size), "closed"]


@FAST
@given(st.data())
def test_last_chunk_lines_from_the_grammar_are_accepted(data: st.DataObject) -> None:
    line = data.draw(g.chunk_line(0))
    assert both_ways(chunked_request(b"3\r\nabc\r\n" + line, b"")) == [
        (b"/echo", b"abc"),
        "closed",
    ]


@FAST
@given(st.data())
def test_one_byte_off_the_chunk_grammar_is_refused(data: st.DataObject) -> None:
    """Insert, replace or delete one byte of a valid chunk line: the parser agrees with the
    recognizer, accepting what is still in the grammar and refusing the rest with 400."""
    size = data.draw(st.integers(1, 40))
    line = bytearray(data.draw(g.chunk_line(size)))
    pos = data.draw(st.integers(0, len(line)))
    kind = data.draw(st.sampled_from(["insert", "replace", "delete"]))
    byte = data.draw(st.integers(0, 255))
    if kind == "insert":
        line.insert(pos, byte)
    elif pos < len(line):
        if kind == "replace":
            line[pos] = byte
        else:
            del line[pos]
    mutated = bytes(line)
    expected_size = chunk_line_size(mutated)
    if expected_size is None:
        assert both_ways(chunked_request(mutated, b"x" * size))[-1] == ("error", 400)
    elif expected_size > MAX_BODY:
        assert both_ways(chunked_request(mutated, b""))[-1] == ("error", 413)
    else:
        body = b"x" * expected_size
        assert both_ways(chunked_request(mutated, body)) == [(b"/echo", body), "closed"]


# -- heads: the fast path takes exactly what the line path accepts -------------------------
def fast_path_takes(head: bytes) -> bool:
    """Whether the whole-head path accepts ``head`` (white-box: outside, the two are one)."""
    parser = RequestParser()
    parser.receive_data(head)
    end = head.find(b"\r\n\r\n")
    return end > 0 and parser._fast_head(0, end + 2)


def line_path_accepts(head: bytes) -> bool:
    """Whether every line of ``head`` passes the line-by-line path, fed a byte at a time.

    The empty line that ends the head is held back: what follows it (Host, framing,
    the target's form) is shared by both paths and not in question here.
    """
    parser = RequestParser()
    lines = head[: head.find(b"\r\n\r\n") + 2]
    try:
        for i in range(len(lines)):
            parser.receive_data(lines[i : i + 1])
            parser.next_event()
    except ProtocolError:
        return False
    return True


HEADS = [head for head, _ in VALID_HEADS] + [
    data[: data.find(b"\r\n\r\n") + 4] for data, _ in BAD if b"\r\n\r\n" in data
]


@pytest.mark.parametrize("head", HEADS, ids=[repr(h[:40]) for h in HEADS])
def test_fast_path_and_line_path_agree_on_every_head(head: bytes) -> None:
    """The fast path never takes a head the line path refuses, and takes every other one."""
    assert fast_path_takes(head) == line_path_accepts(head)


@FAST
@given(
    st.tuples(
        g.token.filter(lambda method: method != b"CONNECT"),  # CONNECT takes host:port
        st.one_of(g.origin_form, g.absolute_form),
        st.lists(st.tuples(g.token, g.ows, g.field_value, g.ows), max_size=4),
        g.host_value,
    )
)
def test_heads_from_the_grammar_take_both_paths(
    parts: tuple[bytes, bytes, list[tuple[bytes, bytes, bytes, bytes]], bytes],
) -> None:
    method, target, fields, host = parts
    head = method + b" " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\n"
    head += b"".join(b"X-" + n + b":" + a + v + b + b"\r\n" for n, a, v, b in fields) + b"\r\n"
    assert fast_path_takes(head)
    assert line_path_accepts(head)
    assert outcome(head) == [(outcome_path(target), b""), "closed"]


def outcome_path(target: bytes) -> bytes:
    """The path a generated origin- or absolute-form target names."""
    if target.startswith(b"/"):
        return target.partition(b"?")[0]
    rest = target.partition(b"://")[2]
    for i, c in enumerate(rest):
        if c in b"/?":
            path = rest[i:].partition(b"?")[0]
            return path or b"/"
    return b"/"
