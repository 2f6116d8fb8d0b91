"""What a parsed request head means: where its target points and how its body is framed.

The parser (:mod:`servers.protocol.http11`) has checked the syntax of every
line; this module reads the parts the core acts on:

* the request-target's form, and the path and query it names (RFC 9112 section 3.2);
* the five header fields that decide framing and persistence: Host,
  Content-Length, Transfer-Encoding (RFC 9112 section 6), Connection (section 9.3)
  and Expect (RFC 9110 section 10.1.1).

Every refusal is a :class:`ProtocolError`: these answers close the connection.
"""

from __future__ import annotations

import re

from servers.protocol import abnf
from servers.protocol.errors import ProtocolError

_HOST = re.compile(abnf.HOST)
_TOKEN = re.compile(abnf.TOKEN)
_CONTENT_LENGTH = re.compile(abnf.CONTENT_LENGTH)
_TRANSFER_CODINGS = re.compile(abnf.list_member(abnf.TRANSFER_CODING))
_CONNECTION_OPTIONS = re.compile(abnf.list_member(abnf.CONNECTION_OPTION))
_EXPECTATIONS = re.compile(abnf.list_member(abnf.EXPECTATION))
_ABSOLUTE_FORM = re.compile(
    abnf.HTTP_SCHEME
    + abnf.HTTP_AUTHORITY
    + rb"("
    + abnf.PATH_ABEMPTY
    + rb")(?:\?("
    + abnf.QUERY
    + rb"))?"
)
_AUTHORITY_FORM = re.compile(abnf.AUTHORITY_FORM)

#: The fields this module reads; every other field is passed through untouched.
INTERPRETED = frozenset(
    {b"host", b"content-length", b"transfer-encoding", b"connection", b"expect"}
)
#: A Content-Length of more digits (leading zeros aside) is over any body limit.
_MAX_LENGTH_DIGITS = 15


#: What :func:`read_framing` finds: ``(length, chunked, keep_alive, expect_continue)``, that
#: is the Content-Length (0 when absent or chunked), whether the body is chunked, whether
#: the connection may persist after the response (RFC 9112 section 9.3), and whether an
#: HTTP/1.1 client sent ``Expect: 100-continue``. A plain tuple: it is built per request.
Framing = tuple[int, bool, bool, bool]

#: Host values already found valid: the same few arrive on every request, so most requests
#: skip the regex. Bounded: it is emptied when full.
_valid_hosts: set[bytes] = set()
_VALID_HOSTS_MAX = 256


def split_target(method: bytes, target: bytes) -> tuple[bytes, bytes]:
    """The path and query named by a target other than an origin-form one, or by CONNECT's.

    The parser splits an origin-form target itself (the request line's groups
    hold its path and query) unless the method is CONNECT. The absolute-form is
    for any method but CONNECT, and names a path on this server; the
    authority-form is for CONNECT only (RFC 9112 section 3.2.3, RFC 9110
    section 9.3.6) and the asterisk-form for OPTIONS only (section 3.2.4): they
    name no path here (``b""`` and ``b"*"``).
    """
    if method == b"CONNECT":
        if _AUTHORITY_FORM.fullmatch(target) is None:
            raise ProtocolError(400, "CONNECT takes an authority-form target (host:port)")
        return b"", b""
    m = _ABSOLUTE_FORM.fullmatch(target)
    if m is not None:
        path, query = m.groups()
        return path or b"/", query or b""
    if target == b"*" and method == b"OPTIONS":
        return b"*", b""
    raise ProtocolError(400, "this request target form is not allowed with this method")


def read_framing(headers: list[tuple[bytes, bytes]], http11: bool, max_body: int) -> Framing:
    """Read Host, Content-Length, Transfer-Encoding, Connection and Expect from ``headers``.

    Args:
        headers: the field lines, names lower-cased, values without surrounding OWS.
        http11: the request is HTTP/1.1 (else HTTP/1.0).
        max_body: the largest body accepted.

    Raises:
        ProtocolError: 400 for a missing, repeated or invalid Host, an invalid
            Content-Length or Transfer-Encoding, or framing that cannot be
            trusted; 413 for a body over ``max_body``; 417 for an expectation
            other than 100-continue; 501 for a transfer coding we do not implement.
    """
    hosts = 0
    length: int | None = None
    codings: list[bytes] | None = None
    close = persist = expect = False
    for name, value in headers:
        if name not in INTERPRETED:
            continue
        if name == b"host":
            hosts += 1
            if value not in _valid_hosts:
                _check_host(value)
        elif name == b"content-length":
            if length is not None:
                raise ProtocolError(400, "more than one Content-Length")
            length = _content_length(value, max_body)
        elif name == b"transfer-encoding":
            codings = (codings or []) + _list(_TRANSFER_CODINGS, value, "Transfer-Encoding")
        elif name == b"connection":
            options = _list(_CONNECTION_OPTIONS, value, "Connection")
            close = close or b"close" in options
            persist = persist or b"keep-alive" in options
        else:
            expect = _expects_continue(value) or expect
    if hosts > 1:
        raise ProtocolError(400, "more than one Host header")
    if http11 and not hosts:
        raise ProtocolError(400, "HTTP/1.1 requests need a Host header")
    keep_alive = not close and (http11 or persist)
    if codings is not None:
        _check_chunked(codings, length, http11)
        return 0, True, keep_alive, expect and http11
    return length or 0, False, keep_alive, expect and http11


def _check_host(value: bytes) -> None:
    """400 unless ``value`` is ``uri-host [ ":" port ]`` (RFC 9112 section 3.2)."""
    if _HOST.fullmatch(value) is None:
        raise ProtocolError(400, 'invalid Host (uri-host [ ":" port ])')
    if len(_valid_hosts) >= _VALID_HOSTS_MAX:
        _valid_hosts.clear()
    _valid_hosts.add(value)


def _list(step: re.Pattern[bytes], value: bytes, field: str) -> list[bytes]:
    """The non-empty elements of a ``#list`` value, lower-cased; 400 if it is not one."""
    if _TOKEN.fullmatch(value) is not None:  # the usual value, and an element of every list here
        return [value.lower()]
    elements = []
    pos, end = 0, len(value)
    while pos < end:
        m = step.match(value, pos)
        if m is None:
            raise ProtocolError(400, f"malformed {field}")
        element = m.group(1)
        if element is not None:
            elements.append(element.lower())
        pos = m.end()
    return elements


def _content_length(value: bytes, max_body: int) -> int:
    if _CONTENT_LENGTH.fullmatch(value) is None:
        raise ProtocolError(400, "Content-Length must be a single unsigned integer")
    if len(value) > _MAX_LENGTH_DIGITS:  # leading zeros are valid: count the others
        value = value.lstrip(b"0") or b"0"
        if len(value) > _MAX_LENGTH_DIGITS:
            raise ProtocolError(413, f"request body over {max_body} bytes")
    size = int(value)
    if size > max_body:
        raise ProtocolError(413, f"request body over {max_body} bytes")
    return size


def _check_chunked(codings: list[bytes], length: int | None, http11: bool) -> None:
    """The framing rules of RFC 9112 sections 6.1 and 6.3 for a Transfer-Encoding request."""
    if length is not None:
        raise ProtocolError(400, "Content-Length together with Transfer-Encoding")
    if not http11:
        raise ProtocolError(400, "Transfer-Encoding in an HTTP/1.0 request")
    names = [coding.partition(b";")[0].rstrip(b" \t") for coding in codings]
    if not names or names[-1] != b"chunked":
        raise ProtocolError(400, "chunked is not the final transfer coding")
    if b"chunked" in names[:-1]:
        raise ProtocolError(400, "chunked applied more than once")
    if len(codings) > 1 or codings[0] != b"chunked":
        raise ProtocolError(501, "only the chunked transfer coding is implemented")


def _expects_continue(value: bytes) -> bool:
    """True for ``100-continue``; 417 for any other expectation (RFC 9110 section 10.1.1)."""
    expectations = _list(_EXPECTATIONS, value, "Expect")
    if any(e != b"100-continue" for e in expectations):
        raise ProtocolError(417, "only 'Expect: 100-continue' is supported")
    return bool(expectations)
