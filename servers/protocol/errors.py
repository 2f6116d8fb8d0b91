"""The two refusals of the protocol core, and when each closes the connection.

The rule: close only when the byte stream can no longer be trusted, or when
service is refused.

* :class:`ProtocolError` (raised by the parser, or by the routes for a method
  the server does not implement): the framing is in doubt, the body was left
  unread, or the client is asking for something we will not do (400 for
  malformed syntax or framing, 408, 413, 414, 417, 431, 501, 505, and the 503 of
  the connection cap). The answer carries ``Connection: close`` and the
  connection closes after it.
* :class:`RequestError` (raised by the routes): a well-formed request, read to
  the end of its body, that is refused (404, 405, 400 for a bad query value).
  The answer keeps the connection open when the request allowed it
  (HTTP/1.1 without ``Connection: close``, HTTP/1.0 with keep-alive).
"""

from __future__ import annotations

REASONS: dict[int, str] = {
    100: "Continue",
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    414: "URI Too Long",
    417: "Expectation Failed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
}


class ProtocolError(Exception):
    """The stream can no longer be trusted, or service is refused: answer ``status``, close.

    Attributes:
        status: the HTTP status code to answer with.
        detail: a short human-readable explanation, sent in the response body.
    """

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status} {REASONS.get(status, '')}: {detail}")
        self.status = status
        self.detail = detail


class RequestError(Exception):
    """A well-framed request, read to its end, that the routes refuse: answer, stay open.

    Attributes:
        status: the HTTP status code to answer with.
        detail: a short human-readable explanation, sent in the response body.
        headers: extra header lines for the answer, each ending in CRLF (``Allow`` for 405).
    """

    def __init__(self, status: int, detail: str, headers: bytes = b"") -> None:
        super().__init__(f"{status} {REASONS.get(status, '')}: {detail}")
        self.status = status
        self.detail = detail
        self.headers = headers
