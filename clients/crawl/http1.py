"""Sans-IO HTTP/1.1 for the crawlers that do their own IO: a GET's bytes out, a :class:`Response` in.

Used by the generators crawler (sockets on the hand-made loop) and the streams
crawlers (asyncio streams on the stdlib loop or uvloop): the same bytes written,
the same reader, so only the IO differs between them. The reader handles
``Content-Length``, ``chunked`` and close-delimited bodies; ``feed(b"")``
means the peer closed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from clients.crawl.config import CrawlConfig
from clients.crawl.outcome import CONNECTION, PROTOCOL, TOO_LARGE, FetchError, Response
from clients.crawl.urls import request_target

MAX_HEAD = 64 * 1024


class RequestEncoder:
    """The bytes of a GET for any URL of the crawl's host (the headers are encoded once)."""

    def __init__(self, config: CrawlConfig) -> None:
        parts = urlsplit(config.url)
        self.host = parts.hostname or ""
        self.port = parts.port or 80
        headers = (
            f"Host: {parts.netloc}\r\nUser-Agent: {config.user_agent}\r\n"
            "Accept: text/html,*/*;q=0.5\r\n\r\n"
        )
        self._headers = headers.encode("latin-1")

    def get(self, url: str) -> bytes:
        """``GET <url's path and query> HTTP/1.1`` and the headers."""
        return b"GET %s HTTP/1.1\r\n%s" % (request_target(url).encode(), self._headers)


class ResponseReader:
    """Reads one response; :attr:`keep_alive` tells whether the connection can be reused."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.buffer = bytearray()
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.keep_alive = False
        self._mode = "head"  # head, length, chunk-size, chunk-data, trailer, close
        self._left = 0

    def feed(self, data: bytes) -> Response | None:
        """Add bytes; return the response once complete. Raises :class:`FetchError`."""
        eof = not data
        self.buffer += data
        while True:
            done = self._step(eof)
            if done is None:
                break
            if done:
                return Response(self.status, self.headers, bytes(self.body))
        if eof:
            if self._mode == "close":
                self.keep_alive = False
                return Response(self.status, self.headers, bytes(self.body))
            raise FetchError(CONNECTION, f"connection closed while reading the {self._mode}")
        return None

    def _step(self, eof: bool) -> bool | None:
        """Advance one state; True: complete, False: progressed, None: needs more bytes."""
        buf = self.buffer
        if self._mode == "head":
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise FetchError(PROTOCOL, "response head too large")
                return None
            self._parse_head(bytes(buf[:end]).decode("latin-1"))
            del buf[: end + 4]
            return self._mode == "length" and self._left == 0
        if self._mode == "length":
            take = min(self._left, len(buf))
            self._append(buf[:take])
            del buf[:take]
            self._left -= take
            return True if self._left == 0 else None
        if self._mode == "close":
            self._append(buf)
            buf.clear()
            return None
        if self._mode == "chunk-size":
            end = buf.find(b"\r\n")
            if end < 0:
                return None
            size_text = bytes(buf[:end]).split(b";", 1)[0].strip()
            try:
                self._left = int(size_text, 16)
            except ValueError:
                raise FetchError(PROTOCOL, f"bad chunk size {size_text!r}") from None
            del buf[: end + 2]
            self._mode = "trailer" if self._left == 0 else "chunk-data"
            return False
        if self._mode == "chunk-data":
            if len(buf) < self._left + 2:
                return None
            self._append(buf[: self._left])
            del buf[: self._left + 2]
            self._mode = "chunk-size"
            return False
        # trailer: header lines up to an empty line
        end = buf.find(b"\r\n")
        if end < 0:
            return None
        del buf[: end + 2]
        return True if end == 0 else False

    def _parse_head(self, head: str) -> None:
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise FetchError(PROTOCOL, f"bad status line {lines[0][:80]!r}")
        self.status = int(parts[1])
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise FetchError(PROTOCOL, f"bad header line {line[:80]!r}")
            self.headers[name.strip().lower()] = value.strip()
        connection = self.headers.get("connection", "").lower()
        self.keep_alive = parts[0] == "HTTP/1.1" and "close" not in connection
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            self._mode = "chunk-size"
        elif "content-length" in self.headers:
            length = self.headers["content-length"]
            if not length.isdigit():
                raise FetchError(PROTOCOL, f"bad Content-Length {length!r}")
            self._mode, self._left = "length", int(length)
            if self._left > self.max_body:
                raise FetchError(TOO_LARGE, f"body of {self._left} bytes")
        elif self.status in (204, 304) or 100 <= self.status < 200:
            self._mode, self._left = "length", 0
        else:
            self._mode, self.keep_alive = "close", False

    def _append(self, data: bytes | bytearray) -> None:
        self.body += data
        if len(self.body) > self.max_body:
            raise FetchError(TOO_LARGE, f"body over {self.max_body} bytes")
