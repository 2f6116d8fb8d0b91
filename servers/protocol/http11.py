"""A strict, incremental HTTP/1.1 request parser (RFC 9112), sans-IO.

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

One grammar, two ways through a head. Every pattern is built from the named
productions of :mod:`servers.protocol.abnf`. When a whole head has arrived, one
regex call checks it and one more splits its field lines (the fast path);
otherwise the head is read line by line as lines complete, with the same
productions. The fast path only ever accepts: a head it does not take goes the
line way, which finds the precise error. The checks that can fire on an
incomplete line (a bare LF, an over-long line) are exactly the first checks
applied to a complete one, so the same bytes give the same events and the same
error whether they arrive whole or one byte at a time.

The parser is a small state machine (:class:`State`); ``_READERS`` maps each
state to the method that reads it. A chunk's readers hand over to the next one
directly (line, data, CRLF), as the bytes usually arrive together.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from typing import NamedTuple

from servers.protocol import abnf
from servers.protocol.config import Limits
from servers.protocol.errors import ProtocolError
from servers.protocol.head import read_framing, split_target

_REQUEST_LINE_RE = re.compile(abnf.REQUEST_LINE)
_FIELD_LINE_RE = re.compile(abnf.FIELD_LINE)
_CHUNK_LINE_RE = re.compile(abnf.CHUNK_LINE)
_TOKEN_RE = re.compile(abnf.TOKEN)
#: The fast path: a whole head, request line then field lines, each with its CRLF.
#: Groups 1-6 are the request line's, 7 the block of field lines.
_WHOLE_HEAD_RE = re.compile(
    abnf.REQUEST_LINE + abnf.CRLF + rb"((?:" + abnf.FIELD_LINE_PLAIN + abnf.CRLF + rb")*)"
)
_FIELD_LINES_RE = re.compile(abnf.FIELD_LINE + abnf.CRLF)
#: A chunk size of more hex digits (leading zeros aside) is over any body limit.
_MAX_CHUNK_DIGITS = 15


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


#: Empty lines ignored before a request line (RFC 9112 section 2.2 asks for at least one).
MAX_BLANK_LINES = 4

NEED_DATA = _Sentinel("NEED_DATA")
CONTINUE = _Sentinel("CONTINUE")
CLOSED = _Sentinel("CLOSED")

Event = Request | _Sentinel


class State(enum.IntEnum):
    """Where the parser is in the byte stream; each state has one reader in ``_READERS``.

    The transitions, all made by the readers::

        HEAD -- a request without a body ---------------------------> HEAD
        HEAD -- Content-Length --> BODY ----------------------------> HEAD
        HEAD -- chunked --> CHUNK_LINE -- size > 0 --> CHUNK_DATA --> CHUNK_END --> CHUNK_LINE
                            CHUNK_LINE -- size 0 --> TRAILER -- empty line --> HEAD
        any -- ProtocolError, or EOF inside a request --> ERROR (for good)
    """

    HEAD = 0  #: between requests, or in a request line and its field lines
    BODY = 1  #: in a body of known length (Content-Length)
    CHUNK_LINE = 2  #: expecting a chunk-size line (chunk-size [ chunk-ext ] CRLF)
    CHUNK_DATA = 3  #: in the data of a chunk
    CHUNK_END = 4  #: expecting the CRLF after a chunk's data
    TRAILER = 5  #: in the trailer section, up to its empty line
    ERROR = 6  #: broken: the error is raised again on every call


# The states as module globals for the readers: looking a member up on an Enum class costs
# several times a global lookup, and the readers change state a few times per chunk.
_HEAD, _BODY, _CHUNK_LINE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _ERROR = State


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
        "_trailers",
        "_blank_lines",
    )

    def __init__(self, limits: Limits | None = None) -> None:
        self._limits = limits or Limits()
        self._buf = bytearray()
        self._pos = 0
        self._eof = False
        self._state = _HEAD
        self._blank_lines = 0  # empty lines skipped before the request line in progress
        self._error: ProtocolError | None = None
        #: the request line read so far: method, target, path, query, version
        self._line: tuple[bytes, bytes, bytes | None, bytes | None, bytes] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._pending: Request | None = None  # head of a request whose body is being read
        self._remaining = 0
        self._body_parts: list[bytes] = []
        self._body_size = 0
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
        """True from the end of a head to the end of its body."""
        return _BODY <= self._state <= _TRAILER

    @property
    def broken(self) -> bool:
        """True once an error was raised: the connection must close."""
        return self._state == _ERROR

    @property
    def method(self) -> bytes | None:
        """The method of the request being read once its request line is in, else None.

        It outlives an error, so that the answer to a broken HEAD request carries no body.
        """
        if self._line is not None:
            return self._line[0]
        if self._pending is not None:
            return self._pending.method
        return None

    # -- events ------------------------------------------------------------------
    def next_event(self) -> Event:
        """Return the next event, or raise :class:`ProtocolError`."""
        try:
            event = _READERS[self._state](self)
            while event is None:  # the reader moved to another state: read on there
                event = _READERS[self._state](self)
        except ProtocolError as exc:
            self._state = _ERROR
            self._error = exc
            raise
        if event is not NEED_DATA:
            return event
        if self._pos:  # drop the bytes consumed
            del self._buf[: self._pos]
            self._pos = 0
        return self._at_eof() if self._eof else NEED_DATA

    def _at_eof(self) -> Event:
        """The peer has closed: CLOSED between requests, 400 inside one."""
        if self._state == _HEAD and self._line is None and not self._buf:
            return CLOSED
        self._state = _ERROR
        self._error = ProtocolError(400, "connection closed in the middle of a request")
        raise self._error

    def _read_error(self) -> Event | None:
        assert self._error is not None
        raise self._error

    # -- the head: request line and field lines (RFC 9112 sections 3, 5) ----------
    def _read_head(self) -> Event | None:
        if self._line is None:
            pos = self._pos
            buf = self._buf
            if pos >= len(buf):
                return NEED_DATA
            end = buf.find(b"\r\n\r\n", pos)
            if end > pos and self._fast_head(pos, end + 2):
                self._pos = end + 4
                return self._end_of_head()
        return self._read_head_lines()

    def _fast_head(self, start: int, end: int) -> bool:
        """Take the complete head in ``buf[start:end]`` in one go; False sends it the line way."""
        buf = self._buf
        limits = self._limits
        m = _WHOLE_HEAD_RE.fullmatch(buf, start, end)
        if m is None:
            return False
        method, target, path, query, major, minor = m.group(1, 2, 3, 4, 5, 6)
        fields = m.start(7)
        if major != b"1" or fields - 2 - start > limits.max_request_line:
            return False
        if fields < end:
            pairs = _FIELD_LINES_RE.findall(buf, fields, end)
            if len(pairs) > limits.max_header_count:
                return False
            if end - fields > limits.max_header_line and any(
                len(line) > limits.max_header_line for line in buf[fields:end].split(b"\r\n")
            ):
                return False
            self._headers = [(name.lower(), value) for name, value in pairs]
        self._line = (method, target, path, query, b"1.0" if minor == b"0" else b"1.1")
        return True

    def _read_head_lines(self) -> Event | None:
        buf = self._buf
        while True:
            pos = self._pos
            if self._line is None:
                # a server should ignore empty lines before a request line (RFC 9112 section 2.2),
                # a few: each would otherwise restart the keep-alive clock, for ever
                while buf.startswith(b"\r\n", pos):
                    pos += 2
                    self._blank_lines += 1
                    if self._blank_lines > MAX_BLANK_LINES:
                        raise ProtocolError(400, "too many empty lines before a request line")
                self._pos = pos
            end = buf.find(b"\r\n", pos)
            if end < 0:
                self._check_partial_line(pos)
                return NEED_DATA
            line = bytes(buf[pos:end])
            self._pos = end + 2
            if self._line is None:
                self._request_line(line)
            elif line:
                self._field_line(line)
            else:
                return self._end_of_head()

    def _check_partial_line(self, pos: int) -> None:
        """Checks that may fire before a line is complete (the first checks of a full line)."""
        buf = self._buf
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

    def _request_line(self, line: bytes) -> None:
        limit = self._limits.max_request_line
        if b"\n" in line[:limit]:
            raise ProtocolError(400, "bare LF in the request line")
        if len(line) > limit:
            raise ProtocolError(414, f"request line longer than {limit} bytes")
        m = _REQUEST_LINE_RE.fullmatch(line)
        if m is None:
            raise ProtocolError(400, "malformed request line")
        method, target, path, query, major, minor = m.groups()
        if major != b"1":
            raise ProtocolError(505, "only HTTP/1.x is supported")
        # a higher minor version is served as the highest we implement (RFC 9110 section 2.5)
        self._line = (method, target, path, query, b"1.0" if minor == b"0" else b"1.1")

    def _field_line(self, line: bytes) -> None:
        limits = self._limits
        if b"\n" in line[: limits.max_header_line]:
            raise ProtocolError(400, "bare LF in a header field line")
        if len(line) > limits.max_header_line:
            raise ProtocolError(
                431, f"header field line longer than {limits.max_header_line} bytes"
            )
        if len(self._headers) >= limits.max_header_count:
            raise ProtocolError(431, f"more than {limits.max_header_count} header fields")
        m = _FIELD_LINE_RE.fullmatch(line)
        if m is None:
            raise ProtocolError(400, _explain_bad_field(line))
        name, value = m.groups()
        self._headers.append((name.lower(), value))

    def _end_of_head(self) -> Event | None:
        """Turn the head just read into a Request, or start reading its body."""
        assert self._line is not None
        self._blank_lines = 0
        method, target, path, query, version = self._line
        headers = self._headers
        length, chunked, keep_alive, expect = read_framing(
            headers, version == b"1.1", self._limits.max_body
        )
        if path is None or method == b"CONNECT":
            path, query = split_target(method, target)
        self._line = None
        self._headers = []
        request = Request(method, target, path, query or b"", version, headers, b"", keep_alive)
        if chunked:
            return self._start_body(request, _CHUNK_LINE, 0, expect)
        if length:
            return self._start_body(request, _BODY, length, expect)
        return request

    def _start_body(self, request: Request, state: State, size: int, expect: bool) -> Event | None:
        self._pending = request
        self._state = state
        self._remaining = size
        self._body_parts = []
        self._body_size = 0
        self._trailers = 0
        if expect and self._pos >= len(self._buf):
            return CONTINUE
        return None

    # -- the body (RFC 9112 sections 6, 7.1) ---------------------------------------
    def _take(self) -> bool:
        """Move buffered body bytes into the body; True once the expected count is in."""
        buf = self._buf
        pos = self._pos
        take = min(len(buf) - pos, self._remaining)
        if take:
            self._body_parts.append(bytes(buf[pos : pos + take]))
            self._pos = pos + take
            self._remaining -= take
        return not self._remaining

    def _read_body(self) -> Event | None:
        if not self._take():
            return NEED_DATA
        return self._finish_body()

    def _read_chunk_data(self) -> Event | None:
        if not self._take():
            return NEED_DATA
        self._state = _CHUNK_END
        return self._read_chunk_end()  # its CRLF has usually arrived with it

    def _read_chunk_end(self) -> Event | None:
        buf = self._buf
        pos = self._pos
        available = len(buf) - pos
        if available < 2:
            if available and buf[pos] != 13:
                raise ProtocolError(400, "chunk data not followed by CRLF")
            return NEED_DATA
        if buf[pos] != 13 or buf[pos + 1] != 10:
            raise ProtocolError(400, "chunk data not followed by CRLF")
        self._pos = pos + 2
        self._state = _CHUNK_LINE
        return None

    def _read_chunk_line(self) -> Event | None:
        line = self._framing_line(self._limits.max_chunk_line)
        if line is None:
            return NEED_DATA
        m = _CHUNK_LINE_RE.fullmatch(line)
        if m is None:
            raise ProtocolError(400, "malformed chunk-size line")
        digits = m.group(1)
        max_body = self._limits.max_body
        if len(digits) > _MAX_CHUNK_DIGITS and len(digits.lstrip(b"0")) > _MAX_CHUNK_DIGITS:
            raise ProtocolError(413, f"request body over {max_body} bytes")
        size = int(digits, 16)
        if self._body_size + size > max_body:
            raise ProtocolError(413, f"request body over {max_body} bytes")
        self._body_size += size
        if size:
            self._remaining = size
            self._state = _CHUNK_DATA
            return self._read_chunk_data()  # its data has usually arrived with it
        self._state = _TRAILER
        return None

    def _read_trailer(self) -> Event | None:
        line = self._framing_line(self._limits.max_header_line)
        if line is None:
            return NEED_DATA
        if not line:
            return self._finish_body()
        if line[:1] in (b" ", b"\t"):
            raise ProtocolError(400, "obs-fold in the trailer section")
        if _FIELD_LINE_RE.fullmatch(line) is None:
            raise ProtocolError(400, "malformed trailer field")
        self._trailers += 1
        if self._trailers > self._limits.max_header_count:
            raise ProtocolError(431, f"more than {self._limits.max_header_count} trailer fields")
        return None

    def _framing_line(self, limit: int) -> bytes | None:
        """The next CRLF-terminated line of chunked framing, or None until it is complete."""
        buf = self._buf
        pos = self._pos
        end = buf.find(b"\r\n", pos)
        if end < 0:
            if buf.find(b"\n", pos, pos + limit) >= 0:
                raise ProtocolError(400, "bare LF in chunked framing")
            size = len(buf) - pos - (1 if buf.endswith(b"\r") else 0)
            if size > limit:
                raise ProtocolError(400, f"chunk framing line longer than {limit} bytes")
            return None
        line = bytes(buf[pos:end])
        if b"\n" in line[:limit]:
            raise ProtocolError(400, "bare LF in chunked framing")
        if len(line) > limit:
            raise ProtocolError(400, f"chunk framing line longer than {limit} bytes")
        self._pos = end + 2
        return line

    def _finish_body(self) -> Request:
        request = self._pending
        assert request is not None
        parts = self._body_parts
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        self._pending = None
        self._body_parts = []
        self._state = _HEAD
        return request._replace(body=body)


#: The reader of each state: returns an event, or None after moving to another state.
_READERS: dict[State, Callable[[RequestParser], Event | None]] = {
    State.HEAD: RequestParser._read_head,
    State.BODY: RequestParser._read_body,
    State.CHUNK_LINE: RequestParser._read_chunk_line,
    State.CHUNK_DATA: RequestParser._read_chunk_data,
    State.CHUNK_END: RequestParser._read_chunk_end,
    State.TRAILER: RequestParser._read_trailer,
    State.ERROR: RequestParser._read_error,
}


def _explain_bad_field(line: bytes) -> str:
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
