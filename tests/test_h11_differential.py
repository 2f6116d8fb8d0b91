"""Our parser against h11 on requests written from the RFC grammar.

Hypothesis writes well-formed requests (:mod:`tests.grammar_strategies`);
h11 parses each one too. Where both accept, method, target, version, headers and
body must agree. Where they differ, the difference must be in
:data:`KNOWN_DIFFERENCES`: each is named, tied to the RFC section that decides
it, and proved by a strategy of its own that generates requests showing it
(so the table stays true when either parser changes).
"""

from __future__ import annotations

from dataclasses import dataclass

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servers.protocol.errors import ProtocolError
from servers.protocol.http11 import CLOSED, CONTINUE, NEED_DATA, Request, RequestParser
from tests import grammar_strategies as g

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROOF = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ACCEPT = "accept"
Verdict = int | str  # a refusal's status, or ACCEPT


@dataclass(frozen=True)
class Parsed:
    """What a parser made of one request."""

    method: bytes
    target: bytes
    version: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


def ours(data: bytes) -> Parsed | int:
    """Our parser on ``data`` then EOF: the one request, or the status of its refusal."""
    parser = RequestParser()
    requests: list[Request] = []
    try:
        for piece in (data, b""):
            parser.receive_data(piece)
            while (event := parser.next_event()) not in (NEED_DATA, CLOSED):
                if event is not CONTINUE:
                    assert isinstance(event, Request)
                    requests.append(event)
    except ProtocolError as exc:
        return exc.status
    [request] = requests
    return Parsed(
        request.method,
        request.target,
        request.version,
        tuple(request.headers),
        request.body,
    )


def theirs(data: bytes) -> Parsed | int:
    """h11 (as a server) on ``data``: the one request, or its refusal's status hint."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    head: h11.Request | None = None
    body = b""
    try:
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                raise AssertionError(f"h11 stopped at {event!r}")
    except h11.RemoteProtocolError as exc:
        return exc.error_status_hint
    assert head is not None
    return Parsed(head.method, head.target, head.http_version, tuple(head.headers), body)


def verdict(result: Parsed | int) -> Verdict:
    return ACCEPT if isinstance(result, Parsed) else result


def comparable(result: Parsed, *, h11_view: bool) -> Parsed:
    """The fields both parsers report the same way.

    h11 lower-cases Transfer-Encoding values and names the version as sent; we
    serve HTTP/1.2 and up as 1.1, the highest minor version we implement (RFC
    9110 section 2.5).
    """
    headers = tuple(
        (name, value.lower() if name == b"transfer-encoding" else value)
        for name, value in result.headers
    )
    version = result.version
    if h11_view and version.startswith(b"1.") and version > b"1.1":
        version = b"1.1"
    return Parsed(result.method, result.target, version, headers, result.body)


# -- requests written from the grammar ----------------------------------------------------
@dataclass(frozen=True)
class Written:
    """A generated request, with the grammar branches it used that the parsers treat apart."""

    raw: bytes
    features: frozenset[str]


#: True about one time in five (``st.integers(0, 4) == 0`` would favour True: hypothesis
#: draws the bounds of a range often)
rarely = st.sampled_from([False, False, False, False, True])
INTERPRETED = {b"host", b"content-length", b"transfer-encoding", b"connection", b"expect"}
field_name = g.token.filter(lambda name: name.lower() not in INTERPRETED)


@st.composite
def request_target(draw: st.DrawFn, method: bytes) -> bytes:
    if method == b"CONNECT":
        return draw(g.authority_form)
    if method == b"OPTIONS" and draw(st.booleans()):
        return b"*"
    return draw(st.one_of(g.origin_form, g.origin_form, g.absolute_form))


@st.composite
def chunked_body(draw: st.DrawFn, body: bytes, features: set[str]) -> bytes:
    """body as chunk [ chunk-ext ] CRLF data CRLF ..., a last-chunk and a trailer section."""
    out = b""
    rest = body
    while True:
        size = min(len(rest), draw(st.integers(0, 12)))
        line = draw(g.chunk_line(size, bws_before_semicolon=draw(rarely)))
        if line.lstrip(g.HEXDIG)[:1] in (b" ", b"\t"):
            features.add("chunk-ext-bws-before-semicolon")
        if not size:
            out += line + b"\r\n"
            break
        out += line + b"\r\n" + rest[:size] + b"\r\n"
        rest = rest[size:]
    trailers = draw(st.lists(st.tuples(field_name, g.field_value), max_size=2))
    return out + b"".join(n + b": " + v + b"\r\n" for n, v in trailers) + b"\r\n"


@st.composite
def well_formed_request(draw: st.DrawFn) -> Written:
    features: set[str] = set()
    minor = draw(st.sampled_from(b"11111000023456789"))
    version = b"1.%c" % minor
    method = draw(
        st.one_of(st.sampled_from([b"GET", b"POST", b"HEAD", b"OPTIONS", b"CONNECT"]), g.token)
    )
    target = draw(request_target(method))
    fields: list[bytes] = []
    if version != b"1.0" or draw(st.booleans()):
        fields.append(b"Host:" + draw(g.ows) + draw(g.host_value) + draw(g.ows))
    for name, value in draw(st.lists(st.tuples(field_name, g.field_value), max_size=4)):
        fields.append(name + b":" + draw(g.ows) + value + draw(g.ows))
    if draw(st.booleans()):
        options = draw(st.lists(st.sampled_from([b"close", b"keep-alive", b"Upgrade"]), max_size=2))
        fields.append(b"Connection: " + b", ".join(options))
    body = draw(st.binary(max_size=30))
    framing = draw(st.sampled_from(["none", "length", "chunked"]))
    if framing == "length" or (framing == "none" and body):
        zeros = b"0" * draw(st.integers(0, 2))
        fields.append(b"Content-Length: " + zeros + b"%d" % len(body))
        encoded = body
    elif framing == "chunked":
        coding = draw(st.sampled_from([b"chunked", b"Chunked", b"CHUNKED"]))
        if draw(rarely):
            coding = draw(st.sampled_from([b", ", b""])) + coding + b","
            features.add("te-empty-list-elements")
        if version == b"1.0":
            features.add("transfer-encoding-in-http1.0")
        fields.append(b"Transfer-Encoding: " + coding)
        encoded = draw(chunked_body(body, features))
    else:
        encoded = b""
    fields = draw(st.permutations(fields))
    leading = b""
    if draw(rarely):
        leading = b"\r\n"
        features.add("leading-empty-line")
    head = method + b" " + target + b" HTTP/" + version + b"\r\n"
    raw = leading + head + b"".join(f + b"\r\n" for f in fields) + b"\r\n" + encoded
    return Written(raw, frozenset(features))


# -- the known differences, each with its proof --------------------------------------------
def request_with(
    *, target: bytes = b"/", version: bytes = b"1.1", fields: bytes = b"", method: bytes = b"GET"
) -> bytes:
    return method + b" " + target + b" HTTP/" + version + b"\r\nHost: h\r\n" + fields + b"\r\n"


def chunked_with(line: bytes, size: int) -> bytes:
    return (
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        + line
        + b"\r\n"
        + b"x" * size
        + b"\r\n0\r\n\r\n"
    )


CTL_IN_VALUE = bytes(range(1, 9)) + bytes(range(0x0E, 0x20)) + b"\x7f"
OUTSIDE_URI = b'"<>\\^`{|}#'


@dataclass(frozen=True)
class Difference:
    """A place where our parser and h11 answer differently, by design."""

    name: str
    rfc: str  # the section that decides it
    why: str
    ours: Verdict
    h11: Verdict
    example: st.SearchStrategy[bytes]  # generates requests showing the difference


KNOWN_DIFFERENCES = [
    Difference(
        "chunk-size-trailing-whitespace",
        "RFC 9112 section 7.1",
        "no whitespace may follow a chunk-size or chunk-ext; h11 allows OWS before the CRLF",
        400,
        ACCEPT,
        st.integers(1, 9).flatmap(
            lambda n: (
                st.tuples(g.chunk_line(n, bws_before_semicolon=False), g.ows)
                .filter(lambda t: t[1] != b"")
                .map(lambda t, n=n: chunked_with(t[0] + t[1], n))
            )
        ),
    ),
    Difference(
        "chunk-ext-unchecked",
        "RFC 9112 section 7.1, RFC 9110 section 5.6.4",
        "a chunk-ext must be ;name[=token/quoted-string]; h11 skips anything after the ';'",
        400,
        ACCEPT,
        st.one_of(
            st.sampled_from(CTL_IN_VALUE).map(lambda c: b'5;a="' + bytes([c]) + b'"'),
            st.sampled_from([b"5;", b"5;=b", b"5;a=", b'5;a="x', b"5;a=b c", b"5;a=\x80"]),
        ).map(lambda line: chunked_with(line, 5)),
    ),
    Difference(
        "chunk-ext-bws-before-semicolon",
        "RFC 9112 section 7.1",
        "chunk-ext = *( BWS ';' ... ) allows whitespace between the size and ';'; h11 refuses it",
        ACCEPT,
        400,
        st.tuples(g.bws.filter(bool), g.token).map(
            lambda t: chunked_with(b"5" + t[0] + b";" + t[1], 5)
        ),
    ),
    Difference(
        "request-target-outside-rfc3986",
        "RFC 9112 section 3.2, RFC 3986 section 3.3",
        "a target is made of pchar, '/', '?' and pct-encoded; h11 takes any VCHAR",
        400,
        ACCEPT,
        st.tuples(g.origin_form, st.sampled_from(OUTSIDE_URI)).map(
            lambda t: request_with(target=t[0] + bytes([t[1]]))
        )
        | st.sampled_from([b"/%", b"/%4", b"/%zz", b"/a%g0"]).map(lambda t: request_with(target=t)),
    ),
    Difference(
        "target-form-not-for-method",
        "RFC 9112 sections 3.2.3, 3.2.4",
        "authority-form is for CONNECT only, asterisk-form for OPTIONS only; h11 does not check",
        400,
        ACCEPT,
        st.one_of(
            g.authority_form.map(lambda t: request_with(target=t)),
            st.just(request_with(target=b"*")),
            g.origin_form.map(lambda t: request_with(method=b"CONNECT", target=t)),
        ),
    ),
    Difference(
        "absolute-form-userinfo-or-empty-host",
        "RFC 9110 sections 4.2.1, 4.2.4",
        "an http URI must have a host and should not carry userinfo; h11 does not look",
        400,
        ACCEPT,
        st.one_of(
            g.reg_name.map(lambda u: request_with(target=b"http://" + u + b"@h/")),
            g.absolute_path.map(lambda p: request_with(target=b"http://" + p)),
        ),
    ),
    Difference(
        "invalid-host",
        "RFC 9112 section 3.2",
        "a server must answer 400 to a Host that is not uri-host [ ':' port ]; h11 does not check",
        400,
        ACCEPT,
        st.tuples(g.reg_name, st.sampled_from(b' "/@<>\\^`{|}[]')).map(
            lambda t: request_with(fields=b"X: y\r\n").replace(
                b"Host: h", b"Host: " + t[0] + bytes([t[1]]) + b"x"
            )
        ),
    ),
    Difference(
        "ctl-in-field-value",
        "RFC 9110 section 5.5",
        "field-vchar excludes CTLs; h11 allows all but NUL and whitespace",
        400,
        ACCEPT,
        st.sampled_from(CTL_IN_VALUE).map(
            lambda c: request_with(fields=b"X: a" + bytes([c]) + b"b\r\n")
        ),
    ),
    Difference(
        "obs-fold",
        "RFC 9112 section 5.2",
        "a server must reject obs-fold with 400 or replace it by SP: we reject, h11 replaces",
        400,
        ACCEPT,
        st.tuples(g.ows.filter(bool), g.token).map(
            lambda t: request_with(fields=b"X: a\r\n" + t[0] + t[1] + b"\r\n")
        ),
    ),
    Difference(
        "http-major-version-not-1",
        "RFC 9110 sections 6.2, 15.6.6",
        "we answer 505 to an HTTP/2+ request line; h11 passes the version on",
        505,
        ACCEPT,
        st.tuples(st.sampled_from(b"023456789"), st.sampled_from(b"0123456789")).map(
            lambda t: request_with(version=b"%c.%c" % t)
        ),
    ),
    Difference(
        "transfer-encoding-in-http1.0",
        "RFC 9112 section 6.1",
        "Transfer-Encoding in HTTP/1.0 must be treated as faulty framing; h11 decodes it",
        400,
        ACCEPT,
        st.just(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ),
    Difference(
        "chunked-not-final",
        "RFC 9112 section 6.3",
        "when chunked is not the final coding a server must answer 400; h11 answers 501",
        400,
        501,
        st.sampled_from(
            [b"gzip", b"chunked, gzip", b"identity", b"chunked\r\nTransfer-Encoding: x"]
        ).map(
            lambda te: request_with(method=b"POST", fields=b"Transfer-Encoding: " + te + b"\r\n")
        ),
    ),
    Difference(
        "te-empty-list-elements",
        "RFC 9110 section 5.6.1.2",
        "a recipient must accept empty list elements ('chunked,'); h11 wants 'chunked' alone",
        ACCEPT,
        501,
        st.sampled_from([b"chunked,", b", chunked", b",,chunked , "]).map(
            lambda te: (
                request_with(method=b"POST", fields=b"Transfer-Encoding: " + te + b"\r\n")
                + b"0\r\n\r\n"
            )
        ),
    ),
    Difference(
        "content-length-list",
        "RFC 9110 section 8.6",
        "a list of equal Content-Length values may be rejected or merged: we reject, h11 merges",
        400,
        ACCEPT,
        st.integers(0, 9).map(
            lambda n: (
                request_with(method=b"POST", fields=b"Content-Length: %d, %d\r\n" % (n, n))
                + b"x" * n
            )
        ),
    ),
    Difference(
        "connection-not-a-token-list",
        "RFC 9110 section 7.6.1",
        "Connection = #connection-option (tokens); we refuse other values, h11 does not look",
        400,
        ACCEPT,
        st.sampled_from([b"close x", b'"close"', b"a;b", b"keep-alive/1"]).map(
            lambda v: request_with(fields=b"Connection: " + v + b"\r\n")
        ),
    ),
    Difference(
        "expectation-not-supported",
        "RFC 9110 section 10.1.1",
        "a server may answer 417 to an expectation other than 100-continue; h11 passes it on",
        417,
        ACCEPT,
        g.token.filter(lambda t: t.lower() != b"100-continue").map(
            lambda t: request_with(fields=b"Expect: " + t + b"\r\n")
        ),
    ),
    Difference(
        "leading-empty-line",
        "RFC 9112 section 2.2",
        "a server should ignore at least one empty line before the request line; h11 refuses",
        ACCEPT,
        400,
        st.integers(1, 3).map(lambda n: b"\r\n" * n + request_with()),
    ),
]
BY_NAME = {d.name: d for d in KNOWN_DIFFERENCES}


@pytest.mark.parametrize("difference", KNOWN_DIFFERENCES, ids=lambda d: d.name)
def test_each_known_difference_shows(difference: Difference) -> None:
    """Every entry of the table is true: its requests get the stated answers from both."""

    @PROOF
    @given(difference.example)
    def show(raw: bytes) -> None:
        assert (verdict(ours(raw)), verdict(theirs(raw))) == (difference.ours, difference.h11), raw

    show()


def test_the_table_is_well_kept() -> None:
    assert len(BY_NAME) == len(KNOWN_DIFFERENCES)
    for d in KNOWN_DIFFERENCES:
        assert d.rfc.startswith("RFC 9112") or d.rfc.startswith("RFC 9110"), d.name
        assert d.ours != d.h11


@FAST
@given(well_formed_request())
def test_we_agree_with_h11_on_well_formed_requests(written: Written) -> None:
    """Both accept and agree, both refuse, or the difference is one the table names and this
    request uses."""
    mine, reference = ours(written.raw), theirs(written.raw)
    if isinstance(mine, Parsed) and isinstance(reference, Parsed):
        assert comparable(mine, h11_view=False) == comparable(reference, h11_view=True)
        return
    if not isinstance(mine, Parsed) and not isinstance(reference, Parsed):
        return
    seen = (verdict(mine), verdict(reference))
    explained = [
        name
        for name in written.features
        if name in BY_NAME and (BY_NAME[name].ours, BY_NAME[name].h11) == seen
    ]
    assert explained, f"unexplained difference (ours, h11) = {seen} on {written.raw!r}"
