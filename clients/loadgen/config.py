"""What a load run is asked to do (plain data)."""

from __future__ import annotations

from dataclasses import dataclass

MODES = ("http", "churn", "echo")
#: The most slow clients one loader holds beside its load (each a descriptor and a few timers).
MAX_SLOW_CLIENTS = 5000


@dataclass(frozen=True, slots=True)
class LoadConfig:
    """One load run.

    Attributes:
        host, port: the server (``127.0.0.1`` in the benchmark).
        mode: ``http`` (keep-alive), ``churn`` (a new connection per request,
            ``Connection: close``) or ``echo`` (raw bytes sent back).
        path: the HTTP request target.
        size: echo: bytes per message.
        connections: concurrent connections (closed loop) or connections shared by the rate.
        pipeline: requests in flight per connection (1 = no pipelining).
        duration: seconds measured.
        warmup: seconds run before measuring (not recorded).
        rate: requests per second for the open loop; 0 means closed loop.
        connect_timeout: seconds to wait for one connection.
        slow_clients: HTTP: slow clients running beside the load, reported apart
            (see :mod:`clients.loadgen.slow_clients`).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    mode: str = "http"
    path: str = "/"
    size: int = 1024
    connections: int = 10
    pipeline: int = 1
    duration: float = 10.0
    warmup: float = 1.0
    rate: float = 0.0
    connect_timeout: float = 10.0
    slow_clients: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if self.connections < 1 or self.pipeline < 1 or self.size < 1:
            raise ValueError("connections, pipeline and size must be at least 1")
        if self.duration <= 0 or self.warmup < 0 or self.rate < 0:
            raise ValueError("duration must be positive; warmup and rate not negative")
        if self.rate and self.pipeline != 1:
            raise ValueError("the open loop (rate) sends one request at a time per connection")
        if not 0 <= self.slow_clients <= MAX_SLOW_CLIENTS:
            raise ValueError(
                f"slow clients must be 0 to {MAX_SLOW_CLIENTS}, not {self.slow_clients}"
            )
        if self.slow_clients and self.mode != "http":
            raise ValueError("slow clients run beside keep-alive HTTP load only")
        if self.mode == "churn" and self.pipeline != 1:
            raise ValueError("churn sends one request per connection")

    def request(self) -> bytes:
        """The bytes of one request (HTTP) or one message (echo)."""
        if self.mode == "echo":
            return bytes(range(256)) * (self.size // 256) + b"x" * (self.size % 256)
        close = b"Connection: close\r\n" if self.mode == "churn" else b""
        return b"GET %s HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n" % (
            self.path.encode(),
            self.host.encode(),
            self.port,
            close,
        )
