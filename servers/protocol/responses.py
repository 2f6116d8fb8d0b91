"""Turning a status and a body into response bytes (HTTP/1.1 framing only)."""

from __future__ import annotations

import time

from servers.protocol.errors import REASONS, ProtocolError, RequestError

TEXT = b"text/plain; charset=utf-8"
HTML = b"text/html; charset=utf-8"
JSON = b"application/json"
BINARY = b"application/octet-stream"

_STATUS_LINES = {
    code: b"HTTP/1.1 %d %s\r\n" % (code, reason.encode()) for code, reason in REASONS.items()
}
_DAYS = (b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun")
_MONTHS = (
    b"Jan",
    b"Feb",
    b"Mar",
    b"Apr",
    b"May",
    b"Jun",
    b"Jul",
    b"Aug",
    b"Sep",
    b"Oct",
    b"Nov",
    b"Dec",
)
#: (the second, its Date line): one tuple, so a thread never pairs a second with another's line
_date: tuple[int, bytes] = (-1, b"")

#: The interim response to ``Expect: 100-continue``.
CONTINUE_RESPONSE = b"HTTP/1.1 100 Continue\r\n\r\n"


def date_line() -> bytes:
    """The ``Date`` header line, formatted once per second.

    Safe without the GIL: the cache is one tuple replaced whole, never a second
    and a line written one after the other (a thread could read the second new
    and the line still empty).
    """
    global _date
    second, line = _date
    now = int(time.time())
    if now != second:
        t = time.gmtime(now)
        line = b"Date: %s, %02d %s %d %02d:%02d:%02d GMT\r\n" % (
            _DAYS[t.tm_wday],
            t.tm_mday,
            _MONTHS[t.tm_mon - 1],
            t.tm_year,
            t.tm_hour,
            t.tm_min,
            t.tm_sec,
        )
        _date = (now, line)
    return line


def render(
    status: int,
    body: bytes,
    content_type: bytes = TEXT,
    *,
    keep_alive: bool = True,
    http10: bool = False,
    head: bool = False,
    extra: bytes = b"",
) -> bytes:
    """Return a complete response.

    Args:
        status: the status code (must be in :data:`~servers.protocol.errors.REASONS`).
        body: the payload; its length goes into ``Content-Length`` even for HEAD.
        content_type: the ``Content-Type`` value.
        keep_alive: whether the connection stays open after this response.
        http10: the request was HTTP/1.0 (keep-alive must then be announced).
        head: a HEAD request: headers only.
        extra: additional header lines, each ending in CRLF.
    """
    if not keep_alive:
        connection = b"Connection: close\r\n"
    elif http10:
        connection = b"Connection: keep-alive\r\n"
    else:
        connection = b""
    return b"%sServer: iomodels\r\n%sContent-Type: %s\r\nContent-Length: %d\r\n%s%s\r\n%s" % (
        _STATUS_LINES[status],
        date_line(),
        content_type,
        len(body),
        connection,
        extra,
        b"" if head else body,
    )


def error_response(
    exc: ProtocolError | RequestError,
    *,
    keep_alive: bool = False,
    http10: bool = False,
    head: bool = False,
) -> bytes:
    """The response to a refusal; it closes the connection unless ``keep_alive``.

    Args:
        exc: the refusal (its status, detail and, for a RequestError, extra headers).
        keep_alive: the connection stays open after this response.
        http10: the request was HTTP/1.0 (keep-alive must then be announced).
        head: a HEAD request: headers only.
    """
    body = b"%d %s: %s\n" % (exc.status, REASONS[exc.status].encode(), exc.detail.encode())
    extra = exc.headers if isinstance(exc, RequestError) else b""
    return render(exc.status, body, keep_alive=keep_alive, http10=http10, head=head, extra=extra)


def overload_response() -> bytes:
    """What a model answers when it is at its connection cap (then it closes)."""
    return error_response(ProtocolError(503, "server at its connection limit, try again later"))
