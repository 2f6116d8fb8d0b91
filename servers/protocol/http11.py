"""A strict, incremental HTTP/1.1 request parser (a subset of RFC 9112), sans-IO.

Feed bytes with :meth:`RequestParser.receive_data` (``b""`` means EOF) and pull
events with :meth:`RequestParser.next_event`:

* :class:`Request`: a complete request, body included;
* ``CONTINUE``: the client sent ``Expect: 100-continue`` and is waiting for the
  interim response before sending its body;
* ``NEED_DATA``: nothing more until more bytes arrive;
* ``CLOSED``: the peer closed cleanly between requests.

Anything malformed or over a limit raises :class:`ProtocolError` with the
status to answer; after that the parser stays broken and the connection must
be closed.

The head is processed line by line as lines complete, and the checks that can
fire on an incomplete line (a bare LF, an over-long line) are exactly the
checks applied first to a complete one, so the same bytes give the same events
and the same error whether they arrive whole or one byte at a time.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from servers.protocol.config import Limits
from servers.protocol.errors import ProtocolError

_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([\x21-\x7e]+) HTTP/([0-9])\.([0-9])")
_HEADER_LINE = re.compile(
    rb"(" + _TOKEN + rb"):[ \t]*"
    rb"((?:[\x21-\x7e\x80-\xff](?:[ \t\x21-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?)[ \t]*"
)
_CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]+)"  # chunk-size
    rb"((?:[ \t]*;[ \t]*" + _TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN + rb'|"[^"\\\r\n]*"))?)*)'
    rb"[ \t]*"
)
_FIELD_VALUE = rb"((?:[\x21-\x7e\x80-\xff](?:[ \t\x21-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?)"
# The fast path: a whole head checked by two C-level regex calls. It only ever
# accepts; anything it does not like goes through the line-by-line path, which
# finds the precise error.
_FAST_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([\x21-\x7e]+) HTTP/(1\.[01])")
_FAST_FIELD = rb"(" + _TOKEN + rb"):[ \t]*" + _FIELD_VALUE + rb"[ \t]*\r\n"
_FAST_FIELDS = re.compile(_FAST_FIELD)
_FAST_BLOCK = re.compile(  # the same as _FAST_FIELD, repeated, without capturing groups
    rb"(?:"
    + _TOKEN
    + rb":[ \t]*(?:[\x21-\x7e\x80-\xff](?:[ \t\x21-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?)?"
    rb"[ \t]*\r\n)*"
)
_TOKEN_RE = re.compile(_TOKEN)
_CONTENT_LENGTH = re.compile(rb"[0-9]{1,15}")
_ABSOLUTE_FORM = re.compile(rb"https?://[^/?#]+([/?].*)?", re.IGNORECASE)

_SPECIAL = frozenset({b"host", b"content-length", b"transfer-encoding", b"connection", b"expect"})


class Request(NamedTuple):
    """A complete request. ``headers`` keeps names lower-cased, in arrival order."""

    method: bytes
    target: bytes
    path: bytes
    query: bytes
    version: bytes  # b"1.1" or b"1.0"
    headers: list[tuple[bytes, bytes]]
    body: bytes
    keep_alive: bool


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEED_DATA = _Sentinel("NEED_DATA")
CONTINUE = _Sentinel("CONTINUE")
CLOSED = _Sentinel("CLOSED")

# parser states
_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILER, _ERROR = range(7)


class RequestParser:
    """Incremental request parser for one connection. See the module docstring."""

    __slots__ = (
        "_buf",
        "_pos",
        "_eof",
        "_state",
        "_error",
        "_limits",
        "_line",
        "_headers",
        "_pending",
        "_remaining",
        "_body_parts",
        "_body_size",
        "_expect",
        "_trailers",
    )

    def __init__(self, limits: Limits | None = None) -> None:
        self._limits = limits or Limits()
        self._buf = bytearray()
        self._pos = 0
        self._eof = False
        self._state = _HEAD
        self._error: ProtocolError | None = None
        self._line: tuple[bytes, bytes, bytes] | None = None  # method, target, version
        self._headers: list[tuple[bytes, bytes]] = []
        self._pending: Request | None = None  # head of a request whose body is being read
        self._remaining = 0
        self._body_parts: list[bytes] = []
        self._body_size = 0
        self._expect = False
        self._trailers = 0

    # -- feeding -----------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Add received bytes; ``b""`` means the peer closed its side."""
        if data:
            if self._eof:
                raise RuntimeError("receive_data after EOF")
            self._buf += data
        else:
            self._eof = True

    @property
    def idle(self) -> bool:
        """True between requests with nothing buffered (safe to close for keep-alive)."""
        return self._state == _HEAD and self._line is None and self._pos >= len(self._buf)

    @property
    def reading_body(self) -> bool:
        return _BODY <= self._state <= _TRAILER

    @property
    def broken(self) -> bool:
        return self._state == _ERROR

    # -- events ------------------------------------------------------------------
    def next_event(self) -> Request | _Sentinel:
        """Return the next event, or raise :class:`ProtocolError`."""
        state = self._state
        if state == _HEAD and self._line is None and self._pos >= len(self._buf):
            # the common case between requests: nothing buffered
            if self._pos:
                self._buf.clear()
                self._pos = 0
            return CLOSED if self._eof else NEED_DATA
        if state == _ERROR:
            assert self._error is not None
            raise self._error
        try:
            if self._state == _HEAD:
                event = self._next_head()
            else:
                event = self._next_body()
        except ProtocolError as exc:
            self._state = _ERROR
            self._error = exc
            raise
        if event is NEED_DATA:
            if self._pos:
                del self._buf[: self._pos]
                self._pos = 0
            if self._eof:
                if self._state == _HEAD and self._line is None and not self._buf:
                    return CLOSED
                self._state = _ERROR
                self._error = ProtocolError(400, "connection closed in the middle of a request")
                raise self._error
        return event

    # -- head --------------------------------------------------------------------
    def _next_head(self) -> Request | _Sentinel:
        buf = self._buf
        if self._line is None:
            pos = self._pos
            end = buf.find(b"\r\n\r\n", pos)
            if end > pos and self._fast_head(bytes(buf[pos:end])):
                self._pos = end + 4
                return self._end_of_head()
        while True:
            pos = self._pos
            if self._line is None:
                # tolerate empty lines before a request line (RFC 9112 section 2.2)
                while buf.startswith(b"\r\n", pos):
                    pos += 2
                self._pos = pos
            end = buf.find(b"\r\n", pos)
            if end < 0:
                self._check_partial_line(buf, pos)
                return NEED_DATA
            line = bytes(buf[pos:end])
            self._pos = end + 2
            if self._line is None:
                self._parse_request_line(line)
            elif line:
                self._parse_header_line(line)
            else:
                return self._end_of_head()

    def _fast_head(self, head: bytes) -> bool:
        """Accept a complete, well-formed head in one go; False sends it the slow way."""
        limits = self._limits
        cut = head.find(b"\r\n")
        request_line = head if cut < 0 else head[:cut]
        m = _FAST_REQUEST_LINE.fullmatch(request_line)
        if m is None or len(request_line) > limits.max_request_line:
            return False
        if cut < 0:
            headers: list[tuple[bytes, bytes]] = []
        else:
            block = head[cut + 2 :] + b"\r\n"
            if _FAST_BLOCK.fullmatch(block) is None:
                return False
            pairs = _FAST_FIELDS.findall(block)
            if len(pairs) > limits.max_header_count:
                return False
            if len(block) > limits.max_header_line and any(
                len(line) > limits.max_header_line for line in block.split(b"\r\n")
            ):
                return False
            headers = [(name.lower(), value) for name, value in pairs]
        method, target, version = m.groups()
        self._line = (method, target, version)
        self._headers = headers
        return True

    def _check_partial_line(self, buf: bytearray, pos: int) -> None:
        """Checks that may fire before a line is complete (the first checks of a full line)."""
        size = len(buf) - pos
        if size and buf.endswith(b"\r"):
            size -= 1  # the CR of a CRLF whose LF is still on its way
        head_line = self._line is None
        limit = self._limits.max_request_line if head_line else self._limits.max_header_line
        if buf.find(b"\n", pos, pos + limit) >= 0:
            raise ProtocolError(400, "bare LF in the request head (lines end with CRLF)")
        if size > limit:
            if head_line:
                raise ProtocolError(414, f"request line longer than {limit} bytes")
            raise ProtocolError(431, f"header field line longer than {limit} bytes")

    def _parse_request_line(self, line: bytes) -> None:
        limit = self._limits.max_request_line
        if b"\n" in line[:limit]:
            raise ProtocolError(400, "bare LF in the request line")
        if len(line) > limit:
            raise ProtocolError(414, f"request line longer than {limit} bytes")
        m = _REQUEST_LINE.fullmatch(line)
        if m is None:
            raise ProtocolError(400, "malformed request line")
        method, target, major, minor = m.groups()
        if major != b"1" or minor not in (b"0", b"1"):
            raise ProtocolError(505, "only HTTP/1.0 and HTTP/1.1 are supported")
        self._line = (method, target, major + b"." + minor)

    def _parse_header_line(self, line: bytes) -> None:
        limits = self._limits
        if b"\n" in line[: limits.max_header_line]:
            raise ProtocolError(400, "bare LF in a header field line")
        if len(line) > limits.max_header_line:
            raise ProtocolError(
                431, f"header field line longer than {limits.max_header_line} bytes"
            )
        if len(self._headers) >= limits.max_header_count:
            raise ProtocolError(431, f"more than {limits.max_header_count} header fields")
        m = _HEADER_LINE.fullmatch(line)
        if m is None:
            raise ProtocolError(400, _explain_bad_header(line))
        name, value = m.groups()
        self._headers.append((name.lower(), value))

    def _end_of_head(self) -> Request | _Sentinel:
        assert self._line is not None
        method, target, version = self._line
        headers = self._headers
        self._line = None
        self._headers = []
        http11 = version == b"1.1"

        hosts = 0
        content_length: bytes | None = None
        codings: list[bytes] | None = None
        keep_alive = http11
        expect = False
        for name, value in headers:
            if name not in _SPECIAL:
                continue
            if name == b"host":
                hosts += 1
            elif name == b"content-length":
                if content_length is not None:
                    raise ProtocolError(400, "more than one Content-Length")
                if _CONTENT_LENGTH.fullmatch(value) is None:
                    raise ProtocolError(400, "Content-Length must be a single unsigned integer")
                content_length = value
            elif name == b"transfer-encoding":
                if codings is None:
                    codings = []
                for item in value.split(b","):
                    item = item.strip(b" \t").lower()
                    if not item or _TOKEN_RE.fullmatch(item) is None:
                        raise ProtocolError(400, "malformed Transfer-Encoding")
                    codings.append(item)
            elif name == b"connection":
                for item in value.lower().split(b","):
                    item = item.strip(b" \t")
                    if item == b"close":
                        keep_alive = False
                        break
                    if item == b"keep-alive" and not http11:
                        keep_alive = True
            else:  # expect
                if value.lower() != b"100-continue":
                    raise ProtocolError(417, "only 'Expect: 100-continue' is supported")
                expect = http11
        if http11 and hosts != 1:
            raise ProtocolError(400, "HTTP/1.1 requests need exactly one Host header")
        if hosts > 1:
            raise ProtocolError(400, "more than one Host header")

        if target[:1] == b"/" and b"#" not in target:
            path, _, query = target.partition(b"?")
        else:
            path, query = _split_target(method, target)
        request = Request(method, target, path, query, version, headers, b"", keep_alive)
        if codings is not None:
            if content_length is not None:
                raise ProtocolError(400, "Content-Length together with Transfer-Encoding")
            if not http11:
                raise ProtocolError(400, "Transfer-Encoding in an HTTP/1.0 request")
            if any(c != b"chunked" for c in codings):
                raise ProtocolError(501, "only the chunked transfer coding is supported")
            if len(codings) > 1:
                raise ProtocolError(400, "chunked applied more than once")
            return self._start_body(request, _CHUNK_SIZE, 0, expect)
        if content_length is not None:
            size = int(content_length)
            if size > self._limits.max_body:
                raise ProtocolError(413, f"request body over {self._limits.max_body} bytes")
            if size:
                return self._start_body(request, _BODY, size, expect)
        return request

    def _start_body(
        self, request: Request, state: int, size: int, expect: bool
    ) -> Request | _Sentinel:
        self._pending = request
        self._state = state
        self._remaining = size
        self._body_parts = []
        self._body_size = 0
        self._trailers = 0
        if expect and self._pos >= len(self._buf):
            return CONTINUE
        return self._next_body()

    # -- body --------------------------------------------------------------------
    def _next_body(self) -> Request | _Sentinel:
        buf = self._buf
        while True:
            state = self._state
            pos = self._pos
            available = len(buf) - pos
            if state == _BODY or state == _CHUNK_DATA:
                if not available:
                    return NEED_DATA
                take = min(available, self._remaining)
                self._body_parts.append(bytes(buf[pos : pos + take]))
                self._pos = pos + take
                self._remaining -= take
                if self._remaining:
                    return NEED_DATA
                if state == _BODY:
                    return self._finish_body()
                self._state = _CHUNK_CRLF
            elif state == _CHUNK_CRLF:
                if available < 2:
                    if available and buf[pos] != 13:
                        raise ProtocolError(400, "chunk data not followed by CRLF")
                    return NEED_DATA
                if buf[pos] != 13 or buf[pos + 1] != 10:
                    raise ProtocolError(400, "chunk data not followed by CRLF")
                self._pos = pos + 2
                self._state = _CHUNK_SIZE
            else:  # _CHUNK_SIZE or _TRAILER: line based
                limit = self._limits.max_chunk_line
                if state == _TRAILER:
                    limit = self._limits.max_header_line
                end = buf.find(b"\r\n", pos)
                if end < 0:
                    size = available - (1 if buf.endswith(b"\r") else 0)
                    if buf.find(b"\n", pos, pos + limit) >= 0:
                        raise ProtocolError(400, "bare LF in chunked framing")
                    if size > limit:
                        raise ProtocolError(400, f"chunk framing line longer than {limit} bytes")
                    return NEED_DATA
                line = bytes(buf[pos:end])
                if b"\n" in line[:limit]:
                    raise ProtocolError(400, "bare LF in chunked framing")
                if len(line) > limit:
                    raise ProtocolError(400, f"chunk framing line longer than {limit} bytes")
                self._pos = end + 2
                if state == _CHUNK_SIZE:
                    self._chunk_size_line(line)
                elif not line:
                    return self._finish_body()
                else:
                    self._trailer_line(line)

    def _chunk_size_line(self, line: bytes) -> None:
        m = _CHUNK_LINE.fullmatch(line)
        if m is None:
            raise ProtocolError(400, "malformed chunk-size line")
        digits = m.group(1)
        if len(digits) > 15:
            raise ProtocolError(413, f"request body over {self._limits.max_body} bytes")
        size = int(digits, 16)
        if self._body_size + size > self._limits.max_body:
            raise ProtocolError(413, f"request body over {self._limits.max_body} bytes")
        self._body_size += size
        if size:
            self._remaining = size
            self._state = _CHUNK_DATA
        else:
            self._state = _TRAILER

    def _trailer_line(self, line: bytes) -> None:
        if line[:1] in (b" ", b"\t"):
            raise ProtocolError(400, "obs-fold in the trailer section")
        if _HEADER_LINE.fullmatch(line) is None:
            raise ProtocolError(400, "malformed trailer field")
        self._trailers += 1
        if self._trailers > self._limits.max_header_count:
            raise ProtocolError(431, f"more than {self._limits.max_header_count} trailer fields")

    def _finish_body(self) -> Request:
        request = self._pending
        assert request is not None
        parts = self._body_parts
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        self._pending = None
        self._body_parts = []
        self._state = _HEAD
        return request._replace(body=body)


def _split_target(method: bytes, target: bytes) -> tuple[bytes, bytes]:
    """Split a request target into path and query; only origin- and absolute-form."""
    if target[:1] != b"/":
        m = _ABSOLUTE_FORM.fullmatch(target)
        if m is None:
            if target == b"*" and method == b"OPTIONS":
                return b"*", b""
            raise ProtocolError(400, "request target must be an absolute path")
        target = m.group(1) or b"/"
        if target[:1] == b"?":
            target = b"/" + target
    if b"#" in target:
        raise ProtocolError(400, "fragment in the request target")
    path, sep, query = target.partition(b"?")
    return path, query


def _explain_bad_header(line: bytes) -> str:
    if line[:1] in (b" ", b"\t"):
        return "obs-fold (a header line starting with whitespace) is not accepted"
    name, colon, _ = line.partition(b":")
    if not colon:
        return "header field line without a colon"
    if name[-1:] in (b" ", b"\t"):
        return "whitespace between a header field name and the colon"
    if not name or _TOKEN_RE.fullmatch(name) is None:
        return "invalid character in a header field name"
    return "invalid character in a header field value"
