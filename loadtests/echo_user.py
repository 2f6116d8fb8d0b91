"""A raw-TCP user for ``--protocol echo`` servers, on Locust's custom-client pattern.

Each user keeps one connection, sends a message of ``--message-size`` random
bytes and reads back exactly as many, then reports the round trip through
``events.request.fire``. A short read (the server closed), a mismatch, a
timeout or a reset is reported as a failure with its own exception type, the
socket is dropped, and the next task reconnects (its connect time reported too).
"""

from __future__ import annotations

import random
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from locust import User, task

from loadtests import options as opt


class EchoError(Exception):
    """Base of the echo failures."""


class ConnectionClosed(EchoError):
    """The server closed the connection before the whole echo came back."""


class EchoMismatch(EchoError):
    """The bytes that came back are not the bytes sent."""


class EchoTimeout(EchoError):
    """The whole echo did not come back in time."""


def parse_host(host: str) -> tuple[str, int]:
    """``echo://h:p``, ``tcp://h:p`` or ``h:p`` -> ``(h, p)``."""
    parts = urlsplit(host if "://" in host else f"tcp://{host}")
    if not parts.hostname or not parts.port:
        raise ValueError(f"EchoUser needs a host like echo://127.0.0.1:8000, not {host!r}")
    return parts.hostname, parts.port


class EchoClient:
    """One TCP connection that reports connects and echoes as Locust requests."""

    def __init__(self, environment: Any, host: str, timeout: float) -> None:
        self.environment = environment
        self.address = parse_host(host)
        self.timeout = timeout
        self.sock: socket.socket | None = None

    def _fire(self, kind: str, name: str, start: float, length: int, exc: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type=kind,
            name=name,
            response_time=(time.perf_counter() - start) * 1000.0,
            response_length=length,
            exception=exc,
            context={},
        )

    def connect(self) -> bool:
        """Open the connection (reported as ``TCP connect``); False if it failed."""
        start = time.perf_counter()
        try:
            sock = socket.create_connection(self.address, timeout=self.timeout)
        except OSError as exc:
            self._fire("TCP", "connect", start, 0, exc)
            return False
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self._fire("TCP", "connect", start, 0, None)
        return True

    def echo(self, payload: bytes) -> None:
        """Send ``payload``, read it back, report one ``ECHO`` request."""
        if self.sock is None and not self.connect():
            return
        assert self.sock is not None
        size = len(payload)
        name = f"echo [{size} B]"
        start = time.perf_counter()
        deadline = start + self.timeout
        received = bytearray()
        try:
            self.sock.settimeout(self.timeout)
            self.sock.sendall(payload)
            while len(received) < size:
                self.sock.settimeout(max(deadline - time.perf_counter(), 0.001))
                chunk = self.sock.recv(size - len(received))
                if not chunk:
                    raise ConnectionClosed(
                        f"server closed the connection after {len(received)} of {size} bytes"
                    )
                received += chunk
            if received != payload:
                raise EchoMismatch(f"{size} bytes came back but differ from those sent")
        except TimeoutError:
            self.close()
            exc: Exception = EchoTimeout(
                f"no full echo within {self.timeout:g} s ({len(received)} of {size} bytes)"
            )
            self._fire("ECHO", name, start, len(received), exc)
        except (OSError, EchoError) as exc:
            self.close()
            self._fire("ECHO", name, start, len(received), exc)
        else:
            self._fire("ECHO", name, start, size, None)

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None


class EchoUser(User):
    """Echo ``--message-size`` bytes over one kept-alive TCP connection, reconnecting after a failure."""

    def wait_time(self) -> float:
        mean_ms = float(opt.option(self.environment, "think_ms", opt.THINK_MS))
        return random.uniform(0.5, 1.5) * mean_ms / 1000.0 if mean_ms > 0 else 0.0

    def on_start(self) -> None:
        timeout = float(opt.option(self.environment, "echo_timeout", opt.ECHO_TIMEOUT_S))
        self.client = EchoClient(self.environment, self.host or "", timeout)

    def on_stop(self) -> None:
        self.client.close()

    @task
    def echo(self) -> None:
        size = int(opt.option(self.environment, "message_size", opt.MESSAGE_SIZE))
        self.client.echo(random.randbytes(size))
