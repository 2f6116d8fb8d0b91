"""A tiny HTTP/1.1 client for tests: exact bytes out, parsed responses in (blocking, or from an asyncio stream)."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field


@dataclass
class Response:
    """A parsed response: status, header fields (names lower-cased) and body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def closes(self) -> bool:
        return self.headers.get("connection", "").lower() == "close"

    @property
    def body_length(self) -> int:
        """The length of the body that follows the head (none after a 100 Continue)."""
        return 0 if self.status == 100 else int(self.headers.get("content-length", "0"))


def parse_head(head: bytes) -> Response:
    """The status line and header fields of a response head (without its blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Response(status, headers)


class Wire:
    """One TCP connection to a server with a buffered response reader."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buf += chunk
        return bool(chunk)

    def read_response(self, head_only: bool = False) -> Response:
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                raise ConnectionError(f"closed before a full response head: {self.buf[:200]!r}")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        response = parse_head(head)
        length = 0 if head_only else response.body_length
        while len(self.buf) < length:
            if not self._fill():
                raise ConnectionError("closed in the middle of a response body")
        response.body, self.buf = self.buf[:length], self.buf[length:]
        return response

    def request(self, data: bytes) -> Response:
        self.send(data)
        return self.read_response()

    def closed_by_peer(self, timeout: float = 5.0) -> bool:
        """True once the server has closed its side (EOF or reset) within ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            while self._fill():
                pass
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def read_response(reader: asyncio.StreamReader) -> Response:
    """One response from an asyncio stream (for tests that run in an event loop)."""
    head = await reader.readuntil(b"\r\n\r\n")
    response = parse_head(head[:-4])
    response.body = await reader.readexactly(response.body_length)
    return response


def get(path: str, host: str = "x", extra: str = "") -> bytes:
    """The bytes of ``GET path`` (HTTP/1.1), with ``extra`` header lines."""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()
